/**
 * PgTracker: the embedded tracker in PostgreSQL, shared by runners on several hosts. Same rules and row shape as
 * `SqliteTracker` (the `issues` row decodes with its `IssueFromRow`); the ready set is computed by one query on each
 * read instead of a trigger-maintained index, and other runners' writes arrive by `LISTEN switchyard_issues`
 * (a statement trigger notifies on every write to `issues`, delivered at commit).
 *
 * Every id that comes from outside is validated with the `IssueId` schema before it reaches a query; every row is
 * decoded with Schema on the way out, and a row that no longer decodes is reported, never fatal to the others.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as PgClient from "@effect/sql-pg/PgClient"
import {
  type CandidateSnapshot,
  type ReadySet,
  type ReadySummary,
  summaryLimit,
  Tracker,
  TrackerError,
  type TrackerShape
} from "@switchyard/core"
import {
  type Issue,
  type IssueStatus,
  IssueStatus as IssueStatusSchema
} from "@switchyard/domain"
import { SqliteTracker } from "@switchyard/sqlite"
import { Deferred, Effect, Exit, Layer, Redacted, Schedule, Schema, Stream } from "effect"
import * as Pg from "pg"
import { resilient } from "../internal/resilient.js"
import { describe, formatParseError, rawKey } from "../internal/rows.js"

/** The channel a statement trigger on `issues` notifies on every write (migration 1). */
export const ISSUES_CHANNEL = "switchyard_issues"

const decodeRow = Schema.decodeUnknown(SqliteTracker.IssueFromRow)
const decodeStatus = Schema.decodeUnknown(IssueStatusSchema)

type Row = Record<string, unknown>

/** `done` and `cancelled`: the statuses that satisfy a blocker and close a child. */
const RESOLVED = "('done', 'cancelled')"

/**
 * A `todo` row `i` is readable for dispatch: the priority is one of the five, the labels are an array of strings
 * (what a ready ref decodes) and `blocked_by` is an array. Otherwise it is reported in `invalid`. Every JSON column
 * parses (a CHECK of migration 1 refuses the others). The common shapes are recognised as text first, so most rows
 * are never parsed as JSON; a CASE, because SQL does not promise to evaluate `AND` left to right.
 */
const READABLE = `(CASE
  WHEN i.priority NOT IN ('critical', 'high', 'medium', 'low', 'none') THEN FALSE
  WHEN i.blocked_by <> '[]' AND jsonb_typeof(i.blocked_by::jsonb) <> 'array' THEN FALSE
  WHEN i.labels ~ '^\\[("[^"\\\\]*"(,"[^"\\\\]*")*)?\\]$' THEN TRUE
  WHEN jsonb_typeof(i.labels::jsonb) <> 'array' THEN FALSE
  WHEN EXISTS (SELECT 1 FROM jsonb_array_elements(i.labels::jsonb) l WHERE jsonb_typeof(l) <> 'string') THEN FALSE
  ELSE TRUE END)`

/** A readable `todo` row `i` is ready: every blocker exists and is resolved, and no child is open. */
const UNBLOCKED = `(
  (i.blocked_by = '[]' OR NOT EXISTS (
    SELECT 1 FROM jsonb_array_elements_text(i.blocked_by::jsonb) b(id) LEFT JOIN issues r ON r.id = b.id
    WHERE r.id IS NULL OR r.status NOT IN ${RESOLVED}))
  AND NOT EXISTS (SELECT 1 FROM issues c WHERE c.parent = i.id AND c.status NOT IN ${RESOLVED}))`

/** A `todo` row `i` is ready: readable, then unblocked (only a readable row's `blocked_by` is cast). */
const READY = `(CASE WHEN ${READABLE} THEN ${UNBLOCKED} ELSE FALSE END)`

/** A `todo` row `i` is readable and waiting for a blocker or a child. */
const WAITING = `(CASE WHEN ${READABLE} THEN NOT ${UNBLOCKED} ELSE FALSE END)`

/** Dispatch order: priority rank, `created_at`, the id's prefix, the id's number (as SQLite's `dispatch_index`). */
const DISPATCH_ORDER = `CASE i.priority WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 WHEN 'low' THEN 3 ELSE 4 END,
  i.created_at, split_part(i.id, '-', 1),
  CASE WHEN split_part(i.id, '-', 2) ~ '^[0-9]{1,15}$' THEN split_part(i.id, '-', 2)::BIGINT ELSE 0 END`

/** How a lost `LISTEN` connection is opened again: 100 ms doubling, at most 5 s apart, for as long as someone listens. */
export const relistenSchedule = Schedule.exponential("100 millis").pipe(Schedule.union(Schedule.spaced("5 seconds")))

