import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Integration } from "@switchyard/core"
import { EvidenceBundle, IssueId, TaskPacket, Verdict } from "@switchyard/domain"
import { Effect, Either, Schema, type Scope } from "effect"
import { existsSync, readFileSync } from "node:fs"
import * as NodePath from "node:path"
import { EnvRedactor, GitIntegration } from "../src/index.js"
import { config, gitSync, makeRepo, workflowLayer } from "./helpers.js"

const SY1 = Schema.decodeSync(IssueId)("SY-1")
const BRANCH = "switchyard/SY-1"
const TITLE = `it's "$(touch pwned)" & more`

const bundle = (commit: string) =>
  EvidenceBundle.make({
    schemaVersion: 1,
    issueId: SY1,
    attempt: 1,
    outcome: "PR_READY",
    summary: "SY-1 is ready for review",
    task: {
      title: TITLE,
      body: "",
      packet: TaskPacket.make({
        issue_id: SY1,
        title: TITLE,
        intent: "",
        source: { tracker: "sqlite", issue_id: SY1, labels: [] },
        attempt: 1,
        scope: [],
        non_goals: [],
        reproduction: null,
        validation: [],
        no_op_rules: [],
        evidence_required: [],
        output_contract: { result_file: "result.json", format: "json" }
      })
    },
    reproduction: { command: null, before: null, after: null },
    agent: null,
    diff: null,
    validation: [],
    verdict: Verdict.make({ state: "PR_READY", cause: "verified", reasons: [] }),
    residualRisk: [],
    question: null,
    fingerprint: { tree: "t", commit, baseCommit: "b", branch: BRANCH },
    timings: { startedAt: 0, endedAt: 1, stagesMs: {} }
  })

/** A repo with a bare `origin` and the branch switchyard/SY-1 one commit ahead of main. */
const setup = Effect.gen(function*() {
  const fixture = yield* makeRepo
  const remote = NodePath.join(fixture.root, "remote.git")
  gitSync(fixture.root, "init", "-q", "--bare", remote)
  gitSync(fixture.repo, "remote", "add", "origin", remote)
  gitSync(fixture.repo, "branch", BRANCH, fixture.base)
  gitSync(fixture.repo, "commit", "-q", "--allow-empty", "-m", "on main")
  const commit = gitSync(fixture.repo, "rev-parse", "HEAD").trim()
  gitSync(fixture.repo, "branch", "-f", BRANCH, commit)
  gitSync(fixture.repo, "reset", "-q", "--hard", fixture.base)
  return { ...fixture, remote, commit }
})

const publish = (repo: string, integration: unknown, commit: string, evidenceMd = "/tmp/evidence.md") =>
  Effect.flatMap(Integration, (i) => i.publish({ bundle: bundle(commit), branch: BRANCH, evidenceMd })).pipe(
    Effect.provide(GitIntegration.layer),
    Effect.provide(EnvRedactor.layer()),
    Effect.provide(workflowLayer(repo, config({ integration })))
  )

const test = (name: string, body: () => Effect.Effect<void, unknown, Scope.Scope | NodeContext.NodeContext>) =>
  it.live(name, () => body().pipe(Effect.scoped, Effect.provide(NodeContext.layer)), 30_000)

