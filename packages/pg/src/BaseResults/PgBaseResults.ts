/**
 * PgBaseResults: `BaseResults` in the shared PostgreSQL database (table `base_results`), so every runner on every
 * host reuses a base's verification runs. The same service as `SqliteBaseResults` (its statements, over the
 * PostgreSQL `SqlClient`): lookups that fail or rows that no longer decode are misses; a failed store is logged.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { BaseResults } from "@switchyard/core"
import { SqliteBaseResults } from "@switchyard/sqlite"
import type { Effect, Layer } from "effect"

/** Rows kept at most (the same limit as SQLite); the oldest (by `ran_at`) go first when a store goes past it. */
export const BASE_RESULTS_LIMIT = SqliteBaseResults.BASE_RESULTS_LIMIT

/** Builds the service over the `SqlClient` in context (migrated by `PgSql.layer`). Never fails. */
export const make: Effect.Effect<typeof BaseResults.Service, never, SqlClient.SqlClient> = SqliteBaseResults.make

/** The `BaseResults` layer over the shared `SqlClient` (migrated by `PgSql.layer`). */
export const layer: Layer.Layer<BaseResults, never, SqlClient.SqlClient> = SqliteBaseResults.layer
