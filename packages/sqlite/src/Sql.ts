/**
 * The SQLite client every switchyard store shares: one better-sqlite3 connection per process (WAL mode),
 * `busy_timeout` set so several `switchyard` processes can share the file, and the schema migrated through
 * the @effect/sql Migrator before any store uses it.
 */
import { FileSystem, Path } from "@effect/platform"
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { Cause, Effect, Exit, FiberId, Layer, Option, Schedule, Schema } from "effect"
import Migration0001 from "./migrations/0001_init.js"
import Migration0002 from "./migrations/0002_ready_index.js"
import Migration0003 from "./migrations/0003_evidence_usage.js"
import Migration0004 from "./migrations/0004_evidence_usage_index.js"
import Migration0005 from "./migrations/0005_fencing_stages.js"
import Migration0006 from "./migrations/0006_base_results.js"
import Migration0007 from "./migrations/0007_tracker_outbox.js"
import Migration0008 from "./migrations/0008_orphans.js"

/**
 * Milliseconds a statement waits for another process's lock before failing with `SQLITE_BUSY`
 * (`PRAGMA busy_timeout`). Also the longest a `BEGIN IMMEDIATE` retries before it gives up.
 */
export const BUSY_TIMEOUT_MS = 5_000

/** Migrations by `<id>_<name>`, applied in id order by the @effect/sql Migrator (table `effect_sql_migrations`). */
export const migrations: Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>> = {
  "0001_init": Migration0001,
  "0002_ready_index": Migration0002,
  "0003_evidence_usage": Migration0003,
  "0004_evidence_usage_index": Migration0004,
  "0005_fencing_stages": Migration0005,
  "0006_base_results": Migration0006,
  "0007_tracker_outbox": Migration0007,
  "0008_orphans": Migration0008
}

/** The newest migration id in {@link migrations}. */
export const LATEST_MIGRATION = Math.max(...Object.keys(migrations).map((key) => Number.parseInt(key, 10)))

/**
 * True when the file already records every migration in {@link migrations} (one read of the Migrator's own
 * table; false when the table does not exist yet). Then opening the store skips the Migrator and its write
 * transaction: most opens are of a current file, and `switchyard status` is one of them.
 */
export const isCurrent: Effect.Effect<boolean, never, SqlClient.SqlClient> = Effect.flatMap(
  SqlClient.SqlClient,
  (sql) =>
    // Existence first: a statement that fails to prepare (no such table) would stay in the client's statement
    // cache as a failure, and the same query would keep failing after the Migrator created the table.
    sql<{ n: number }>`SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'effect_sql_migrations'`.pipe(
      Effect.flatMap((rows) =>
        rows[0]?.n === 1
          ? Effect.map(
            sql<{ id: number | null }>`SELECT MAX(migration_id) AS id FROM effect_sql_migrations`,
            (max) => (max[0]?.id ?? 0) >= LATEST_MIGRATION
          )
          : Effect.succeed(false)
      ),
      Effect.orElseSucceed(() => false)
    )
)

