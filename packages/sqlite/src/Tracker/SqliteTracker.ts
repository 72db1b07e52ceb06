/**
 * SqliteTracker: the default Tracker, one `issues` table in the shared SQLite file.
 *
 * Every id that comes from outside is validated with the `IssueId` schema before it reaches a query; every row
 * is decoded with Schema on the way out, and a row that no longer decodes is reported, never fatal to the others.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
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
import { DateTime, Duration, Effect, Layer, type ParseResult, Predicate, PubSub, Schedule, Schema, Stream } from "effect"
import { formatParseError, rawKey } from "../internal/rows.js"
import { describe, immediateTransaction } from "../Sql.js"

/** The default id prefix: issues are `SY-1`, `SY-2`, ... */
export const DEFAULT_PREFIX = "SY"

/** How often (ms) a listener on `changes` polls `PRAGMA data_version` for other processes' commits. */
export const DATA_VERSION_POLL_MS = 200

/** An id prefix: what comes before the dash of an `IssueId` (upper-case letter, then up to 9 of `A-Z0-9`). */
export const IssuePrefix = Schema.String.pipe(
  Schema.pattern(/^[A-Z][A-Z0-9]{0,9}$/, {
    message: () => "an issue id prefix is 1-10 upper-case letters or digits starting with a letter, e.g. SY"
  })
)

/**
 * The `issues` row: the Issue's fields, with arrays and comments as JSON text and times as ISO-8601 UTC text.
 * Decoding a row yields an `Issue`; encoding an `Issue` yields the row to write.
 */
export const IssueRow = Schema.Struct({
  ...Issue.fields,
  labels: Schema.parseJson(Issue.fields.labels),
  blocked_by: Schema.parseJson(Issue.fields.blocked_by),
  validation: Schema.parseJson(Issue.fields.validation),
  scope: Schema.parseJson(Issue.fields.scope),
  non_goals: Schema.parseJson(Issue.fields.non_goals),
  comments: Schema.parseJson(Issue.fields.comments)
})

/** `IssueRow` (encoded: the SQL row) to the `Issue` class. */
export const IssueFromRow = Schema.transform(IssueRow, Schema.typeSchema(Issue), {
  strict: true,
  decode: (row) => new Issue(row, { disableValidation: true }),
  encode: (issue) => ({ ...issue })
})

const decodeRow = Schema.decodeUnknown(IssueFromRow)
const encodeRow = Schema.encode(IssueFromRow)
const decodeIssue = Schema.decodeUnknown(Issue)
const encodeIssue = Schema.encode(Issue)
const encodePatch = Schema.encode(IssuePatch)
const decodeStatus = Schema.decodeUnknown(IssueStatusSchema)
const isStatus = Schema.is(IssueStatusSchema)

type Row = Record<string, unknown>

const ReadyRow = Schema.Struct({ id: IssueId, priority: PrioritySchema, labels: Schema.String })
// Synchronous Either decoding: this runs once per ready row on every tick (~3× cheaper than an Effect per row).
const decodeReady = Schema.decodeUnknownEither(ReadyRow)
const decodeLabels = Schema.decodeUnknownEither(Schema.parseJson(Schema.Array(Schema.String)))
/** A ready row as the database returns it. */
export type RawReadyRow = { id: unknown; priority: unknown; labels: unknown }
/**
 * Decodes the ready rows (id, priority, labels as JSON text) into `ReadyRef`s in their order; a row that does not
 * decode is appended to `invalid` with the reason, never fatal to the others. Pure but for `invalid`.
 */
