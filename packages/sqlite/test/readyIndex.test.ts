/**
 * The persisted ready set (migration 0002): `dispatch_index` and `issue_blockers`, kept by triggers on `issues`.
 * The reference is the query SqliteTracker ran on every read before the index existed (kept here as the oracle).
 */
import { FileSystem, Path } from "@effect/platform"
import * as Command from "@effect/platform/Command"
import { NodeContext } from "@effect/platform-node"
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { describe, expect, it } from "@effect/vitest"
import { MemoryTracker, type ReadySummary, Tracker, type TrackerShape } from "@switchyard/core"
import { IssueId, IssueInput, type IssuePatch, type IssueStatus, issueStatuses, Priority } from "@switchyard/domain"
import { Context, Effect, Layer, Schema } from "effect"
import { spawnSync } from "node:child_process"
import { Sql } from "../src/index.js"
import { id, open, type Scratch, scratch } from "./helpers.js"

// --- the oracle: the ready set as SqliteTracker derived it before migration 0002 -----------------------------------

const OldReadyRow = Schema.Struct({
  id: IssueId,
  priority: Priority,
  labels: Schema.parseJson(Schema.Array(Schema.String))
})

/** Ready ids in dispatch order and the invalid ids, by the old one-query derivation over every `todo` row. */
const oracle = (sql: SqlClient.SqlClient) =>
  Effect.gen(function*() {
    const rows = yield* sql<{ id: unknown; priority: unknown; labels: unknown }>`
      SELECT i.id, i.priority, i.labels FROM issues i
      WHERE i.status = 'todo'
        AND json_valid(i.blocked_by) AND json_valid(i.labels)
        AND NOT EXISTS (
          SELECT 1 FROM json_each(i.blocked_by) b LEFT JOIN issues bi ON bi.id = b.value
          WHERE bi.id IS NULL OR bi.status NOT IN ('done', 'cancelled'))
        AND NOT EXISTS (
          SELECT 1 FROM issues c WHERE c.parent = i.id AND c.status NOT IN ('done', 'cancelled'))
      ORDER BY
        CASE i.priority WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 WHEN 'low' THEN 3 ELSE 4 END,
        i.created_at,
        substr(i.id, 1, instr(i.id, '-') - 1),
        CAST(substr(i.id, instr(i.id, '-') + 1) AS INTEGER)`
    const ready: Array<string> = []
    const invalid = new Set<string>()
    for (const row of rows) {
      if (Schema.decodeUnknownEither(OldReadyRow)(row)._tag === "Right") ready.push(String(row.id))
      else invalid.add(String(row.id))
    }
    const broken = yield* sql<{ id: string }>`
      SELECT id FROM issues
      WHERE status = 'todo'
        AND NOT (json_valid(labels) AND json_valid(blocked_by) AND json_valid(validation)
                 AND json_valid(scope) AND json_valid(non_goals) AND json_valid(comments))`
    for (const row of broken) invalid.add(row.id)
    return { ready, invalid: [...invalid].sort() }
  })

const columns = "id, ready, valid, priority_rank, created_at, id_prefix, id_number, priority, labels"

/**
 * Rows where the persisted tables differ from a derivation from scratch: `dispatch_index` against the
 * `issue_readiness` view, `issue_blockers` against `json_each` of every valid `blocked_by`. Empty when exact.
 */
const drift = (sql: SqlClient.SqlClient) =>
  Effect.gen(function*() {
    const stale = yield* sql.unsafe(`SELECT ${columns} FROM dispatch_index EXCEPT SELECT ${columns} FROM issue_readiness`)
    const missing = yield* sql.unsafe(`SELECT ${columns} FROM issue_readiness EXCEPT SELECT ${columns} FROM dispatch_index`)
    const derivedEdges = `SELECT i.id, CAST(b.value AS TEXT)
      FROM issues i, json_each(CASE WHEN json_valid(i.blocked_by) THEN i.blocked_by ELSE '[]' END) b`
    const extraEdges = yield* sql.unsafe(`SELECT issue_id, blocker_id FROM issue_blockers EXCEPT ${derivedEdges}`)
    const missingEdges = yield* sql.unsafe(`${derivedEdges} EXCEPT SELECT issue_id, blocker_id FROM issue_blockers`)
    return { stale, missing, extraEdges, missingEdges }
  })

const noDrift = { stale: [], missing: [], extraEdges: [], missingEdges: [] }

