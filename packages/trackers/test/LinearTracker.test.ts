/**
 * The Linear tracker against the Linear twin, over real HTTP on 127.0.0.1 and a real SQLite file: reading (pages of
 * 50 by cursor, states by name, priority, labels, blockers, parent, task packet, a malformed node skipped and
 * reported, a missing cursor), the write-back through the outbox (`issueUpdate` to the named state, a comment once),
 * rate limits (Linear's HTTP 400 `RATELIMITED` and 429), a refused key, an outage, external edits while running,
 * and the preflight.
 */
import { FetchHttpClient } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { Orchestrator, runLine, Tracker } from "@switchyard/core"
import { IssueId } from "@switchyard/domain"
import { LinearTwin } from "@switchyard/twin"
import { Context, Effect, Either, Layer, Option, Redacted, Ref, Schedule, type Scope } from "effect"
import { LinearMapping, LinearTracker, MirrorTracker } from "../src/index.js"
import { open, scratch } from "./helpers.js"
import { standInLine } from "./standIns.js"

type Twin = LinearTwin.LinearTwinShape

const states: LinearMapping.StateConfig = {
  active: ["Todo", "In Progress"],
  terminal: ["Closed", "Cancelled", "Canceled", "Duplicate", "Done"],
  names: { todo: "Todo", running: "In Progress", review: "In Review", escalated: "Backlog", no_op: "Done" }
}

/** The stores, a twin, and the Linear mirror over them (not yet synced: call `syncOnce`). */
const setUp = (twinOptions: Parameters<typeof LinearTwin.make>[0] = {}, key?: string) =>
  Effect.gen(function*() {
    const paths = yield* scratch
    const stores = yield* open(paths)
    const twin = yield* LinearTwin.make(twinOptions)
    const options: LinearTracker.LinearTrackerOptions = {
      apiUrl: twin.url,
      apiKey: Redacted.make(key ?? twin.apiKey),
      projectSlug: twin.projectSlug,
      states,
      pollMs: 40
    }
    const remote = yield* LinearTracker.remote(options).pipe(Effect.provide(FetchHttpClient.layer))
    const mirror = yield* MirrorTracker.make(remote).pipe(
      Effect.provide(Layer.succeedContext(stores)),
      Effect.provide(FetchHttpClient.layer)
    )
    return { paths, stores, twin, mirror, options, sql: Context.get(stores, SqlClient.SqlClient) }
  })

/** Waits (real time, up to 15 s) until `check` holds for the twin's state. */
const until = (twin: Twin, check: (s: LinearTwin.LinearTwinState) => boolean) =>
  Effect.repeat(twin.state, { until: check, schedule: Schedule.spaced("25 millis") }).pipe(
    Effect.timeoutFail({ duration: "15 seconds", onTimeout: () => new Error("the twin never reached the expected state") }),
    Effect.zipRight(twin.state)
  )

const stateOf = (s: LinearTwin.LinearTwinState, id: string) => s.issues.find((i) => `${i.team}-${i.number}` === id)?.state
const commentsOf = (s: LinearTwin.LinearTwinState, id: string) => {
  const uuid = s.issues.find((i) => `${i.team}-${i.number}` === id)?.uuid
  return s.comments.filter((c) => c.issue === uuid).map((c) => c.body)
}

const live = (
  name: string,
  body: () => Effect.Effect<void, unknown, NodeContext.NodeContext | Scope.Scope>,
  timeout = 30_000
) => it.live(name, () => body().pipe(Effect.provide(NodeContext.layer), Effect.scoped), timeout)

describe("Linear tracker: mapping", () => {
  it("state names map to statuses, case-insensitively; polled states skip terminal ones", () => {
    expect(["todo", "IN PROGRESS", "In Review", "Backlog", "Done", "Canceled", "Duplicate", "Triage"].map((s) =>
      LinearMapping.statusOf(s, states)
    )).toEqual(["todo", "in_progress", "in_review", "blocked", "done", "cancelled", "cancelled", "backlog"])
    expect(LinearMapping.polledStates(states)).toEqual(["Todo", "In Progress", "In Review", "Backlog"])
    expect([0, 1, 2, 3, 4, null].map(LinearMapping.priorityOf)).toEqual(["none", "critical", "high", "medium", "low", "none"])
  })
})

