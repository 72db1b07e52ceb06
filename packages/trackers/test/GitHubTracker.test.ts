/**
 * The GitHub tracker against the GitHub twin, over real HTTP on 127.0.0.1 and a real SQLite file: reading
 * (pagination, pull requests excluded, a malformed record skipped and reported, conditional requests), the write-back
 * through the outbox (state labels, comments, the pull request of a PR_READY, exactly once), external edits while
 * an issue runs (closed, deleted, relabelled), an outage (nothing dispatched, workers go on, resumes), rate limits.
 */
import { FetchHttpClient } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { Orchestrator, runLine, Tracker } from "@switchyard/core"
import { IssueId } from "@switchyard/domain"
import { GitHubTwin } from "@switchyard/twin"
import { Context, Effect, Either, Fiber, Layer, Logger, Option, Redacted, Ref, Schedule } from "effect"
import { GitHubTracker, MirrorTracker } from "../src/index.js"
import { open, scratch } from "./helpers.js"
import { standInLine } from "./standIns.js"

type Twin = GitHubTwin.GitHubTwinShape

/** The stores, a twin, and the GitHub mirror over them (not yet synced: call `syncOnce`). */
const setUp = (twinOptions: Parameters<typeof GitHubTwin.make>[0] = {}, token?: string) =>
  Effect.gen(function*() {
    const paths = yield* scratch
    const stores = yield* open(paths)
    const twin = yield* GitHubTwin.make({ labels: ["ready"], ...twinOptions })
    const options = {
      repo: `${twin.owner}/${twin.repo}`,
      apiUrl: twin.url,
      token: Redacted.make(token ?? twin.token),
      labelPrefix: "switchyard",
      pollMs: 40
    }
    const remote = yield* GitHubTracker.remote(options).pipe(Effect.provide(FetchHttpClient.layer))
    const mirror = yield* MirrorTracker.make(remote).pipe(
      Effect.provide(Layer.succeedContext(stores)),
      Effect.provide(FetchHttpClient.layer)
    )
    return { paths, stores, twin, mirror, options, sql: Context.get(stores, SqlClient.SqlClient) }
  })

/** Waits (real time, up to 15 s) until `check` holds for the twin's state. */
const until = (twin: Twin, check: (s: GitHubTwin.GitHubTwinState) => boolean) =>
  Effect.repeat(twin.state, { until: check, schedule: Schedule.spaced("25 millis") }).pipe(
    Effect.timeoutFail({ duration: "15 seconds", onTimeout: () => new Error("the twin never reached the expected state") }),
    Effect.zipRight(twin.state)
  )

const labelsOf = (s: GitHubTwin.GitHubTwinState, n: number) => [...(s.issues.get(n)?.labels ?? [])].sort()

