/**
 * SqliteOrchestrator: leases, attempts, retries and the event log in the shared SQLite file, so every
 * `switchyard` process on the repo sees the same claims. Times are epoch milliseconds from `Clock`
 * (so tests drive them with `TestClock`).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import {
  type AttemptEnd,
  type AttemptStart,
  type LeasePatch,
  Orchestrator,
  OrchestratorError,
  type OrchestratorShape,
  type TerminalEvent
} from "@switchyard/core"
import { Attempt, FactoryEvent, type FactoryEventType, type IssueId, Lease, OrphanGroup, RetryEntry, RunnerId } from "@switchyard/domain"
import { Clock, Effect, Layer, Option, type ParseResult, Predicate, PubSub, Schema, type Scope, Stream } from "effect"
import * as os from "node:os"
import { formatParseError, JsonRecord, rawKey, SqliteBoolean } from "../internal/rows.js"
import { describe, immediateTransaction } from "../Sql.js"

/** How many recorded events a slow `changes` subscriber may lag behind before the oldest are dropped. */
export const CHANGES_BUFFER = 1_024

/** The `attempts` row: `counted` is `0`/`1`. */
export const AttemptFromRow = Schema.transform(
  Schema.Struct({ ...Attempt.fields, counted: SqliteBoolean }),
  Schema.typeSchema(Attempt),
  { strict: true, decode: (row) => new Attempt(row, { disableValidation: true }), encode: (attempt) => ({ ...attempt }) }
)

/** The `events` row: `data` is JSON text. */
export const FactoryEventFromRow = Schema.transform(
  Schema.Struct({ ...FactoryEvent.fields, data: JsonRecord }),
  Schema.typeSchema(FactoryEvent),
  { strict: true, decode: (row) => new FactoryEvent(row, { disableValidation: true }), encode: (event) => ({ ...event }) }
)

/** A database row, before decoding. */
export type Row = Record<string, unknown>

/** This process's runner id: `<host>:<pid>:<start-ms>`. */
export const makeRunnerId = (host: string, pid: number, startMs: number): RunnerId =>
  RunnerId.make(`${host}:${pid}:${startMs}`)

/** What a claim statement gets: the claim's arguments, this runner, and `nextEpoch` (call it inside a transaction). */
export interface ClaimContext {
  readonly issueId: IssueId
  readonly attempt: number
  /** Epoch ms. */
  readonly now: number
  readonly ttlMs: number
  readonly runnerId: RunnerId
  readonly host: string
  readonly pid: number
  readonly nextEpoch: (issueId: IssueId) => Effect.Effect<number, SqlError>
}

/**
 * What differs between the SQL databases the orchestrator runs on (SQLite here, PostgreSQL in @switchyard/pg);
 * everything else (leases, attempts, retries, events, orphans) is the same statements over the same tables.
 */
export interface OrchestratorDialect {
  /** The span prefix, e.g. `SqliteOrchestrator`. */
  readonly name: string
  /** This runner: `runnerId` is `<host>:<pid>:<start-ms>` ({@link makeRunnerId}). */
  readonly runnerId: RunnerId
  readonly host: string
  readonly pid: number
  /** A write transaction (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: `withTransaction`). */
  readonly transaction: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | SqlError, R>
  /** Whether the compare-and-set reads lock the lease row (`FOR UPDATE`; SQLite has one writer and no such clause). */
  readonly lockRows: boolean
  /** The column that orders attempts by insertion (`rowid` in SQLite, `seq` in PostgreSQL). */
  readonly insertionOrder: "rowid" | "seq"
  /** The `LIMIT` that means "no limit" (`-1` in SQLite, `ALL` in PostgreSQL). */
  readonly noLimit: "-1" | "ALL"
  /**
   * The claim: inserts the lease (next epoch, `claimed`) unless a lease exists, returning the inserted rows (none:
   * taken). `inTransaction`: the maker wraps it in {@link OrchestratorDialect.transaction}.
   */
  readonly claim: {
    readonly inTransaction: boolean
    readonly statement: (context: ClaimContext) => Effect.Effect<ReadonlyArray<Row>, SqlError>
  }
  /**
   * The terminal events of `keys` (JSON text of `[issueId, attempt]` pairs), as rows of issue_id, attempt, type,
   * cause (JSON value or null) and seq, in seq order.
   */
  readonly terminalEvents: (keys: string) => Effect.Effect<ReadonlyArray<Row>, SqlError>
  /** Runs on every heartbeat with its time (epoch ms), inside the heartbeat (PostgreSQL: the `runners` row). */
  readonly onHeartbeat?: ((now: number) => Effect.Effect<void, SqlError>) | undefined
  /** Fields the store adds to the shape (PostgreSQL: `runners`). */
  readonly extra?: Pick<OrchestratorShape, "runners"> | undefined
}

