/**
 * Migration 3: each evidence row keeps its bundle's token usage in columns (`input_tokens`, `output_tokens`,
 * `cost_usd`), so the totals `status` prints are a SUM over integers, not a JSON parse of every bundle ever stored.
 * Existing rows are filled from their bundles once, here.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`ALTER TABLE evidence ADD COLUMN input_tokens INTEGER NOT NULL DEFAULT 0`
  yield* sql`ALTER TABLE evidence ADD COLUMN output_tokens INTEGER NOT NULL DEFAULT 0`
  yield* sql`ALTER TABLE evidence ADD COLUMN cost_usd REAL`
  yield* sql`
    UPDATE evidence SET
      input_tokens = COALESCE(json_extract(bundle, '$.usage.inputTokens'), 0),
      output_tokens = COALESCE(json_extract(bundle, '$.usage.outputTokens'), 0),
      cost_usd = json_extract(bundle, '$.usage.costUsd')
    WHERE json_valid(bundle)`
})