/** The database file could not be opened, configured or migrated. */
export class SqliteOpenError extends Schema.TaggedError<SqliteOpenError>()("SqliteOpenError", {
  filename: Schema.String,
  reason: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {
  override get message() {
    return `cannot open the switchyard database ${this.filename}: ${this.reason}`
  }
}

/** True for better-sqlite3's `SQLITE_BUSY*` codes: another connection holds the lock we need. */
export const isBusy = (error: SqlError): boolean => {
  const cause: unknown = error.cause
  return typeof cause === "object" && cause !== null && "code" in cause &&
    typeof cause.code === "string" && cause.code.startsWith("SQLITE_BUSY")
}

/**
 * How `BEGIN IMMEDIATE` waits for another connection's write lock: short jittered sleeps (2 ms doubling,
 * capped at 50 ms) for at most {@link BUSY_TIMEOUT_MS}. The wait is an Effect sleep, not SQLite's busy
 * handler, so the event loop keeps running (and another connection in this process can commit).
 */
const beginRetry = Schedule.exponential("2 millis").pipe(
  Schedule.union(Schedule.spaced("50 millis")),
  Schedule.jittered,
  Schedule.upTo(`${BUSY_TIMEOUT_MS} millis`)
)

/**
 * Runs `effect` in one `BEGIN IMMEDIATE` transaction: the write lock is taken up front, so a read followed by a
 * write inside cannot lose a race with another process (a plain deferred `BEGIN`, which @effect/sql's
 * `withTransaction` issues, can fail with `SQLITE_BUSY_SNAPSHOT` on its first write instead).
 *
 * The client's single connection is reserved for the whole transaction (the client's own semaphore, so other
 * fibers of this process wait), statements inside run on it, a success commits and any failure, defect or
 * interruption rolls back. Nested calls become savepoints of the outer transaction.
 * Fails with `SqlError` when the lock cannot be had within {@link BUSY_TIMEOUT_MS} or a statement fails.
 */
export const immediateTransaction = (sql: SqlClient.SqlClient) =>
<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | SqlError, R> =>
  Effect.flatMap(Effect.serviceOption(SqlClient.TransactionConnection), (outer) =>
    Option.isSome(outer)
      ? sql.withTransaction(effect)
      : Effect.uninterruptibleMask((restore) =>
        Effect.scoped(Effect.gen(function*() {
          const conn = yield* restore(sql.reserve)
          // Lazily, and never through the statement cache: SQLite applies `PRAGMA busy_timeout = N` when the
          // statement is *prepared*, and `executeUnprepared` prepares as soon as it is called.
          const exec = (statement: string) => Effect.suspend(() => conn.executeUnprepared(statement, [], undefined))
          yield* exec("PRAGMA busy_timeout = 0").pipe(
            Effect.zipRight(restore(exec("BEGIN IMMEDIATE").pipe(Effect.retry({ schedule: beginRetry, while: isBusy })))),
            Effect.ensuring(exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`).pipe(Effect.ignore))
          )
          const exit = yield* Effect.exit(
            restore(Effect.provideService(effect, SqlClient.TransactionConnection, [conn, 0]))
          )
          if (Exit.isFailure(exit)) {
            yield* rollback(exec)
            return yield* Effect.failCause(exit.cause)
          }
          const committed = yield* Effect.exit(exec("COMMIT"))
          if (Exit.isFailure(committed)) {
            yield* rollback(exec)
            return yield* Effect.failCause(committed.cause)
          }
          return exit.value
        }))
      ))

/** {@link immediateTransaction} with the `SqlClient` taken from the context. */
export const withImmediateTransaction = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E | SqlError, R | SqlClient.SqlClient> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => immediateTransaction(sql)(effect))

/**
 * A one-line reason for a foreign error: its message, plus its cause's message when it wraps one
 * (`SqlError("Failed to execute statement")` wraps better-sqlite3's `SqliteError("file is not a database")`).
 */
export const describe = (error: unknown): string => {
  const message = (u: unknown): string | undefined =>
    typeof u === "object" && u !== null && "message" in u && typeof u.message === "string" && u.message !== ""
      ? u.message
      : undefined
  const own = message(error) ?? String(error)
  const inner = typeof error === "object" && error !== null && "cause" in error ? message(error.cause) : undefined
  return inner !== undefined && inner !== own ? `${own}: ${inner}` : own
}

const rollback = (exec: (statement: string) => Effect.Effect<unknown, SqlError>) =>
  exec("ROLLBACK").pipe(
    Effect.catchAll((error) => Effect.logWarning("ROLLBACK failed; the connection may still be in a transaction", error)),
    Effect.asVoid
  )

/**
 * Runs the migrations in {@link migrations} inside one immediate transaction, so two processes opening a new
 * file at once do not both try to create the tables (the second waits, then finds them done).
 */
export const migrate: Effect.Effect<
  ReadonlyArray<readonly [id: number, name: string]>,
  Migrator.MigrationError | SqlError,
  SqlClient.SqlClient
> = withImmediateTransaction(Migrator.make({})({ loader: Migrator.fromRecord(migrations) }))

/**
 * The shared client: creates the parent directory of `filename`, opens it with better-sqlite3 (WAL on, by
 * @effect/sql-sqlite-node's default), sets `PRAGMA busy_timeout = 5000` (ms) and runs the migrations (unless
 * {@link isCurrent}).
 * Outputs both the generic `SqlClient` and the `SqliteClient`. Fails with `SqliteOpenError` (including when
 * better-sqlite3 throws, e.g. the path is a directory or not a database).
 */
export const layer = (options: {
  readonly filename: string
}): Layer.Layer<SqlClient.SqlClient | SqliteClient.SqliteClient, SqliteOpenError, FileSystem.FileSystem | Path.Path> => {
  const setup = Layer.effectDiscard(Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql.unsafe(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`).unprepared
    if (yield* isCurrent) return
    const applied = yield* migrate
    if (applied.length > 0) {
      yield* Effect.logDebug("migrated the switchyard database").pipe(
        Effect.annotateLogs({ filename: options.filename, migrations: applied.map(([id, name]) => `${id}_${name}`) })
      )
    }
  }))
  const ensureParent = Effect.gen(function*() {
    if (options.filename === ":memory:" || options.filename === "") return
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    yield* fs.makeDirectory(path.dirname(path.resolve(options.filename)), { recursive: true })
  })
  return Layer.unwrapEffect(
    Effect.as(ensureParent, setup.pipe(Layer.provideMerge(SqliteClient.layer({ filename: options.filename }))))
  ).pipe(
    Layer.catchAllCause((cause) => {
      if (Cause.isInterruptedOnly(cause)) return Layer.failCause(Cause.interrupt(FiberId.none))
      const error = Cause.squash(cause)
      return Layer.fail(new SqliteOpenError({ filename: options.filename, reason: describe(error), cause: error }))
    })
  )
}
