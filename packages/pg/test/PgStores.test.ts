/**
 * What the PostgreSQL stores do beyond the shared contract (contract.test.ts): the ready set, computed by one query
 * per read, equals MemoryTracker's and SqliteTracker's through seeded random writes; rows edited by hand into an
 * unreadable form are reported, never fatal (text that is not JSON is refused by the database); a claim skips an issue another runner is claiming right now instead of
 * waiting for it (`FOR UPDATE SKIP LOCKED`); runners register on heartbeat.
 */
import { NodeContext } from "@effect/platform-node"
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { FileSystem } from "@effect/platform"
import { EvidenceStore, MemoryTracker, Orchestrator, Tracker, type TrackerShape } from "@switchyard/core"
import { IssueInput, type IssuePatch, type IssueStatus, issueStatuses, type Priority } from "@switchyard/domain"
import { Ed25519EvidenceSigner } from "@switchyard/node"
import { id, open as openSqlite, sampleBundle, scratch } from "@switchyard/sqlite/test-helpers"
import { Context, Deferred, Effect, Fiber, Option } from "effect"
import { fresh, open, skipReason } from "./helpers.js"

/** mulberry32, so a failing sequence replays from its seed. */
const prng = (seed: number) => {
  let state = seed >>> 0
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (n: number) => Math.floor(next() * n)
  const pick = <A>(items: ReadonlyArray<A>): A => items[int(items.length)]!
  return { next, int, pick }
}

const priorities: ReadonlyArray<Priority> = ["critical", "high", "medium", "low", "none"]
const statusMix: ReadonlyArray<IssueStatus> = [...issueStatuses, "todo", "todo", "done", "done", "cancelled"]

/** One random tracker write, the same on every tracker given the same `rand` state; returns what it did. */
const step = (trackers: ReadonlyArray<TrackerShape>, rand: ReturnType<typeof prng>, n: number, made: Array<string>) =>
  Effect.gen(function*() {
    const roll = rand.int(100)
    const known = () => made.length === 0 ? [] : [rand.pick(made)]
    const all = <A, E>(f: (t: TrackerShape) => Effect.Effect<A, E>) => Effect.forEach(trackers, (t) => Effect.either(f(t)))
    if (roll < 30 || made.length < 3) {
      const input = new IssueInput({
        title: `issue ${n}`,
        status: rand.pick(["todo", "todo", "backlog"] as const),
        priority: rand.pick(priorities),
        labels: rand.next() < 0.5 ? ["bug"] : ["docs", "perf"],
        blocked_by: rand.next() < 0.4 ? known().map(id) : [],
        parent: rand.next() < 0.25 ? (known().map(id)[0] ?? null) : null
      })
      const results = yield* all((t) => t.create(input))
      const first = results[0]!
      if (first._tag === "Right") made.push(first.right.id)
      return `create ${JSON.stringify(input)}`
    }
    const target = rand.pick(made)
    const patch: IssuePatch = roll < 60
      ? { status: rand.pick(statusMix) }
      : roll < 75
      ? { blocked_by: known().filter((b) => b !== target).map(id) }
      : roll < 85
      ? { parent: rand.next() < 0.4 ? null : (known().filter((p) => p !== target).map(id)[0] ?? null) }
      : { priority: rand.pick(priorities) }
    yield* all((t) => t.update(target, patch))
    return `update ${target} ${JSON.stringify(patch)}`
  })

