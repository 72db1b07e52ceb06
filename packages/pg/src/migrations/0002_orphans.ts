/**
 * PostgreSQL migration 2: `orphans`, the agent process groups another host's take-over left running, the same
 * table as SQLite's migration 8 (packages/sqlite/src/migrations/0008_orphans.ts, docs/scale.md "Runner deaths").
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE orphans (
    id BIGSERIAL PRIMARY KEY,
    host TEXT NOT NULL,
    pgid INTEGER NOT NULL,
    issue_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    sandbox_path TEXT,
    recorded_by TEXT NOT NULL,
    recorded_at BIGINT NOT NULL
  )`
  yield* sql`CREATE INDEX orphans_host ON orphans (host, id)`
})