describe("Linear tracker: reading", () => {
  live("mirrors the project's issues in the polled states over pages of 50; a malformed node is skipped and reported", () =>
    Effect.gen(function*() {
      const { mirror, twin } = yield* setUp()
      for (let i = 1; i <= 53; i++) yield* twin.create({ title: `issue ${i}`, priority: 3 })
      yield* twin.create({ title: "done already", state: "Done" })
      yield* twin.create({ title: "in another project", project: "other-1" })
      yield* twin.create({ title: "in triage", state: "Triage" })
      const bad = yield* twin.addRaw({ id: "x", identifier: "ENG-99", title: 42 })
      yield* mirror.syncOnce
      const all = yield* mirror.tracker.list()
      expect(all.length).toBe(53)
      const ready = yield* mirror.tracker.ready
      expect(ready.refs.length).toBe(53)
      expect(ready.invalid.map((i) => i.id)).toEqual(["ENG-99"])
      expect(bad).toBe("ENG-57")
      const polls = (yield* twin.state).requests.filter((r) => r.startsWith("SymphonyLinearPoll"))
      expect(polls.length).toBe(2)
      expect(JSON.parse(polls[0]!.slice(polls[0]!.indexOf(" ") + 1))).toMatchObject({
        projectSlug: twin.projectSlug,
        stateNames: ["Todo", "In Progress", "In Review", "Backlog"],
        first: 50,
        after: null
      })
      expect(JSON.parse(polls[1]!.slice(polls[1]!.indexOf(" ") + 1)).after).not.toBeNull()
    }))

  live("priority, labels, blockers, parent and task-packet fields come from the issue", () =>
    Effect.gen(function*() {
      const { mirror, twin } = yield* setUp()
      const blocker = yield* twin.create({ title: "blocker", priority: 4 })
      const closedBlocker = yield* twin.create({ title: "closed blocker", state: "Done" })
      const blocked = yield* twin.create({
        title: "  Fix the parser  ",
        description: "It breaks.\n\n```switchyard\nreproduction: pnpm vitest run test/parse.test.ts\nvalidation: [pnpm typecheck]\nscope: [src/parse/**]\nnon_goals: [rewrite the lexer]\n```\n",
        priority: 1,
        labels: ["Ready", " ready ", "Bug"],
        blockedBy: [blocker, closedBlocker],
        parent: blocker
      })
      yield* mirror.syncOnce
      const issue = yield* mirror.tracker.get(blocked)
      expect(issue.title).toBe("Fix the parser")
      expect(issue.priority).toBe("critical")
      expect(issue.labels).toEqual(["ready", "bug"])
      // A blocker in a terminal state does not block.
      expect(issue.blocked_by).toEqual([blocker])
      expect(issue.parent).toBe(blocker)
      expect(issue.reproduction).toBe("pnpm vitest run test/parse.test.ts")
      expect([issue.validation, issue.scope, issue.non_goals]).toEqual([["pnpm typecheck"], ["src/parse/**"], ["rewrite the lexer"]])
      // The blocked issue waits for its blocker (which, as its parent, also waits for its open child: none here).
      expect((yield* mirror.tracker.ready).refs.map((r) => r.id)).not.toContain(blocked)
    }))

  live("a page that says it has a next one without a cursor fails the whole read (atomic)", () =>
    Effect.gen(function*() {
      const { mirror, twin } = yield* setUp()
      for (let i = 1; i <= 51; i++) yield* twin.create({ title: `issue ${i}` })
      yield* twin.fault({ _tag: "NoCursor" })
      yield* mirror.syncOnce
      const health = yield* mirror.health
      expect(health.healthy).toBe(false)
      expect(health.lastError).toContain("no endCursor")
      expect((yield* mirror.tracker.list()).length).toBe(0)
      yield* mirror.syncOnce
      expect((yield* mirror.tracker.list()).length).toBe(51)
    }))

  live("a GraphQL errors array fails the read with Linear's message; a slow answer is waited for", () =>
    Effect.gen(function*() {
      const { mirror, twin } = yield* setUp()
      yield* twin.create({ title: "one" })
      yield* twin.fault({ _tag: "Errors", message: "Query too complex" })
      yield* mirror.syncOnce
      expect((yield* mirror.health).lastError).toContain("Query too complex")
      expect((yield* mirror.tracker.list()).length).toBe(0)
      yield* twin.fault({ _tag: "Delay", ms: 300 })
      yield* mirror.syncOnce
      expect((yield* mirror.health).healthy).toBe(true)
      expect((yield* mirror.tracker.list()).length).toBe(1)
    }))

  live("an issue that left the poll is read by identifier; a malformed record there fails the read (not skipped)", () =>
    Effect.gen(function*() {
      const { mirror, twin } = yield* setUp()
      const id = yield* twin.create({ title: "one" })
      yield* mirror.syncOnce
      yield* twin.edit(id, { state: "Done" })
      yield* mirror.syncOnce
      expect((yield* mirror.tracker.get(id)).status).toBe("done")
      const other = yield* twin.create({ title: "two" })
      yield* mirror.syncOnce
      yield* twin.edit(other, { state: "Triage", raw: { id: "x", identifier: other, title: null } })
      yield* mirror.syncOnce
      const health = yield* mirror.health
      expect(health.healthy).toBe(false)
      expect(health.lastError).toContain(`refresh ${other}`)
      expect((yield* mirror.tracker.get(other)).status).toBe("todo")
    }))

  live("configured state names match Linear's spelling case-insensitively (Linear's own filter is exact)", () =>
    Effect.gen(function*() {
      const paths = yield* scratch
      const stores = yield* open(paths)
      const twin = yield* LinearTwin.make({})
      const remote = yield* LinearTracker.remote({
        apiUrl: twin.url,
        apiKey: Redacted.make(twin.apiKey),
        projectSlug: twin.projectSlug,
        states: { ...states, active: ["todo"], names: { ...states.names, todo: "TODO", running: "in progress" } },
        pollMs: 40
      }).pipe(Effect.provide(FetchHttpClient.layer))
      const mirror = yield* MirrorTracker.make(remote).pipe(Effect.provide(Layer.succeedContext(stores)))
      const id = yield* twin.create({ title: "one" })
      yield* mirror.syncOnce
      expect((yield* mirror.tracker.get(id)).status).toBe("todo")
      const poll = (yield* twin.state).requests.find((r) => r.startsWith("SymphonyLinearPoll"))!
      expect(JSON.parse(poll.slice(poll.indexOf(" ") + 1)).stateNames).toEqual(["Todo", "In Progress", "In Review", "Backlog"])
    }))

  live("a refused key is one clear error, and the key appears nowhere in it", () =>
    Effect.gen(function*() {
      const twin = yield* LinearTwin.make({})
      const made = yield* Effect.either(LinearTracker.remote({
        apiUrl: twin.url,
        apiKey: Redacted.make("lin_api_wrong_key_42"),
        projectSlug: twin.projectSlug,
        states,
        pollMs: 40
      }).pipe(Effect.provide(FetchHttpClient.layer)))
      expect(Either.isLeft(made) && made.left.message).toContain("the API key was refused")
      expect(Either.isLeft(made) && made.left.message).not.toContain("lin_api_wrong_key_42")
    }))
})