describe.skipIf(skipReason !== null)("PostgreSQL stores", () => {
  it.scoped("the ready set and readySummary equal MemoryTracker's and SqliteTracker's through 150 random writes", () =>
    Effect.gen(function*() {
      const db = yield* fresh
      const pg = Context.get(yield* db.connect(), Tracker)
      const sqlite = Context.get(yield* openSqlite(yield* scratch), Tracker)
      const memory = yield* MemoryTracker.make()
      const rand = prng(20261207)
      const made: Array<string> = []
      const log: Array<string> = []
      for (let n = 1; n <= 150; n++) {
        log.push(yield* step([pg, sqlite, memory], rand, n, made))
        if (n % 25 !== 0) continue
        const expected = (yield* memory.ready).refs
        const got = yield* pg.ready
        expect(got.refs, log.join("\n")).toEqual(expected)
        expect(got.invalid).toEqual([])
        expect((yield* sqlite.ready).refs).toEqual(expected)
        const ids = expected.map((r) => r.id)
        for (const options of [{ exclude: [], limit: 5 }, { exclude: ids.filter((_, i) => i % 2 === 0), limit: 100 }, { exclude: ids, limit: 3 }]) {
          expect(yield* pg.readySummary(options), log.join("\n")).toEqual(yield* memory.readySummary(options))
        }
        expect(yield* pg.counts).toEqual(yield* memory.counts)
      }
      expect(made.length).toBeGreaterThan(30)
    }).pipe(Effect.provide(NodeContext.layer)), 120_000)

  it.scoped("a todo row edited by hand into a form that does not decode is reported as invalid, never fatal", () =>
    Effect.gen(function*() {
      const db = yield* fresh
      const context = yield* db.connect()
      const tracker = Context.get(context, Tracker)
      const sql = Context.get(context, SqlClient.SqlClient)
      const a = yield* tracker.create(new IssueInput({ title: "fine" }))
      const b = yield* tracker.create(new IssueInput({ title: "labels broken" }))
      const c = yield* tracker.create(new IssueInput({ title: "priority broken" }))
      const d = yield* tracker.create(new IssueInput({ title: "blockers broken" }))
      // Text that is not JSON at all is refused by the database (a CHECK), so no reader ever meets it.
      const refused = yield* Effect.flip(sql`UPDATE issues SET labels = 'garbage' WHERE id = ${b.id}`)
      expect(String(refused.cause)).toContain("invalid input syntax for type json")
      yield* sql`UPDATE issues SET labels = '[1]' WHERE id = ${b.id}`
      yield* sql`UPDATE issues SET priority = 'urgent' WHERE id = ${c.id}`
      yield* sql`UPDATE issues SET blocked_by = '"SY-1"' WHERE id = ${d.id}`
      const ready = yield* tracker.ready
      expect(ready.refs.map((r) => r.id)).toEqual([a.id])
      expect(ready.invalid.map((i) => i.id)).toEqual([b.id, c.id, d.id])
      expect(ready.invalid[0]!.reason).toContain("labels")
      const summary = yield* tracker.readySummary({ exclude: [], limit: 10 })
      expect([summary.total, summary.invalid.length]).toEqual([1, 3])
      expect((yield* tracker.list()).map((i) => i.id)).toEqual([a.id])
      expect((yield* tracker.candidates).invalid.map((i) => i.id).sort()).toEqual([b.id, c.id, d.id].sort())
    }).pipe(Effect.provide(NodeContext.layer)))

  it.live("a claim skips an issue another runner is claiming right now (SKIP LOCKED) instead of waiting for it", () =>
    Effect.scoped(Effect.gen(function*() {
      const db = yield* fresh
      const a = Context.get(yield* db.connect(), Orchestrator)
      const b = Context.get(yield* db.connect(), Orchestrator)
      const claimed = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      // Runner A claims SY-1 inside a transaction it keeps open (as a claim followed by the tracker move would).
      const holder = yield* Effect.fork(a.atomically(Effect.gen(function*() {
        const lease = yield* a.claim(id("SY-1"), 1, 60_000)
        yield* Deferred.succeed(claimed, undefined)
        yield* Deferred.await(release)
        return lease
      })))
      yield* Deferred.await(claimed)
      // B does not wait for A's transaction: SY-1 is skipped at once, SY-2 is claimed.
      const [skipped, other] = yield* Effect.all([b.claim(id("SY-1"), 1, 60_000), b.claim(id("SY-2"), 1, 60_000)]).pipe(
        Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => "B waited for A's lock" })
      )
      expect(Option.isNone(skipped)).toBe(true)
      expect(Option.isSome(other)).toBe(true)
      yield* Deferred.succeed(release, undefined)
      expect(Option.isSome(yield* Fiber.join(holder))).toBe(true)
      const owners = Object.fromEntries((yield* b.leases).map((l) => [l.issue_id, l.runner_id]))
      expect(owners).toEqual({ "SY-1": a.runnerId, "SY-2": b.runnerId })
      // After A committed, SY-1 is leased: B still cannot claim it.
      expect(Option.isNone(yield* b.claim(id("SY-1"), 2, 60_000))).toBe(true)
    })).pipe(Effect.provide(NodeContext.layer)), 60_000)

  it.scoped("evidence stored on one host is read and written out as files on another; its seal checks where the key is shared", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const db = yield* fresh
      const hostA = yield* db.connect()
      const stored = yield* Context.get(hostA, EvidenceStore).put(sampleBundle({ issueId: "SY-7", attempt: 1, outcome: "ESCALATE" }))
      // Host B: its own state directory, with a copy of the runners' evidence key (docs/scale.md, "Evidence").
      const elsewhere = yield* scratch
      const keyFile = `${elsewhere.stateDir}/${Ed25519EvidenceSigner.KEY_FILE}`
      yield* fs.makeDirectory(`${elsewhere.stateDir}/keys`, { recursive: true })
      yield* fs.copyFile(`${db.stateDir}/${Ed25519EvidenceSigner.KEY_FILE}`, keyFile)
      yield* fs.chmod(keyFile, 0o600)
      const hostB = Context.get(yield* open({ url: db.url, stateDir: elsewhere.stateDir }), EvidenceStore)
      expect(Option.getOrThrow(yield* hostB.get(id("SY-7"), 1)).outcome).toBe("ESCALATE")
      const where = yield* hostB.location(id("SY-7"), 1)
      expect(where.dir.startsWith(elsewhere.stateDir)).toBe(true)
      expect(JSON.parse(yield* fs.readFileString(where.json))).toEqual(JSON.parse(yield* fs.readFileString(stored.json)))
      expect(yield* fs.readFileString(where.markdown)).toBe(yield* fs.readFileString(stored.markdown))
      expect(yield* fs.readFileString(where.patch!)).toBe(yield* fs.readFileString(stored.patch!))
      expect(Option.getOrThrow(yield* hostB.sealedFile(id("SY-7"), 1)).seal?.status).toBe("signed")
      expect((yield* hostB.sealed([{ issueId: id("SY-7"), attempt: 1 }])).get("SY-7#1")?.seal?.status).toBe("signed")
      expect(yield* hostB.location(id("SY-9"), 1)).toMatchObject({ patch: null })
      // A host with a key of its own does not trust it: the key is the trust root, not the database.
      const stranger = yield* scratch
      const hostC = Context.get(yield* open({ url: db.url, stateDir: stranger.stateDir }), EvidenceStore)
      yield* hostC.put(sampleBundle({ issueId: "SY-8", attempt: 1, outcome: "NO_OP" }))
      expect((yield* hostC.sealed([{ issueId: id("SY-7"), attempt: 1 }])).get("SY-7#1")?.seal?.status).toBe("other_key")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("a runner registers with its host on heartbeat; other commands do not", () =>
    Effect.gen(function*() {
      const db = yield* fresh
      const context = yield* db.connect(undefined, "host-x")
      const orchestrator = Context.get(context, Orchestrator)
      const sql = Context.get(context, SqlClient.SqlClient)
      expect(orchestrator.runnerId.startsWith("host-x:")).toBe(true)
      expect(yield* sql`SELECT runner_id FROM runners`).toEqual([])
      yield* orchestrator.heartbeat(1_000)
      expect(yield* sql`SELECT runner_id, host FROM runners`).toEqual([{ runner_id: orchestrator.runnerId, host: "host-x" }])
      const lease = Option.getOrThrow(yield* orchestrator.claim(id("SY-1"), 1, 1_000))
      expect(lease.host).toBe("host-x")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("a take-over of another host's lease records its agent group for that host's runners alone", () =>
    Effect.gen(function*() {
      const db = yield* fresh
      const a = Context.get(yield* db.connect(undefined, "host-a"), Orchestrator)
      const b = Context.get(yield* db.connect(undefined, "host-b"), Orchestrator)
      const lease = Option.getOrThrow(yield* a.claim(id("SY-1"), 1, 1_000))
      yield* a.updateLease(id("SY-1"), { stage: "agent", agent_pid: 4242, agent_pgid: 4242, sandbox_path: "/ws/SY-1" })
      const held = (yield* b.leases)[0]!
      expect(held.epoch).toBe(lease.epoch)
      expect(Option.isSome(yield* b.takeOver(held, 5_000))).toBe(true)
      // Host a's next runner sees it; host b's do not.
      const again = Context.get(yield* db.connect(undefined, "host-a"), Orchestrator)
      const orphans = yield* again.orphans
      expect(orphans.map((o) => [o.host, o.pgid, o.issue_id, o.attempt, o.sandbox_path, o.recorded_by])).toEqual([
        ["host-a", 4242, "SY-1", 1, "/ws/SY-1", b.runnerId]
      ])
      expect(yield* b.orphans).toEqual([])
      // A same-host take-over records nothing (that host's supervisor kills the group itself).
      yield* b.updateLease(id("SY-1"), { agent_pgid: 5151 })
      const c = Context.get(yield* db.connect(undefined, "host-b"), Orchestrator)
      const bHeld = (yield* c.leases)[0]!
      expect(bHeld).toMatchObject({ host: "host-b", agent_pgid: 5151 })
      expect(Option.isSome(yield* c.takeOver(bHeld, 5_000))).toBe(true)
      expect(yield* c.orphans).toEqual([])
      yield* again.forgetOrphan(orphans[0]!.id)
      expect(yield* again.orphans).toEqual([])
    }).pipe(Effect.provide(NodeContext.layer)))
})
