/**
 * Migration 4: a covering index over the usage columns of migration 3, so the totals `status` prints
 * (`COUNT(*)` and `SUM`s over `evidence`) read the index, not every row. The columns were added by
 * `ALTER TABLE`, so they sit after each row's bundle JSON (~3 KB) and a table scan walks the bundles'
 * overflow pages: 3.9 ms at 4,600 bundles and growing with the history, 0.2 ms with the index.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE INDEX evidence_usage ON evidence (input_tokens, output_tokens, cost_usd)`
})