export const decodeReadyRefs = (
  rows: ReadonlyArray<RawReadyRow>,
  invalid: Array<{ id: string; reason: string }>
): Array<ReadyRef> => {
  const refs: Array<ReadyRef> = []
  // Few distinct label sets: each JSON text is decoded once per read (halves the decoding at 100k issues).
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

/**
 * What differs between the SQL databases the issue rows live in (SQLite here, PostgreSQL in @switchyard/pg) for
 * the writes and the plain reads; the ready reads and `changes` are each store's own.
 */
export interface IssueRowsDialect {
  /** The span prefix, e.g. `SqliteTracker`. */
  readonly name: string
  /** A write transaction (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: `withTransaction`). */
  readonly transaction: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | SqlError, R>
  /** Whether a read-modify-write locks the row it reads (`FOR UPDATE`; SQLite has one writer and no such clause). */
  readonly lockRows: boolean
  /** The column that orders issues by insertion (`rowid` in SQLite, `seq` in PostgreSQL). */
  readonly insertionOrder: "rowid" | "seq"
  /** The id and status of the issues among `ids` (JSON text of an array of ids), one query whatever their number. */
  readonly statuses: (ids: string) => Effect.Effect<ReadonlyArray<{ readonly id: string; readonly status: unknown }>, SqlError>
}

/**
 * The issue rows' writes and plain reads over the current `SqlClient`, shared by the SQLite and PostgreSQL
 * trackers: `create` (the id `<prefix>-<n>` from a per-prefix counter in the insert's transaction, so concurrent
 * processes never hand out the same id), `get`, `statuses`, `list`, `update`, `transition`, `comment`, `counts`;
 * every write publishes on `ownWrites`. Errors: `TrackerError`, `IssueNotFound`, `InvalidIssueId` as `TrackerShape`.
 */
export const makeIssueRows = (prefix: string, dialect: IssueRowsDialect) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const lock = sql.literal(dialect.lockRows ? "FOR UPDATE" : "")
    const order = sql.literal(dialect.insertionOrder)
    const sqlFailure = (operation: string) => (error: SqlError) =>
      new TrackerError({ operation, reason: describe(error), cause: error })
    const invalidInput = (operation: string) => (error: ParseResult.ParseError) =>
      new TrackerError({ operation, reason: `invalid issue: ${formatParseError(error)}`, cause: error })

    /** Validates raw text as an issue id before it is used anywhere (ids become paths and branch names). */
    const parseId = (input: string) =>
      Schema.decodeUnknown(IssueId)(input).pipe(Effect.mapError(() => new InvalidIssueId({ input })))

    const nowIso = Effect.map(DateTime.now, DateTime.formatIso)

    /** Reads and decodes one issue; a row that does not decode is a `TrackerError` naming the id. */
    const load = (operation: string, id: IssueId) =>
      Effect.gen(function*() {
        const rows = yield* sql<Row>`SELECT * FROM issues WHERE id = ${id} ${lock}`.pipe(Effect.mapError(sqlFailure(operation)))
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

    /** Fails with `IssueNotFound` naming the first of `ids` that no issue has. */
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

    /** Refuses an issue that would block itself or be its own parent. */
    const ensureNoSelfReference = (operation: string, issue: Issue) =>
      issue.parent === issue.id || issue.blocked_by.includes(issue.id)
        ? Effect.fail(
          new TrackerError({ operation, reason: `issue ${issue.id} cannot be its own parent or blocker` })
        )
        : Effect.void

    const write = (operation: string, issue: Issue) =>
      Effect.gen(function*() {
        const row = yield* encodeRow(issue).pipe(Effect.mapError(invalidInput(operation)))
        yield* sql`UPDATE issues SET ${sql.update(row, ["id"])} WHERE id = ${issue.id}`.pipe(
          Effect.mapError(sqlFailure(operation))
        )
      })

    /** `effect` in a write transaction; a `SqlError` becomes a `TrackerError` of `operation`. */
    const transaction = <A, E, R>(operation: string, effect: Effect.Effect<A, E, R>) =>
      dialect.transaction(effect).pipe(
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
      })).pipe(Effect.withSpan(`${dialect.name}.create`))

    const get = (input: string) =>
      parseId(input).pipe(Effect.flatMap((id) => load("get", id)), Effect.withSpan(`${dialect.name}.get`))

    const statuses = (ids: ReadonlyArray<string>) =>
      dialect.statuses(JSON.stringify(ids)).pipe(
        Effect.mapError(sqlFailure("statuses")),
        Effect.map((rows) => {
          const found = new Map<string, IssueStatus>()
          for (const row of rows) if (isStatus(row.status)) found.set(row.id, row.status)
          return found
        }),
        Effect.withSpan(`${dialect.name}.statuses`)
      )

    const list = Effect.fn(`${dialect.name}.list`)(function*(filter?: { readonly status?: IssueStatus | undefined }) {
      const status = filter?.status
      const rows = yield* (status === undefined
        ? sql<Row>`SELECT * FROM issues ORDER BY created_at, ${order}`
        : sql<Row>`SELECT * FROM issues WHERE status = ${status} ORDER BY created_at, ${order}`).pipe(
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
            const current = yield* load("update", id)
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
        Effect.withSpan(`${dialect.name}.update`)
      )

    const transition = Effect.fn(`${dialect.name}.transition`)(
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
            const current = yield* load("comment", id)
            const at = yield* DateTime.now
            const note = new IssueComment({ author, body, created_at: at })
            const next = new Issue({ ...current, comments: [...current.comments, note], updated_at: at })
            yield* write("comment", next)
            return next
          }))
        ),
        Effect.withSpan(`${dialect.name}.comment`)
      )

    const counts = Effect.gen(function*() {
      const rows = yield* sql<{ status: string; n: number }>`SELECT status, COUNT(*) AS n FROM issues GROUP BY status`
      const result = Object.fromEntries(issueStatuses.map((status) => [status, 0])) as Record<IssueStatus, number>
      for (const row of rows) {
        if (Schema.is(IssueStatusSchema)(row.status)) result[row.status] = Number(row.n)
      }
      return result as Readonly<Record<IssueStatus, number>>
    }).pipe(Effect.mapError(sqlFailure("counts")), Effect.withSpan(`${dialect.name}.counts`))

    // Own writes publish at once; the store merges in other processes' writes (its `changes`).
    const written = yield* PubSub.sliding<void>(1)
    const published = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.tap(effect, () => PubSub.publish(written, undefined))

    return {
      create: (input: IssueInput) => published(create(input)),
      get,
      statuses,
      list,
      update: (id: string, patch: IssuePatch) => published(update(id, patch)),
      transition: (id: IssueId, from: ReadonlyArray<IssueStatus>, to: IssueStatus) => published(transition(id, from, to)),
      comment: (id: string, body: string, author: string) => published(comment(id, body, author)),
      counts,
      ownWrites: Stream.fromPubSub(written)
    } satisfies Omit<TrackerShape, "candidates" | "ready" | "readySummary" | "changes"> & { readonly ownWrites: Stream.Stream<void> }
  })

