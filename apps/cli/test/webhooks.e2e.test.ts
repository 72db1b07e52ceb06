/**
 * GitHub webhooks in `switchyard run --port` (docs/trust.md "Webhooks", docs/api.md): the built CLI against the
 * GitHub twin, polling set to 10 minutes so only a webhook (or an explicit refresh) can make the line see a new
 * issue. A forged delivery (bad or missing signature) and an unknown event type are refused and change nothing
 * (GitHub is not even read); a signed `issues` `labeled` delivery makes the line read GitHub and dispatch at once;
 * the same delivery again, and a poll afterwards, dispatch nothing more. A signed `pull_request_review` runs the review
 * tick (a forged one does not): "changes requested" sends the change back and the line runs it again with the review;
 * the same review delivered again sends nothing back twice.
 */
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { GitHubTwin } from "@switchyard/twin"
import Database from "better-sqlite3"
import { Effect, Schedule, type Scope } from "effect"
import { createHmac } from "node:crypto"
import { execFileSync } from "node:child_process"
import { join, perTest, readFileSync, syAsync } from "./harness.js"
import { serving } from "./serverHarness.js"

const { repo, track } = perTest()

const live = (name: string, body: () => Effect.Effect<void, unknown, Scope.Scope | NodeContext.NodeContext>) =>
  it.live(name, () => body().pipe(Effect.scoped, Effect.provide(NodeContext.layer)), 120_000)

const SECRET = "whsec-test-0123456789abcdef"

const agentScript = `set -e
echo "export const id = '$SWITCHYARD_ISSUE_ID'" > "src/$SWITCHYARD_ISSUE_ID.js"
echo '{"claim":"PR_READY","summary":"add the file"}' > "$SWITCHYARD_RESULT_FILE"`

const sign = (body: string, secret = SECRET) => `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`

const post = (url: string, body: string, headers: Record<string, string>) =>
  Effect.promise(async () => {
    const r = await fetch(`${url}/webhooks/github`, { method: "POST", body, headers: { "content-type": "application/json", ...headers } })
    return { status: r.status, json: await r.json() as Record<string, unknown> }
  })

const events = (dir: string, id: string) => {
  const db = new Database(join(dir, ".switchyard/switchyard.db"), { readonly: true })
  const rows = db.prepare("SELECT type FROM events WHERE issue_id = ? ORDER BY seq").all(id) as Array<{ type: string }>
  db.close()
  return rows.map((row) => row.type)
}

