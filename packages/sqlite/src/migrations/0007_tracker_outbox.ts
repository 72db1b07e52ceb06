/**
 * Migration 7: what an external tracker (`tracker.kind: github | linear | fp`, docs/trackers.md) needs in the
 * embedded store. `tracker_outbox`: the write-backs to the external tracker (state labels, comments, a pull
 * request), inserted in the same transaction as the local change that causes them (a claim, `settle`) and delivered
 * afterwards, idempotently, oldest first per issue; `delivered_at` is set once the tracker has it, `failures` and
 * `last_error` say why not yet, `next_at` (ms since the epoch) when it is tried again. `tracker_health`: one row per
 * tracker kind, the last successful read and the last failure, and the rate limit left, for `switchyard status`.
 * `tracker_ids`: for a tracker whose own ids are not `<PREFIX>-<n>` (fp's `SWYRD-abc12345`), the number `n` each
 * external id was given, allocated once, so `FP-<n>` names the same issue forever.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE tracker_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    issue_id TEXT NOT NULL,
    op TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    next_at INTEGER NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    delivered_at INTEGER
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
    last_ok_at INTEGER,
    last_error TEXT,
    last_error_at INTEGER,
    rate_limit_remaining INTEGER,
    rate_limit_reset_at INTEGER
  )`
})
