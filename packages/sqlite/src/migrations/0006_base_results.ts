/**
 * Migration 6: `base_results`, the verification runs on a base commit every issue on that base reuses
 * (`BaseResults`, issue 12 item 3). `key` is the Verifier's hash of everything a run depends on; `data` is the
 * Schema-encoded `BaseRun` as JSON text (redacted results); `ran_at` is ms since the epoch (for pruning).
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE base_results (
    key TEXT PRIMARY KEY NOT NULL,
    base_commit TEXT NOT NULL,
    ran_at INTEGER NOT NULL,
    data TEXT NOT NULL
  )`
})
