/**
 * PgOrchestrator: leases, attempts, retries and the event log in a PostgreSQL database shared by runners on several
 * hosts. The same contract and rows as `SqliteOrchestrator` (docs/reliability.md, docs/scale.md), with the
 * transactions PostgreSQL needs where SQLite had one writer at a time:
 *
 * - a claim locks the issue's epoch row `FOR UPDATE SKIP LOCKED` (a runner never waits for another's claim of the
 *   same issue: it moves on) and inserts the lease in the same transaction, fenced by the next epoch;
 * - `holds` locks the lease row it checks (`FOR UPDATE`), so inside `atomically` a take-over cannot commit between
 *   the fence and the writes it guards;
 * - a runner (a process that heartbeats: `switchyard run`, not `status` or `issue`) upserts its row in `runners`
 *   (host, pid, heartbeat) on every heartbeat, so `status` on any host can show every runner.
 *
 * Times are epoch milliseconds from `Clock` (so tests drive them with `TestClock`).
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
import { FactoryEvent, type FactoryEventType, type IssueId, Lease, OrphanGroup, RetryEntry, RunnerId } from "@switchyard/domain"
import { Clock, Context, Effect, Layer, Option, type ParseResult, Predicate, PubSub, Schema, type Scope, Stream } from "effect"
import * as os from "node:os"
import { SqliteOrchestrator } from "@switchyard/sqlite"
import { resilient } from "../internal/resilient.js"
import { describe, formatParseError, JsonRecord, rawKey } from "../internal/rows.js"

/** A runner whose heartbeat is older than this (ms) is removed from `runners` when another one starts. */
export const RUNNER_FORGOTTEN_AFTER_MS = 24 * 60 * 60 * 1_000

/** How many recorded events a slow `changes` subscriber may lag behind before the oldest are dropped. */
export const CHANGES_BUFFER = 1_024

const { AttemptFromRow, FactoryEventFromRow } = SqliteOrchestrator

type Row = Record<string, unknown>

/** This process's runner id: `<host>:<pid>:<start-ms>`. */
export const makeRunnerId = SqliteOrchestrator.makeRunnerId

/**
 * Builds the orchestrator over the current `SqlClient` (migrated by `PgSql.layer`). The runner id is
 * `<hostId>:<pid>:<start-ms>`; `hostId` defaults to `os.hostname()` and must be what `ProcessControl.hostname`
 * says on the same machine (a lease of another host is only ever broken by expiry). The in-process `changes` hub
 * lives as long as the scope.
 */
export const make = (options: { readonly hostId?: string | undefined } = {}): Effect.Effect<
  OrchestratorShape,
  never,
  SqlClient.SqlClient | Scope.Scope
> => Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const immediate = <A, E, R>(effect: Effect.Effect<A, E, R>) => sql.withTransaction(effect)
  const host = options.hostId ?? os.hostname()
  const startedAt = yield* Clock.currentTimeMillis
  const pid = process.pid
  const runnerId = makeRunnerId(host, pid, startedAt)
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

  /**
   * The epoch row is what a claim locks, so it must exist before the claim's transaction: made here the first time,
   * committed at once on a connection of its own (outside any transaction the caller is in). Inside the claim's
   * transaction, a second runner inserting the same new key would wait for the first one's commit instead of
   * skipping it.
   */
  const ensureEpochRow = (issueId: IssueId) =>
    // The NOT EXISTS reads the committed row without touching it: a bare ON CONFLICT would wait for the runner
    // whose claim holds that row locked.
    sql`INSERT INTO issue_epochs (issue_id, epoch)
      SELECT ${issueId}, 0 WHERE NOT EXISTS (SELECT 1 FROM issue_epochs WHERE issue_id = ${issueId})
      ON CONFLICT (issue_id) DO NOTHING`.pipe(
      Effect.mapInputContext((context: Context.Context<never>) => Context.omit(SqlClient.TransactionConnection)(context))
    )

  /**
   * One statement after the epoch row exists, so a claim is two round trips and needs no transaction of its own
   * (inside a caller's `atomically` it joins that one): lock the issue's epoch row unless another runner's claim
   * holds it (`FOR UPDATE SKIP LOCKED`) or a lease exists, give it the next epoch, insert the lease with that epoch.
   */
  const claim = (issueId: IssueId, attempt: number, ttlMs: number) =>
    Effect.gen(function*() {
      yield* ensureEpochRow(issueId)
      const now = yield* Clock.currentTimeMillis
      const rows = yield* sql<Row>`
        WITH free AS (
          SELECT e.issue_id FROM issue_epochs e
          WHERE e.issue_id = ${issueId} AND NOT EXISTS (SELECT 1 FROM leases l WHERE l.issue_id = e.issue_id)
          FOR UPDATE OF e SKIP LOCKED),
        bumped AS (
          UPDATE issue_epochs SET epoch = issue_epochs.epoch + 1 FROM free
          WHERE issue_epochs.issue_id = free.issue_id
          RETURNING issue_epochs.epoch)
        INSERT INTO leases (issue_id, runner_id, host, pid, attempt, stage, acquired_at, heartbeat_at, expires_at,
          agent_pid, agent_pgid, sandbox_path, last_output_at, epoch)
        SELECT ${issueId}, ${runnerId}, ${host}, ${pid}, ${attempt}, 'claimed', ${now}, ${now}, ${now + ttlMs},
          NULL, NULL, NULL, NULL, bumped.epoch
        FROM bumped
        ON CONFLICT (issue_id) DO NOTHING
        RETURNING *`
      const leases = yield* decodeAll("claim", "lease", "issue_id", Lease)(rows)
      return Option.fromNullable(leases[0])
    }).pipe(
      Effect.catchTag("SqlError", (error) => Effect.fail(sqlFailure("claim")(error))),
      Effect.withSpan("PgOrchestrator.claim", { attributes: { issueId, attempt } })
    )

  /**
   * Upserts this runner's row in `runners` with `now` as its heartbeat (epoch ms), and forgets runners silent for a
   * day (killed ones: a runner that stops cleanly removes its own row).
   */
  const register = (now: number) =>
    Effect.gen(function*() {
      yield* sql`
        INSERT INTO runners (runner_id, host, pid, started_at, heartbeat_at)
        VALUES (${runnerId}, ${host}, ${pid}, ${startedAt}, ${now})
        ON CONFLICT (runner_id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at`
      if (!registered) {
        registered = true
        yield* sql`DELETE FROM runners WHERE heartbeat_at < ${now - RUNNER_FORGOTTEN_AFTER_MS}`
      }
    })
  let registered = false
  yield* Effect.addFinalizer(() =>
    registered ? sql`DELETE FROM runners WHERE runner_id = ${runnerId}`.pipe(Effect.ignore) : Effect.void
  )

  const RunnerRow = Schema.Struct({
    runner_id: RunnerId,
    host: Schema.String,
    pid: Schema.Int,
    started_at: Schema.Number,
    heartbeat_at: Schema.Number
  })
  const runners = sql<Row>`SELECT runner_id, host, pid, started_at, heartbeat_at FROM runners ORDER BY host, runner_id`.pipe(
    Effect.mapError(sqlFailure("runners")),
    Effect.flatMap(decodeAll("runners", "runner", "runner_id", RunnerRow))
  )

  const heartbeat = (ttlMs: number) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const renewed = yield* sql`
        UPDATE leases SET heartbeat_at = ${now}, expires_at = ${now + ttlMs}
        WHERE runner_id = ${runnerId}
        RETURNING issue_id`
      yield* register(now)
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
        FOR UPDATE`
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
      Effect.withSpan("PgOrchestrator.takeOver", { attributes: { issueId: lease.issue_id, epoch: lease.epoch } })
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
      FOR UPDATE`.pipe(
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
      ORDER BY ended_at DESC, seq DESC LIMIT ${Math.max(0, Math.floor(limit))}`.pipe(
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
    const limit = filter.limit === undefined ? sql.literal("ALL") : sql`${Math.max(0, Math.floor(filter.limit))}`
    return sql<Row>`SELECT * FROM events WHERE ${sql.and(where)} ORDER BY seq LIMIT ${limit}`.pipe(
      Effect.mapError(sqlFailure("events")),
      Effect.flatMap(decodeAll("events", "event", "seq", FactoryEventFromRow))
    )
  }

  const TerminalRow = Schema.Struct({ issue_id: Schema.String, attempt: Schema.Number, type: Schema.String, cause: Schema.Unknown, seq: Schema.Int })
  const decodeTerminalRows = Schema.decodeUnknown(Schema.Array(TerminalRow))

  // One query for any number of attempts: the keys travel as one JSON array of [issueId, attempt] pairs; the
  // events of each issue are found through events_issue, then filtered on type and the data's attempt.
  const terminalEvents = (attempts: ReadonlyArray<{ readonly issueId: IssueId; readonly attempt: number }>) =>
    Effect.gen(function*() {
      const result = new Map<string, TerminalEvent>()
      if (attempts.length === 0) return result
      const keys = [...new Map(attempts.map((a) => [`${a.issueId}#${a.attempt}`, [a.issueId, a.attempt]])).values()]
      const raw = yield* sql`
        SELECT e.issue_id AS issue_id, (e.data::jsonb -> 'attempt')::text::numeric AS attempt, e.type AS type,
               e.data::jsonb -> 'cause' AS cause, e.seq AS seq
        FROM jsonb_array_elements(${JSON.stringify(keys)}::jsonb) k
        JOIN events e ON e.issue_id = k ->> 0
        WHERE e.type LIKE 'terminal.%' AND jsonb_typeof(e.data::jsonb -> 'attempt') = 'number'
          AND (e.data::jsonb -> 'attempt') = (k -> 1)
        ORDER BY e.seq`.pipe(Effect.mapError(sqlFailure("terminalEvents")))
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
    runners
  } satisfies OrchestratorShape
})

/**
 * The `Orchestrator` service backed by PostgreSQL; requires the `SqlClient` of `PgSql.layer`. `hostId` as in
 * {@link make}.
 */
export const layer = (options: { readonly hostId?: string | undefined } = {}): Layer.Layer<
  Orchestrator,
  never,
  SqlClient.SqlClient
> => Layer.scoped(Orchestrator, Effect.map(make(options), resilient))
