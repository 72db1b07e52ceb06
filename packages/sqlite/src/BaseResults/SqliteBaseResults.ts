/**
 * SqliteBaseResults: `BaseResults` in the runner's SQLite database (table `base_results`, migration 6), so every
 * runner and every `switchyard run` on that database reuses a base's verification runs. Lookups that fail or rows
 * that no longer decode are misses; a failed store is logged (`BaseResults` never fails a verification).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { BaseResults, BaseRun } from "@switchyard/core"
import { Effect, Layer, Option, Schema } from "effect"

const RunJson = Schema.parseJson(BaseRun)
const decodeRun = Schema.decodeUnknownOption(RunJson)
const encodeRun = Schema.encode(RunJson)

/** Rows kept at most; the oldest (by `ran_at`) go first when a store goes past it. */
export const BASE_RESULTS_LIMIT = 2_000

/**
 * Builds the service over the `SqlClient` in context, SQLite's or PostgreSQL's (table `base_results`: SQLite
 * migration 6, PostgreSQL migration 1). Never fails.
 */
export const make = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const lookup = (key: string) =>
    sql<{ data: string }>`SELECT data FROM base_results WHERE key = ${key}`.pipe(
      Effect.map((rows) => rows.length === 0 ? Option.none() : decodeRun(rows[0]!.data)),
      Effect.catchAll((error) =>
        Effect.logWarning("base results lookup failed; running the base again").pipe(
          Effect.annotateLogs({ error: String(error) }),
          Effect.as(Option.none<BaseRun>())
        )
      )
    )
  const store = (key: string, run: BaseRun) =>
    Effect.gen(function*() {
      const data = yield* encodeRun(run)
      yield* sql`INSERT INTO base_results (key, base_commit, ran_at, data)
        VALUES (${key}, ${run.base_commit}, ${run.ran_at}, ${data})
        ON CONFLICT (key) DO UPDATE SET base_commit = excluded.base_commit, ran_at = excluded.ran_at, data = excluded.data`
      // Past the limit, the oldest go (SQLite needs a LIMIT before OFFSET; PostgreSQL takes OFFSET alone).
      yield* sql.onDialectOrElse({
        pg: () => sql`DELETE FROM base_results WHERE key IN (
          SELECT key FROM base_results ORDER BY ran_at DESC OFFSET ${BASE_RESULTS_LIMIT})`,
        orElse: () => sql`DELETE FROM base_results WHERE key IN (
          SELECT key FROM base_results ORDER BY ran_at DESC LIMIT -1 OFFSET ${BASE_RESULTS_LIMIT})`
      })
    }).pipe(
      Effect.catchAll((error) =>
        Effect.logWarning("base results not stored; the next issue on this base runs it again").pipe(
          Effect.annotateLogs({ error: String(error) })
        )
      )
    )
  return BaseResults.of({ lookup, store })
})

/** The `BaseResults` layer over the shared `SqlClient` (migrated by `Sql.layer`). */
export const layer: Layer.Layer<BaseResults, never, SqlClient.SqlClient> = Layer.effect(BaseResults, make)