/** Asserts the index is exact, and that `ready` (and a summary of it) equals the oracle. */
const expectMatchesOracle = (tracker: TrackerShape, sql: SqlClient.SqlClient, context: string) =>
  Effect.gen(function*() {
    expect(yield* drift(sql), context).toEqual(noDrift)
    const expected = yield* oracle(sql)
    const ready = yield* tracker.ready
    expect(ready.refs.map((ref) => ref.id), context).toEqual(expected.ready)
    expect([...new Set(ready.invalid.map((entry) => entry.id))].sort(), context).toEqual(expected.invalid)
    return ready
  })

/** `readySummary` computed from a whole ready list, the definition it must agree with. */
const summaryOf = (
  refs: ReadonlyArray<{ readonly id: string }>,
  exclude: ReadonlyArray<string>,
  limit: number
) => {
  const excluded = new Set(exclude)
  const kept = refs.filter((ref) => !excluded.has(ref.id))
  return { total: kept.length, head: kept.slice(0, limit).map((ref) => ref.id) }
}

const ids = (summary: ReadySummary) => ({ total: summary.total, head: summary.head.map((ref) => ref.id) })

const stores = (paths?: Scratch) =>
  Effect.gen(function*() {
    const ctx = yield* open(paths ?? (yield* scratch))
    return { tracker: Context.get(ctx, Tracker), sql: Context.get(ctx, SqlClient.SqlClient) }
  })

/** A second, independent better-sqlite3 connection to `filename` (no migrations): "someone else's" writes. */
const otherConnection = (filename: string) =>
  Layer.build(SqliteClient.layer({ filename })).pipe(Effect.map((ctx) => Context.get(ctx, SqlClient.SqlClient)))

/** Inserts a raw `issues` row; unspecified columns get valid defaults. */
const rawInsert = (
  sql: SqlClient.SqlClient,
  row: {
    readonly id: string
    readonly status?: string
    readonly priority?: string
    readonly labels?: string
    readonly parent?: string | null
    readonly blocked_by?: string
    readonly comments?: string
    readonly created_at?: string
  }
) =>
  sql`INSERT INTO issues ${
    sql.insert({
      id: row.id,
      title: `raw ${row.id}`,
      body: "",
      status: row.status ?? "todo",
      priority: row.priority ?? "medium",
      labels: row.labels ?? "[]",
      parent: row.parent ?? null,
      blocked_by: row.blocked_by ?? "[]",
      reproduction: null,
      validation: "[]",
      scope: "[]",
      non_goals: "[]",
      comments: row.comments ?? "[]",
      created_at: row.created_at ?? "2026-01-01T00:00:00.000Z",
      updated_at: "2026-01-01T00:00:00.000Z"
    })
  }`

/** A small deterministic PRNG (mulberry32), so a failing sequence replays from its seed. */
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
  const subset = <A>(items: ReadonlyArray<A>, max: number): Array<A> =>
    Array.from({ length: int(max + 1) }, () => pick(items)).filter((item) => item !== undefined)
  return { next, int, pick, subset }
}

/** Every status, weighted toward the ones that matter to readiness (todo, and the resolved ones). */
const statusMix: ReadonlyArray<IssueStatus> = [...issueStatuses, "todo", "todo", "done", "done", "cancelled"]
const priorities: ReadonlyArray<Priority> = ["critical", "high", "medium", "low", "none"]
const times = ["2026-01-01T00:00:00.000Z", "2026-01-02T00:00:00.000Z", "2026-01-03T00:00:00.000Z"]
const poisons: ReadonlyArray<readonly [column: string, value: string]> = [
  ["labels", "garbage"],
  ["labels", "[1]"],
  ["labels", "{\"a\":\"b\"}"],
  ["priority", "urgent"],
  ["comments", "{"],
  ["validation", "nope"],
  ["blocked_by", "[not json"],
  ["blocked_by", "[null]"],
  ["blocked_by", "[1, \"x\"]"],
  ["blocked_by", "\"SY-1\""],
  ["blocked_by", "[[\"SY-1\"]]"]
]
const heals: ReadonlyArray<readonly [column: string, value: string]> = [
  ["labels", "[\"healed\"]"],
  ["priority", "low"],
  ["comments", "[]"],
  ["validation", "[]"],
  ["blocked_by", "[]"]
]

