/**
 * The PostgreSQL client every switchyard store of a runner shares (`@effect/sql-pg`, a `pg` pool), with the schema
 * migrated through the same @effect/sql `Migrator` as SQLite before any store uses it. Several runners on several
 * hosts open the same database; the migration runs under an advisory lock so only one of them applies it.
 */
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as PgClient from "@effect/sql-pg/PgClient"
import { Sql as SqliteSql } from "@switchyard/sqlite"
import { Cause, Duration, Effect, FiberId, Layer, Redacted, Schema } from "effect"
import * as Pg from "pg"
import Migration0001 from "./migrations/0001_init.js"
import Migration0002 from "./migrations/0002_orphans.js"
import Migration0003 from "./migrations/0003_tracker_outbox.js"

/** Migrations by `<id>_<name>`, applied in id order (table `effect_sql_migrations`). */
export const migrations: Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>> = {
  "0001_init": Migration0001,
  "0002_orphans": Migration0002,
  "0003_tracker_outbox": Migration0003
}

/** The newest migration id in {@link migrations}. */
export const LATEST_MIGRATION = Math.max(...Object.keys(migrations).map((key) => Number.parseInt(key, 10)))

/** The key of the advisory lock that serialises migrations between runners (`pg_advisory_xact_lock`). */
export const MIGRATION_LOCK = 5_311_771

/** How long (ms) opening the database waits for a connection before it gives up with {@link PgOpenError}. */
export const CONNECT_TIMEOUT_MS = 5_000

/** True for `postgres://` and `postgresql://` URLs: the value of `SWITCHYARD_DATABASE_URL` / `store.url` that selects PostgreSQL. */
export const isPostgresUrl = (url: string): boolean => /^postgres(ql)?:\/\//i.test(url)

/** `url` with its password replaced by `***`, for messages and logs. Pure. */
export const redactUrl = (url: string): string => url.replace(/^(postgres(?:ql)?:\/\/[^:/@]*):[^@]*@/i, "$1:***@")

/** The database could not be reached, opened or migrated. */
export class PgOpenError extends Schema.TaggedError<PgOpenError>()("PgOpenError", {
  url: Schema.String,
  reason: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {
  override get message() {
    return `cannot open the switchyard database ${this.url}: ${this.reason}`
  }
}

/**
 * PostgreSQL returns BIGINT (`COUNT(*)`, epoch-ms columns) and NUMERIC (`SUM` of BIGINT) as strings; the stores
 * decode numbers (ms and counts stay far below 2^53), so both are parsed as JavaScript numbers.
 */
const INT8_OID = 20
const NUMERIC_OID = 1700
const types: Pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === INT8_OID || oid === NUMERIC_OID
      ? (value: string) => Number(value)
      : Pg.types.getTypeParser(oid, format as "text")) as Pg.CustomTypesConfig["getTypeParser"]
}

/** True when the database already records every migration in {@link migrations}. */
export const isCurrent: Effect.Effect<boolean, never, SqlClient.SqlClient> = Effect.flatMap(
  SqlClient.SqlClient,
  (sql) =>
    sql<{ n: number }>`SELECT COUNT(*) AS n FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'effect_sql_migrations'`.pipe(
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

/**
 * Runs the migrations (the Migrator's own transaction) while a reserved connection holds the session advisory lock
 * {@link MIGRATION_LOCK}, so two runners starting at once apply them once: the second waits, then finds them done.
 * (Not one outer transaction: the Migrator probes for its table with a statement that fails on a new database,
 * which would abort it.)
 */
export const migrate: Effect.Effect<
  ReadonlyArray<readonly [id: number, name: string]>,
  Migrator.MigrationError | SqlError,
  SqlClient.SqlClient
> = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.scoped(Effect.gen(function*() {
    const conn = yield* sql.reserve
    yield* Effect.acquireRelease(
      conn.executeRaw(`SELECT pg_advisory_lock(${MIGRATION_LOCK})`, []),
      () => conn.executeRaw(`SELECT pg_advisory_unlock(${MIGRATION_LOCK})`, []).pipe(Effect.ignore)
    )
    return yield* Migrator.make({})({ loader: Migrator.fromRecord(migrations) })
  })))

/**
 * The shared client over `url` (`postgres://user:password@host:port/database`): a pool of at most
 * `maxConnections` (default 10) connections, BIGINT/NUMERIC read as numbers, migrated unless {@link isCurrent}.
 * Outputs the generic `SqlClient` and the `PgClient` (LISTEN/NOTIFY). Fails with `PgOpenError` (the URL with its
 * password hidden, and the driver's reason, e.g. `connect ECONNREFUSED 127.0.0.1:5432`) when the server cannot be
 * reached within {@link CONNECT_TIMEOUT_MS} or the migration fails.
 */
export const layer = (options: {
  readonly url: string
  readonly maxConnections?: number | undefined
  readonly applicationName?: string | undefined
}): Layer.Layer<SqlClient.SqlClient | PgClient.PgClient, PgOpenError> => {
  const setup = Layer.effectDiscard(Effect.gen(function*() {
    if (yield* isCurrent) return
    const applied = yield* migrate
    if (applied.length > 0) {
      yield* Effect.logDebug("migrated the switchyard database").pipe(
        Effect.annotateLogs({ url: redactUrl(options.url), migrations: applied.map(([id, name]) => `${id}_${name}`) })
      )
    }
  }))
  return setup.pipe(
    Layer.provideMerge(PgClient.layer({
      url: Redacted.make(options.url),
      maxConnections: options.maxConnections ?? 10,
      connectTimeout: Duration.millis(CONNECT_TIMEOUT_MS),
      applicationName: options.applicationName ?? "switchyard",
      types
    })),
    Layer.catchAllCause((cause) => {
      if (Cause.isInterruptedOnly(cause)) return Layer.failCause(Cause.interrupt(FiberId.none))
      const error = Cause.squash(cause)
      return Layer.fail(new PgOpenError({ url: redactUrl(options.url), reason: SqliteSql.describe(error), cause: error }))
    })
  )
}