describe("Linear tracker: the outbox", () => {
  live("a status change and a comment reach Linear once, even when delivered again", () =>
    Effect.gen(function*() {
      const { mirror, sql, twin } = yield* setUp()
      const id = IssueId.make(yield* twin.create({ title: "one" }))
      yield* mirror.syncOnce
      expect(yield* mirror.tracker.transition(id, ["todo"], "in_progress")).toBe(true)
      yield* mirror.tracker.comment(id, "working on it", "switchyard")
      expect(stateOf(yield* twin.state, id)).toBe("Todo")
      // A pull before delivery keeps the local status (our change is on its way).
      expect((yield* mirror.tracker.get(id)).status).toBe("in_progress")
      yield* mirror.syncOnce
      let s = yield* twin.state
      expect(stateOf(s, id)).toBe("In Progress")
      expect(commentsOf(s, id).map((c) => c.split("\n")[0])).toEqual(["working on it"])
      expect((yield* mirror.tracker.get(id)).status).toBe("in_progress")
      yield* sql`UPDATE tracker_outbox SET delivered_at = NULL`
      const moves = s.requests.filter((r) => r.startsWith("SwitchyardLinearMoveIssue")).length
      yield* mirror.syncOnce
      s = yield* twin.state
      expect(commentsOf(s, id).length).toBe(1)
      expect(s.requests.filter((r) => r.startsWith("SwitchyardLinearMoveIssue")).length).toBe(moves)
    }))

  live("Linear's rate limit (HTTP 400 RATELIMITED) and a 429 are retried; a 5xx too", () =>
    Effect.gen(function*() {
      const { mirror, twin } = yield* setUp()
      const id = IssueId.make(yield* twin.create({ title: "one" }))
      yield* twin.fault({ _tag: "RateLimited" }, { _tag: "Status", status: 429, headers: { "retry-after": "1" } }, { _tag: "Status", status: 502 })
      yield* mirror.syncOnce
      expect((yield* mirror.health).healthy).toBe(true)
      expect((yield* mirror.tracker.get(id)).status).toBe("todo")
      // Retried in place: four poll requests (three answered with a fault), then the issue read.
      expect((yield* twin.state).requests.filter((r) => r.startsWith("SymphonyLinearPoll")).length).toBe(4)
    }))
})