/**
 * Other runners' writes, as `LISTEN switchyard_issues` on a connection of its own (`url`; without one, nothing).
 * When that connection is lost (the server restarted, the network dropped) it is opened again with
 * {@link relistenSchedule}; each (re)connection emits once, since notifications sent meanwhile are gone.
 * (@effect/sql-pg's `listen` keeps a dead connection forever, so a restarted server would end push dispatch.)
 */
export const listenForChanges = (url: string | undefined): Stream.Stream<void> =>
  url === undefined ? Stream.empty : Stream.asyncScoped<void>((emit) => {
    /** One connection: emits on every notification (and once when listening starts), fails when it is lost. */
    const listenOnce = Effect.scoped(Effect.gen(function*() {
      const lost = yield* Deferred.make<never, Error>()
      const onLoss = (error: Error) => Deferred.unsafeDone(lost, Exit.fail(error))
      yield* Effect.acquireRelease(
        Effect.tryPromise({
          try: async () => {
            const client = new Pg.Client({ connectionString: url })
            client.on("notification", () => void emit.single(undefined))
            client.on("error", onLoss)
            client.on("end", () => onLoss(new Error("the LISTEN connection ended")))
            await client.connect().catch((error: unknown) => {
              void client.end().catch(() => undefined)
              throw error
            })
            await client.query(`LISTEN ${ISSUES_CHANNEL}`)
            return client
          },
          catch: (cause) => cause instanceof Error ? cause : new Error(String(cause))
        }),
        (client) => Effect.promise(() => client.end().catch(() => undefined)).pipe(Effect.timeoutOption("1 second"))
      )
      void emit.single(undefined)
      return yield* Deferred.await(lost)
    }))
    return Effect.forkScoped(
      listenOnce.pipe(
        Effect.tapError((error) => Effect.logDebug("the LISTEN connection is lost; listening again").pipe(Effect.annotateLogs({ reason: error.message }))),
        Effect.retry(relistenSchedule),
        Effect.ignore
      )
    )
  })

/**
 * Builds the tracker over the current `SqlClient`/`PgClient` (whose schema `PgSql.layer` migrated).
 * `prefix` (default `SY`) names new ids `<prefix>-<n>`; `n` comes from a per-prefix counter, allocated in the same
 * transaction as the insert (an upsert: concurrent runners never hand out the same id).
 * Fails with `TrackerError` (operation `init`) when the prefix is not a valid id prefix.
 */
export const make = (options?: { readonly prefix?: string | undefined }): Effect.Effect<
  TrackerShape,
  TrackerError,
  SqlClient.SqlClient | PgClient.PgClient
> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const pg = yield* PgClient.PgClient
    const prefix = yield* Schema.decodeUnknown(SqliteTracker.IssuePrefix)(options?.prefix ?? SqliteTracker.DEFAULT_PREFIX).pipe(
      Effect.mapError((error) => new TrackerError({ operation: "init", reason: formatParseError(error) }))
    )

    const issueRows = yield* SqliteTracker.makeIssueRows(prefix, {
      name: "PgTracker",
      transaction: (effect) => sql.withTransaction(effect),
      lockRows: true,
      insertionOrder: "seq",
      // One query whatever the number of ids: they travel as one JSON array.
      statuses: (ids) =>
        sql<{ id: string; status: unknown }>`
          SELECT id, status FROM issues WHERE id IN (SELECT jsonb_array_elements_text(${ids}::jsonb))`
    })

    const sqlFailure = (operation: string) => (error: SqlError) =>
      new TrackerError({ operation, reason: describe(error), cause: error })

    /**
     * Starts a read: one consistent snapshot for the transaction's reads, and no JIT compilation. The ready query's
     * per-row subplans make the planner's cost estimate large enough to JIT-compile it, which took ~500 ms of an
     * 830 ms read at 100k issues (30k ready) and gains nothing on a query that runs once per tick.
     */
    const snapshot = Effect.zipRight(
      sql`SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY`,
      sql`SET LOCAL jit = off`
    )

    /** Three reads in one REPEATABLE READ transaction (a consistent snapshot), as SQLite's `candidates`. */
    const candidates: Effect.Effect<CandidateSnapshot, TrackerError> = sql.withTransaction(Effect.gen(function*() {
      yield* snapshot
      const rows = yield* sql<Row>`SELECT * FROM issues WHERE status = 'todo' ORDER BY created_at, seq`
      const todo: Array<Issue> = []
      const invalid: Array<{ id: string; reason: string }> = []
      for (const row of rows) {
        const decoded = yield* Effect.either(decodeRow(row))
        if (decoded._tag === "Right") todo.push(decoded.right)
        else invalid.push({ id: rawKey(row, "id"), reason: formatParseError(decoded.left) })
      }
      const referenced = new Set<string>()
      for (const issue of todo) {
        for (const blocker of issue.blocked_by) referenced.add(blocker)
        if (issue.parent !== null) referenced.add(issue.parent)
      }
      const statusOf = new Map<string, IssueStatus>()
      if (referenced.size > 0) {
        const found = yield* sql<{ id: string; status: unknown }>`
          SELECT id, status FROM issues WHERE id IN (SELECT jsonb_array_elements_text(${JSON.stringify([...referenced])}::jsonb))`
        for (const row of found) {
          const status = yield* Effect.either(decodeStatus(row.status))
          if (status._tag === "Right") statusOf.set(row.id, status.right)
          else invalid.push({ id: row.id, reason: `status: ${formatParseError(status.left)}` })
        }
      }
      const parents = yield* sql<{ parent: string }>`
        SELECT DISTINCT parent FROM issues
        WHERE parent IN (SELECT id FROM issues WHERE status = 'todo') AND status NOT IN ('done', 'cancelled')`
      const openChildren = new Set(parents.map((row) => row.parent))
      return { todo, statusOf, openChildren, invalid } satisfies CandidateSnapshot
    })).pipe(Effect.mapError(sqlFailure("candidates")), Effect.withSpan("PgTracker.candidates"))


    /** The `todo` rows that are not readable for dispatch, each with the reason its full decode gives. */
    const unreadable = Effect.gen(function*() {
      const rows = yield* sql<Row>`SELECT i.* FROM issues i WHERE i.status = 'todo' AND NOT ${sql.literal(READABLE)} ORDER BY i.id`
      const invalid: Array<{ id: string; reason: string }> = []
      for (const row of rows) {
        const decoded = yield* Effect.either(decodeRow(row))
        invalid.push({
          id: rawKey(row, "id"),
          reason: decoded._tag === "Left"
            ? formatParseError(decoded.left)
            : "the priority, labels or blockers do not decode"
        })
      }
      return invalid
    })

    const ready: Effect.Effect<ReadySet, TrackerError> = sql.withTransaction(Effect.gen(function*() {
      yield* snapshot
      const rows = yield* sql<SqliteTracker.RawReadyRow>`
        SELECT i.id, i.priority, i.labels FROM issues i
        WHERE i.status = 'todo' AND ${sql.literal(READY)}
        ORDER BY ${sql.literal(DISPATCH_ORDER)}`
      const invalid: Array<{ id: string; reason: string }> = []
      const refs = SqliteTracker.decodeReadyRefs(rows, invalid)
      invalid.push(...(yield* unreadable))
      return { refs, invalid } satisfies ReadySet
    })).pipe(Effect.mapError(sqlFailure("ready")), Effect.withSpan("PgTracker.ready"))

    const readySummary = (options: { readonly exclude: ReadonlyArray<string>; readonly limit: number }) =>
      Effect.gen(function*() {
        const exclude = JSON.stringify(options.exclude)
        const limit = summaryLimit(options.limit)
        return yield* sql.withTransaction(Effect.gen(function*() {
          yield* snapshot
          const counted = yield* sql<{ total: number; waiting: number }>`
            SELECT
              COUNT(*) FILTER (WHERE ${sql.literal(READY)} AND NOT (i.id IN (SELECT jsonb_array_elements_text(${exclude}::jsonb)))) AS total,
              COUNT(*) FILTER (WHERE ${sql.literal(WAITING)}) AS waiting
            FROM issues i WHERE i.status = 'todo'`
          const rows = limit === 0 ? [] : yield* sql<SqliteTracker.RawReadyRow>`
            SELECT i.id, i.priority, i.labels FROM issues i
            WHERE i.status = 'todo' AND ${sql.literal(READY)}
              AND NOT (i.id IN (SELECT jsonb_array_elements_text(${exclude}::jsonb)))
            ORDER BY ${sql.literal(DISPATCH_ORDER)}
            LIMIT ${limit}`
          const invalid: Array<{ id: string; reason: string }> = []
          const head = SqliteTracker.decodeReadyRefs(rows, invalid)
          invalid.push(...(yield* unreadable))
          return { total: counted[0]?.total ?? 0, head, invalid, waiting: counted[0]?.waiting ?? 0 } satisfies ReadySummary
        })).pipe(Effect.mapError(sqlFailure("readySummary")))
      }).pipe(Effect.withSpan("PgTracker.readySummary"))

    // Every runner's commits (this one's included) arrive as a notification.
    const external = listenForChanges(pg.config.url === undefined ? undefined : Redacted.value(pg.config.url))
    const changes = Stream.merge(issueRows.ownWrites, external)
    const { ownWrites: _, ...writes } = issueRows

    return {
      ...writes,
      candidates,
      ready,
      readySummary,
      changes
    } satisfies TrackerShape
  })

/** The `Tracker` service backed by PostgreSQL; requires the `SqlClient`/`PgClient` of `PgSql.layer`. */
export const layer = (options?: { readonly prefix?: string | undefined }): Layer.Layer<
  Tracker,
  TrackerError,
  SqlClient.SqlClient | PgClient.PgClient
> => Layer.effect(Tracker, Effect.map(make(options), resilient))