/**
 * Builds the orchestrator over the current `SqlClient` with a database's {@link OrchestratorDialect}; the
 * in-process `changes` hub lives as long as the scope.
 */
export const makeWith = (dialect: OrchestratorDialect): Effect.Effect<OrchestratorShape, never, SqlClient.SqlClient | Scope.Scope> => Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const immediate = dialect.transaction
  const { host, pid, runnerId } = dialect
  const lock = sql.literal(dialect.lockRows ? "FOR UPDATE" : "")
  const hub = yield* PubSub.sliding<FactoryEvent>(CHANGES_BUFFER)
  yield* Effect.addFinalizer(() => PubSub.shutdown(hub))

  const sqlFailure = (operation: string) => (error: SqlError) =>
    new OrchestratorError({ operation, reason: describe(error), cause: error })

  /** Decodes every row with `schema`; the first row that does not decode fails naming `what` and its key. */
  const decodeAll = <A, I>(operation: string, what: string, key: string, schema: Schema.Schema<A, I>) =>
  (rows: ReadonlyArray<Row>) =>
    Effect.forEach(rows, (row) =>
      Schema.decodeUnknown(schema)(row).pipe(
        Effect.mapError((error: ParseResult.ParseError) =>
          new OrchestratorError({
            operation,
            reason: `${what} row ${rawKey(row, key)} does not decode (${formatParseError(error)})`,
            cause: error
          })
        )
      ))

  /** The issue's next epoch (one more than any it had), recorded in `issue_epochs`. Call inside a transaction. */
  const nextEpoch = (issueId: IssueId) =>
    sql<{ epoch: number }>`
      INSERT INTO issue_epochs (issue_id, epoch) VALUES (${issueId}, 1)
      ON CONFLICT (issue_id) DO UPDATE SET epoch = issue_epochs.epoch + 1
      RETURNING epoch`.pipe(Effect.map((rows) => rows[0]?.epoch ?? 1))

  const claim = (issueId: IssueId, attempt: number, ttlMs: number) => {
    const statement = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const rows = yield* dialect.claim.statement({ issueId, attempt, now, ttlMs, runnerId, host, pid, nextEpoch })
      const leases = yield* decodeAll("claim", "lease", "issue_id", Lease)(rows)
      return Option.fromNullable(leases[0])
    })
    return (dialect.claim.inTransaction ? immediate(statement) : statement).pipe(
      Effect.catchTag("SqlError", (error) => Effect.fail(sqlFailure("claim")(error))),
      Effect.withSpan(`${dialect.name}.claim`, { attributes: { issueId, attempt } })
    )
  }

  const heartbeat = (ttlMs: number) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const renewed = yield* sql`
        UPDATE leases SET heartbeat_at = ${now}, expires_at = ${now + ttlMs}
        WHERE runner_id = ${runnerId}
        RETURNING issue_id`
      if (dialect.onHeartbeat !== undefined) yield* dialect.onHeartbeat(now)
      return renewed.length
    }).pipe(Effect.mapError(sqlFailure("heartbeat")))

  const updateLease = (issueId: IssueId, patch: LeasePatch) => {
    const set: Record<string, unknown> = {}
    if (patch.stage !== undefined) set.stage = patch.stage
    if (patch.agent_pid !== undefined) set.agent_pid = patch.agent_pid
    if (patch.agent_pgid !== undefined) set.agent_pgid = patch.agent_pgid
    if (patch.sandbox_path !== undefined) set.sandbox_path = patch.sandbox_path
    if (patch.last_output_at !== undefined) set.last_output_at = patch.last_output_at
    if (Object.keys(set).length === 0) return Effect.void
    return sql`UPDATE leases SET ${sql.update(set)} WHERE issue_id = ${issueId} AND runner_id = ${runnerId}`.pipe(
      Effect.asVoid,
      Effect.mapError(sqlFailure("updateLease"))
    )
  }

  const release = (issueId: IssueId, epoch?: number) =>
    (epoch === undefined
      ? sql`DELETE FROM leases WHERE issue_id = ${issueId} AND runner_id = ${runnerId}`
      : sql`DELETE FROM leases WHERE issue_id = ${issueId} AND runner_id = ${runnerId} AND epoch = ${epoch}`).pipe(
      Effect.asVoid,
      Effect.mapError(sqlFailure("release"))
    )

  const takeOver = (lease: Lease, ttlMs: number) =>
    immediate(Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const current = yield* sql<{ issue_id: string }>`
        SELECT issue_id FROM leases
        WHERE issue_id = ${lease.issue_id} AND runner_id = ${lease.runner_id} AND epoch = ${lease.epoch}
        ${lock}`
      if (current.length === 0) return Option.none<Lease>()
      const epoch = yield* nextEpoch(lease.issue_id)
      const rows = yield* sql<Row>`
        UPDATE leases SET runner_id = ${runnerId}, host = ${host}, pid = ${pid}, epoch = ${epoch},
          heartbeat_at = ${now}, expires_at = ${now + ttlMs}, agent_pid = NULL, agent_pgid = NULL
        WHERE issue_id = ${lease.issue_id} AND runner_id = ${lease.runner_id} AND epoch = ${lease.epoch}
        RETURNING *`
      const taken = yield* decodeAll("takeOver", "lease", "issue_id", Lease)(rows)
      if (taken.length > 0 && lease.host !== host && lease.agent_pgid !== null) {
        yield* sql`INSERT INTO orphans (host, pgid, issue_id, attempt, sandbox_path, recorded_by, recorded_at)
          VALUES (${lease.host}, ${lease.agent_pgid}, ${lease.issue_id}, ${lease.attempt}, ${lease.sandbox_path},
            ${runnerId}, ${now})`
      }
      return Option.fromNullable(taken[0])
    })).pipe(
      Effect.catchTag("SqlError", (error) => Effect.fail(sqlFailure("takeOver")(error))),
      Effect.withSpan(`${dialect.name}.takeOver`, { attributes: { issueId: lease.issue_id, epoch: lease.epoch } })
    )

  const orphans = sql<Row>`SELECT * FROM orphans WHERE host = ${host} ORDER BY id`.pipe(
    Effect.mapError(sqlFailure("orphans")),
    Effect.flatMap(decodeAll("orphans", "orphan", "id", OrphanGroup))
  )

  const forgetOrphan = (id: number) =>
    sql`DELETE FROM orphans WHERE id = ${id}`.pipe(Effect.asVoid, Effect.mapError(sqlFailure("forgetOrphan")))

  const holds = (issueId: IssueId, epoch: number) =>
    sql<{ issue_id: string }>`
      SELECT issue_id FROM leases WHERE issue_id = ${issueId} AND runner_id = ${runnerId} AND epoch = ${epoch}
      ${lock}`.pipe(
      Effect.map((rows) => rows.length > 0),
      Effect.mapError(sqlFailure("holds"))
    )

  const atomically = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | OrchestratorError, R> =>
    immediate(effect).pipe(
      Effect.mapError((error) => Predicate.isTagged(error, "SqlError") ? sqlFailure("transaction")(error) : error as E)
    )

  const addRunnerDeath = (issueId: IssueId, attempt: number) =>
    Effect.gen(function*() {
      yield* sql`UPDATE attempts SET runner_deaths = runner_deaths + 1 WHERE issue_id = ${issueId} AND attempt = ${attempt}`
      const rows = yield* sql<{ n: number | null }>`SELECT SUM(runner_deaths) AS n FROM attempts WHERE issue_id = ${issueId}`
      return rows[0]?.n ?? 0
    }).pipe(Effect.mapError(sqlFailure("addRunnerDeath")))

  const resumeAttempt = (issueId: IssueId, attempt: number) =>
    sql`UPDATE attempts SET runner_id = ${runnerId} WHERE issue_id = ${issueId} AND attempt = ${attempt}`.pipe(
      Effect.asVoid,
      Effect.mapError(sqlFailure("resumeAttempt"))
    )

  const breakLease = (issueId: IssueId, owner: RunnerId) =>
    sql`DELETE FROM leases WHERE issue_id = ${issueId} AND runner_id = ${owner} RETURNING issue_id`.pipe(
      Effect.map((rows) => rows.length > 0),
      Effect.mapError(sqlFailure("breakLease"))
    )

  const leases = sql<Row>`SELECT * FROM leases ORDER BY acquired_at, issue_id`.pipe(
    Effect.mapError(sqlFailure("leases")),
    Effect.flatMap(decodeAll("leases", "lease", "issue_id", Lease))
  )

  const startAttempt = (start: AttemptStart) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      // A fresh start of the attempt: stage artifacts of an earlier run of the same number do not carry over.
      yield* sql`DELETE FROM stage_artifacts WHERE issue_id = ${start.issue_id} AND attempt = ${start.attempt}`
      yield* sql`
        INSERT INTO attempts ${
        sql.insert({
          issue_id: start.issue_id,
          attempt: start.attempt,
          runner_id: runnerId,
          started_at: now,
          ended_at: null,
          branch: start.branch,
          sandbox_path: start.sandbox_path,
          base_commit: start.base_commit,
          commit: null,
          terminal_state: null,
          cause: null,
          counted: 1
        })
      }
        ON CONFLICT (issue_id, attempt) DO UPDATE SET
          runner_id = excluded.runner_id, started_at = excluded.started_at, ended_at = NULL,
          branch = excluded.branch, sandbox_path = excluded.sandbox_path, base_commit = excluded.base_commit,
          "commit" = NULL, terminal_state = NULL, cause = NULL, counted = 1`
    }).pipe(Effect.mapError(sqlFailure("startAttempt")))

  const finishAttempt = (issueId: IssueId, attempt: number, end: AttemptEnd) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const updated = yield* sql`
        UPDATE attempts SET
          ended_at = ${now}, terminal_state = ${end.terminal_state}, cause = ${end.cause},
          "commit" = ${end.commit}, counted = ${end.counted ? 1 : 0}
        WHERE issue_id = ${issueId} AND attempt = ${attempt}
        RETURNING issue_id`.pipe(Effect.mapError(sqlFailure("finishAttempt")))
      if (updated.length === 0) {
        return yield* new OrchestratorError({
          operation: "finishAttempt",
          reason: `attempt ${attempt} of ${issueId} was never started`
        })
      }
    })

  const attempts = (issueId: IssueId) =>
    sql<Row>`SELECT * FROM attempts WHERE issue_id = ${issueId} ORDER BY attempt`.pipe(
      Effect.mapError(sqlFailure("attempts")),
      Effect.flatMap(decodeAll("attempts", "attempt", "issue_id", AttemptFromRow))
    )

  const recentOutcomes = (limit: number) =>
    sql<Row>`
      SELECT * FROM attempts WHERE ended_at IS NOT NULL
      ORDER BY ended_at DESC, ${sql.literal(dialect.insertionOrder)} DESC LIMIT ${Math.max(0, Math.floor(limit))}`.pipe(
      Effect.mapError(sqlFailure("recentOutcomes")),
      Effect.flatMap(decodeAll("recentOutcomes", "attempt", "issue_id", AttemptFromRow))
    )

  const countedAttempts = (issueId: IssueId) =>
    sql<{ n: number }>`
      SELECT COUNT(*) AS n FROM attempts
      WHERE issue_id = ${issueId} AND counted = 1 AND ended_at IS NOT NULL`.pipe(
      Effect.map((rows) => rows[0]?.n ?? 0),
      Effect.mapError(sqlFailure("countedAttempts"))
    )

  const scheduleRetry = (entry: RetryEntry) =>
    sql`
      INSERT INTO retries ${
      sql.insert({ issue_id: entry.issue_id, attempt: entry.attempt, due_at: entry.due_at, error: entry.error })
    }
      ON CONFLICT (issue_id) DO UPDATE SET
        attempt = excluded.attempt, due_at = excluded.due_at, error = excluded.error`.pipe(
      Effect.asVoid,
      Effect.mapError(sqlFailure("scheduleRetry"))
    )

  const clearRetry = (issueId: IssueId) =>
    sql`DELETE FROM retries WHERE issue_id = ${issueId}`.pipe(
      Effect.asVoid,
      Effect.mapError(sqlFailure("clearRetry"))
    )

  const retries = sql<Row>`SELECT * FROM retries ORDER BY due_at, issue_id`.pipe(
    Effect.mapError(sqlFailure("retries")),
    Effect.flatMap(decodeAll("retries", "retry", "issue_id", RetryEntry))
  )

  const encodeData = Schema.encode(JsonRecord)
  const decodeData = Schema.decode(JsonRecord)

  const record = (type: FactoryEventType, issueId: IssueId | null, message: string, data: Record<string, unknown> = {}) =>
    Effect.gen(function*() {
      const at = yield* Clock.currentTimeMillis
      const json = yield* encodeData(data).pipe(
        Effect.tapError((error) =>
          Effect.logWarning("event data is not JSON; recording the event without it").pipe(
            Effect.annotateLogs({ type, reason: formatParseError(error) })
          )
        ),
        Effect.orElseSucceed(() => "{}")
      )
      const stored = yield* decodeData(json)
      const rows = yield* sql<{ seq: number }>`
        INSERT INTO events ${
        sql.insert({ at, runner_id: runnerId, issue_id: issueId, type, message, data: json })
      } RETURNING seq`
      const seq = rows[0]?.seq ?? 0
      const event = new FactoryEvent({ seq, at, runner_id: runnerId, issue_id: issueId, type, message, data: stored })
      yield* PubSub.publish(hub, event)
    }).pipe(
      Effect.catchAll((error) =>
        Effect.logWarning("could not record an event").pipe(
          Effect.annotateLogs({ type, issueId, message, reason: describe(error) })
        )
      ),
      Effect.catchAllDefect((defect) =>
        Effect.logWarning("could not record an event").pipe(
          Effect.annotateLogs({ type, issueId, message, reason: describe(defect) })
        )
      )
    )

  const events = (filter: {
    readonly issueId?: IssueId | undefined
    readonly afterSeq?: number | undefined
    readonly limit?: number | undefined
  }) => {
    const where = [
      ...(filter.issueId === undefined ? [] : [sql`issue_id = ${filter.issueId}`]),
      ...(filter.afterSeq === undefined ? [] : [sql`seq > ${filter.afterSeq}`])
    ]
    const limit = filter.limit === undefined ? sql.literal(dialect.noLimit) : sql`${Math.max(0, Math.floor(filter.limit))}`
    return sql<Row>`SELECT * FROM events WHERE ${sql.and(where)} ORDER BY seq LIMIT ${limit}`.pipe(
      Effect.mapError(sqlFailure("events")),
      Effect.flatMap(decodeAll("events", "event", "seq", FactoryEventFromRow))
    )
  }

  const TerminalRow = Schema.Struct({ issue_id: Schema.String, attempt: Schema.Number, type: Schema.String, cause: Schema.Unknown, seq: Schema.Int })
  const decodeTerminalRows = Schema.decodeUnknown(Schema.Array(TerminalRow))

  const terminalEvents = (attempts: ReadonlyArray<{ readonly issueId: IssueId; readonly attempt: number }>) =>
    Effect.gen(function*() {
      const result = new Map<string, TerminalEvent>()
      if (attempts.length === 0) return result
      const keys = [...new Map(attempts.map((a) => [`${a.issueId}#${a.attempt}`, [a.issueId, a.attempt]])).values()]
      const raw = yield* dialect.terminalEvents(JSON.stringify(keys)).pipe(Effect.mapError(sqlFailure("terminalEvents")))
      const rows = yield* decodeTerminalRows(raw).pipe(
        Effect.mapError((error) => new OrchestratorError({ operation: "terminalEvents", reason: formatParseError(error), cause: error }))
      )
      for (const row of rows) {
        result.set(`${row.issue_id}#${row.attempt}`, {
          state: row.type.slice("terminal.".length),
          cause: row.cause === null || row.cause === undefined ? null : typeof row.cause === "string" ? row.cause : JSON.stringify(row.cause),
          seq: row.seq
        })
      }
      return result
    })

  return {
    runnerId,
    claim,
    heartbeat,
    updateLease,
    release,
    breakLease,
    takeOver,
    orphans,
    forgetOrphan,
    holds,
    atomically,
    leases,
    startAttempt,
    finishAttempt,
    attempts,
    recentOutcomes,
    countedAttempts,
    addRunnerDeath,
    resumeAttempt,
    scheduleRetry,
    clearRetry,
    retries,
    record,
    terminalEvents,
    events,
    changes: Stream.fromPubSub(hub),
    ...dialect.extra
  } satisfies OrchestratorShape
})