/**
 * One random step: tracker writes (create, update of status/blockers/parent/priority, transition) and raw SQL
 * (inserts with ids that others already reference, blockers and parents naming ids created later, deletes, id
 * renames, `INSERT OR REPLACE`, poison columns and their repair). Returns what it did, for failure messages.
 */
const randomStep = (tracker: TrackerShape, sql: SqlClient.SqlClient, rand: ReturnType<typeof prng>, step: number) =>
  Effect.gen(function*() {
    const existing = (yield* sql<{ id: string }>`SELECT id FROM issues ORDER BY rowid`).map((row) => row.id)
    const known = existing.filter((text) => Schema.is(IssueId)(text)).map(id)
    const any = () => rand.pick(existing)
    // Ids that do not exist yet but will: raw RAW-n inserts count up with the step number, SY-n with the counter.
    const future = () => rand.next() < 0.5 ? `RAW-${step + 1 + rand.int(6)}` : `SY-${existing.length + 1 + rand.int(4)}`
    const roll = rand.int(100)
    const attempt = <A, E>(effect: Effect.Effect<A, E>) => Effect.ignore(effect)
    if (roll < 18 || existing.length < 3) {
      const input = new IssueInput({
        title: `issue at step ${step}`,
        status: rand.pick(["todo", "todo", "backlog"] as const),
        priority: rand.pick(priorities),
        labels: rand.subset(["bug", "docs", "perf"], 2),
        blocked_by: [...new Set(rand.subset(known, 2))],
        parent: rand.next() < 0.3 && known.length > 0 ? rand.pick(known) : null
      })
      yield* attempt(tracker.create(input))
      return `create ${JSON.stringify(input)}`
    }
    if (existing.length === 0) return "nothing"
    const target = any()
    const update = (patch: IssuePatch) => attempt(tracker.update(target, patch)).pipe(Effect.as(`update ${target} ${JSON.stringify(patch)}`))
    if (roll < 38) return yield* update({ status: rand.pick(statusMix) })
    if (roll < 46) return yield* update({ blocked_by: [...new Set(rand.subset(known, 3))] })
    if (roll < 52) return yield* update({ parent: rand.next() < 0.3 ? null : rand.pick(known) })
    if (roll < 56) return yield* update({ priority: rand.pick(priorities) })
    if (roll < 60) {
      const to: IssueStatus = rand.pick(issueStatuses)
      if (Schema.is(IssueId)(target)) yield* attempt(tracker.transition(id(target), ["todo", "in_progress", "done"], to))
      return `transition ${target} → ${to}`
    }
    if (roll < 68) {
      const blockers = JSON.stringify([...rand.subset(existing, 2), future()])
      yield* sql`UPDATE issues SET blocked_by = ${blockers} WHERE id = ${target}`
      return `raw blocked_by ${target} = ${blockers}`
    }
    if (roll < 76) {
      const row = {
        id: `RAW-${step}`,
        status: rand.pick(["todo", "todo", "done", "in_progress", "cancelled", "backlog"]),
        priority: rand.pick(priorities),
        parent: rand.next() < 0.3 ? (rand.next() < 0.5 ? any() : future()) : null,
        blocked_by: JSON.stringify(rand.subset([...existing, future()], 2)),
        created_at: rand.pick(times)
      }
      yield* rawInsert(sql, row)
      return `raw insert ${JSON.stringify(row)}`
    }
    if (roll < 80) {
      // Half the time an issue others depend on: a blocker of some issue, or a child.
      const depended = (yield* sql<{ id: string }>`
        SELECT blocker_id AS id FROM issue_blockers JOIN issues ON issues.id = blocker_id
        UNION SELECT id FROM issues WHERE parent IS NOT NULL`).map((row) => row.id)
      const victim = rand.next() < 0.5 && depended.length > 0 ? rand.pick(depended) : target
      yield* sql`DELETE FROM issues WHERE id = ${victim}`
      return `raw delete ${victim}`
    }
    if (roll < 87) {
      const [column, value] = rand.pick(poisons)
      yield* sql.unsafe(`UPDATE issues SET ${column} = ? WHERE id = ?`, [value, target])
      return `raw poison ${target}.${column} = ${value}`
    }
    if (roll < 91) {
      const [column, value] = rand.pick(heals)
      yield* sql.unsafe(`UPDATE issues SET ${column} = ? WHERE id = ?`, [value, target])
      return `raw heal ${target}.${column} = ${value}`
    }
    if (roll < 94) {
      const parent = rand.next() < 0.5 ? future() : any()
      yield* sql`UPDATE issues SET parent = ${parent} WHERE id = ${target}`
      return `raw parent ${target} = ${parent}`
    }
    if (roll < 97) {
      const renamed = `RAW-${step}`
      yield* sql`UPDATE issues SET id = ${renamed} WHERE id = ${target}`
      return `raw rename ${target} → ${renamed}`
    }
    const status = rand.pick(["todo", "done", "in_progress"])
    const parent = rand.next() < 0.5 ? null : any()
    yield* sql`INSERT OR REPLACE INTO issues
      SELECT id, title, body, ${status}, priority, labels, ${parent}, blocked_by, reproduction, validation, scope,
             non_goals, comments, created_at, updated_at
      FROM issues WHERE id = ${target}`
    return `raw replace ${target} status=${status} parent=${parent}`
  })

