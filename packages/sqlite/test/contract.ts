/**
 * The store contract: what every implementation of the shared stores (Tracker, Orchestrator, EvidenceStore,
 * BaseResults over one database) must do, whatever the database. Run against SQLite (contract.test.ts here) and
 * PostgreSQL (packages/pg/test/contract.test.ts). Only the services' interfaces are used: what a store keeps in its
 * own tables (poison rows written by hand, query plans, migrations) is tested beside each store.
 */
import type { FileSystem, Path } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { BaseResults, BaseRun, EvidenceStore, Orchestrator, Reproduced, Tracker } from "@switchyard/core"
import { EvidenceBundle, IssueInput, RetryEntry, RunnerId } from "@switchyard/domain"
import { Chunk, Context, Effect, Fiber, Option, type Scope, Stream, TestClock } from "effect"
import { commandResult, id, sampleBundle } from "./helpers.js"

/** The services a store layer provides over one database. */
export type Stores = Tracker | Orchestrator | EvidenceStore | BaseResults

/** One fresh, empty database for a test. */
export interface FreshStore {
  /**
   * Opens the stores over that database for the rest of the scope: a new client each call, so two calls are two
   * runners (two connections, their own runner ids). `prefix` is the issue id prefix (default `SY`).
   */
  readonly connect: (
    prefix?: string
  ) => Effect.Effect<Context.Context<Stores>, never, Scope.Scope | FileSystem.FileSystem | Path.Path>
}

/** A store implementation under test: `fresh` makes an empty database that lives as long as the scope. */
export interface StoreUnderTest {
  readonly name: string
  readonly fresh: Effect.Effect<FreshStore, never, Scope.Scope | FileSystem.FileSystem | Path.Path>
  /** When set, the suite is skipped and this says why (e.g. PostgreSQL is not installed here). */
  readonly skip?: string | null | undefined
}

const input = (fields: ConstructorParameters<typeof IssueInput>[0]) => IssueInput.make(fields)

const services = (context: Context.Context<Stores>) => ({
  tracker: Context.get(context, Tracker),
  orchestrator: Context.get(context, Orchestrator),
  evidence: Context.get(context, EvidenceStore),
  baseResults: Context.get(context, BaseResults)
})

