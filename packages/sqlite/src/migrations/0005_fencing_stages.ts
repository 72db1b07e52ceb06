/**
 * Migration 5: fencing and durable stages (docs/reliability.md).
 *
 * - `leases.epoch`: the fencing token of a claim; `issue_epochs` keeps the last epoch handed out per issue, so a
 *   new claim or take-over always gets a larger one even after the lease row was deleted.
 * - `attempts.runner_deaths`: runners that died during the attempt (`orchestrator.max_runner_deaths`).
 * - `stage_artifacts`: each stage's output, stored as it completes (prepared sandbox, base reproduction, agent
 *   turns, candidate commits, verifications), so a successor can resume an attempt and `switchyard evidence`
 *   can show a running one. `data` is the Schema-encoded artifact as JSON text.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`ALTER TABLE leases ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0`
  yield* sql`CREATE TABLE issue_epochs (
    issue_id TEXT PRIMARY KEY NOT NULL,
    epoch INTEGER NOT NULL
  )`
  yield* sql`ALTER TABLE attempts ADD COLUMN runner_deaths INTEGER NOT NULL DEFAULT 0`
  yield* sql`CREATE TABLE stage_artifacts (
    issue_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    stage TEXT NOT NULL,
    at INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (issue_id, attempt, seq)
  )`
})