/**
 * Builds the SQLite orchestrator over the current `SqlClient`. The runner id is taken from the host name, the pid
 * and the current time; the in-process `changes` hub lives as long as the scope.
 */
export const make: Effect.Effect<OrchestratorShape, never, SqlClient.SqlClient | Scope.Scope> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const host = os.hostname()
  const pid = process.pid
  return yield* makeWith({
    name: "SqliteOrchestrator",
    runnerId: makeRunnerId(host, pid, yield* Clock.currentTimeMillis),
    host,
    pid,
    transaction: immediateTransaction(sql),
    lockRows: false,
    insertionOrder: "rowid",
    noLimit: "-1",
    claim: {
      inTransaction: true,
      statement: ({ attempt, host, issueId, nextEpoch, now, pid, runnerId, ttlMs }) =>
        Effect.gen(function*() {
          const taken = yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM leases WHERE issue_id = ${issueId}`
          if ((taken[0]?.n ?? 0) > 0) return []
          const epoch = yield* nextEpoch(issueId)
          return yield* sql<Row>`
            INSERT INTO leases ${
            sql.insert({
              issue_id: issueId,
              runner_id: runnerId,
              host,
              pid,
              attempt,
              stage: "claimed",
              acquired_at: now,
              heartbeat_at: now,
              expires_at: now + ttlMs,
              agent_pid: null,
              agent_pgid: null,
              sandbox_path: null,
              last_output_at: null,
              epoch
            })
          }
            ON CONFLICT (issue_id) DO NOTHING
            RETURNING *`
        })
    },
    // One query for any number of attempts: the keys travel as one JSON array of [issueId, attempt] pairs; the
    // events of each issue are found through events_issue, then filtered on type and the data's attempt.
    terminalEvents: (keys) =>
      sql<Row>`
        SELECT e.issue_id AS issue_id, json_extract(e.data, '$.attempt') AS attempt, e.type AS type,
               json_extract(e.data, '$.cause') AS cause, e.seq AS seq
        FROM json_each(${keys}) k
        JOIN events e ON e.issue_id = json_extract(k.value, '$[0]')
        WHERE e.type GLOB 'terminal.*' AND json_extract(e.data, '$.attempt') = json_extract(k.value, '$[1]')
        ORDER BY e.seq`
  })
})

/** The `Orchestrator` service backed by SQLite; requires the `SqlClient` of `Sql.layer`. */
export const layer: Layer.Layer<Orchestrator, never, SqlClient.SqlClient> = Layer.scoped(Orchestrator, make)
