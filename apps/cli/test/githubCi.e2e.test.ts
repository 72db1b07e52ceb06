/**
 * CI feedback from GitHub (docs/trust.md, "The GitHub half"): with `integration.ci: github` the verified candidate
 * is pushed to `origin` (a bare repository the GitHub twin serves as its storage) and its check runs and combined
 * status are read from the twin; a failed check becomes one CI revision turn with the failed step, its output
 * (redacted) and the run URL, then the new candidate is verified and checked again; a check that keeps failing
 * escalates `ci_failed` after `agent.max_ci_revisions`. The built CLI, real git and processes.
 */
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { type GitHubHosting, GitHubTwin } from "@switchyard/twin"
import Database from "better-sqlite3"
import { Effect, Fiber, Schedule, type Scope } from "effect"
import { createHmac } from "node:crypto"
import { averageRepro, existsSync, git, join, perTest, readFileSync, syAsync, type TestRepo } from "./harness.js"
import { serving } from "./serverHarness.js"

const { repo, track } = perTest()

const live = (name: string, body: () => Effect.Effect<void, unknown, Scope.Scope | NodeContext.NodeContext>) =>
  it.live(name, () => body().pipe(Effect.scoped, Effect.provide(NodeContext.layer)), 180_000)

/** Fixes average([]); on a revision, keeps the feedback it got and (when `learns`) adds what CI wants. */
const agentScript = (shared: string, learns: boolean) => `set -e
cat > src/average.js <<'JS'
export const average = (xs) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length)
JS
if [ -n "$SWITCHYARD_REVISION" ]; then
  printf '%s\\n' "$SWITCHYARD_FEEDBACK" > ${JSON.stringify(shared)}/feedback-$SWITCHYARD_REVISION.txt
  ${learns ? "echo 'export const ok = true' > src/ci-ok.js" : "true"}
fi
echo '{"claim":"PR_READY","summary":"guard the empty list"}' > "$SWITCHYARD_RESULT_FILE"`

const workflow = (twin: GitHubTwin.GitHubTwinShape, agentPath: string, maxCi: number) => `tracker:
  kind: github
  repo: ${twin.owner}/${twin.repo}
  api_url: ${twin.url}
  required_labels: [ready]
agent:
  command: ${JSON.stringify(agentPath)}
  max_attempts: 1
  max_ci_revisions: ${maxCi}
verify:
  validation:
    - node --test
integration:
  ci: github
  ci_poll_ms: 100
  ci_timeout_ms: 30000
polling:
  interval_ms: 200
`

const failing = (token: string): GitHubHosting.TwinChecks => ({
  checkRuns: [
    { name: "build", status: "completed", conclusion: "success" },
    {
      name: "lint",
      status: "completed",
      conclusion: "failure",
      summary: "1 error",
      text: `lint step: src/ci-ok.js is missing (GH-CI-LOG-MARKER)\nauth header was Bearer ${token}`
    }
  ],
  statuses: [{ context: "ci/legacy", state: "success" }]
})
const passing: GitHubHosting.TwinChecks = {
  checkRuns: [{ name: "build", status: "completed", conclusion: "success" }, { name: "lint", status: "completed", conclusion: "success" }],
  statuses: []
}

const setUp = (r: TestRepo) => {
  const bare = join(r.tmp, "remote.git")
  git(r.tmp, "init", "-q", "--bare", "-b", "main", "remote.git")
  git(r.dir, "remote", "add", "origin", bare)
  return bare
}

const ciEvents = (r: TestRepo, id: string) => {
  const db = new Database(join(r.dir, ".switchyard/switchyard.db"), { readonly: true })
  const rows = db.prepare("SELECT type, data FROM events WHERE issue_id = ? ORDER BY seq").all(id) as Array<{ type: string; data: string }>
  db.close()
  return rows.map((row) => ({ type: row.type, data: JSON.parse(row.data) as Record<string, unknown> }))
}

