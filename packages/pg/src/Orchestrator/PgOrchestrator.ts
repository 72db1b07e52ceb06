/**
 * PgOrchestrator: leases, attempts, retries and the event log in a PostgreSQL database shared by runners on several
 * hosts. The same contract, rows and statements as `SqliteOrchestrator` (its `makeWith`, docs/reliability.md,
 * docs/scale.md), with the transactions PostgreSQL needs where SQLite had one writer at a time:
 *
 * - a claim locks the issue's epoch row `FOR UPDATE SKIP LOCKED` (a runner never waits for another's claim of the
 *   same issue: it moves on) and inserts the lease in the same statement, fenced by the next epoch;
 * - `holds` and `takeOver` lock the lease row they check (`FOR UPDATE`), so inside `atomically` a take-over cannot
 *   commit between the fence and the writes it guards;
 * - a runner (a process that heartbeats: `switchyard run`, not `status` or `issue`) upserts its row in `runners`
 *   (host, pid, heartbeat) on every heartbeat, so `status` on any host can show every runner.
 *
 * Times are epoch milliseconds from `Clock` (so tests drive them with `TestClock`).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Orchestrator, OrchestratorError, type OrchestratorShape } from "@switchyard/core"
import { type IssueId, RunnerId } from "@switchyard/domain"
import { SqliteOrchestrator } from "@switchyard/sqlite"
import { Clock, Context, Effect, Layer, type ParseResult, Schema, type Scope } from "effect"
import * as os from "node:os"
import { resilient } from "../internal/resilient.js"
import { describe, formatParseError, rawKey } from "../internal/rows.js"

/** A runner whose heartbeat is older than this (ms) is removed from `runners` when another one starts. */
export const RUNNER_FORGOTTEN_AFTER_MS = 24 * 60 * 60 * 1_000

/** This process's runner id: `<host>:<pid>:<start-ms>`. */
export const makeRunnerId = SqliteOrchestrator.makeRunnerId

const RunnerRow = Schema.Struct({
  runner_id: RunnerId,
  host: Schema.String,
  pid: Schema.Int,
  started_at: Schema.Number,
  heartbeat_at: Schema.Number
})
const decodeRunner = Schema.decodeUnknown(RunnerRow)

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
  const host = options.hostId ?? os.hostname()
  const startedAt = yield* Clock.currentTimeMillis
  const pid = process.pid
  const runnerId = makeRunnerId(host, pid, startedAt)

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

  const runners = sql`SELECT runner_id, host, pid, started_at, heartbeat_at FROM runners ORDER BY host, runner_id`.pipe(
    Effect.mapError((error) => new OrchestratorError({ operation: "runners", reason: describe(error), cause: error })),
    Effect.flatMap((rows) =>
      Effect.forEach(rows, (row) =>
        decodeRunner(row).pipe(
          Effect.mapError((error: ParseResult.ParseError) =>
            new OrchestratorError({
              operation: "runners",
              reason: `runner row ${rawKey(row, "runner_id")} does not decode (${formatParseError(error)})`,
              cause: error
            })
          )
        ))
    )
  )

  return yield* SqliteOrchestrator.makeWith({
    name: "PgOrchestrator",
    runnerId,
    host,
    pid,
    transaction: (effect) => sql.withTransaction(effect),
    lockRows: true,
    insertionOrder: "seq",
    noLimit: "ALL",
    claim: {
      // One statement after the epoch row exists, so a claim is two round trips and needs no transaction of its
      // own (inside a caller's `atomically` it joins that one): lock the issue's epoch row unless another runner's
      // claim holds it (`FOR UPDATE SKIP LOCKED`) or a lease exists, give it the next epoch, insert the lease.
      // The ON CONFLICT: a claim whose statement began before another's commit, but reached the epoch row after
      // it, still sees no lease in its snapshot (READ COMMITTED re-checks only the locked row); the key decides.
      inTransaction: false,
      statement: ({ attempt, issueId, now, ttlMs }) =>
        ensureEpochRow(issueId).pipe(Effect.zipRight(sql<Record<string, unknown>>`
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
          RETURNING *`))
    },
    terminalEvents: (keys) =>
      sql`
        SELECT e.issue_id AS issue_id, (e.data::jsonb -> 'attempt')::text::numeric AS attempt, e.type AS type,
               e.data::jsonb -> 'cause' AS cause, e.seq AS seq
        FROM jsonb_array_elements(${keys}::jsonb) k
        JOIN events e ON e.issue_id = k ->> 0
        WHERE e.type LIKE 'terminal.%' AND jsonb_typeof(e.data::jsonb -> 'attempt') = 'number'
          AND (e.data::jsonb -> 'attempt') = (k -> 1)
        ORDER BY e.seq`,
    onHeartbeat: register,
    extra: { runners }
  })
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