describe("GitHub tracker: reading", () => {
  it.live("mirrors open issues over pages of 100, without pull requests; a malformed record is skipped and reported", () =>
    Effect.gen(function*() {
      const { mirror, twin } = yield* setUp()
      for (let i = 1; i <= 104; i++) yield* twin.open({ title: `issue ${i}`, labels: i % 2 === 0 ? ["ready"] : [] })
      const pr = yield* twin.open({ title: "a pull request", isPull: true })
      yield* twin.addRaw({ number: 999, title: null, state: "open", labels: [] })
      yield* mirror.syncOnce
      const all = yield* mirror.tracker.list()
      expect(all.length).toBe(104)
      expect(all.some((i) => i.id === `GH-${pr}`)).toBe(false)
      const ready = yield* mirror.tracker.ready
      expect(ready.refs.length).toBe(104)
      expect(ready.invalid.map((i) => i.id)).toEqual(["GH-999"])
      expect(ready.invalid[0]?.reason).toContain("title")
      const requests = (yield* twin.state).requests.filter((r) => r.includes("/issues?"))
      expect(requests).toEqual([
        "GET /repos/acme/widgets/issues?state=open&per_page=100&page=1",
        "GET /repos/acme/widgets/issues?state=open&per_page=100&page=2"
      ])
    }).pipe(Effect.provide(NodeContext.layer), Effect.scoped), 30_000)

  it.live("an unchanged repository is read with conditional requests that spend no rate limit", () =>
    Effect.gen(function*() {
      const { mirror, twin } = yield* setUp()
      yield* twin.open({ title: "one", labels: ["ready"] })
      yield* mirror.syncOnce
      const spent = (yield* twin.state).rateRemaining
      yield* mirror.syncOnce
      yield* mirror.syncOnce
      expect((yield* twin.state).rateRemaining).toBe(spent)
      // A change is seen on the next read.
      yield* twin.edit(1, { title: "one, retitled" })
      yield* mirror.syncOnce
      expect((yield* mirror.tracker.get("GH-1")).title).toBe("one, retitled")
    }).pipe(Effect.provide(NodeContext.layer), Effect.scoped), 30_000)

  it.live("task-packet fields, priority and labels come from the issue", () =>
    Effect.gen(function*() {
      const { mirror, twin } = yield* setUp()
      yield* twin.open({
        title: "  Fix the parser  ",
        body: "It breaks.\n\n```switchyard\nreproduction: pnpm vitest run test/parse.test.ts\nvalidation: [pnpm typecheck]\nscope: [src/parse/**]\nnon_goals: [rewrite the lexer]\n```\n",
        labels: ["Ready", "priority:high", "switchyard:escalated"]
      })
      yield* twin.open({ title: "bad block", body: "```switchyard\nvalidation: 3\n```" })
      yield* mirror.syncOnce
      const issue = yield* mirror.tracker.get("GH-1")
      expect(issue.title).toBe("Fix the parser")
      expect(issue.reproduction).toBe("pnpm vitest run test/parse.test.ts")
      expect(issue.validation).toEqual(["pnpm typecheck"])
      expect(issue.scope).toEqual(["src/parse/**"])
      expect(issue.non_goals).toEqual(["rewrite the lexer"])
      expect(issue.priority).toBe("high")
      expect(issue.labels).toEqual(["ready", "priority:high"])
      expect(issue.status).toBe("blocked")
      const ready = yield* mirror.tracker.ready
      expect(ready.invalid.map((i) => [i.id, i.reason.includes("switchyard")])).toEqual([["GH-2", true]])
    }).pipe(Effect.provide(NodeContext.layer), Effect.scoped), 30_000)

  it.live("a refused token is one clear error, and the token appears nowhere in it", () =>
    Effect.gen(function*() {
      const { mirror, sql } = yield* setUp({}, "ghp_wrong_token_42")
      yield* mirror.syncOnce
      const health = yield* mirror.health
      expect(health.healthy).toBe(false)
      expect(health.lastError).toContain("the token was refused")
      expect(health.lastError).not.toContain("ghp_wrong_token_42")
      const rows = yield* sql<{ last_error: string }>`SELECT last_error FROM tracker_health WHERE kind = 'github'`
      expect(rows[0]?.last_error).toContain("HTTP 401")
    }).pipe(Effect.provide(NodeContext.layer), Effect.scoped), 30_000)
})