describe("GitIntegration", () => {
  test("does nothing (null) when neither push nor pr_command is configured", () =>
    Effect.gen(function*() {
      const { repo, remote, commit } = yield* setup
      assert.isNull(yield* publish(repo, {}, commit))
      assert.strictEqual(gitSync(remote, "branch", "--list").trim(), "")
    }))

  test("pushes the branch to the remote and records the URL the pr_command prints; values are shell-quoted", () =>
    Effect.gen(function*() {
      const { repo, root, remote, commit } = yield* setup
      const titleFile = NodePath.join(root, "title.txt")
      const result = yield* publish(repo, {
        push: true,
        pr_command: `printf '%s\\n' {{ title }} > ${titleFile}; printf '%s %s\\n' {{ branch | shellquote }} {{evidence_md}}; ` +
          `echo "Creating pull request"; echo https://example.test/acme/app/pull/7`
      }, commit, "/tmp/runs/SY-1/1/evidence.md")
      assert.deepStrictEqual(result, { pushed: true, pushError: null, prUrl: "https://example.test/acme/app/pull/7", prError: null })
      assert.strictEqual(gitSync(remote, "rev-parse", `refs/heads/${BRANCH}`).trim(), commit)
      // The title reached the command as one argument, unexpanded.
      assert.strictEqual(readFileSync(titleFile, "utf8"), `${TITLE}\n`)
      assert.isFalse(existsSync(NodePath.join(repo, "pwned")))

      // A later attempt's commit replaces the branch Switchyard pushed before (force-with-lease).
      gitSync(repo, "branch", "-f", BRANCH, gitSync(repo, "rev-parse", "HEAD").trim())
      const again = yield* publish(repo, { push: true }, commit)
      assert.deepStrictEqual(again, { pushed: true, pushError: null, prUrl: null, prError: null })
      assert.strictEqual(gitSync(remote, "rev-parse", `refs/heads/${BRANCH}`).trim(), gitSync(repo, "rev-parse", "HEAD").trim())
    }))

  test("a failing pr_command is recorded as prError, with its output", () =>
    Effect.gen(function*() {
      const { repo, commit } = yield* setup
      const result = yield* publish(repo, { pr_command: "echo 'gh: not logged in' >&2; exit 4" }, commit)
      assert.isNotNull(result)
      assert.isNull(result!.pushed)
      assert.isNull(result!.prUrl)
      assert.include(result!.prError, "exited 4")
      assert.include(result!.prError, "gh: not logged in")
    }))

  test("a failed push is recorded and the pr_command does not run", () =>
    Effect.gen(function*() {
      const { repo, root, commit } = yield* setup
      const marker = NodePath.join(root, "pr-ran")
      const result = yield* publish(repo, { push: true, remote: "nowhere", pr_command: `touch ${marker}` }, commit)
      assert.isFalse(result!.pushed)
      assert.include(result!.pushError, "nowhere")
      assert.strictEqual(result!.prError, "pr_command not run: the push failed")
      assert.isFalse(existsSync(marker))
    }))

  test("a pr_command with an unknown variable is a prError and never runs", () =>
    Effect.gen(function*() {
      const { repo, root, commit } = yield* setup
      const marker = NodePath.join(root, "pr-ran")
      const result = yield* publish(repo, { pr_command: `touch ${marker} {{ body }}` }, commit)
      assert.include(result!.prError, "unknown variable body")
      assert.isFalse(existsSync(marker))
    }))
})

describe("renderPrCommand and lastUrl", () => {
  const vars = { title: "a 'b'", branch: "switchyard/SY-1", evidence_md: "/x/e.md", summary: "s", issue_id: "SY-1", commit: "c" }

  it("quotes every value, accepts the shellquote filter, and refuses tags, unknown filters and variables", () => {
    assert.deepStrictEqual(
      GitIntegration.renderPrCommand("gh pr create --title {{title}} --head {{ branch | shellquote }}", vars),
      Either.right(`gh pr create --title 'a '\\''b'\\''' --head 'switchyard/SY-1'`)
    )
    assert.isTrue(Either.isLeft(GitIntegration.renderPrCommand("{{ title | upcase }}", vars)))
    assert.isTrue(Either.isLeft(GitIntegration.renderPrCommand("{% if title %}x{% endif %}", vars)))
    assert.isTrue(Either.isLeft(GitIntegration.renderPrCommand("{{ issue.title }}", vars)))
  })

  it("lastUrl takes the last URL printed", () => {
    assert.strictEqual(GitIntegration.lastUrl("see https://a.test/1\nWarning\nhttps://b.test/pr/2\n\n"), "https://b.test/pr/2")
    assert.isNull(GitIntegration.lastUrl("no url here"))
  })
})