describe("the persisted ready set (dispatch_index, maintained by triggers)", () => {
  it.scoped("stays equal to the old derivation through random creates, updates, raw edits and deletes", () =>
    Effect.gen(function*() {
      let sawReady = 0
      let sawInvalid = 0
      let sawWaiting = 0
      for (const seed of [1, 2, 3, 4]) {
        yield* Effect.scoped(Effect.gen(function*() {
          const { sql, tracker } = yield* stores()
          const rand = prng(seed)
          for (let step = 1; step <= 200; step++) {
            const did = yield* randomStep(tracker, sql, rand, step)
            const ready = yield* expectMatchesOracle(tracker, sql, `seed ${seed}, step ${step}: ${did}`)
            sawReady += ready.refs.length
            sawInvalid += ready.invalid.length
            if (step % 8 === 0) {
              const refIds = ready.refs.map((ref) => ref.id)
              const exclude = [...rand.subset(refIds, 4), "SY-999999", ...rand.subset(refIds, 1)]
              const limit = rand.int(6)
              const summary = yield* tracker.readySummary({ exclude, limit })
              expect(ids(summary), `seed ${seed}, step ${step}`).toEqual(summaryOf(ready.refs, exclude, limit))
              // Waiting: the readable todo rows that are not ready (the oracle's ready and invalid sets are exact).
              const todo = yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM issues WHERE status = 'todo'`
              const unreadable = new Set(ready.invalid.map((entry) => entry.id)).size
              expect(summary.waiting, `seed ${seed}, step ${step}`).toBe(todo[0]!.n - ready.refs.length - unreadable)
              sawWaiting += summary.waiting
            }
          }
        }))
      }
      // The sequences really produce ready and unreadable rows (the comparison is not vacuous).
      expect(sawReady).toBeGreaterThan(1_000)
      expect(sawInvalid).toBeGreaterThan(100)
      expect(sawWaiting).toBeGreaterThan(20)
    }).pipe(Effect.provide(NodeContext.layer)), 120_000)

  it.scoped("a write by another connection (a hand edit) is reflected in ready and invalid", () =>
    Effect.gen(function*() {
      const paths = yield* scratch
      const { sql, tracker } = yield* stores(paths)
      const a = yield* tracker.create(new IssueInput({ title: "a", labels: ["x"] }))
      const c = yield* tracker.create(new IssueInput({ title: "c" }))
      const b = yield* tracker.create(new IssueInput({ title: "b", blocked_by: [c.id] }))
      const other = yield* otherConnection(paths.filename)
      const readyIds = Effect.map(tracker.ready, (set) => ({
        ready: set.refs.map((ref) => ref.id),
        invalid: set.invalid.map((entry) => entry.id)
      }))
      expect(yield* readyIds).toEqual({ ready: [a.id, c.id], invalid: [] })

      yield* other`UPDATE issues SET labels = 'garbage' WHERE id = ${a.id}`
      expect(yield* readyIds).toEqual({ ready: [c.id], invalid: [a.id] })
      expect((yield* tracker.ready).invalid[0]?.reason).toContain("labels")

      yield* other`UPDATE issues SET blocked_by = '[not json' WHERE id = ${c.id}`
      expect(yield* readyIds).toEqual({ ready: [], invalid: [a.id, c.id] })

      yield* other`UPDATE issues SET status = 'done' WHERE id = ${c.id}`
      expect(yield* readyIds).toEqual({ ready: [b.id], invalid: [a.id] })

      yield* other`UPDATE issues SET labels = '["x"]', priority = 'urgent' WHERE id = ${a.id}`
      expect(yield* readyIds).toEqual({ ready: [b.id], invalid: [a.id] })
      expect((yield* tracker.ready).invalid[0]?.reason).toContain("priority")

      yield* other`UPDATE issues SET priority = 'critical' WHERE id = ${a.id}`
      yield* other`UPDATE issues SET status = 'todo' WHERE id = ${c.id}`
      expect(yield* readyIds).toEqual({ ready: [a.id], invalid: [c.id] })
      expect((yield* tracker.ready).refs[0]).toEqual({ id: a.id, priority: "critical", labels: ["x"] })

      yield* other`DELETE FROM issues WHERE id = ${c.id}`
      expect(yield* readyIds).toEqual({ ready: [a.id], invalid: [] }) // an unknown blocker blocks
      yield* expectMatchesOracle(tracker, sql, "after the hand edits")
    }).pipe(Effect.provide(NodeContext.layer)))

  const hasSqliteCli = spawnSync("sqlite3", ["-version"]).status === 0
  it.scoped.skipIf(!hasSqliteCli)("the triggers run in the sqlite3 CLI (an older SQLite) on a hand edit", () =>
    Effect.gen(function*() {
      const paths = yield* scratch
      const { sql, tracker } = yield* stores(paths)
      const blocker = yield* tracker.create(new IssueInput({ title: "blocker" }))
      const blocked = yield* tracker.create(new IssueInput({ title: "blocked", blocked_by: [blocker.id] }))
      const poison = yield* tracker.create(new IssueInput({ title: "poison" }))
      const cli = (statement: string) => Command.exitCode(Command.make("sqlite3", paths.filename, statement))
      expect(yield* cli(`UPDATE issues SET status = 'done' WHERE id = '${blocker.id}'`)).toBe(0)
      expect(yield* cli(`UPDATE issues SET labels = 'garbage' WHERE id = '${poison.id}'`)).toBe(0)
      expect(yield* cli(`INSERT INTO issues (id, title, status, priority, created_at, updated_at)
        VALUES ('CLI-1', 'typed by hand', 'todo', 'high', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')`))
        .toBe(0)
      const ready = yield* tracker.ready
      expect(ready.refs.map((ref) => ref.id)).toEqual(["CLI-1", blocked.id])
      expect(ready.invalid.map((entry) => entry.id)).toEqual([poison.id])
      yield* expectMatchesOracle(tracker, sql, "after the sqlite3 CLI edits")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("migrating a database that already holds issues backfills both tables", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const paths = yield* scratch
      yield* fs.makeDirectory(path.dirname(paths.filename), { recursive: true }).pipe(Effect.orDie)
      // A database as it was before this migration: only 0001 applied, rows of every kind.
      yield* Effect.scoped(Effect.gen(function*() {
        const sql = yield* otherConnection(paths.filename)
        yield* Migrator.make({})({ loader: Migrator.fromRecord({ "0001_init": Sql.migrations["0001_init"]! }) }).pipe(
          Effect.provideService(SqlClient.SqlClient, sql)
        )
        const rows: ReadonlyArray<Parameters<typeof rawInsert>[1]> = [
          { id: "SY-1", status: "done" },
          { id: "SY-2", blocked_by: "[\"SY-1\"]" }, // ready: its blocker is done
          { id: "SY-3", blocked_by: "[\"SY-1\", \"SY-4\"]" }, // blocked by an issue in progress
          { id: "SY-4", status: "in_progress" },
          { id: "SY-5", blocked_by: "[\"SY-99\"]" }, // an unknown blocker blocks
          { id: "SY-6", blocked_by: "[null]" },
          { id: "SY-7", blocked_by: "[\"SY-1\", \"SY-1\"]" }, // a duplicate blocker
          { id: "SY-8" }, // an open child
          { id: "SY-9", status: "backlog", parent: "SY-8" },
          { id: "SY-10" }, // only closed children
          { id: "SY-11", status: "cancelled", parent: "SY-10" },
          { id: "SY-12", labels: "not json" },
          { id: "SY-13", comments: "{" }, // ready, and reported: a column dispatch does not read is broken
          { id: "SY-14", priority: "urgent" },
          { id: "SY-15", labels: "[1]" },
          { id: "SY-16", blocked_by: "[not json" },
          { id: "SY-17", priority: "high", created_at: "2025-12-31T00:00:00.000Z" },
          { id: "SY-18", blocked_by: "\"SY-1\"" }, // a JSON string, not an array: json_each still yields SY-1
          { id: "SY-19", blocked_by: "[1]" },
          { id: "ACME-2" },
          { id: "SY-100" },
          { id: "SY-20", labels: "[\"a\",\"b\"]" },
          { id: "sy-21" }, // an id that does not decode
          { id: "SY-22", blocked_by: "[\"SY-23\"]" },
          { id: "SY-23", status: "cancelled" },
          { id: "SY-24", priority: "none", created_at: "2026-02-01T00:00:00.000Z" },
          { id: "SY-25", status: "todo", parent: "SY-26" }, // the parent SY-26 is created after its child
          { id: "SY-26" },
          { id: "SY-27", status: "backlog", blocked_by: "[\"SY-1\"]" } // not todo: no dispatch row
        ]
        for (const row of rows) yield* rawInsert(sql, row)
      }))

      const { sql, tracker } = yield* stores(paths)
      const applied = yield* sql<{ migration_id: number; name: string }>`
        SELECT migration_id, name FROM effect_sql_migrations ORDER BY migration_id`
      expect(applied.map((m) => m.name)).toEqual(["init", "ready_index", "evidence_usage", "evidence_usage_index", "fencing_stages", "base_results", "tracker_outbox", "orphans"])
      const ready = yield* expectMatchesOracle(tracker, sql, "after the backfill")
      expect(ready.refs.map((ref) => ref.id)).toEqual([
        "SY-17",
        "ACME-2",
        "SY-2",
        "SY-7",
        "SY-10",
        "SY-13",
        "SY-18",
        "SY-20",
        "SY-22",
        "SY-25",
        "SY-100",
        "SY-24"
      ])
      expect(ready.invalid.map((entry) => entry.id).sort()).toEqual(["SY-12", "SY-13", "SY-14", "SY-15", "SY-16", "sy-21"])
      expect((yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM issue_blockers`)[0]?.n).toBe(10)

      // The triggers exist from now on: closing a blocker and a child makes SY-3 and SY-8 ready.
      yield* tracker.update("SY-4", { status: "done" })
      yield* tracker.update("SY-9", { status: "done" })
      const after = yield* expectMatchesOracle(tracker, sql, "after updates on the migrated file")
      expect(after.refs.map((ref) => ref.id)).toEqual(expect.arrayContaining(["SY-3", "SY-8"]))
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("readySummary counts and heads the ready set without the excluded ids, however many", () =>
    Effect.gen(function*() {
      const { sql, tracker } = yield* stores()
      // 600 issues: a third done, the todo ones partly blocked by the done ones or by each other.
      yield* sql`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 600)
        INSERT INTO issues (id, title, body, status, priority, labels, parent, blocked_by, created_at, updated_at)
        SELECT 'SY-' || i, 'issue ' || i, '', CASE WHEN i % 3 = 0 THEN 'done' ELSE 'todo' END,
               CASE i % 4 WHEN 0 THEN 'high' WHEN 1 THEN 'low' ELSE 'medium' END, '["x"]', NULL,
               CASE WHEN i % 5 = 0 THEN json_array('SY-' || (i - 1)) WHEN i % 7 = 0 THEN json_array('SY-' || (i - 1 - (i - 1) % 3)) ELSE '[]' END,
               '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z'
        FROM n`
      yield* sql`UPDATE issues SET labels = 'garbage' WHERE id = 'SY-4'`
      const ready = yield* tracker.ready
      const refIds = ready.refs.map((ref) => ref.id)
      expect(refIds.length).toBeGreaterThan(250)

      // 33,000 unknown ids, every third ready id, some ids that are not ready, and duplicates: more ids than
      // SQLite allows bound parameters.
      const unknown = Array.from({ length: 33_000 }, (_, i) => `SY-${100_000 + i}`)
      const exclude = [...unknown, ...refIds.filter((_, i) => i % 3 === 0), "SY-3", "SY-5", refIds[1]!, refIds[1]!]
      expect(exclude.length).toBeGreaterThan(33_000)
      for (const limit of [0, 1, 10, 1_000]) {
        const summary = yield* tracker.readySummary({ exclude, limit })
        expect(ids(summary)).toEqual(summaryOf(ready.refs, exclude, limit))
        expect(summary.invalid).toEqual(ready.invalid)
      }
      expect(ids(yield* tracker.readySummary({ exclude: [], limit: 3 }))).toEqual(summaryOf(ready.refs, [], 3))
      // The head carries priority and labels like `ready`.
      expect((yield* tracker.readySummary({ exclude: [], limit: 2 })).head).toEqual(ready.refs.slice(0, 2))
      // Limits that are not counts: floored, negatives and NaN read none, Infinity reads all.
      expect(ids(yield* tracker.readySummary({ exclude, limit: 2.7 }))).toEqual(summaryOf(ready.refs, exclude, 2))
      expect(ids(yield* tracker.readySummary({ exclude, limit: -5 }))).toEqual(summaryOf(ready.refs, exclude, 0))
      expect(ids(yield* tracker.readySummary({ exclude, limit: Number.NaN }))).toEqual(summaryOf(ready.refs, exclude, 0))
      expect(ids(yield* tracker.readySummary({ exclude, limit: Number.POSITIVE_INFINITY }))).toEqual(
        summaryOf(ready.refs, exclude, refIds.length)
      )
      expect((yield* tracker.readySummary({ exclude, limit: 1 })).invalid.map((entry) => entry.id)).toEqual(["SY-4"])
    }).pipe(Effect.provide(NodeContext.layer)), 60_000)

  it.scoped("MemoryTracker.readySummary and statuses agree with SqliteTracker on the same issues", () =>
    Effect.gen(function*() {
      const { tracker: sqlite } = yield* stores()
      const memory = yield* MemoryTracker.make()
      const script = (tracker: TrackerShape) =>
        Effect.gen(function*() {
          for (let n = 1; n <= 30; n++) {
            yield* tracker.create(new IssueInput({
              title: `issue ${n}`,
              priority: priorities[(n * 7) % priorities.length]!,
              labels: n % 4 === 0 ? ["docs"] : ["bug", `n${n % 3}`],
              blocked_by: n % 5 === 0 ? [id(`SY-${n - 2}`)] : [],
              parent: n % 9 === 0 ? id(`SY-${n - 1}`) : null,
              status: n % 11 === 0 ? "backlog" : "todo"
            }))
          }
          for (const n of [3, 13, 17]) yield* tracker.update(`SY-${n}`, { status: "done" })
          yield* tracker.update("SY-23", { status: "cancelled" })
          yield* tracker.update("SY-6", { status: "in_progress" })
          yield* tracker.update("SY-12", { priority: "critical", blocked_by: [id("SY-14")] })
          yield* tracker.transition(id("SY-14"), ["todo"], "done")
        })
      yield* script(sqlite)
      yield* script(memory)
      const sqliteReady = yield* sqlite.ready
      expect(sqliteReady.refs).toEqual((yield* memory.ready).refs)
      expect(sqliteReady.refs.length).toBeGreaterThan(15)
      const refIds = sqliteReady.refs.map((ref) => ref.id)
      const cases = [
        { exclude: [], limit: 10 },
        { exclude: refIds.slice(0, 5), limit: 3 },
        { exclude: [...refIds.filter((_, i) => i % 2 === 1), "SY-6", "SY-404"], limit: 100 },
        { exclude: refIds, limit: 10 },
        { exclude: [], limit: 0 }
      ]
      for (const options of cases) {
        const fromSqlite = yield* sqlite.readySummary(options)
        expect(fromSqlite).toEqual(yield* memory.readySummary(options))
        expect(ids(fromSqlite)).toEqual(summaryOf(sqliteReady.refs, options.exclude, options.limit))
      }
      // And both answer `statuses` alike (the violation check's batch read).
      const asked = ["SY-3", "SY-6", "SY-11", "SY-14", "SY-23", "SY-404"]
      const fromSqlite = yield* sqlite.statuses(asked)
      expect([...fromSqlite.entries()].sort()).toEqual([...(yield* memory.statuses(asked)).entries()].sort())
      expect(Object.fromEntries(fromSqlite)).toEqual({
        "SY-3": "done",
        "SY-6": "in_progress",
        "SY-11": "backlog",
        "SY-14": "done",
        "SY-23": "cancelled"
      })
    }).pipe(Effect.provide(NodeContext.layer)))
})