describe("GitHub tracker: the outbox", () => {
  it.live("a status change and a comment commit with the local write and reach GitHub once, even when retried", () =>
    Effect.gen(function*() {
      const { mirror, sql, twin } = yield* setUp()
      yield* twin.open({ title: "one", labels: ["ready"] })
      yield* mirror.syncOnce
      const id = IssueId.make("GH-1")
      expect(yield* mirror.tracker.transition(id, ["todo"], "in_progress")).toBe(true)
      yield* mirror.tracker.comment(id, "working on it", "switchyard")
      // Nothing reached GitHub yet: the rows wait in the outbox.
      expect(labelsOf(yield* twin.state, 1)).toEqual(["ready"])
      // A pull before delivery keeps the local status (our change is on its way).
      yield* twin.edit(1, { title: "one!" })
      expect((yield* mirror.tracker.get(id)).status).toBe("in_progress")
      yield* mirror.syncOnce
      let s = yield* twin.state
      expect(labelsOf(s, 1)).toEqual(["ready", "switchyard:running"])
      expect(s.comments.filter((c) => c.issue === 1).map((c) => c.body.split("\n")[0])).toEqual(["working on it"])
      expect((yield* mirror.tracker.get(id)).status).toBe("in_progress")
      // A runner that died after GitHub took the comment but before it was marked delivered sends it again: the
      // marker finds it, nothing is posted twice.
      yield* sql`UPDATE tracker_outbox SET delivered_at = NULL`
      yield* mirror.syncOnce
      s = yield* twin.state
      expect(s.comments.filter((c) => c.issue === 1).length).toBe(1)
      expect(labelsOf(s, 1)).toEqual(["ready", "switchyard:running"])
    }).pipe(Effect.provide(NodeContext.layer), Effect.scoped), 30_000)

  it.live("a write-back refused by a rate limit waits for the reset; a 429 with Retry-After is retried in place", () =>
    Effect.gen(function*() {
      const { mirror, sql, twin } = yield* setUp()
      yield* twin.open({ title: "one", labels: ["ready"] })
      yield* mirror.syncOnce
      const id = IssueId.make("GH-1")
      yield* mirror.tracker.transition(id, ["todo"], "in_progress")
      yield* twin.fault({ _tag: "Status", status: 403 })
      yield* mirror.syncOnce
      const rows = yield* sql<{ failures: number; next_at: number; last_error: string; created_at: number }>`
        SELECT failures, next_at, last_error, created_at FROM tracker_outbox`
      expect(rows[0]?.failures).toBe(1)
      expect(rows[0]?.last_error).toContain("rate limit")
      // Not before the reset the twin announced (an hour away).
      expect(rows[0]!.next_at).toBeGreaterThanOrEqual(twin.rateReset * 1000 - 5_000)
      expect(labelsOf(yield* twin.state, 1)).toEqual(["ready"])
      yield* sql`UPDATE tracker_outbox SET next_at = 0`
      yield* twin.fault({ _tag: "Status", status: 429, headers: { "retry-after": "1" } })
      yield* mirror.syncOnce
      expect(labelsOf(yield* twin.state, 1)).toEqual(["ready", "switchyard:running"])
    }).pipe(Effect.provide(NodeContext.layer), Effect.scoped), 30_000)
})

describe("GitHub tracker: outage", () => {
  it.live("while GitHub is down nothing is dispatched; it resumes when GitHub answers", () =>
    Effect.gen(function*() {
      const { mirror, sql, twin } = yield* setUp()
      yield* twin.open({ title: "one", labels: ["ready"] })
      yield* mirror.syncOnce
      expect((yield* mirror.tracker.ready).refs.length).toBe(1)
      yield* twin.setDown(true)
      yield* mirror.syncOnce
      expect((yield* mirror.health).healthy).toBe(false)
      expect((yield* mirror.tracker.ready).refs).toEqual([])
      const rows = yield* sql<{ last_ok_at: number | null; last_error: string }>`SELECT * FROM tracker_health`
      expect(rows[0]?.last_ok_at).not.toBeNull()
      expect(rows[0]?.last_error).toContain("503")
      yield* twin.setDown(false)
      yield* mirror.syncOnce
      expect((yield* mirror.tracker.ready).refs.length).toBe(1)
    }).pipe(Effect.provide(NodeContext.layer), Effect.scoped), 30_000)
})

