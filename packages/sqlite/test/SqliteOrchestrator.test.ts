import { Command, FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { Orchestrator, Tracker } from "@switchyard/core"
import { IssueInput, RetryEntry, RunnerId } from "@switchyard/domain"
import { Chunk, Context, Effect, Fiber, Layer, Option, Schedule, Stream, TestClock } from "effect"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Sql, SqliteOrchestrator } from "../src/index.js"
import { id, open, scratch } from "./helpers.js"

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url))
const claimWorker = fileURLToPath(new URL("./fixtures/claim-worker.ts", import.meta.url))

const stores = Effect.gen(function*() {
  const paths = yield* scratch
  const context = yield* open(paths)
  return {
    paths,
    orchestrator: Context.get(context, Orchestrator),
    tracker: Context.get(context, Tracker),
    sql: Context.get(context, SqlClient.SqlClient)
  }
})

describe("SqliteOrchestrator", () => {
  it.scoped("names the runner <host>:<pid>:<start-ms>", () =>
    Effect.gen(function*() {
      yield* TestClock.adjust(1234)
      const { orchestrator } = yield* stores
      expect(orchestrator.runnerId).toBe(`${os.hostname()}:${process.pid}:1234`)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("claims an issue once; release and breakLease free it", () =>
    Effect.gen(function*() {
      const { orchestrator } = yield* stores
      yield* TestClock.adjust(10_000)
      const lease = yield* orchestrator.claim(id("SY-1"), 1, 30_000)
      expect(Option.isSome(lease)).toBe(true)
      const held = Option.getOrThrow(lease)
      expect(held).toMatchObject({
        issue_id: "SY-1",
        runner_id: orchestrator.runnerId,
        host: os.hostname(),
        pid: process.pid,
        attempt: 1,
        stage: "claimed",
        acquired_at: 10_000,
        heartbeat_at: 10_000,
        expires_at: 40_000,
        agent_pid: null
      })
      expect(Option.isNone(yield* orchestrator.claim(id("SY-1"), 2, 30_000))).toBe(true)
      expect((yield* orchestrator.leases).map((l) => l.issue_id)).toEqual(["SY-1"])

      yield* orchestrator.release(id("SY-1"))
      expect(yield* orchestrator.leases).toEqual([])
      expect(Option.isSome(yield* orchestrator.claim(id("SY-1"), 2, 30_000))).toBe(true)

      // breakLease only removes a lease held by the named owner.
      expect(yield* orchestrator.breakLease(id("SY-1"), RunnerId.make("elsewhere:1:2"))).toBe(false)
      expect(yield* orchestrator.leases).toHaveLength(1)
      expect(yield* orchestrator.breakLease(id("SY-1"), orchestrator.runnerId)).toBe(true)
      expect(yield* orchestrator.leases).toEqual([])
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("an expired lease still blocks a claim until it is broken", () =>
    Effect.gen(function*() {
      const { orchestrator } = yield* stores
      yield* orchestrator.claim(id("SY-1"), 1, 1_000)
      yield* TestClock.adjust(5_000)
      expect(Option.isNone(yield* orchestrator.claim(id("SY-1"), 2, 1_000))).toBe(true)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("heartbeat renews every lease of this runner", () =>
    Effect.gen(function*() {
      const { orchestrator, sql } = yield* stores
      yield* orchestrator.claim(id("SY-1"), 1, 1_000)
      yield* orchestrator.claim(id("SY-2"), 1, 1_000)
      yield* sql`INSERT INTO leases ${
        sql.insert({
          issue_id: "SY-3",
          runner_id: "other:1:1",
          host: "other",
          pid: 1,
          attempt: 1,
          stage: "agent",
          acquired_at: 0,
          heartbeat_at: 0,
          expires_at: 1_000,
          agent_pid: null,
          agent_pgid: null,
          sandbox_path: null,
          last_output_at: null
        })
      }`
      yield* TestClock.adjust(600)
      expect(yield* orchestrator.heartbeat(1_000)).toBe(2)
      const leases = yield* orchestrator.leases
      const byId = new Map(leases.map((lease) => [lease.issue_id, lease]))
      expect(byId.get(id("SY-1"))).toMatchObject({ heartbeat_at: 600, expires_at: 1_600 })
      expect(byId.get(id("SY-2"))).toMatchObject({ heartbeat_at: 600, expires_at: 1_600 })
      expect(byId.get(id("SY-3"))).toMatchObject({ heartbeat_at: 0, expires_at: 1_000 })
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("updateLease changes only the given fields of this runner's lease", () =>
    Effect.gen(function*() {
      const { orchestrator } = yield* stores
      yield* orchestrator.claim(id("SY-1"), 1, 1_000)
      yield* orchestrator.updateLease(id("SY-1"), { stage: "agent", agent_pid: 4242, agent_pgid: 4242 })
      yield* orchestrator.updateLease(id("SY-1"), { sandbox_path: "/tmp/wt/SY-1", last_output_at: 77 })
      yield* orchestrator.updateLease(id("SY-1"), { agent_pid: null })
      const [lease] = yield* orchestrator.leases
      expect(lease).toMatchObject({
        stage: "agent",
        agent_pid: null,
        agent_pgid: 4242,
        sandbox_path: "/tmp/wt/SY-1",
        last_output_at: 77,
        expires_at: 1_000
      })
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("records attempts and counts the ones that count", () =>
    Effect.gen(function*() {
      const { orchestrator } = yield* stores
      const issue = id("SY-1")
      yield* orchestrator.startAttempt({ issue_id: issue, attempt: 1, branch: "b1", sandbox_path: "/w/1", base_commit: "abc" })
      yield* TestClock.adjust(100)
      yield* orchestrator.finishAttempt(issue, 1, {
        terminal_state: "RETRYABLE_FAILURE",
        cause: "validation_failed",
        commit: "def",
        counted: true
      })
      yield* orchestrator.startAttempt({ issue_id: issue, attempt: 2, branch: "b2", sandbox_path: null, base_commit: null })
      expect(yield* orchestrator.countedAttempts(issue)).toBe(1) // attempt 2 has not ended
      yield* TestClock.adjust(100)
      yield* orchestrator.finishAttempt(issue, 2, { terminal_state: null, cause: "shutdown", commit: null, counted: false })
      yield* orchestrator.startAttempt({ issue_id: id("SY-2"), attempt: 1, branch: null, sandbox_path: null, base_commit: null })
      yield* TestClock.adjust(100)
      yield* orchestrator.finishAttempt(id("SY-2"), 1, { terminal_state: "PR_READY", cause: "verified", commit: "fff", counted: true })

      const attempts = yield* orchestrator.attempts(issue)
      expect(attempts.map((a) => [a.attempt, a.terminal_state, a.counted, a.ended_at])).toEqual([
        [1, "RETRYABLE_FAILURE", true, 100],
        [2, null, false, 200]
      ])
      expect(attempts[0]).toMatchObject({ branch: "b1", sandbox_path: "/w/1", base_commit: "abc", commit: "def", started_at: 0 })
      expect(yield* orchestrator.countedAttempts(issue)).toBe(1)
      expect(yield* orchestrator.countedAttempts(id("SY-9"))).toBe(0)

      const recent = yield* orchestrator.recentOutcomes(2)
      expect(recent.map((a) => [a.issue_id, a.attempt])).toEqual([["SY-2", 1], ["SY-1", 2]])

      const missing = yield* Effect.flip(orchestrator.finishAttempt(id("SY-3"), 1, {
        terminal_state: "NO_OP",
        cause: "x",
        commit: null,
        counted: true
      }))
      expect(missing).toMatchObject({ _tag: "OrchestratorError", operation: "finishAttempt" })
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("keeps one pending retry per issue", () =>
    Effect.gen(function*() {
      const { orchestrator } = yield* stores
      yield* orchestrator.scheduleRetry(new RetryEntry({ issue_id: id("SY-1"), attempt: 2, due_at: 500, error: "first" }))
      yield* orchestrator.scheduleRetry(new RetryEntry({ issue_id: id("SY-2"), attempt: 2, due_at: 100, error: "other" }))
      yield* orchestrator.scheduleRetry(new RetryEntry({ issue_id: id("SY-1"), attempt: 3, due_at: 900, error: "second" }))
      const retries = yield* orchestrator.retries
      expect(retries.map((r) => [r.issue_id, r.attempt, r.due_at, r.error])).toEqual([
        ["SY-2", 2, 100, "other"],
        ["SY-1", 3, 900, "second"]
      ])
      yield* orchestrator.clearRetry(id("SY-2"))
      expect((yield* orchestrator.retries).map((r) => r.issue_id)).toEqual(["SY-1"])
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("appends events and pages through them", () =>
    Effect.gen(function*() {
      const { orchestrator } = yield* stores
      yield* orchestrator.record("claim.acquired", id("SY-1"), "claimed", { attempt: 1 })
      yield* TestClock.adjust(5)
      yield* orchestrator.record("tick.failed", null, "tick", {})
      yield* orchestrator.record("agent.exited", id("SY-1"), "exit 0", { exitCode: 0, nested: { ok: true } })
      // Data that is not JSON is dropped, never fatal.
      yield* orchestrator.record("agent.output", id("SY-2"), "bigint data", { n: BigInt(1) })

      const all = yield* orchestrator.events({})
      expect(all.map((e) => e.type)).toEqual(["claim.acquired", "tick.failed", "agent.exited", "agent.output"])
      expect(all.map((e) => e.seq)).toEqual([1, 2, 3, 4])
      expect(all[0]).toMatchObject({ at: 0, runner_id: orchestrator.runnerId, issue_id: "SY-1", data: { attempt: 1 } })
      expect(all[2]?.data).toEqual({ exitCode: 0, nested: { ok: true } })
      expect(all[3]?.data).toEqual({})

      expect((yield* orchestrator.events({ issueId: id("SY-1") })).map((e) => e.seq)).toEqual([1, 3])
      expect((yield* orchestrator.events({ afterSeq: 2 })).map((e) => e.seq)).toEqual([3, 4])
      expect((yield* orchestrator.events({ afterSeq: 1, limit: 2 })).map((e) => e.seq)).toEqual([2, 3])
      expect((yield* orchestrator.events({ issueId: id("SY-1"), afterSeq: 1 })).map((e) => e.seq)).toEqual([3])
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("terminalEvents finds the latest terminal.* event of each asked attempt, in one read", () =>
    Effect.gen(function*() {
      const { orchestrator, sql } = yield* stores
      yield* orchestrator.record("terminal.ESCALATE", id("SY-1"), "escalated", { attempt: 1, cause: "validation_failed" })
      yield* orchestrator.record("agent.exited", id("SY-1"), "exit 0", { attempt: 2 })
      yield* orchestrator.record("terminal.PR_READY", id("SY-1"), "ready", { attempt: 2, cause: "verified" })
      yield* orchestrator.record("terminal.NO_OP", id("SY-2"), "no-op", { attempt: 1 })
      yield* orchestrator.record("terminal.PR_READY", id("SY-3"), "other issue", { attempt: 1, cause: "verified" })
      // A later terminal event of the same attempt wins (the log says what happened last).
      yield* orchestrator.record("terminal.RETRYABLE_FAILURE", id("SY-2"), "again", { attempt: 1, cause: 42 })

      const found = yield* orchestrator.terminalEvents([
        { issueId: id("SY-1"), attempt: 1 },
        { issueId: id("SY-1"), attempt: 2 },
        { issueId: id("SY-1"), attempt: 2 },
        { issueId: id("SY-2"), attempt: 1 },
        { issueId: id("SY-4"), attempt: 1 }
      ])
      expect(Object.fromEntries([...found].map(([k, v]) => [k, [v.state, v.cause]]))).toEqual({
        "SY-1#1": ["ESCALATE", "validation_failed"],
        "SY-1#2": ["PR_READY", "verified"],
        "SY-2#1": ["RETRYABLE_FAILURE", "42"]
      })
      expect((yield* orchestrator.terminalEvents([])).size).toBe(0)
      // The lookup goes through the events_issue index, not a scan of the log.
      const plan = yield* sql<{ detail: string }>`EXPLAIN QUERY PLAN
        SELECT e.seq FROM json_each('[["SY-1",1]]') k JOIN events e ON e.issue_id = json_extract(k.value, '$[0]')
        WHERE e.type GLOB 'terminal.*'`
      expect(plan.map((p) => p.detail).join("\n")).toContain("USING INDEX events_issue")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("record never fails, even when the store is gone", () =>
    Effect.gen(function*() {
      const { orchestrator, sql } = yield* stores
      yield* sql`DROP TABLE events`
      yield* orchestrator.record("tick.failed", null, "still fine")
      expect((yield* Effect.flip(orchestrator.events({})))._tag).toBe("OrchestratorError")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("changes streams the events recorded by this process", () =>
    Effect.gen(function*() {
      const { orchestrator } = yield* stores
      const received = yield* orchestrator.changes.pipe(Stream.take(2), Stream.runCollect, Effect.fork)
      // Let the forked consumer run up to its subscription (the stream subscribes when it starts).
      yield* Effect.repeatN(Effect.yieldNow(), 9)
      yield* orchestrator.record("claim.acquired", id("SY-1"), "claimed", { attempt: 1 })
      yield* orchestrator.record("terminal.PR_READY", id("SY-1"), "done")
      const events = Chunk.toReadonlyArray(yield* Fiber.join(received))
      expect(events.map((e) => [e.seq, e.type, e.issue_id])).toEqual([
        [1, "claim.acquired", "SY-1"],
        [2, "terminal.PR_READY", "SY-1"]
      ])
      expect(events[0]?.data).toEqual({ attempt: 1 })
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scopedLive("two connections racing to claim the same issues claim each exactly once", () =>
    Effect.gen(function*() {
      const paths = yield* scratch
      const tracker = Context.get(yield* open(paths), Tracker)
      const ids = yield* Effect.forEach(
        Array.from({ length: 30 }, (_, i) => i),
        (i) => Effect.map(tracker.create(IssueInput.make({ title: `issue ${i}` })), (issue) => issue.id)
      )
      // Two clients built independently: two better-sqlite3 connections to one file, like two processes.
      const runner = () =>
        Layer.build(SqliteOrchestrator.layer.pipe(Layer.provide(Sql.layer({ filename: paths.filename })))).pipe(
          Effect.orDie,
          Effect.map((context) => Context.get(context, Orchestrator))
        )
      const a = yield* runner()
      const b = yield* runner()
      const claimAll = (orchestrator: typeof a) =>
        Effect.forEach(ids, (issue) => orchestrator.claim(issue, 1, 60_000), { concurrency: 4 })
      const [fromA, fromB] = yield* Effect.all([claimAll(a), claimAll(b)], { concurrency: 2 })
      const won = [...fromA, ...fromB].filter(Option.isSome).map((lease) => lease.value.issue_id)
      expect(won.slice().sort()).toEqual(ids.slice().sort())
      expect(new Set(won).size).toBe(ids.length)
      expect(yield* a.leases).toHaveLength(ids.length)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scopedLive("a claim waits for another connection's write transaction instead of failing", () =>
    Effect.gen(function*() {
      const paths = yield* scratch
      const first = yield* Layer.build(Sql.layer({ filename: paths.filename })).pipe(Effect.orDie)
      const second = yield* Layer.build(
        SqliteOrchestrator.layer.pipe(Layer.provide(Sql.layer({ filename: paths.filename })))
      ).pipe(Effect.orDie)
      const sqlA = Context.get(first, SqlClient.SqlClient)
      const orchestrator = Context.get(second, Orchestrator)
      // Connection A takes the write lock, inserts a lease for SY-1, and holds the lock for a while.
      const holder = yield* Sql.immediateTransaction(sqlA)(Effect.gen(function*() {
        yield* sqlA`INSERT INTO leases ${
          sqlA.insert({
            issue_id: "SY-1",
            runner_id: "other:1:1",
            host: "other",
            pid: 1,
            attempt: 1,
            stage: "claimed",
            acquired_at: 0,
            heartbeat_at: 0,
            expires_at: 1,
            agent_pid: null,
            agent_pgid: null,
            sandbox_path: null,
            last_output_at: null
          })
        }`
        yield* Effect.sleep("300 millis")
      })).pipe(Effect.fork)
      yield* Effect.sleep("50 millis")
      // The claim on connection B cannot begin until A commits; then it sees A's lease.
      const claimed = yield* orchestrator.claim(id("SY-1"), 1, 1_000)
      yield* Fiber.join(holder)
      expect(Option.isNone(claimed)).toBe(true)
      expect((yield* orchestrator.leases).map((lease) => lease.runner_id)).toEqual(["other:1:1"])
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scopedLive("two processes racing to claim the same issues claim each exactly once", () =>
    Effect.gen(function*() {
      const paths = yield* scratch
      const tracker = Context.get(yield* open(paths), Tracker)
      const ids = yield* Effect.forEach(
        Array.from({ length: 150 }, (_, i) => i),
        (i) => Effect.map(tracker.create(IssueInput.make({ title: `issue ${i}` })), (issue) => issue.id)
      )
      // A barrier: each worker writes ready-<pid> once its database is open, then waits for `go`.
      const fs = yield* FileSystem.FileSystem
      const barrier = path.join(paths.dir, "barrier")
      yield* fs.makeDirectory(barrier)
      // One worker claims in id order, the other in reverse, so they meet (and contend) in the middle.
      const worker = (order: ReadonlyArray<string>) =>
        Command.make(process.execPath, "--import", "tsx", claimWorker, paths.filename, barrier, ...order).pipe(
          Command.workingDirectory(repoRoot)
        )
      const running = yield* Effect.all(
        [Command.string(worker(ids)), Command.string(worker(ids.slice().reverse()))],
        { concurrency: 2 }
      ).pipe(Effect.fork)
      yield* fs.readDirectory(barrier).pipe(
        Effect.repeat({ schedule: Schedule.spaced("20 millis"), until: (names) => names.length >= 2 })
      )
      yield* fs.writeFileString(path.join(barrier, "go"), "")
      const outputs = yield* Fiber.join(running)
      const results = outputs.map((output) => {
        const line = output.trim().split("\n").pop() ?? ""
        expect(line, `worker output: ${output}`).toMatch(/^\{"runner"/)
        return JSON.parse(line) as { runner: string; won: Array<string> }
      })
      expect(results[0]?.runner).not.toBe(results[1]?.runner)
      const won = results.flatMap((result) => result.won)
      expect(won.length).toBe(ids.length)
      expect(new Set(won)).toEqual(new Set(ids))
      // The table agrees with what each process reported.
      const orchestrator = Context.get(yield* open(paths), Orchestrator)
      const leases = yield* orchestrator.leases
      expect(leases).toHaveLength(ids.length)
      for (const result of results) {
        const held = leases.filter((lease) => lease.runner_id === result.runner).map((lease) => lease.issue_id)
        expect(new Set(held)).toEqual(new Set(result.won))
      }
    }).pipe(Effect.provide(NodeContext.layer)), 60_000)
})
