/**
 * Migration 8: `orphans`, the agent process groups another host's take-over left running (issue 16,
 * docs/scale.md "Runner deaths"). `Orchestrator.takeOver` inserts a row in the same transaction as the take-over
 * when the broken lease was another host's and recorded an agent group; that host's next runner kills the group
 * (guarded against pid reuse by the attempt it belonged to) and deletes the row. Times are epoch milliseconds.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE orphans (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    host TEXT NOT NULL,
    pgid INTEGER NOT NULL,
    issue_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    sandbox_path TEXT,
    recorded_by TEXT NOT NULL,
    recorded_at INTEGER NOT NULL
  )`
  yield* sql`CREATE INDEX orphans_host ON orphans (host, id)`
})