describe("GitHub tracker: the line", () => {
  /** The real loop over the GitHub tracker (synced every 40 ms), stand-in sandbox/agent/verifier. */
  const lineOver = (config: Record<string, unknown>, overrides: Partial<GitHubTracker.GitHubTrackerOptions> = {}) =>
    Effect.gen(function*() {
      const set = yield* setUp()
      const trackerContext = yield* Layer.build(
        GitHubTracker.layer({ ...set.options, ...overrides }).pipe(
          Layer.provide(Layer.succeedContext(set.stores)),
          Layer.provide(FetchHttpClient.layer)
        )
      ).pipe(Effect.orDie)
      const stores = Context.merge(set.stores, trackerContext)
      const line = yield* standInLine(stores, set.paths.stateDir, config)
      return { ...set, ...line, tracker: Context.get(stores, Tracker), orchestrator: Context.get(stores, Orchestrator) }
    })

  it.live("labelled issues in; state labels, a comment per ending and a pull request with the evidence out", () =>
    Effect.gen(function*() {
      const { line, orchestrator, tracker, twin } = yield* lineOver({ tracker: { kind: "github", required_labels: ["ready"] } })
      const fix = yield* twin.open({
        title: "fix the off-by-one",
        body: "```switchyard\nreproduction: node test.js\n```",
        labels: ["ready"]
      })
      const noop = yield* twin.open({ title: "noop: already fine", labels: ["ready"] })
      const ask = yield* twin.open({ title: "ask a human", labels: ["Ready"] })
      const unlabelled = yield* twin.open({ title: "noop, not for us" })
      // The layer's sync picks them up on its next round.
      yield* Effect.repeat(tracker.list(), { until: (l) => l.length === 4, schedule: Schedule.spaced("20 millis") })
      yield* runLine({ once: true }).pipe(Effect.provide(line), Effect.timeout("20 seconds"))
      const s = yield* until(twin, (st) =>
        st.pulls.length === 1 && st.comments.filter((c) => c.issue === fix).length === 2 &&
        labelsOf(st, noop).includes("switchyard:no-op") && labelsOf(st, ask).includes("switchyard:escalated") &&
        st.comments.some((c) => c.issue === noop) && st.comments.some((c) => c.issue === ask))
      expect(labelsOf(s, fix)).toEqual(["ready", "switchyard:in-review"])
      expect(labelsOf(s, noop)).toEqual(["ready", "switchyard:no-op"])
      expect(labelsOf(s, ask)).toEqual(["Ready", "switchyard:escalated"])
      expect(labelsOf(s, unlabelled)).toEqual([])
      const pull = s.pulls[0]!
      expect(pull.head).toBe(`switchyard/GH-${fix}`)
      expect(pull.base).toBe("main")
      expect(pull.body).toContain(`Closes #${fix}`)
      expect(pull.body).toContain("PR_READY")
      const fixComments = s.comments.filter((c) => c.issue === fix).map((c) => c.body)
      expect(fixComments[0]).toContain("Switchyard verified a change")
      expect(fixComments[1]).toContain(`Pull request: ${twin.url}/acme/widgets/pull/${pull.number}`)
      expect(s.comments.filter((c) => c.issue === noop).map((c) => c.body)[0]).toContain("For a human to decide")
      expect(s.comments.filter((c) => c.issue === ask).map((c) => c.body)[0]).toContain("Switchyard escalated attempt 1")
      expect((yield* tracker.get(`GH-${unlabelled}`)).status).toBe("todo")
      expect((yield* orchestrator.attempts(IssueId.make(`GH-${unlabelled}`))).length).toBe(0)
      // The pull request the twin lists as an issue is not mirrored.
      expect((yield* tracker.list()).length).toBe(4)
    }).pipe(Effect.provide(NodeContext.layer), Effect.scoped), 60_000)

  it.live("closed, deleted or unlabelled on GitHub while running: the worker is stopped", () =>
    Effect.gen(function*() {
      const { line, orchestrator, runs, tracker, twin } = yield* lineOver({
        tracker: { kind: "github", required_labels: ["ready"] }
      })
      const closed = yield* twin.open({ title: "hang, then closed", labels: ["ready"] })
      const deleted = yield* twin.open({ title: "hang, then deleted", labels: ["ready"] })
      const relabelled = yield* twin.open({ title: "hang, then unlabelled", labels: ["ready"] })
      yield* Effect.repeat(tracker.list(), { until: (l) => l.length === 3, schedule: Schedule.spaced("20 millis") })
      const runner = yield* runLine({ once: true }).pipe(Effect.provide(line), Effect.fork)
      yield* Effect.repeat(Ref.get(runs), { until: (m) => m.size === 3, schedule: Schedule.spaced("10 millis") })
      yield* twin.edit(closed, { state: "closed", state_reason: "not_planned" })
      yield* twin.edit(deleted, { deleted: true })
      yield* twin.edit(relabelled, { labels: ["switchyard:running"] })
      const drained = yield* runner.await.pipe(Effect.timeoutOption("20 seconds"))
      expect(Option.isSome(drained)).toBe(true)
      const causes = (n: number) =>
        orchestrator.attempts(IssueId.make(`GH-${n}`)).pipe(Effect.map((rows) => rows.map((a) => [a.terminal_state, a.cause])))
      expect(yield* causes(closed)).toEqual([[null, "canceled_by_reconciliation"]])
      expect(yield* causes(deleted)).toEqual([[null, "canceled_by_reconciliation"]])
      expect(yield* causes(relabelled)).toEqual([[null, "required_labels_missing"]])
      expect((yield* tracker.get(`GH-${closed}`)).status).toBe("cancelled")
      expect((yield* tracker.get(`GH-${deleted}`)).status).toBe("cancelled")
      expect((yield* tracker.get(`GH-${relabelled}`)).status).toBe("todo")
      // The requeue reached GitHub: its running label is gone.
      yield* until(twin, (st) => labelsOf(st, relabelled).length === 0)
      expect(yield* orchestrator.leases).toEqual([])
    }).pipe(Effect.provide(NodeContext.layer), Effect.scoped), 60_000)
  it.live("only issues assigned to tracker.assignee are worked; one reassigned to someone else while running is stopped", () =>
    Effect.gen(function*() {
      const { line, orchestrator, runs, tracker, twin } = yield* lineOver(
        { tracker: { kind: "github", required_labels: ["ready"] } },
        { assignee: "switchyard-bot" }
      )
      const mine = yield* twin.open({ title: "hang, then reassigned", labels: ["ready"], assignees: ["Switchyard-Bot"] })
      yield* twin.open({ title: "someone else's", labels: ["ready"], assignees: ["octocat"] })
      yield* twin.open({ title: "nobody's", labels: ["ready"] })
      yield* Effect.repeat(tracker.list(), { until: (l) => l.length === 1, schedule: Schedule.spaced("20 millis") })
      // Only the issue assigned to the bot (compared case-insensitively) is in scope.
      expect((yield* tracker.list()).map((i) => i.id)).toEqual([`GH-${mine}`])
      const runner = yield* runLine({ once: true }).pipe(Effect.provide(line), Effect.fork)
      yield* Effect.repeat(Ref.get(runs), { until: (m) => m.size === 1, schedule: Schedule.spaced("10 millis") })
      yield* twin.edit(mine, { assignees: ["octocat"] })
      const drained = yield* runner.await.pipe(Effect.timeoutOption("20 seconds"))
      expect(Option.isSome(drained)).toBe(true)
      const attempts = yield* orchestrator.attempts(IssueId.make(`GH-${mine}`))
      expect(attempts.map((a) => [a.terminal_state, a.cause])).toEqual([[null, "canceled_by_reconciliation"]])
      expect((yield* tracker.get(`GH-${mine}`)).status).toBe("cancelled")
      expect([...(yield* Ref.get(runs)).keys()]).toEqual([`GH-${mine}`])
    }).pipe(Effect.provide(NodeContext.layer), Effect.scoped), 60_000)
})

