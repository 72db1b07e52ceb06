import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Integration } from "@switchyard/core"
import { EvidenceBundle, IntegrationConfig, IssueId, TaskPacket, Verdict } from "@switchyard/domain"
import { Effect, Either, Schema, type Scope } from "effect"
import { existsSync, readFileSync } from "node:fs"
import * as NodePath from "node:path"
import { EnvRedactor, GitIntegration } from "../src/index.js"
import { gitSync, makeRepo } from "./helpers.js"

const SY1 = Schema.decodeSync(IssueId)("SY-1")
const BRANCH = "switchyard/SY-1"
const TITLE = `it's "$(touch pwned)" & more`

const bundle = (commit: string, title = TITLE) =>
  EvidenceBundle.make({
    schemaVersion: 1,
    issueId: SY1,
    attempt: 1,
    outcome: "PR_READY",
    summary: "SY-1 is ready for review",
    task: {
      title,
      body: "",
      packet: TaskPacket.make({
        issue_id: SY1,
        title,
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

/** `integration` is the `integration:` block as WORKFLOW.md would have it (decoded with its defaults). */
const publish = (repo: string, integration: unknown, commit: string, evidenceMd = "/tmp/evidence.md", title = TITLE) =>
  Effect.flatMap(Integration, (i) =>
    i.publish({
      bundle: bundle(commit, title),
      branch: BRANCH,
      evidenceMd,
      config: Schema.decodeUnknownSync(IntegrationConfig)(integration)
    })).pipe(
      Effect.provide(GitIntegration.layer({ repoRoot: repo })),
      Effect.provide(EnvRedactor.layer())
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
      assert.include(result!.prError, "integration.pr_command: undefined variable: body")
      assert.isFalse(existsSync(marker))
    }))

  test("a hostile title ($(…), backticks, quotes, ;, a newline) reaches the pr_command as one inert argument", () =>
    Effect.gen(function*() {
      const { repo, root, commit } = yield* setup
      const argsFile = NodePath.join(root, "args.txt")
      const hostile = `x $(touch sub-ran) \`touch tick-ran\` 'a' "b" ; touch semi-ran\n| touch pipe-ran`
      // Every way a value is output: plain, an explicit shellquote, after a filter, inside a tag, and `echo`.
      const result = yield* publish(repo, {
        pr_command: `printf '%s\\0' {{ title }} {{ title | shellquote }} {{ title | upcase }} ` +
          `{% if title != "" %}{{ title }}{% endif %} {% echo title %} > ${argsFile}`
      }, commit, "/tmp/evidence.md", hostile)
      assert.isNotNull(result)
      assert.isNull(result!.prError)
      // Five arguments, each exactly the title (upcased once): nothing was split, expanded or run.
      const args = readFileSync(argsFile, "utf8").split("\0").slice(0, -1)
      assert.deepStrictEqual(args, [hostile, hostile, hostile.toUpperCase(), hostile, hostile])
      for (const marker of ["sub-ran", "tick-ran", "semi-ran", "pipe-ran", "SUB-RAN", "TICK-RAN", "SEMI-RAN", "PIPE-RAN"]) {
        assert.isFalse(existsSync(NodePath.join(repo, marker)), marker)
      }
    }))
})

describe("renderPrCommand and lastUrl", () => {
  const vars = { title: "a 'b'", branch: "switchyard/SY-1", evidence_md: "/x/e.md", summary: "s", issue_id: "SY-1", commit: "c" }

  it("quotes every output once (shellquote too); refuses unknown variables and filters, and raw", () => {
    assert.deepStrictEqual(
      GitIntegration.renderPrCommand("gh pr create --title {{title}} --head {{ branch | shellquote }}", vars),
      Either.right(`gh pr create --title 'a '\\''b'\\''' --head 'switchyard/SY-1'`)
    )
    // Liquid's filters and tags work, and what they output is quoted too.
    assert.deepStrictEqual(GitIntegration.renderPrCommand("{{ title | upcase }}", vars), Either.right(`'A '\\''B'\\'''`))
    assert.deepStrictEqual(
      GitIntegration.renderPrCommand(`{% if summary != "" %}--body {{ summary }}{% endif %}`, vars),
      Either.right("--body 's'")
    )
    assert.deepStrictEqual(
      GitIntegration.renderPrCommand("{{ nope }}", vars),
      Either.left("undefined variable: nope (line 1, column 4)")
    )
    assert.deepStrictEqual(
      GitIntegration.renderPrCommand("{{ title | shout }}", vars),
      Either.left("undefined filter: shout (line 1, column 1)")
    )
    // `raw`, liquidjs's way around the escape, is not there.
    assert.isTrue(Either.isLeft(GitIntegration.renderPrCommand("{{ title | raw }}", vars)))
    assert.isTrue(Either.isLeft(GitIntegration.renderPrCommand("{{ issue.title }}", vars)))
    assert.isTrue(Either.isLeft(GitIntegration.renderPrCommand("{% if title %}x", vars)))
  })

  it("lastUrl takes the last URL printed", () => {
    assert.strictEqual(GitIntegration.lastUrl("see https://a.test/1\nWarning\nhttps://b.test/pr/2\n\n"), "https://b.test/pr/2")
    assert.isNull(GitIntegration.lastUrl("no url here"))
  })
})
