/**
 * The HTTP API (docs/api.md) against the built CLI serving on an ephemeral port over a real run: real git, real
 * processes, the SQLite store. Every body is decoded with the API's Schemas.
 */
import { describe, expect, it } from "@effect/vitest"
import { ErrorResponse, EventMessage, EvidenceResponse, IssueResponse, RefreshResponse, StateResponse } from "../src/server/api.js"
import { averageRepro, exited, join, perTest, sy, syAsync as syEnv, writeFileSync } from "./harness.js"
import { call, conforms, serving, sse } from "./serverHarness.js"

const { repo, track } = perTest()

const workflow = (agentPath: string) => `agent:
  command: ${JSON.stringify(agentPath)}
  max_attempts: 2
  retry_base_delay_ms: 50
  timeout_ms: 60000
verify:
  validation:
    - node --test
polling:
  interval_ms: 200
`

/** A fixer that waits for `go` (in the shared dir) before fixing, so the test sees it running. */
const waitingFixer = (go: string) => `i=0; while [ ! -f ${JSON.stringify(go)} ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
set -e
cat > src/average.js <<'JS'
export const average = (xs) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length)
JS
printf '%s\\n' 'test("empty", () => assert.equal(average([]), 0))' >> test/average.test.js
echo '{"claim":"PR_READY","summary":"guard the empty list"}' > "$SWITCHYARD_RESULT_FILE"`

const until = async <A>(f: () => Promise<A | undefined>, what: string, timeoutMs = 60_000): Promise<A> => {
  const start = Date.now()
  while (Date.now() - start < timeoutMs) {
    const v = await f()
    if (v !== undefined) return v
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`timed out waiting for ${what}`)
}