describe("GitHub tracker: outage while the line runs", () => {
  it.live("the running worker goes on, nothing new is dispatched, the outage is logged once, dispatch resumes", () => {
    const logged: Array<string> = []
    const capture = Logger.replace(Logger.defaultLogger, Logger.make(({ message }) => logged.push(String(message))))
    return Effect.gen(function*() {
      const set = yield* setUp()
      const trackerContext = yield* Layer.build(
        GitHubTracker.layer(set.options).pipe(Layer.provide(Layer.succeedContext(set.stores)), Layer.provide(FetchHttpClient.layer))
      ).pipe(Effect.orDie)
      const stores = Context.merge(set.stores, trackerContext)
      const { line, runs } = yield* standInLine(stores, set.paths.stateDir, { tracker: { kind: "github", required_labels: ["ready"] } })
      const tracker = Context.get(stores, Tracker)
      const orchestrator = Context.get(stores, Orchestrator)
      const hang = yield* set.twin.open({ title: "hang through the outage", labels: ["ready"] })
      yield* Effect.repeat(tracker.list(), { until: (l) => l.length === 1, schedule: Schedule.spaced("20 millis") })
      const runner = yield* runLine({ once: false }).pipe(Effect.provide(line), Effect.forkScoped)
      yield* Effect.repeat(Ref.get(runs), { until: (m) => m.size === 1, schedule: Schedule.spaced("10 millis") })
      yield* set.twin.setDown(true)
      const later = yield* set.twin.open({ title: "noop opened during the outage", labels: ["ready"] })
      // Each failing round takes ~1.4 s (a 5xx is retried 3 times, 200 ms doubling); wait for two of them.
      yield* Effect.repeat(Effect.sync(() => logged.some((m) => m.includes("cannot be read"))), {
        until: (b) => b,
        schedule: Schedule.spaced("50 millis")
      }).pipe(Effect.timeout("15 seconds"))
      yield* Effect.sleep("3 seconds")
      expect((yield* Ref.get(runs)).has(`GH-${later}`)).toBe(false)
      expect((yield* orchestrator.leases).map((l) => l.issue_id)).toEqual([`GH-${hang}`])
      expect((yield* tracker.get(`GH-${hang}`)).status).toBe("in_progress")
      expect(logged.filter((m) => m.includes("cannot be read")).length).toBe(1)
      yield* set.twin.setDown(false)
      yield* Effect.repeat(Ref.get(runs), { until: (m) => m.has(`GH-${later}`), schedule: Schedule.spaced("20 millis") }).pipe(
        Effect.timeout("15 seconds")
      )
      expect(logged.filter((m) => m.includes("answers again")).length).toBe(1)
      expect((yield* orchestrator.leases).map((l) => l.issue_id)).toContain(`GH-${hang}`)
      yield* Fiber.interrupt(runner)
    }).pipe(Effect.provide(NodeContext.layer), Effect.scoped, Effect.provide(capture))
  }, 60_000)
})