describe("POST /webhooks/github (built CLI, GitHub twin)", () => {
  live("a forged or unknown delivery changes nothing; a signed issues.labeled dispatches at once, and a repeat or a poll does not again", () =>
    Effect.gen(function*() {
      const twin = yield* GitHubTwin.make({ labels: ["ready"] })
      const r = repo()
      r.writeWorkflow(`tracker:
  kind: github
  repo: ${twin.owner}/${twin.repo}
  api_url: ${twin.url}
  required_labels: [ready]
  webhook_secret_env: SY_WEBHOOK_SECRET
agent:
  command: ${JSON.stringify(r.agent("adder.sh", agentScript))}
  max_attempts: 1
verify:
  validation:
    - node --test
polling:
  interval_ms: 600000
`)
      const server = yield* Effect.promise(() =>
        serving(r.dir, ["run", "--port", "0"], track, { GITHUB_TOKEN: twin.token, SY_WEBHOOK_SECRET: SECRET })
      )
      const n = yield* twin.open({ title: "add a file", labels: ["ready"], body: "```switchyard\nreproduction: \"test -f src/GH-1.js\"\n```\n" })
      const id = `GH-${n}`
      const reads = Effect.map(twin.state, (s) => s.requests.filter((q) => q.startsWith("GET /repos/acme/widgets/issues?")).length)
      const labeled = JSON.stringify({ action: "labeled", issue: { number: n }, label: { name: "ready" }, repository: { full_name: "acme/widgets" } })
      const readsBefore = yield* reads

      // Forged: a wrong signature, a signature under another secret, none at all; and a signed unknown event type.
      const forged = yield* post(server.url, labeled, { "x-github-event": "issues", "x-github-delivery": "d-forged", "x-hub-signature-256": `sha256=${"0".repeat(64)}` })
      expect(forged.status).toBe(401)
      expect((yield* post(server.url, labeled, { "x-github-event": "issues", "x-github-delivery": "d-other", "x-hub-signature-256": sign(labeled, "another-secret") })).status).toBe(401)
      expect((yield* post(server.url, labeled, { "x-github-event": "issues", "x-github-delivery": "d-unsigned" })).status).toBe(401)
      const tampered = labeled.replace(`"number":${n}`, `"number":${n + 1}`)
      expect((yield* post(server.url, tampered, { "x-github-event": "issues", "x-github-delivery": "d-tampered", "x-hub-signature-256": sign(labeled) })).status).toBe(401)
      const unknown = yield* post(server.url, labeled, { "x-github-event": "push", "x-github-delivery": "d-push", "x-hub-signature-256": sign(labeled) })
      expect(unknown.status).toBe(400)
      expect(unknown.json).toMatchObject({ error: { code: "unknown_event" } })
      yield* Effect.sleep("1500 millis")
      expect(yield* reads).toBe(readsBefore)
      expect(events(r.dir, id)).toEqual([])
      expect((yield* twin.state).issues.get(n)?.labels).toEqual(["ready"])

      // Signed: the line reads GitHub now and dispatches.
      const accepted = yield* post(server.url, labeled, { "x-github-event": "issues", "x-github-delivery": "d-1", "x-hub-signature-256": sign(labeled) })
      expect(accepted.status).toBe(202)
      expect(accepted.json).toMatchObject({ delivery: "d-1", event: "issues", action: "labeled", triggered: ["wake"], duplicate: false })
      yield* Effect.sync(() => events(r.dir, id)).pipe(
        Effect.repeat({ until: (types) => types.includes("terminal.PR_READY"), schedule: Schedule.spaced("100 millis") }),
        Effect.timeoutFail({ duration: "60 seconds", onTimeout: () => new Error(`the webhook did not dispatch ${id}:\n${server.out.stderr()}`) })
      )

      // The same delivery again, then a poll: nothing is dispatched twice.
      const again = yield* post(server.url, labeled, { "x-github-event": "issues", "x-github-delivery": "d-1", "x-hub-signature-256": sign(labeled) })
      expect(again.status).toBe(200)
      expect(again.json).toMatchObject({ duplicate: true, triggered: [] })
      const refreshed = yield* Effect.promise(() => fetch(`${server.url}/api/v1/refresh`, { method: "POST" }))
      expect(refreshed.status).toBe(202)
      yield* Effect.sleep("2 seconds")
      expect(events(r.dir, id).filter((t) => t === "agent.started")).toHaveLength(1)
      expect(events(r.dir, id).filter((t) => t === "claim.acquired")).toHaveLength(1)
    }))

  live("a signed pull_request_review delivery runs the review tick: changes requested sends the change back, and the line runs it again with the review", () =>
    Effect.gen(function*() {
      const twinRepo = repo()
      const bare = join(twinRepo.tmp, "remote.git")
      execFileSync("git", ["init", "-q", "--bare", "-b", "main", bare])
      const twin = yield* GitHubTwin.make({ labels: ["ready"], git: bare })
      const r = twinRepo
      const prompts = join(r.shared, "review-prompts")
      r.writeWorkflow(`tracker:
  kind: github
  repo: ${twin.owner}/${twin.repo}
  api_url: ${twin.url}
  required_labels: [ready]
  webhook_secret_env: SY_WEBHOOK_SECRET
agent:
  command: ${JSON.stringify(r.agent("reviewed.sh", `set -e
echo "export const id = '$SWITCHYARD_ISSUE_ID'" > "src/$SWITCHYARD_ISSUE_ID.js"
if grep -q "Review feedback on your previous change" "$SWITCHYARD_PROMPT_FILE"; then cat "$SWITCHYARD_PROMPT_FILE" >> ${JSON.stringify(prompts)}; fi
echo '{"claim":"PR_READY","summary":"add the file"}' > "$SWITCHYARD_RESULT_FILE"`))}
  max_attempts: 2
verify:
  validation:
    - node --test
integration:
  push: true
polling:
  interval_ms: 600000
`)
      execFileSync("git", ["remote", "add", "origin", bare], { cwd: r.dir })
      execFileSync("git", ["add", "WORKFLOW.md"], { cwd: r.dir })
      execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "workflow"], { cwd: r.dir })
      execFileSync("git", ["push", "-q", "origin", "main"], { cwd: r.dir })
      const env = { GITHUB_TOKEN: twin.token, SY_WEBHOOK_SECRET: SECRET }
      const n = yield* twin.open({ title: "add a file", labels: ["ready"], body: "```switchyard\nreproduction: \"test -f src/GH-1.js\"\n```\n" })
      const id = `GH-${n}`
      const once = yield* Effect.promise(() => syAsync(r.dir, ["run", "--once"], env))
      expect(once.code, once.stderr).toBe(0)
      const pull = (yield* twin.state).pulls.find((p) => p.head === `switchyard/${id}`)!.number
      const server = yield* Effect.promise(() => serving(r.dir, ["run", "--port", "0"], track, env))
      // The line's own review poll reads the reviews once at start (then every 10 minutes): let it, so what follows
      // can only come from the webhook.
      yield* twin.state.pipe(
        Effect.flatMap((s) => (s.requests.some((q) => q.startsWith(`GET /repos/acme/widgets/pulls/${pull}/reviews`)) ? Effect.void : Effect.fail("not yet"))),
        Effect.retry(Schedule.spaced("100 millis")),
        Effect.timeout("30 seconds")
      )
      yield* Effect.sleep("500 millis")
      const review = yield* twin.review(pull, { user: "alice", state: "CHANGES_REQUESTED", body: "Needs a comment (WEBHOOK-REVIEW)" })
      const body = JSON.stringify({ action: "submitted", review: { id: review.id, state: "changes_requested" }, pull_request: { number: pull } })
      const forged = yield* post(server.url, body, { "x-github-event": "pull_request_review", "x-github-delivery": "r-forged", "x-hub-signature-256": sign(body, "nope") })
      expect(forged.status).toBe(401)
      yield* Effect.sleep("1 second")
      expect(events(r.dir, id).filter((t) => t.startsWith("review."))).toEqual([])
      const accepted = yield* post(server.url, body, { "x-github-event": "pull_request_review", "x-github-delivery": "r-1", "x-hub-signature-256": sign(body) })
      expect(accepted.status).toBe(202)
      expect(accepted.json).toMatchObject({ triggered: ["reviews", "wake"] })
      yield* Effect.sync(() => events(r.dir, id)).pipe(
        Effect.repeat({ until: (types) => types.filter((t) => t === "terminal.PR_READY").length === 2, schedule: Schedule.spaced("200 millis") }),
        Effect.timeoutFail({ duration: "90 seconds", onTimeout: () => new Error(`no second attempt after the review webhook:\n${events(r.dir, id).join(" ")}\n${server.out.stderr()}`) })
      )
      expect(events(r.dir, id).filter((t) => t === "review.changes_requested")).toHaveLength(1)
      expect(readFileSync(prompts, "utf8")).toContain("WEBHOOK-REVIEW")
      // The same review delivered again (and polled) sends nothing back a second time.
      const again = yield* post(server.url, body, { "x-github-event": "pull_request_review", "x-github-delivery": "r-2", "x-hub-signature-256": sign(body) })
      expect(again.status).toBe(202)
      yield* Effect.sleep("3 seconds")
      expect(events(r.dir, id).filter((t) => t === "review.changes_requested")).toHaveLength(1)
      expect(events(r.dir, id).filter((t) => t === "agent.started")).toHaveLength(2)
    }))
})