describe("integration.ci: github (built CLI, GitHub twin over a bare repository)", () => {
  /** A GitHub issue run once; `checks(token)`: what GitHub's CI reports for each new commit, in order. */
  const start = (learns: boolean, maxCi: number, checks: (token: string) => ReadonlyArray<GitHubHosting.TwinChecks>) =>
    Effect.gen(function*() {
      const r = repo()
      const bare = setUp(r)
      const twin = yield* GitHubTwin.make({ labels: ["ready"], git: bare })
      yield* twin.queueChecks(...checks(twin.token))
      r.writeWorkflow(workflow(twin, r.agent("ci.sh", agentScript(r.shared, learns)), maxCi))
      git(r.dir, "add", "WORKFLOW.md")
      git(r.dir, "commit", "-q", "-m", "workflow")
      git(r.dir, "push", "-q", "origin", "main")
      const n = yield* twin.open({
        title: "average of an empty list is NaN",
        body: `\`\`\`switchyard\nreproduction: ${JSON.stringify(averageRepro)}\n\`\`\`\n`,
        labels: ["ready"]
      })
      const ran = yield* Effect.promise(() => syAsync(r.dir, ["run", "--once"], { GITHUB_TOKEN: twin.token }))
      expect(ran.code, ran.stderr).toBe(0)
      const shown = yield* Effect.promise(() => syAsync(r.dir, ["evidence", `GH-${n}`, "--json"], { GITHUB_TOKEN: twin.token }))
      return { r, bare, twin, n, bundle: JSON.parse(shown.stdout) }
    })

  live("a failed check run produces one revision turn with its step, its output redacted and the run URL; then PR_READY", () =>
    Effect.gen(function*() {
      // The first candidate fails lint on GitHub, the revised one passes.
      const { r, bare, twin, n, bundle } = yield* start(true, 2, (token) => [failing(token), passing])
      expect(bundle.outcome).toBe("PR_READY")
      expect(bundle.revisions).toHaveLength(1)
      expect(bundle.revisions[0].cause).toBe("ci_failed")
      const feedback = readFileSync(join(r.shared, "feedback-1.txt"), "utf8")
      expect(feedback).toContain("its CI on GitHub failed (ci_failed; CI revision 1 of 2)")
      expect(feedback).toContain("Failed step: `lint` (failure)")
      expect(feedback).toContain("GH-CI-LOG-MARKER")
      expect(feedback).toMatch(/Run: http:\/\/127\.0\.0\.1:\d+\/acme\/widgets\/actions\/runs\/\d+\/job\/\d+/)
      expect(feedback).not.toContain(twin.token)
      expect(existsSync(join(r.shared, "feedback-2.txt"))).toBe(false)
      const events = ciEvents(r, `GH-${n}`)
      const ci = events.filter((e) => e.type === "ci.failed" || e.type === "ci.passed")
      expect(ci.map((e) => [e.type, e.data["source"], e.data["step"]])).toEqual([["ci.failed", "github", "lint"], ["ci.passed", "github", null]])
      expect(events.filter((e) => e.type === "verify.done")).toHaveLength(2)
      // The revised candidate is what GitHub's CI saw last: it was pushed as the branch.
      // The revised candidate is what GitHub's CI saw last: it was pushed as the branch. Packaging only
      // rewords its commit message, so the evidence's tree (the fingerprint) is the tree CI passed.
      const remoteHead = git(r.tmp, "--git-dir", bare, "rev-parse", `refs/heads/switchyard/GH-${n}`)
      expect(ci[1]!.data["commit"]).toBe(remoteHead)
      expect(ci[0]!.data["commit"]).not.toBe(remoteHead)
      expect(git(r.tmp, "--git-dir", bare, "rev-parse", `${remoteHead}^{tree}`)).toBe(bundle.fingerprint.tree)
      expect(bundle.diff.files).toContain("src/ci-ok.js")
    }))

  live("a check that keeps failing on GitHub escalates with ci_failed after agent.max_ci_revisions", () =>
    Effect.gen(function*() {
      const { r, n, bundle } = yield* start(false, 1, (token) => [failing(token), failing(token)])
      expect(bundle.outcome).toBe("ESCALATE")
      expect(bundle.verdict.cause).toBe("ci_failed")
      expect(bundle.verdict.reasons.join(" ")).toContain("The CI check lint on GitHub ended failure")
      expect(bundle.verdict.reasons.join(" ")).toContain("after 1 CI revision")
      expect(bundle.revisions).toHaveLength(1)
      expect(readFileSync(join(r.shared, "feedback-1.txt"), "utf8")).toContain("GH-CI-LOG-MARKER")
      expect(ciEvents(r, `GH-${n}`).filter((e) => e.type === "ci.failed")).toHaveLength(2)
    }))

  live("a check_suite webhook ends the wait for pending checks at once (with ci_poll_ms at 10 minutes)", () =>
    Effect.gen(function*() {
      const r = repo()
      const bare = setUp(r)
      const twin = yield* GitHubTwin.make({ labels: ["ready"], git: bare })
      const pending: GitHubHosting.TwinChecks = { checkRuns: [{ name: "build", status: "in_progress", conclusion: null }], statuses: [] }
      yield* twin.queueChecks(pending)
      r.writeWorkflow(
        workflow(twin, r.agent("ci.sh", agentScript(r.shared, false)), 1)
          .replace("ci_poll_ms: 100", "ci_poll_ms: 600000")
          .replace("  required_labels: [ready]", "  required_labels: [ready]\n  webhook_secret_env: SY_WEBHOOK_SECRET")
      )
      git(r.dir, "add", "WORKFLOW.md")
      git(r.dir, "commit", "-q", "-m", "workflow")
      git(r.dir, "push", "-q", "origin", "main")
      const n = yield* twin.open({
        title: "average of an empty list is NaN",
        body: `\`\`\`switchyard\nreproduction: ${JSON.stringify(averageRepro)}\n\`\`\`\n`,
        labels: ["ready"]
      })
      const secret = "whsec-ci-0123456789"
      const server = yield* Effect.promise(() =>
        serving(r.dir, ["run", "--once", "--port", "0"], track, { GITHUB_TOKEN: twin.token, SY_WEBHOOK_SECRET: secret })
      )
      const exited = Effect.promise(() => new Promise<number | null>((resolve) => server.child.once("exit", (code) => resolve(code))))
      const exit = yield* Effect.fork(exited)
      // The line pushed the candidate and reads its (pending) checks.
      const asked = yield* twin.state.pipe(
        Effect.map((s) => s.requests.map((q) => /\/commits\/([0-9a-f]{40})\/check-runs/.exec(q)?.[1]).find((x) => x !== undefined)),
        Effect.flatMap((sha) => (sha === undefined ? Effect.fail("not yet") : Effect.succeed(sha))),
        Effect.retry(Schedule.spaced("100 millis")),
        Effect.timeoutFail({ duration: "60 seconds", onTimeout: () => new Error(`the line never read its checks:\n${server.out.stderr()}`) })
      )
      yield* Effect.sleep("1 second")
      yield* twin.setChecks(asked, passing)
      const body = JSON.stringify({ action: "completed", check_suite: { head_sha: asked, conclusion: "success" } })
      const sig = `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`
      const answer = yield* Effect.promise(() =>
        fetch(`${server.url}/webhooks/github`, {
          method: "POST",
          body,
          headers: { "content-type": "application/json", "x-github-event": "check_suite", "x-github-delivery": "cs-1", "x-hub-signature-256": sig }
        })
      )
      expect(answer.status).toBe(202)
      const code = yield* Fiber.join(exit).pipe(Effect.timeoutFail({ duration: "60 seconds", onTimeout: () => new Error("the wait did not end") }))
      expect(code).toBe(0)
      const shown = yield* Effect.promise(() => syAsync(r.dir, ["evidence", `GH-${n}`, "--json"], { GITHUB_TOKEN: twin.token }))
      expect(JSON.parse(shown.stdout)).toMatchObject({ outcome: "PR_READY" })
      expect(ciEvents(r, `GH-${n}`).filter((e) => e.type === "ci.passed")).toHaveLength(1)
    }))
})