describe("GitHub tracker: create", () => {
  it.live("issues are opened on GitHub, not here", () =>
    Effect.gen(function*() {
      const { mirror } = yield* setUp()
      const made = yield* Effect.either(mirror.tracker.create({ title: "x" } as never))
      expect(Either.isLeft(made) && made.left.message).toContain("open the issue there")
    }).pipe(Effect.provide(NodeContext.layer), Effect.scoped), 30_000)
})

describe("GitHub tracker: issue dependencies and sub-issues", () => {
  it.live("an issue blocked on GitHub waits until its blocker is closed there; sub-issues are children", () =>
    Effect.gen(function*() {
      const { mirror, twin } = yield* setUp()
      const blocker = yield* twin.open({ title: "blocker", labels: ["priority:low"] })
      const blocked = yield* twin.open({ title: "blocked", labels: ["priority:critical"], blockedBy: [blocker] })
      const epic = yield* twin.open({ title: "epic", labels: ["priority:critical"] })
      const part = yield* twin.open({ title: "part of the epic", parent: epic })
      yield* mirror.syncOnce
      expect((yield* mirror.tracker.get(`GH-${blocked}`)).blocked_by).toEqual([`GH-${blocker}`])
      expect((yield* mirror.tracker.get(`GH-${part}`)).parent).toBe(`GH-${epic}`)
      // The part (medium) before the blocker (low); the blocked issue and the epic wait.
      expect((yield* mirror.tracker.ready).refs.map((r) => r.id)).toEqual([`GH-${part}`, `GH-${blocker}`])
      // Only issues GitHub says have blockers or sub-issues cost a request.
      const related = (yield* twin.state).requests.filter((r) => r.includes("/dependencies/") || r.includes("/sub_issues")).sort()
      expect(related).toEqual([
        `GET /repos/acme/widgets/issues/${blocked}/dependencies/blocked_by?per_page=100`,
        `GET /repos/acme/widgets/issues/${epic}/sub_issues?per_page=100`
      ])
      yield* twin.edit(blocker, { state: "closed" })
      yield* twin.edit(part, { state: "closed" })
      yield* mirror.syncOnce
      expect((yield* mirror.tracker.get(`GH-${blocked}`)).blocked_by).toEqual([])
      expect((yield* mirror.tracker.ready).refs.map((r) => r.id)).toEqual([`GH-${blocked}`, `GH-${epic}`])
    }).pipe(Effect.provide(NodeContext.layer), Effect.scoped), 30_000)
})