/**
 * Builds the tracker over the current `SqlClient` (whose schema `Sql.layer` migrated).
 * `prefix` (default `SY`) names new ids `<prefix>-<n>`; `n` comes from a per-prefix counter, allocated in the
 * same `BEGIN IMMEDIATE` transaction as the insert, so concurrent processes never hand out the same id.
 * Fails with `TrackerError` (operation `init`) when the prefix is not a valid id prefix.
 */
export const make = (options?: { readonly prefix?: string | undefined }): Effect.Effect<
  TrackerShape,
  TrackerError,
  SqlClient.SqlClient
> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const prefix = yield* Schema.decodeUnknown(IssuePrefix)(options?.prefix ?? DEFAULT_PREFIX).pipe(
      Effect.mapError((error) => new TrackerError({ operation: "init", reason: formatParseError(error) }))
    )
    const issueRows = yield* makeIssueRows(prefix, {
      name: "SqliteTracker",
      transaction: immediateTransaction(sql),
      lockRows: false,
      insertionOrder: "rowid",
      // A join, not `id IN (?, ?, …)`: SQLite binds at most 32,766 parameters.
      statuses: (ids) =>
        sql<{ id: string; status: unknown }>`SELECT i.id, i.status FROM json_each(${ids}) k JOIN issues i ON i.id = k.value`
    })

    const sqlFailure = (operation: string) => (error: SqlError) =>
      new TrackerError({ operation, reason: describe(error), cause: error })
    const invalidInput = (operation: string) => (error: ParseResult.ParseError) =>
      new TrackerError({ operation, reason: `invalid issue: ${formatParseError(error)}`, cause: error })

    /**
     * Three reads in one read transaction (a consistent snapshot): the `todo` rows; the status of every id they
     * reference; and which `todo` issues have a child that is not done or cancelled.
     */
    const candidates: Effect.Effect<CandidateSnapshot, TrackerError> = sql.withTransaction(Effect.gen(function*() {
      const rows = yield* sql<Row>`SELECT * FROM issues WHERE status = 'todo' ORDER BY created_at, rowid`
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
        // A join, not `id IN (?, ?, …)`: SQLite allows at most 32,766 bound parameters.
        const statuses = yield* sql<{ id: string; status: unknown }>`
          SELECT r.id, r.status FROM issues t
            JOIN json_each(CASE WHEN json_valid(t.blocked_by) THEN t.blocked_by ELSE '[]' END) b
            JOIN issues r ON r.id = b.value
          WHERE t.status = 'todo'
          UNION
          SELECT r.id, r.status FROM issues t JOIN issues r ON r.id = t.parent WHERE t.status = 'todo'`
        for (const row of statuses) {
          const status = yield* Effect.either(decodeStatus(row.status))
          if (status._tag === "Right") statusOf.set(row.id, status.right)
          else invalid.push({ id: row.id, reason: `status: ${formatParseError(status.left)}` })
        }
      }

      const parents = yield* sql<{ parent: string }>`
        SELECT DISTINCT parent FROM issues
        WHERE parent IN (SELECT id FROM issues WHERE status = 'todo')
          AND status NOT IN ('done', 'cancelled')`
      const openChildren = new Set(parents.map((row) => row.parent))

      return { todo, statusOf, openChildren, invalid } satisfies CandidateSnapshot
    })).pipe(Effect.mapError(sqlFailure("candidates")), Effect.withSpan("SqliteTracker.candidates"))

    /**
     * The ready set, read from `dispatch_index` (migration 0002), which triggers on `issues` keep exact on every
     * write: the ready rows in dispatch order from one covering partial index (id, priority, labels), `issues`
     * untouched. Every row is decoded; a row that does not decode is reported as invalid instead of failing the
     * read (a poison row never stops the others).
     */

    /**
     * The `todo` rows the index marks unreadable (`valid = 0`: a JSON column does not parse, or the row would be
     * ready but its priority or labels do not decode), each with the reason its full decode gives.
     */
    const unreadable = Effect.gen(function*() {
      const rows = yield* sql<Row>`
        SELECT i.* FROM dispatch_index d CROSS JOIN issues i ON i.id = d.id WHERE d.valid = 0 ORDER BY d.id`
      const invalid: Array<{ id: string; reason: string }> = []
      for (const row of rows) {
        const decoded = yield* Effect.either(decodeRow(row))
        invalid.push({
          id: rawKey(row, "id"),
          reason: decoded._tag === "Left"
            ? formatParseError(decoded.left)
            : "a JSON column does not parse in SQLite, or the priority or labels do not decode"
        })
      }
      return invalid
    })

    const ready: Effect.Effect<ReadySet, TrackerError> = sql.withTransaction(Effect.gen(function*() {
      const rows = yield* sql<RawReadyRow>`
        SELECT id, priority, labels FROM dispatch_index
        WHERE ready = 1
        ORDER BY priority_rank, created_at, id_prefix, id_number`
      const invalid: Array<{ id: string; reason: string }> = []
      const refs = decodeReadyRefs(rows, invalid)
      invalid.push(...(yield* unreadable))
      return { refs, invalid } satisfies ReadySet
    })).pipe(Effect.mapError(sqlFailure("ready")), Effect.withSpan("SqliteTracker.ready"))

    const encodeIds = Schema.encode(Schema.parseJson(Schema.Array(Schema.String)))
    /**
     * Never reads the whole ready set: the total is the partial index's count minus the excluded ids that are
     * ready; the head walks the index in dispatch order, skipping the excluded ids, and stops after `limit` rows.
     * `exclude` is bound as one JSON array (`json_each`), however long: SQLite allows at most 32,766 parameters.
     * The one thing the index does not check is the id's shape (it only breaks by hand): a ready row whose id
     * does not decode is counted in `total`, and reported in `invalid` when it reaches the head.
     */
    const readySummary = (options: { readonly exclude: ReadonlyArray<string>; readonly limit: number }) =>
      Effect.gen(function*() {
        const exclude = yield* encodeIds(options.exclude).pipe(Effect.mapError(invalidInput("readySummary")))
        const limit = summaryLimit(options.limit)
        return yield* sql.withTransaction(Effect.gen(function*() {
          const counted = yield* sql<{ total: number; waiting: number }>`
            SELECT (SELECT COUNT(*) FROM dispatch_index WHERE ready = 1)
              - (SELECT COUNT(*) FROM dispatch_index
                 WHERE ready = 1 AND id IN (SELECT value FROM json_each(${exclude}))) AS total,
              (SELECT COUNT(*) FROM dispatch_index WHERE ready = 0 AND valid = 1) AS waiting`
          const rows = limit === 0 ? [] : yield* sql<RawReadyRow>`
            SELECT id, priority, labels FROM dispatch_index
            WHERE ready = 1 AND id NOT IN (SELECT value FROM json_each(${exclude}))
            ORDER BY priority_rank, created_at, id_prefix, id_number
            LIMIT ${limit}`
          const invalid: Array<{ id: string; reason: string }> = []
          const head = decodeReadyRefs(rows, invalid)
          invalid.push(...(yield* unreadable))
          return { total: counted[0]?.total ?? 0, head, invalid, waiting: counted[0]?.waiting ?? 0 } satisfies ReadySummary
        })).pipe(Effect.mapError(sqlFailure("readySummary")))
      }).pipe(Effect.withSpan("SqliteTracker.readySummary"))

    const dataVersion = sql<{ data_version: number }>`PRAGMA data_version`.pipe(
      Effect.map((rows) => rows[0]?.data_version ?? 0),
      Effect.orElseSucceed(() => -1)
    )
    const external = Stream.repeatEffectWithSchedule(dataVersion, Schedule.spaced(Duration.millis(DATA_VERSION_POLL_MS))).pipe(
      Stream.changes,
      Stream.drop(1),
      Stream.as(undefined)
    )
    // Other processes' commits show up as a new `PRAGMA data_version`.
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

/**
 * The `Tracker` service backed by SQLite; requires the `SqlClient` of `Sql.layer`.
 * `prefix` defaults to {@link DEFAULT_PREFIX}.
 */
export const layer = (options?: { readonly prefix?: string | undefined }): Layer.Layer<
  Tracker,
  TrackerError,
  SqlClient.SqlClient
> => Layer.effect(Tracker, make(options))