/** Registers the contract suite for `store` (a `describe` block named after it). */
export const storeContract = (store: StoreUnderTest): void => {
  const open = Effect.gen(function*() {
    const fresh = yield* store.fresh
    return { fresh, ...services(yield* fresh.connect()) }
  })

  describe.skipIf(store.skip !== null && store.skip !== undefined)(`store contract: ${store.name}`, () => {
    describe("Tracker", () => {
      it.scoped("creates, reads, lists, updates, comments and counts issues", () =>
        Effect.gen(function*() {
          const { tracker } = yield* open
          const a = yield* tracker.create(input({ title: "Fix the sum", labels: ["bug"], validation: ["pnpm test"] }))
          const b = yield* tracker.create(input({ title: "Write docs", status: "backlog", priority: "low" }))
          expect([a.id, b.id]).toEqual(["SY-1", "SY-2"])
          const read = yield* tracker.get("SY-1")
          expect([read.title, read.labels, read.validation, read.status]).toEqual(["Fix the sum", ["bug"], ["pnpm test"], "todo"])
          expect((yield* tracker.list()).map((issue) => issue.id)).toEqual(["SY-1", "SY-2"])
          expect((yield* tracker.list({ status: "backlog" })).map((issue) => issue.id)).toEqual(["SY-2"])
          const updated = yield* tracker.update("SY-2", { status: "todo", labels: ["docs"], blocked_by: [a.id] })
          expect([updated.status, updated.labels, updated.blocked_by, updated.title]).toEqual(["todo", ["docs"], ["SY-1"], "Write docs"])
          yield* tracker.comment("SY-1", "first look", "alice")
          const commented = yield* tracker.comment("SY-1", "second look", "bob")
          expect(commented.comments.map((c) => [c.author, c.body])).toEqual([["alice", "first look"], ["bob", "second look"]])
          expect((yield* tracker.get("SY-1")).comments).toHaveLength(2)
          const counts = yield* tracker.counts
          expect([counts.todo, counts.backlog, counts.done]).toEqual([2, 0, 0])
        }).pipe(Effect.provide(NodeContext.layer)))

      it.scoped("ids come from a per-prefix counter shared by every connection", () =>
        Effect.gen(function*() {
          const fresh = yield* store.fresh
          const one = services(yield* fresh.connect()).tracker
          const two = services(yield* fresh.connect()).tracker
          expect((yield* one.create(input({ title: "one" }))).id).toBe("SY-1")
          expect((yield* two.create(input({ title: "two" }))).id).toBe("SY-2")
          expect((yield* one.create(input({ title: "three" }))).id).toBe("SY-3")
          expect((yield* two.list()).map((issue) => issue.title)).toEqual(["one", "two", "three"])
          const acme = services(yield* fresh.connect("ACME")).tracker
          expect((yield* acme.create(input({ title: "other prefix" }))).id).toBe("ACME-1")
        }).pipe(Effect.provide(NodeContext.layer)))

      it.scoped("raw ids are validated, unknown ids and references are IssueNotFound, self-blocking is refused", () =>
        Effect.gen(function*() {
          const { tracker } = yield* open
          expect((yield* Effect.flip(tracker.get("../etc")))._tag).toBe("InvalidIssueId")
          expect((yield* Effect.flip(tracker.get("SY-99")))).toMatchObject({ _tag: "IssueNotFound", id: "SY-99" })
          expect(yield* Effect.flip(tracker.create(input({ title: "x", blocked_by: [id("SY-42")] })))).toMatchObject({
            _tag: "IssueNotFound",
            id: "SY-42"
          })
          const a = yield* tracker.create(input({ title: "a" }))
          expect((yield* Effect.flip(tracker.update(a.id, { blocked_by: [a.id] })))._tag).toBe("TrackerError")
          expect((yield* tracker.get(a.id)).blocked_by).toEqual([])
        }).pipe(Effect.provide(NodeContext.layer)))

      it.scoped("transition is a compare-and-set on status", () =>
        Effect.gen(function*() {
          const { tracker } = yield* open
          const a = yield* tracker.create(input({ title: "a" }))
          expect(yield* tracker.transition(a.id, ["todo"], "in_progress")).toBe(true)
          expect(yield* tracker.transition(a.id, ["todo"], "in_progress")).toBe(false)
          expect((yield* tracker.get(a.id)).status).toBe("in_progress")
          expect(yield* tracker.transition(a.id, [], "done")).toBe(false)
          expect((yield* Effect.flip(tracker.transition(id("SY-9"), ["todo"], "done")))._tag).toBe("IssueNotFound")
        }).pipe(Effect.provide(NodeContext.layer)))

      it.scoped("ready: todo issues with resolved blockers and no open child, in dispatch order; readySummary agrees", () =>
        Effect.gen(function*() {
          const { tracker } = yield* open
          const low = yield* tracker.create(input({ title: "low", priority: "low" }))
          const blocker = yield* tracker.create(input({ title: "blocker", status: "backlog" }))
          yield* tracker.update(blocker.id, { status: "in_progress" })
          const blocked = yield* tracker.create(input({ title: "blocked", blocked_by: [blocker.id] }))
          const parent = yield* tracker.create(input({ title: "parent", priority: "critical" }))
          const child = yield* tracker.create(input({ title: "child", parent: parent.id, status: "backlog", labels: ["x"] }))
          const high = yield* tracker.create(input({ title: "high", priority: "high", labels: ["ui", "bug"] }))
          const ready = yield* tracker.ready
          expect(ready.refs.map((r) => r.id)).toEqual([high.id, low.id])
          expect(ready.refs[0]).toEqual({ id: high.id, priority: "high", labels: ["ui", "bug"] })
          expect(ready.invalid).toEqual([])

          const summary = yield* tracker.readySummary({ exclude: [high.id, "SY-404"], limit: 5 })
          expect([summary.total, summary.head.map((r) => r.id), summary.waiting]).toEqual([1, [low.id], 2])
          expect((yield* tracker.readySummary({ exclude: [], limit: 0 })).head).toEqual([])

          // Resolving the blocker and closing the child makes both dependents ready, in priority order.
          yield* tracker.transition(blocker.id, ["in_progress"], "done")
          yield* tracker.transition(child.id, ["backlog"], "cancelled")
          expect((yield* tracker.ready).refs.map((r) => r.id)).toEqual([parent.id, high.id, blocked.id, low.id])

          const statuses = yield* tracker.statuses([blocker.id, child.id, "SY-404", "nonsense"])
          expect(Object.fromEntries(statuses)).toEqual({ [blocker.id]: "done", [child.id]: "cancelled" })

          const snapshot = yield* tracker.candidates
          expect(snapshot.todo.map((i) => i.id).sort()).toEqual([low.id, blocked.id, parent.id, high.id].sort())
          expect(snapshot.statusOf.get(blocker.id)).toBe("done")
          expect(snapshot.openChildren.size).toBe(0)
        }).pipe(Effect.provide(NodeContext.layer)))

      it.live("changes emits when another connection writes an issue", () =>
        Effect.scoped(Effect.gen(function*() {
          const fresh = yield* store.fresh
          const watcher = services(yield* fresh.connect()).tracker
          const writer = services(yield* fresh.connect()).tracker
          const seen = yield* watcher.changes.pipe(Stream.take(1), Stream.runDrain, Effect.timeout("10 seconds"), Effect.fork)
          // Give the listener time to subscribe (a poll interval, or a LISTEN round trip), then write elsewhere.
          yield* Effect.sleep("500 millis")
          yield* writer.create(input({ title: "from another runner" }))
          yield* Fiber.join(seen)
        })).pipe(Effect.provide(NodeContext.layer)))
    })

    describe("Orchestrator", () => {
      it.scoped("claims an issue once; release and breakLease free it; an expired lease still blocks", () =>
        Effect.gen(function*() {
          const { orchestrator } = yield* open
          yield* TestClock.adjust(10_000)
          const lease = Option.getOrThrow(yield* orchestrator.claim(id("SY-1"), 1, 30_000))
          expect(lease).toMatchObject({
            issue_id: "SY-1",
            runner_id: orchestrator.runnerId,
            attempt: 1,
            stage: "claimed",
            acquired_at: 10_000,
            heartbeat_at: 10_000,
            expires_at: 40_000,
            agent_pid: null
          })
          expect(lease.epoch).toBeGreaterThan(0)
          expect(Option.isNone(yield* orchestrator.claim(id("SY-1"), 2, 30_000))).toBe(true)
          expect((yield* orchestrator.leases).map((l) => l.issue_id)).toEqual(["SY-1"])
          yield* orchestrator.release(id("SY-1"))
          expect(yield* orchestrator.leases).toEqual([])
          const again = Option.getOrThrow(yield* orchestrator.claim(id("SY-1"), 2, 30_000))
          expect(again.epoch).toBeGreaterThan(lease.epoch)
          expect(yield* orchestrator.breakLease(id("SY-1"), RunnerId.make("elsewhere:1:2"))).toBe(false)
          expect(yield* orchestrator.breakLease(id("SY-1"), orchestrator.runnerId)).toBe(true)
          expect(yield* orchestrator.leases).toEqual([])

          yield* orchestrator.claim(id("SY-2"), 1, 1_000)
          yield* TestClock.adjust(5_000)
          expect(Option.isNone(yield* orchestrator.claim(id("SY-2"), 2, 1_000))).toBe(true)
        }).pipe(Effect.provide(NodeContext.layer)))

      it.scoped("heartbeat renews this runner's leases only; updateLease patches the given fields", () =>
        Effect.gen(function*() {
          const fresh = yield* store.fresh
          const mine = services(yield* fresh.connect()).orchestrator
          yield* TestClock.adjust(1) // runner ids are <host>:<pid>:<start-ms>: two in one process start 1 ms apart
          const other = services(yield* fresh.connect()).orchestrator
          expect(other.runnerId).not.toBe(mine.runnerId)
          yield* mine.claim(id("SY-1"), 1, 1_000)
          yield* mine.claim(id("SY-2"), 1, 1_000)
          yield* other.claim(id("SY-3"), 1, 1_000)
          yield* TestClock.adjust(600)
          expect(yield* mine.heartbeat(1_000)).toBe(2)
          const byId = new Map((yield* mine.leases).map((lease) => [lease.issue_id, lease]))
          expect(byId.get(id("SY-1"))).toMatchObject({ heartbeat_at: 601, expires_at: 1_601 })
          expect(byId.get(id("SY-3"))).toMatchObject({ heartbeat_at: 1, expires_at: 1_001 })

          yield* mine.updateLease(id("SY-1"), { stage: "agent", agent_pid: 4242, agent_pgid: 4242 })
          yield* mine.updateLease(id("SY-1"), { sandbox_path: "/tmp/wt/SY-1", last_output_at: 77 })
          yield* mine.updateLease(id("SY-1"), { agent_pid: null })
          yield* mine.updateLease(id("SY-3"), { stage: "agent" }) // not this runner's: untouched
          const after = new Map((yield* other.leases).map((lease) => [lease.issue_id, lease]))
          expect(after.get(id("SY-1"))).toMatchObject({
            stage: "agent",
            agent_pid: null,
            agent_pgid: 4242,
            sandbox_path: "/tmp/wt/SY-1",
            last_output_at: 77
          })
          expect(after.get(id("SY-3"))?.stage).toBe("claimed")
        }).pipe(Effect.provide(NodeContext.layer)))

      it.scoped("takeOver is a compare-and-set on owner and epoch; holds fences the old owner", () =>
        Effect.gen(function*() {
          const fresh = yield* store.fresh
          const dead = services(yield* fresh.connect()).orchestrator
          yield* TestClock.adjust(1)
          const a = services(yield* fresh.connect()).orchestrator
          yield* TestClock.adjust(1)
          const b = services(yield* fresh.connect()).orchestrator
          expect(new Set([dead.runnerId, a.runnerId, b.runnerId]).size).toBe(3)
          const lease = Option.getOrThrow(yield* dead.claim(id("SY-1"), 1, 1_000))
          expect(yield* dead.holds(id("SY-1"), lease.epoch)).toBe(true)
          yield* TestClock.adjust(2_000)
          const taken = Option.getOrThrow(yield* a.takeOver(lease, 5_000))
          expect(taken).toMatchObject({ runner_id: a.runnerId, expires_at: 7_002 })
          expect(taken.epoch).toBeGreaterThan(lease.epoch)
          // The second supervisor saw the same dead lease: its compare-and-set finds it changed.
          expect(Option.isNone(yield* b.takeOver(lease, 5_000))).toBe(true)
          expect(yield* dead.holds(id("SY-1"), lease.epoch)).toBe(false)
          expect(yield* a.holds(id("SY-1"), taken.epoch)).toBe(true)
          // The stale owner's fenced release does nothing.
          yield* dead.release(id("SY-1"), lease.epoch)
          expect((yield* a.leases).map((l) => l.runner_id)).toEqual([a.runnerId])
        }).pipe(Effect.provide(NodeContext.layer)))

      it.scoped("atomically rolls back every store's writes on failure", () =>
        Effect.gen(function*() {
          const { orchestrator, tracker, evidence } = yield* open
          const issue = yield* tracker.create(input({ title: "a" }))
          const failed = yield* Effect.flip(orchestrator.atomically(Effect.gen(function*() {
            yield* orchestrator.claim(issue.id, 1, 10_000)
            yield* tracker.transition(issue.id, ["todo"], "in_progress")
            yield* evidence.put(sampleBundle({ issueId: issue.id, attempt: 1 }))
            yield* orchestrator.scheduleRetry(new RetryEntry({ issue_id: issue.id, attempt: 2, due_at: 5, error: "e" }))
            return yield* Effect.fail("boom" as const)
          })))
          expect(failed).toBe("boom")
          expect(yield* orchestrator.leases).toEqual([])
          expect((yield* tracker.get(issue.id)).status).toBe("todo")
          expect(Option.isNone(yield* evidence.get(issue.id, 1))).toBe(true)
          expect(yield* orchestrator.retries).toEqual([])
          // And a success commits them all.
          yield* orchestrator.atomically(Effect.gen(function*() {
            yield* orchestrator.claim(issue.id, 1, 10_000)
            yield* tracker.transition(issue.id, ["todo"], "in_progress")
          }))
          expect((yield* orchestrator.leases).map((l) => l.issue_id)).toEqual([issue.id])
          expect((yield* tracker.get(issue.id)).status).toBe("in_progress")
        }).pipe(Effect.provide(NodeContext.layer)))

      it.scoped("records attempts, counts the ones that count, and the runner deaths", () =>
        Effect.gen(function*() {
          const { orchestrator } = yield* open
          const issue = id("SY-1")
          yield* orchestrator.startAttempt({ issue_id: issue, attempt: 1, branch: "b1", sandbox_path: "/w/1", base_commit: "abc" })
          yield* TestClock.adjust(100)
          yield* orchestrator.finishAttempt(issue, 1, { terminal_state: "RETRYABLE_FAILURE", cause: "validation_failed", commit: "def", counted: true })
          yield* orchestrator.startAttempt({ issue_id: issue, attempt: 2, branch: "b2", sandbox_path: null, base_commit: null })
          expect(yield* orchestrator.countedAttempts(issue)).toBe(1)
          expect(yield* orchestrator.addRunnerDeath(issue, 2)).toBe(1)
          expect(yield* orchestrator.addRunnerDeath(issue, 2)).toBe(2)
          yield* TestClock.adjust(100)
          yield* orchestrator.finishAttempt(issue, 2, { terminal_state: null, cause: "shutdown", commit: null, counted: false })
          yield* orchestrator.startAttempt({ issue_id: id("SY-2"), attempt: 1, branch: null, sandbox_path: null, base_commit: null })
          yield* TestClock.adjust(100)
          yield* orchestrator.finishAttempt(id("SY-2"), 1, { terminal_state: "PR_READY", cause: "verified", commit: "fff", counted: true })
          const attempts = yield* orchestrator.attempts(issue)
          expect(attempts.map((a) => [a.attempt, a.terminal_state, a.counted, a.ended_at, a.runner_deaths])).toEqual([
            [1, "RETRYABLE_FAILURE", true, 100, 0],
            [2, null, false, 200, 2]
          ])
          expect(attempts[0]).toMatchObject({ branch: "b1", sandbox_path: "/w/1", base_commit: "abc", commit: "def", started_at: 0 })
          expect(yield* orchestrator.countedAttempts(issue)).toBe(1)
          expect((yield* orchestrator.recentOutcomes(2)).map((a) => [a.issue_id, a.attempt])).toEqual([["SY-2", 1], ["SY-1", 2]])
          const missing = yield* Effect.flip(orchestrator.finishAttempt(id("SY-3"), 1, { terminal_state: "NO_OP", cause: "x", commit: null, counted: true }))
          expect(missing).toMatchObject({ _tag: "OrchestratorError", operation: "finishAttempt" })
        }).pipe(Effect.provide(NodeContext.layer)))

      it.scoped("keeps one pending retry per issue", () =>
        Effect.gen(function*() {
          const { orchestrator } = yield* open
          yield* orchestrator.scheduleRetry(new RetryEntry({ issue_id: id("SY-1"), attempt: 2, due_at: 500, error: "first" }))
          yield* orchestrator.scheduleRetry(new RetryEntry({ issue_id: id("SY-2"), attempt: 2, due_at: 100, error: "other" }))
          yield* orchestrator.scheduleRetry(new RetryEntry({ issue_id: id("SY-1"), attempt: 3, due_at: 900, error: "second" }))
          expect((yield* orchestrator.retries).map((r) => [r.issue_id, r.attempt, r.due_at, r.error])).toEqual([
            ["SY-2", 2, 100, "other"],
            ["SY-1", 3, 900, "second"]
          ])
          yield* orchestrator.clearRetry(id("SY-2"))
          expect((yield* orchestrator.retries).map((r) => r.issue_id)).toEqual(["SY-1"])
        }).pipe(Effect.provide(NodeContext.layer)))

      it.scoped("appends events, pages through them, streams this process's, and finds terminal events", () =>
        Effect.gen(function*() {
          const { orchestrator } = yield* open
          const received = yield* orchestrator.changes.pipe(Stream.take(2), Stream.runCollect, Effect.fork)
          yield* Effect.repeatN(Effect.yieldNow(), 9)
          yield* orchestrator.record("claim.acquired", id("SY-1"), "claimed", { attempt: 1 })
          yield* TestClock.adjust(5)
          yield* orchestrator.record("tick.failed", null, "tick", {})
          yield* orchestrator.record("terminal.PR_READY", id("SY-1"), "ready", { attempt: 1, cause: "verified", nested: { ok: true } })
          yield* orchestrator.record("agent.output", id("SY-2"), "bigint data", { n: BigInt(1) })
          yield* orchestrator.record("terminal.RETRYABLE_FAILURE", id("SY-2"), "again", { attempt: 1, cause: 42 })
          const all = yield* orchestrator.events({})
          expect(all.map((e) => [e.seq, e.type])).toEqual([
            [1, "claim.acquired"],
            [2, "tick.failed"],
            [3, "terminal.PR_READY"],
            [4, "agent.output"],
            [5, "terminal.RETRYABLE_FAILURE"]
          ])
          expect(all[0]).toMatchObject({ at: 0, runner_id: orchestrator.runnerId, issue_id: "SY-1", data: { attempt: 1 } })
          expect(all[2]?.data).toEqual({ attempt: 1, cause: "verified", nested: { ok: true } })
          expect(all[3]?.data).toEqual({})
          expect((yield* orchestrator.events({ issueId: id("SY-1") })).map((e) => e.seq)).toEqual([1, 3])
          expect((yield* orchestrator.events({ afterSeq: 1, limit: 2 })).map((e) => e.seq)).toEqual([2, 3])
          const streamed = Chunk.toReadonlyArray(yield* Fiber.join(received))
          expect(streamed.map((e) => e.type)).toEqual(["claim.acquired", "tick.failed"])
          const terminal = yield* orchestrator.terminalEvents([
            { issueId: id("SY-1"), attempt: 1 },
            { issueId: id("SY-2"), attempt: 1 },
            { issueId: id("SY-3"), attempt: 1 }
          ])
          expect(Object.fromEntries([...terminal].map(([k, v]) => [k, [v.state, v.cause]]))).toEqual({
            "SY-1#1": ["PR_READY", "verified"],
            "SY-2#1": ["RETRYABLE_FAILURE", "42"]
          })
        }).pipe(Effect.provide(NodeContext.layer)))

      it.live("three connections racing to claim the same issues claim each exactly once", () =>
        Effect.scoped(Effect.gen(function*() {
          const fresh = yield* store.fresh
          const { tracker } = services(yield* fresh.connect())
          const ids = yield* Effect.forEach(
            Array.from({ length: 30 }, (_, i) => i),
            (i) => Effect.map(tracker.create(input({ title: `issue ${i}` })), (issue) => issue.id)
          )
          const runners = yield* Effect.forEach([1, 2, 3], () => Effect.map(fresh.connect(), (c) => services(c).orchestrator))
          const claimAll = (orchestrator: (typeof runners)[number]) =>
            Effect.forEach(ids, (issue) => orchestrator.claim(issue, 1, 60_000), { concurrency: 4 })
          const results = yield* Effect.forEach(runners, claimAll, { concurrency: "unbounded" })
          const won = results.flat().filter(Option.isSome).map((lease) => lease.value.issue_id)
          expect(won.slice().sort()).toEqual(ids.slice().sort())
          expect(new Set(won).size).toBe(ids.length)
          expect(yield* runners[0]!.leases).toHaveLength(ids.length)
        })).pipe(Effect.provide(NodeContext.layer)))
    })

    describe("EvidenceStore", () => {
      it.scoped("put, get, latest, list, stored and usageTotals read back what was stored, from any connection", () =>
        Effect.gen(function*() {
          const fresh = yield* store.fresh
          const { evidence } = services(yield* fresh.connect())
          yield* TestClock.adjust(1_000)
          yield* evidence.put(sampleBundle({ issueId: "SY-7", attempt: 1, outcome: "RETRYABLE_FAILURE" }))
          yield* TestClock.adjust(1_000)
          const usage = { inputTokens: 1_000, outputTokens: 200, costUsd: 0.5 }
          yield* evidence.put(new EvidenceBundle({ ...sampleBundle({ issueId: "SY-7", attempt: 2 }), usage }))
          yield* evidence.put(sampleBundle({ issueId: "SY-8", attempt: 1, outcome: "NO_OP" }))

          const reader = services(yield* fresh.connect()).evidence
          const latest = Option.getOrThrow(yield* reader.latest(id("SY-7")))
          expect([latest.attempt, latest.outcome]).toEqual([2, "PR_READY"])
          expect(latest).toBeInstanceOf(EvidenceBundle)
          expect(Option.getOrThrow(yield* reader.get(id("SY-7"), 1)).outcome).toBe("RETRYABLE_FAILURE")
          expect(Option.isNone(yield* reader.get(id("SY-7"), 3))).toBe(true)
          expect((yield* reader.list(id("SY-7"))).map((s) => [s.attempt, s.outcome, s.createdAt])).toEqual([
            [1, "RETRYABLE_FAILURE", 1_000],
            [2, "PR_READY", 2_000]
          ])
          const asked = [1, 2, 3].map((attempt) => ({ issueId: id("SY-7"), attempt }))
          expect([...(yield* reader.stored(asked))].sort()).toEqual(["SY-7#1", "SY-7#2"])
          const totals = yield* reader.usageTotals
          expect([totals.bundles, totals.inputTokens, totals.outputTokens, totals.costUsd]).toEqual([3, 1_000, 200, 0.5])
        }).pipe(Effect.provide(NodeContext.layer)))

      it.scoped("stored bundles are signed; sealed checks the asked ones and reads the claims of the others", () =>
        Effect.gen(function*() {
          const { evidence } = yield* open
          yield* evidence.put(sampleBundle({ issueId: "SY-7", attempt: 1, outcome: "ESCALATE" }))
          yield* evidence.put(sampleBundle({ issueId: "SY-8", attempt: 1, outcome: "NO_OP" }))
          const keys = [{ issueId: id("SY-7"), attempt: 1 }, { issueId: id("SY-8"), attempt: 1 }, { issueId: id("SY-9"), attempt: 1 }]
          const all = yield* evidence.sealed(keys)
          expect([...all.keys()].sort()).toEqual(["SY-7#1", "SY-8#1"])
          expect(all.get("SY-7#1")).toMatchObject({ outcome: "ESCALATE", cause: "verified", seal: { status: "signed" } })
          const some = yield* evidence.sealed(keys, new Set(["SY-8#1"]))
          expect(some.get("SY-7#1")).toMatchObject({ outcome: "ESCALATE", cause: "verified", fingerprintCommit: null, seal: null })
          expect(some.get("SY-8#1")).toMatchObject({ outcome: "NO_OP", seal: { status: "signed" } })
          expect(Option.getOrThrow(yield* evidence.sealedFile(id("SY-7"), 1)).seal?.status).toBe("signed")
          const where = yield* evidence.location(id("SY-7"), 1)
          expect(where.patch).not.toBeNull()
        }).pipe(Effect.provide(NodeContext.layer)))

      it.scoped("putStage and stages keep a running attempt's artifacts in order", () =>
        Effect.gen(function*() {
          const { evidence } = yield* open
          yield* evidence.putStage(id("SY-7"), 1, 3, new Reproduced({ result: commandResult("pnpm vitest run sum", 1) }))
          yield* TestClock.adjust(10)
          yield* evidence.putStage(id("SY-7"), 1, 3, new Reproduced({ result: commandResult("again", 0) }))
          const stages = yield* evidence.stages(id("SY-7"), 1)
          expect(stages.map((s) => [s.seq, s.at, s.artifact._tag])).toEqual([[1, 0, "Reproduced"], [2, 10, "Reproduced"]])
          expect((stages[1]!.artifact as Reproduced).result.command).toBe("again")
          expect(yield* evidence.stages(id("SY-7"), 2)).toEqual([])
        }).pipe(Effect.provide(NodeContext.layer)))
    })

    describe("BaseResults", () => {
      it.scoped("stores a base run, finds it from another connection, replaces it under the same key", () =>
        Effect.gen(function*() {
          const fresh = yield* store.fresh
          const cache = services(yield* fresh.connect()).baseResults
          const run = (ranAt: number, exitCode: number) =>
            new BaseRun({ base_commit: "a".repeat(40), results: [commandResult("pnpm test", exitCode)], ran_at: ranAt })
          expect(Option.isNone(yield* cache.lookup("k1"))).toBe(true)
          yield* cache.store("k1", run(1_000, 1))
          const other = services(yield* fresh.connect()).baseResults
          expect(Option.getOrThrow(yield* other.lookup("k1")).results[0]!.exitCode).toBe(1)
          yield* other.store("k1", run(2_000, 0))
          expect(Option.getOrThrow(yield* cache.lookup("k1")).results[0]!.exitCode).toBe(0)
          expect(Option.isNone(yield* cache.lookup("k2"))).toBe(true)
        }).pipe(Effect.provide(NodeContext.layer)))
    })
  })
}
