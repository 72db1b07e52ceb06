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
  checkCommentBody,
  checkIssueText,
  InvalidIssueId,
  IssueNotFound,
  type ReadyRef,
  type ReadySet,
  type ReadySummary,
  summaryLimit,
  Tracker,
  TrackerError,
  type TrackerShape
} from "@switchyard/core"
import {
  Issue,
  IssueComment,
  IssueId,
  type IssueInput,
  IssuePatch,
  type IssueStatus,
  issueStatuses,
  IssueStatus as IssueStatusSchema,
  Priority as PrioritySchema
} from "@switchyard/domain"
import { SqliteTracker } from "@switchyard/sqlite"
import { DateTime, Deferred, Effect, Exit, Layer, type ParseResult, Predicate, PubSub, Redacted, Schedule, Schema, Stream } from "effect"
import * as Pg from "pg"
import { resilient } from "../internal/resilient.js"
import { describe, formatParseError, rawKey } from "../internal/rows.js"

/** The channel a statement trigger on `issues` notifies on every write (migration 1). */
export const ISSUES_CHANNEL = "switchyard_issues"

const decodeRow = Schema.decodeUnknown(SqliteTracker.IssueFromRow)
const encodeRow = Schema.encode(SqliteTracker.IssueFromRow)
const decodeIssue = Schema.decodeUnknown(Issue)
const encodeIssue = Schema.encode(Issue)
const encodePatch = Schema.encode(IssuePatch)
const decodeStatus = Schema.decodeUnknown(IssueStatusSchema)
const isStatus = Schema.is(IssueStatusSchema)

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

    const sqlFailure = (operation: string) => (error: SqlError) =>
      new TrackerError({ operation, reason: describe(error), cause: error })
    const invalidInput = (operation: string) => (error: ParseResult.ParseError) =>
      new TrackerError({ operation, reason: `invalid issue: ${formatParseError(error)}`, cause: error })

    const parseId = (input: string) =>
      Schema.decodeUnknown(IssueId)(input).pipe(Effect.mapError(() => new InvalidIssueId({ input })))

    const nowIso = Effect.map(DateTime.now, DateTime.formatIso)

    /**
     * Starts a read: one consistent snapshot for the transaction's reads, and no JIT compilation. The ready query's
     * per-row subplans make the planner's cost estimate large enough to JIT-compile it, which took ~500 ms of an
     * 830 ms read at 100k issues (30k ready) and gains nothing on a query that runs once per tick.
     */
    const snapshot = Effect.zipRight(
      sql`SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY`,
      sql`SET LOCAL jit = off`
    )

    /** Reads and decodes one issue (`forUpdate`: row-locked until the transaction ends, for read-modify-write). */
    const load = (operation: string, id: IssueId, forUpdate = false) =>
      Effect.gen(function*() {
        const rows = yield* (forUpdate
          ? sql<Row>`SELECT * FROM issues WHERE id = ${id} FOR UPDATE`
          : sql<Row>`SELECT * FROM issues WHERE id = ${id}`).pipe(Effect.mapError(sqlFailure(operation)))
        const row = rows[0]
        if (row === undefined) return yield* new IssueNotFound({ id })
        return yield* decodeRow(row).pipe(
          Effect.mapError((error) =>
            new TrackerError({
              operation,
              reason: `issue ${id} is stored in a form that no longer decodes (${formatParseError(error)})`,
              cause: error
            })
          )
        )
      })

    const ensureExist = (operation: string, ids: ReadonlyArray<IssueId>) =>
      Effect.gen(function*() {
        if (ids.length === 0) return
        const unique = [...new Set(ids)]
        const rows = yield* sql<{ id: string }>`SELECT id FROM issues WHERE ${sql.in("id", unique)}`.pipe(
          Effect.mapError(sqlFailure(operation))
        )
        const found = new Set(rows.map((row) => row.id))
        const missing = unique.find((id) => !found.has(id))
        if (missing !== undefined) return yield* new IssueNotFound({ id: missing })
      })

    const ensureNoSelfReference = (operation: string, issue: Issue) =>
      issue.parent === issue.id || issue.blocked_by.includes(issue.id)
        ? Effect.fail(new TrackerError({ operation, reason: `issue ${issue.id} cannot be its own parent or blocker` }))
        : Effect.void

    const write = (operation: string, issue: Issue) =>
      Effect.gen(function*() {
        const row = yield* encodeRow(issue).pipe(Effect.mapError(invalidInput(operation)))
        yield* sql`UPDATE issues SET ${sql.update(row, ["id"])} WHERE id = ${issue.id}`.pipe(
          Effect.mapError(sqlFailure(operation))
        )
      })

    const transaction = <A, E, R>(operation: string, effect: Effect.Effect<A, E, R>) =>
      sql.withTransaction(effect).pipe(
        Effect.mapError((error) => Predicate.isTagged(error, "SqlError") ? sqlFailure(operation)(error as SqlError) : error as E)
      )

    const create = (input: IssueInput) =>
      transaction("create", Effect.gen(function*() {
        yield* checkIssueText("create", input)
        yield* ensureExist("create", [...input.blocked_by, ...(input.parent === null ? [] : [input.parent])])
        const counter = yield* sql<{ counter: number }>`
          INSERT INTO id_counters (prefix, counter) VALUES (${prefix}, 1)
          ON CONFLICT (prefix) DO UPDATE SET counter = id_counters.counter + 1
          RETURNING counter`.pipe(Effect.mapError(sqlFailure("create")))
        const n = counter[0]?.counter ?? 1
        const at = yield* nowIso
        const issue = yield* decodeIssue({
          id: `${prefix}-${n}`,
          title: input.title,
          body: input.body,
          status: input.status,
          priority: input.priority,
          labels: input.labels,
          parent: input.parent,
          blocked_by: input.blocked_by,
          reproduction: input.reproduction,
          validation: input.validation,
          scope: input.scope,
          non_goals: input.non_goals,
          comments: [],
          created_at: at,
          updated_at: at
        }).pipe(Effect.mapError(invalidInput("create")))
        const row = yield* encodeRow(issue).pipe(Effect.mapError(invalidInput("create")))
        yield* sql`INSERT INTO issues ${sql.insert(row)}`.pipe(Effect.mapError(sqlFailure("create")))
        return issue
      })).pipe(Effect.withSpan("PgTracker.create"))

    const get = (input: string) =>
      parseId(input).pipe(Effect.flatMap((id) => load("get", id)), Effect.withSpan("PgTracker.get"))

    // One query whatever the number of ids: they travel as one text array.
    const statuses = (ids: ReadonlyArray<string>) =>
      sql<{ id: string; status: unknown }>`
        SELECT id, status FROM issues WHERE id IN (SELECT jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb))`.pipe(
        Effect.mapError(sqlFailure("statuses")),
        Effect.map((rows) => {
          const found = new Map<string, IssueStatus>()
          for (const row of rows) if (isStatus(row.status)) found.set(row.id, row.status)
          return found
        }),
        Effect.withSpan("PgTracker.statuses")
      )

    const list = Effect.fn("PgTracker.list")(function*(filter?: { readonly status?: IssueStatus | undefined }) {
      const status = filter?.status
      const rows = yield* (status === undefined
        ? sql<Row>`SELECT * FROM issues ORDER BY created_at, seq`
        : sql<Row>`SELECT * FROM issues WHERE status = ${status} ORDER BY created_at, seq`).pipe(
          Effect.mapError(sqlFailure("list"))
        )
      const issues: Array<Issue> = []
      for (const row of rows) {
        const decoded = yield* Effect.either(decodeRow(row))
        if (decoded._tag === "Right") {
          issues.push(decoded.right)
        } else {
          yield* Effect.logWarning("skipping an issue row that does not decode").pipe(
            Effect.annotateLogs({ id: rawKey(row, "id"), reason: formatParseError(decoded.left) })
          )
        }
      }
      return issues
    })

    const update = (input: string, patch: IssuePatch) =>
      parseId(input).pipe(
        Effect.flatMap((id) =>
          transaction("update", Effect.gen(function*() {
            yield* checkIssueText("update", patch)
            const current = yield* load("update", id, true)
            yield* ensureExist("update", [
              ...(patch.blocked_by ?? []),
              ...(patch.parent === undefined || patch.parent === null ? [] : [patch.parent])
            ])
            const encoded = yield* encodeIssue(current).pipe(Effect.mapError(invalidInput("update")))
            const encodedPatch = yield* encodePatch(patch).pipe(Effect.mapError(invalidInput("update")))
            const next = yield* decodeIssue({ ...encoded, ...encodedPatch, updated_at: yield* nowIso }).pipe(
              Effect.mapError(invalidInput("update"))
            )
            yield* ensureNoSelfReference("update", next)
            yield* write("update", next)
            return next
          }))
        ),
        Effect.withSpan("PgTracker.update")
      )

    const transition = Effect.fn("PgTracker.transition")(
      function*(id: IssueId, from: ReadonlyArray<IssueStatus>, to: IssueStatus) {
        if (from.length > 0) {
          const at = yield* nowIso
          const moved = yield* sql<{ id: string }>`
            UPDATE issues SET status = ${to}, updated_at = ${at}
            WHERE id = ${id} AND ${sql.in("status", from)}
            RETURNING id`.pipe(Effect.mapError(sqlFailure("transition")))
          if (moved.length > 0) return true
        }
        const exists = yield* sql<{ id: string }>`SELECT id FROM issues WHERE id = ${id}`.pipe(
          Effect.mapError(sqlFailure("transition"))
        )
        if (exists.length === 0) return yield* new IssueNotFound({ id })
        return false
      }
    )

    const comment = (input: string, body: string, author: string) =>
      parseId(input).pipe(
        Effect.flatMap((id) =>
          transaction("comment", Effect.gen(function*() {
            yield* checkCommentBody(body)
            const current = yield* load("comment", id, true)
            const at = yield* DateTime.now
            const note = new IssueComment({ author, body, created_at: at })
            const next = new Issue({ ...current, comments: [...current.comments, note], updated_at: at })
            yield* write("comment", next)
            return next
          }))
        ),
        Effect.withSpan("PgTracker.comment")
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

    const ReadyRow = Schema.Struct({ id: IssueId, priority: PrioritySchema, labels: Schema.String })
    const decodeReady = Schema.decodeUnknownEither(ReadyRow)
    const decodeLabels = Schema.decodeUnknownEither(Schema.parseJson(Schema.Array(Schema.String)))
    type RawReadyRow = { id: unknown; priority: unknown; labels: unknown }
    const decodeRefs = (rows: ReadonlyArray<RawReadyRow>, invalid: Array<{ id: string; reason: string }>) => {
      const refs: Array<ReadyRef> = []
      const labelsOf = new Map<string, ReturnType<typeof decodeLabels>>()
      for (const row of rows) {
        const decoded = decodeReady(row)
        if (decoded._tag === "Left") {
          invalid.push({ id: String(row.id), reason: formatParseError(decoded.left) })
          continue
        }
        const text = decoded.right.labels
        let labels = labelsOf.get(text)
        if (labels === undefined) {
          labels = decodeLabels(text)
          labelsOf.set(text, labels)
        }
        if (labels._tag === "Left") {
          invalid.push({ id: decoded.right.id, reason: `labels: ${formatParseError(labels.left)}` })
          continue
        }
        refs.push({ id: decoded.right.id, priority: decoded.right.priority, labels: labels.right })
      }
      return refs
    }

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
      const rows = yield* sql<RawReadyRow>`
        SELECT i.id, i.priority, i.labels FROM issues i
        WHERE i.status = 'todo' AND ${sql.literal(READY)}
        ORDER BY ${sql.literal(DISPATCH_ORDER)}`
      const invalid: Array<{ id: string; reason: string }> = []
      const refs = decodeRefs(rows, invalid)
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
          const rows = limit === 0 ? [] : yield* sql<RawReadyRow>`
            SELECT i.id, i.priority, i.labels FROM issues i
            WHERE i.status = 'todo' AND ${sql.literal(READY)}
              AND NOT (i.id IN (SELECT jsonb_array_elements_text(${exclude}::jsonb)))
            ORDER BY ${sql.literal(DISPATCH_ORDER)}
            LIMIT ${limit}`
          const invalid: Array<{ id: string; reason: string }> = []
          const head = decodeRefs(rows, invalid)
          invalid.push(...(yield* unreadable))
          return { total: counted[0]?.total ?? 0, head, invalid, waiting: counted[0]?.waiting ?? 0 } satisfies ReadySummary
        })).pipe(Effect.mapError(sqlFailure("readySummary")))
      }).pipe(Effect.withSpan("PgTracker.readySummary"))

    const counts = Effect.gen(function*() {
      const rows = yield* sql<{ status: string; n: number }>`SELECT status, COUNT(*) AS n FROM issues GROUP BY status`
      const result = Object.fromEntries(issueStatuses.map((status) => [status, 0])) as Record<IssueStatus, number>
      for (const row of rows) {
        if (Schema.is(IssueStatusSchema)(row.status)) result[row.status] = row.n
      }
      return result as Readonly<Record<IssueStatus, number>>
    }).pipe(Effect.mapError(sqlFailure("counts")), Effect.withSpan("PgTracker.counts"))

    // Own writes publish at once; every runner's commits (this one's included) arrive as a notification.
    const written = yield* PubSub.sliding<void>(1)
    const published = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.tap(effect, () => PubSub.publish(written, undefined))
    const external = listenForChanges(pg.config.url === undefined ? undefined : Redacted.value(pg.config.url))
    const changes = Stream.merge(Stream.fromPubSub(written), external)

    return {
      create: (input) => published(create(input)),
      get,
      statuses,
      list,
      update: (id, patch) => published(update(id, patch)),
      transition: (id, from, to) => published(transition(id, from, to)),
      comment: (id, body, author) => published(comment(id, body, author)),
      candidates,
      ready,
      readySummary,
      counts,
      changes
    } satisfies TrackerShape
  })

/** The `Tracker` service backed by PostgreSQL; requires the `SqlClient`/`PgClient` of `PgSql.layer`. */
export const layer = (options?: { readonly prefix?: string | undefined }): Layer.Layer<
  Tracker,
  TrackerError,
  SqlClient.SqlClient | PgClient.PgClient
> => Layer.effect(Tracker, Effect.map(make(options), resilient))