describe("Linear tracker: a long rate limit", () => {
  live("a write-back refused until a reset an hour away waits in the outbox for it", () =>
    Effect.gen(function*() {
      const { mirror, sql, twin } = yield* setUp()
      const id = IssueId.make(yield* twin.create({ title: "one" }))
      yield* mirror.syncOnce
      yield* mirror.tracker.transition(id, ["todo"], "in_progress")
      const before = Date.now()
      yield* twin.fault({ _tag: "RateLimited", resetInMs: 3_600_000 })
      yield* mirror.syncOnce
      const rows = yield* sql<{ failures: number; next_at: number; last_error: string }>`
        SELECT failures, next_at, last_error FROM tracker_outbox`
      expect(rows[0]?.failures).toBe(1)
      expect(rows[0]?.last_error).toContain("Rate limit exceeded")
      expect(rows[0]!.next_at).toBeGreaterThanOrEqual(before + 3_600_000 - 5_000)
      expect(stateOf(yield* twin.state, id)).toBe("Todo")
      yield* sql`UPDATE tracker_outbox SET next_at = 0`
      yield* mirror.syncOnce
      expect(stateOf(yield* twin.state, id)).toBe("In Progress")
    }))
})

describe("Linear tracker: outage", () => {
  live("while Linear is down nothing is dispatched; it resumes when Linear answers", () =>
    Effect.gen(function*() {
      const { mirror, sql, twin } = yield* setUp()
      yield* twin.create({ title: "one" })
      yield* mirror.syncOnce
      expect((yield* mirror.tracker.ready).refs.length).toBe(1)
      yield* twin.setDown(true)
      yield* mirror.syncOnce
      expect((yield* mirror.health).healthy).toBe(false)
      expect((yield* mirror.tracker.ready).refs).toEqual([])
      const rows = yield* sql<{ last_ok_at: number | null; last_error: string }>`SELECT * FROM tracker_health WHERE kind = 'linear'`
      expect(rows[0]?.last_ok_at).not.toBeNull()
      expect(rows[0]?.last_error).toContain("503")
      yield* twin.setDown(false)
      yield* mirror.syncOnce
      expect((yield* mirror.tracker.ready).refs.length).toBe(1)
    }))
})