describe("HTTP API (switchyard run --port 0, built CLI, real run)", () => {
  it("serves the four layers, the issue with its attempts, its evidence and the events of a run; refresh coalesces", async () => {
    const r = repo()
    const go = join(r.shared, "go")
    r.writeWorkflow(workflow(r.agent("fixer.sh", waitingFixer(go))))
    expect((await sy(r.dir, "issue", "create", "--title", "average([]) is NaN", "--repro", averageRepro)).code).toBe(0)
    const { child, url, first } = await serving(r.dir, ["run", "--port", "0"], track)
    expect(first).toMatch(/^listening on http:\/\/127\.0\.0\.1:[1-9]\d*$/)
    const events = await sse(`${url}/api/v1/events`)
    expect(events.response.headers.get("content-type")).toBe("text/event-stream")

    // Running: the Workers layer shows the attempt in its agent stage with the agent's pid.
    const running = await until(async () => {
      const s = conforms("StateResponse", StateResponse, (await call(`${url}/api/v1/state`)).body)
      return s.running.find((w) => w.issue_id === "SY-1" && w.stage === "agent" && w.pid !== null) ? s : undefined
    }, "SY-1 to run its agent")
    expect(running.counts.running).toBe(1)
    expect(running.orchestrator.leases.map((l) => l.issue_id)).toEqual(["SY-1"])
    expect(running.tracker.statuses.in_progress).toBe(1)
    const issueRunning = conforms("IssueResponse", IssueResponse, (await call(`${url}/api/v1/issues/SY-1`)).body)
    expect(issueRunning.status).toBe("in_progress")
    expect(issueRunning.running?.attempt).toBe(1)
    expect(issueRunning.attempts.map((a) => [a.attempt, a.terminal_state])).toEqual([[1, null]])
    const stagesSoFar = conforms("EvidenceResponse", EvidenceResponse, (await call(`${url}/api/v1/issues/SY-1/evidence`)).body)
    expect(stagesSoFar.running).toBe(true)
    expect(stagesSoFar.bundle).toBeNull()
    expect(stagesSoFar.stages.map((s) => s.stage)).toContain("open")

    // Refresh: 202; a second call at once is coalesced into the first.
    const first202 = await call(`${url}/api/v1/refresh`, { method: "POST" })
    const second202 = await call(`${url}/api/v1/refresh`, { method: "POST", body: "{}" })
    expect([first202.status, second202.status]).toEqual([202, 202])
    expect(conforms("RefreshResponse", RefreshResponse, first202.body)).toMatchObject({ queued: true, coalesced: false, operations: ["poll", "reconcile"] })
    expect(conforms("RefreshResponse", RefreshResponse, second202.body).coalesced).toBe(true)

    writeFileSync(go, "")
    const terminal = await events.waitFor((e) => JSON.parse(e.data).type === "terminal.PR_READY")
    expect(terminal.event).toBe("factory")
    for (const e of events.events) conforms("EventMessage", EventMessage, JSON.parse(e.data))
    expect(JSON.parse(terminal.data)).toMatchObject({ issue_id: "SY-1", type: "terminal.PR_READY", seq: Number(terminal.id) })
    // The stream carried the whole attempt, in order, each event once.
    const types = events.events.map((e) => JSON.parse(e.data).type as string)
    for (const t of ["claim.acquired", "agent.started", "agent.exited", "verify.done", "terminal.PR_READY"]) expect(types).toContain(t)
    const seqs = events.events.map((e) => Number(e.id))
    expect(seqs).toEqual([...new Set(seqs)].sort((a, b) => a - b))
    // A client that reconnects with Last-Event-ID gets exactly what came after it, then goes on live.
    const mid = seqs[Math.floor(seqs.length / 2)]!
    const resumed = await sse(`${url}/api/v1/events`, { "last-event-id": String(mid) })
    await resumed.waitFor((e) => Number(e.id) === seqs.at(-1))
    const after = seqs.filter((s) => s > mid)
    expect(resumed.events.map((e) => Number(e.id)).slice(0, after.length)).toEqual(after)
    resumed.close()

    const state = await until(async () => {
      const s = conforms("StateResponse", StateResponse, (await call(`${url}/api/v1/state`)).body)
      return s.recent.length > 0 ? s : undefined
    }, "the outcome in the state")
    expect(state.recent[0]).toMatchObject({ issue_id: "SY-1", attempt: 1, outcome: "PR_READY", evidence: true, signature: "signed" })
    expect(state.running).toEqual([])
    expect(state.violations).toEqual([])
    const issue = conforms("IssueResponse", IssueResponse, (await call(`${url}/api/v1/issues/SY-1`)).body)
    expect(issue).toMatchObject({ issue_id: "SY-1", status: "in_review", running: null })
    expect(issue.attempts).toMatchObject([{ attempt: 1, terminal_state: "PR_READY", cause: "verified", evidence: true }])
    expect(issue.recent_events.map((e) => e.event)).toContain("terminal.PR_READY")
    const evidence = conforms("EvidenceResponse", EvidenceResponse, (await call(`${url}/api/v1/issues/SY-1/evidence`)).body)
    expect(evidence).toMatchObject({ issue_id: "SY-1", attempt: 1, running: false, signature: "signed" })
    expect(evidence.bundle?.outcome).toBe("PR_READY")
    expect(evidence.bundle?.diff?.patch).toContain("xs.length === 0")
    expect(evidence.bundle?.guards.length).toBeGreaterThan(0)
    expect(evidence.stages.map((s) => s.stage)).toEqual(expect.arrayContaining(["open", "agent turn", "verify candidate"]))
    expect((await call(`${url}/api/v1/issues/SY-1/evidence/1`)).body).toEqual((await call(`${url}/api/v1/issues/SY-1/evidence`)).body)

    // Errors: one envelope, the right status.
    const errors: Array<[string, RequestInit, number, string]> = [
      ["/api/v1/issues/SY-99", {}, 404, "issue_not_found"],
      ["/api/v1/issues/SY-99/evidence", {}, 404, "issue_not_found"],
      ["/api/v1/issues/SY-1/evidence/2", {}, 404, "evidence_not_found"],
      ["/api/v1/issues/SY-1/evidence/x", {}, 400, "invalid_attempt"],
      ["/api/v1/issues/..%2F..%2Fetc%2Fpasswd", {}, 400, "invalid_id"],
      ["/api/v1/issues/SY-1%00", {}, 400, "invalid_id"],
      ["/api/v1/nothing", {}, 404, "not_found"],
      ["/api/v1/state", { method: "DELETE" }, 405, "method_not_allowed"],
      ["/api/v1/refresh", { method: "GET" }, 405, "method_not_allowed"],
      ["/api/v1/issues/SY-1", { method: "PUT", body: "{}" }, 405, "method_not_allowed"]
    ]
    for (const [path, init, status, code] of errors) {
      const res = await call(`${url}${path}`, init)
      expect([path, res.status]).toEqual([path, status])
      expect(conforms("ErrorResponse", ErrorResponse, res.body).error.code).toBe(code)
    }
    expect((await call(`${url}/api/v1/state`, { method: "DELETE" })).headers.get("allow")).toBe("GET")

    // SIGTERM with the event stream still open: the run exits 143 and the stream is ended by the server.
    const sent = Date.now()
    child.kill("SIGTERM")
    const exit = await exited(child, sent)
    expect(exit.code).toBe(143)
    await events.done
    expect(events.ended()).toBe(true)
  })

  it("a non-loopback host needs SWITCHYARD_API_TOKEN; with a token every route wants it (401); a taken port is one line", async () => {
    const r = repo()
    const refused = await sy(r.dir, "serve", "--port", "0", "--host", "0.0.0.0")
    expect(refused.code).toBe(1)
    expect(refused.stderr.trim().split("\n")).toEqual([
      `switchyard: --host 0.0.0.0 is reachable from other machines: set SWITCHYARD_API_TOKEN to a secret the clients send as "Authorization: Bearer <token>" (or bind 127.0.0.1)`
    ])
    expect(refused.stdout).toBe("")

    const token = "s3cret-token-for-the-test"
    const { child, url } = await serving(r.dir, ["serve", "--port", "0"], track, { SWITCHYARD_API_TOKEN: token })
    for (const path of ["/api/v1/state", "/api/v1/issues/SY-1", "/api/v1/events", "/", "/api/v1/nothing"]) {
      for (const headers of [{}, { authorization: "Bearer wrong" }, { authorization: `Basic ${token}` }]) {
        const res = await call(`${url}${path}`, { headers })
        expect([path, res.status]).toEqual([path, 401])
        expect(conforms("ErrorResponse", ErrorResponse, res.body).error.code).toBe("unauthorized")
      }
    }
    expect((await call(`${url}/api/v1/refresh`, { method: "POST" })).status).toBe(401)
    expect((await call(`${url}/api/v1/state`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200)
    expect((await call(`${url}/api/v1/state?token=${token}`)).status).toBe(200)
    expect((await call(`${url}/api/v1/issues/SY-1`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(404)

    for (const [args, line] of [
      [["--port", "70000"], "switchyard: --port 70000: a port is a whole number from 0 to 65535 (0: a free one)"],
      [["--port", "0", "--host", "192.0.2.1"], "switchyard: cannot listen on 192.0.2.1: no network interface of this machine has that address (--host)"]
    ] as const) {
      const bad = await syEnv(r.dir, ["serve", ...args], { SWITCHYARD_API_TOKEN: token })
      expect([args, bad.code, bad.stderr.trim()]).toEqual([args, 1, line])
    }

    // The port that server holds, asked for again.
    const port = new URL(url).port
    const taken = await sy(r.dir, "serve", "--port", port)
    expect(taken.code).toBe(1)
    expect(taken.stderr.trim().split("\n")).toEqual([
      `switchyard: port ${port} on 127.0.0.1 is already in use: pick another with --port N (or --port 0 for a free one)`
    ])
    child.kill("SIGTERM")
    expect((await exited(child)).code).toBe(143)
  })

  it.each([["SIGTERM", 143], ["SIGINT", 130]] as const)(
    "%s with two event streams open exits %i within 2 s and ends both streams (serve)",
    async (signal, code) => {
      const r = repo()
      expect((await sy(r.dir, "issue", "create", "--title", "something")).code).toBe(0)
      const { child, url } = await serving(r.dir, ["serve", "--port", "0"], track)
      const a = await sse(`${url}/api/v1/events`)
      const b = await sse(`${url}/api/v1/events`)
      expect([a.response.status, b.response.status]).toEqual([200, 200])
      // Both are connected and idle: the server is waiting on them when the signal comes.
      await new Promise((r) => setTimeout(r, 300))
      expect([a.ended(), b.ended()]).toEqual([false, false])
      const sent = Date.now()
      child.kill(signal)
      const exit = await exited(child, sent)
      expect(exit.code).toBe(code)
      expect(exit.afterMs).toBeLessThan(2_000)
      await Promise.all([a.done, b.done])
      expect([a.ended(), b.ended()]).toEqual([true, true])
    }
  )
})
