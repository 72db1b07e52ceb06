/**
 * PostgreSQL migration 3: what an external tracker (`tracker.kind: github | linear | fp`, docs/trackers.md) needs
 * in the shared store, the same tables as SQLite's migration 7 (packages/sqlite/src/migrations/0007_tracker_outbox.ts):
 * `tracker_outbox` (the write-backs, inserted in the transaction of the change that causes them, delivered
 * afterwards), `tracker_ids` (fp's ids to numbers, allocated once) and `tracker_health` (per kind: the last read,
 * the last failure, the rate limit left). Times are epoch milliseconds.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE tracker_outbox (
    id BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL,
    issue_id TEXT NOT NULL,
    op TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    next_at BIGINT NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    delivered_at BIGINT
  )`
  yield* sql`CREATE INDEX tracker_outbox_pending ON tracker_outbox (issue_id, id) WHERE delivered_at IS NULL`
  yield* sql`CREATE TABLE tracker_ids (
    kind TEXT NOT NULL,
    external_id TEXT NOT NULL,
    number INTEGER NOT NULL,
    PRIMARY KEY (kind, external_id),
    UNIQUE (kind, number)
  )`
  yield* sql`CREATE TABLE tracker_health (
    kind TEXT PRIMARY KEY NOT NULL,
    last_ok_at BIGINT,
    last_error TEXT,
    last_error_at BIGINT,
    rate_limit_remaining INTEGER,
    rate_limit_reset_at BIGINT
  )`
})