describe("Linear tracker: the line", () => {
  const lineOver = (config: Record<string, unknown>) =>
    Effect.gen(function*() {
      const set = yield* setUp()
      const trackerContext = yield* Layer.build(
        LinearTracker.layer(set.options).pipe(
          Layer.provide(Layer.succeedContext(set.stores)),
          Layer.provide(FetchHttpClient.layer)
        )
      ).pipe(Effect.orDie)
      const stores = Context.merge(set.stores, trackerContext)
      const line = yield* standInLine(stores, set.paths.stateDir, config)
      return { ...set, ...line, tracker: Context.get(stores, Tracker), orchestrator: Context.get(stores, Orchestrator) }
    })

  live("issues in; a state change and a comment per ending out; unlabelled issues wait", () =>
    Effect.gen(function*() {
      const { line, orchestrator, tracker, twin } = yield* lineOver({ tracker: { kind: "linear", required_labels: ["ready"] } })
      const fix = yield* twin.create({ title: "fix the off-by-one", labels: ["ready"], description: "```switchyard\nreproduction: node test.js\n```" })
      const noop = yield* twin.create({ title: "noop: already fine", labels: ["Ready"] })
      const ask = yield* twin.create({ title: "ask a human", labels: ["ready"] })
      const unlabelled = yield* twin.create({ title: "noop, not for us" })
      yield* Effect.repeat(tracker.list(), { until: (l) => l.length === 4, schedule: Schedule.spaced("20 millis") })
      yield* runLine({ once: true }).pipe(Effect.provide(line), Effect.timeout("20 seconds"))
      const s = yield* until(twin, (st) =>
        stateOf(st, fix) === "In Review" && stateOf(st, noop) === "Done" && stateOf(st, ask) === "Backlog" &&
        commentsOf(st, fix).length === 1 && commentsOf(st, noop).length === 1 && commentsOf(st, ask).length === 1)
      expect(commentsOf(s, fix)[0]).toContain("Switchyard verified a change")
      expect(commentsOf(s, fix)[0]).toContain(`switchyard/${fix}`)
      expect(commentsOf(s, fix)[0]).toContain(`Evidence: `)
      expect(commentsOf(s, noop)[0]).toContain("For a human to decide")
      expect(commentsOf(s, ask)[0]).toContain("Switchyard escalated attempt 1")
      expect(stateOf(s, unlabelled)).toBe("Todo")
      expect((yield* orchestrator.attempts(IssueId.make(unlabelled))).length).toBe(0)
      // Read back, the states Switchyard wrote are its statuses again.
      yield* Effect.repeat(tracker.get(fix), { until: (i) => i.status === "in_review", schedule: Schedule.spaced("20 millis") }).pipe(
        Effect.timeout("10 seconds")
      )
      expect((yield* tracker.get(noop)).status).toBe("done")
      expect((yield* tracker.get(ask)).status).toBe("blocked")
    }), 60_000)

  live("done, deleted or moved out of the project in Linear while running: the worker is stopped", () =>
    Effect.gen(function*() {
      const { line, orchestrator, runs, tracker, twin } = yield* lineOver({ tracker: { kind: "linear" } })
      const closed = yield* twin.create({ title: "hang, then canceled" })
      const deleted = yield* twin.create({ title: "hang, then deleted" })
      const moved = yield* twin.create({ title: "hang, then moved" })
      yield* Effect.repeat(tracker.list(), { until: (l) => l.length === 3, schedule: Schedule.spaced("20 millis") })
      const runner = yield* runLine({ once: true }).pipe(Effect.provide(line), Effect.fork)
      yield* Effect.repeat(Ref.get(runs), { until: (m) => m.size === 3, schedule: Schedule.spaced("10 millis") })
      yield* twin.edit(closed, { state: "Canceled" })
      yield* twin.edit(deleted, { deleted: true })
      yield* twin.edit(moved, { project: "elsewhere-9" })
      const drained = yield* runner.await.pipe(Effect.timeoutOption("20 seconds"))
      expect(Option.isSome(drained)).toBe(true)
      for (const id of [closed, deleted, moved]) {
        expect((yield* orchestrator.attempts(IssueId.make(id))).map((a) => a.cause)).toEqual(["canceled_by_reconciliation"])
        expect((yield* tracker.get(id)).status).toBe("cancelled")
      }
      expect(yield* orchestrator.leases).toEqual([])
    }), 60_000)
})

describe("Linear tracker: preflight", () => {
  const check = (twin: Twin, over: Partial<LinearTracker.LinearTrackerOptions> = {}) =>
    Effect.either(LinearTracker.preflight({
      apiUrl: twin.url,
      apiKey: Redacted.make(twin.apiKey),
      projectSlug: twin.projectSlug,
      states,
      pollMs: 40,
      tokenEnv: "LINEAR_API_KEY",
      path: "WORKFLOW.md",
      ...over
    }).pipe(Effect.provide(FetchHttpClient.layer)))

  live("a refused key, an unknown project, a missing state and an API that does not answer: one line each", () =>
    Effect.gen(function*() {
      const twin = yield* LinearTwin.make({})
      expect(Either.isRight(yield* check(twin))).toBe(true)
      const lines = (r: Either.Either<void, { message: string }>) => (Either.isLeft(r) ? r.left.message : "")
      const key = lines(yield* check(twin, { apiKey: Redacted.make("lin_api_nope_31337") }))
      expect(key).toContain("(tracker.token_env): Linear refused the API key in $LINEAR_API_KEY")
      expect(key).not.toContain("lin_api_nope_31337")
      expect(lines(yield* check(twin, { projectSlug: "nope-0" }))).toContain(`(tracker.project_slug): Linear has no project "nope-0"`)
      expect(lines(yield* check(twin, { states: { ...states, names: { ...states.names, review: "Human Review" } } }))).toContain(
        `(tracker.state_names.review): team ENG has no workflow state "Human Review"`
      )
      expect(lines(yield* check(twin, { apiUrl: "http://127.0.0.1:9/graphql" }))).toContain(
        "(tracker.api_url): http://127.0.0.1:9/graphql cannot be reached"
      )
      const clash = yield* LinearTwin.make({ teamKey: "GH" })
      expect(lines(yield* check(clash))).toContain("(tracker.project_slug): team GH of project \"Widgets\" has a key whose ids (GH-<n>) are another tracker's")
    }))
})
