/**
 * PostgreSQL migration 1: the whole durable state of a factory shared by runners on several hosts, the same
 * tables and columns as the SQLite schema after its migration 6 (packages/sqlite/src/migrations), so the stores
 * decode rows with the same Schemas:
 *
 * - `issues`: the tracker (array and comment fields are JSON text; times are ISO-8601 UTC text). `seq` is the
 *   insertion order (SQLite's `rowid`), the tie-break of `list`. A CHECK refuses a JSON column that does not parse
 *   (a hand edit gets an error instead of leaving a row no reader can decode); reading never has to test it.
 * - `id_counters`: the last issue number allocated per id prefix.
 * - `leases`, `issue_epochs`, `attempts`, `retries`, `events`, `stage_artifacts`: the orchestrator; times are
 *   epoch milliseconds (BIGINT, read back as numbers by `PgSql.layer`); `counted` is 0/1 as in SQLite.
 * - `evidence`: one row per (issue, attempt) with the signed bundle as JSON text (a CHECK keeps it JSON), so every
 *   host reads it.
 * - `base_results`: the verification runs on a base commit (`BaseResults`).
 * - `runners`: one row per runner process (`<host>:<pid>:<start-ms>`), its host and last heartbeat, so `status`
 *   on any host shows every runner.
 * - A statement trigger on `issues` that `NOTIFY switchyard_issues` on every write: delivered at commit to every
 *   listening runner (the Tracker's `changes`, push dispatch).
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient

  yield* sql`CREATE TABLE issues (
    id TEXT PRIMARY KEY NOT NULL,
    seq BIGSERIAL NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    priority TEXT NOT NULL,
    labels TEXT NOT NULL DEFAULT '[]',
    parent TEXT,
    blocked_by TEXT NOT NULL DEFAULT '[]',
    reproduction TEXT,
    validation TEXT NOT NULL DEFAULT '[]',
    scope TEXT NOT NULL DEFAULT '[]',
    non_goals TEXT NOT NULL DEFAULT '[]',
    comments TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CONSTRAINT issues_json_columns CHECK (
      labels::jsonb IS NOT NULL AND blocked_by::jsonb IS NOT NULL AND validation::jsonb IS NOT NULL
      AND scope::jsonb IS NOT NULL AND non_goals::jsonb IS NOT NULL AND comments::jsonb IS NOT NULL)
  )`
  yield* sql`CREATE INDEX issues_status ON issues (status)`
  yield* sql`CREATE INDEX issues_parent ON issues (parent) WHERE parent IS NOT NULL`
  yield* sql`CREATE INDEX issues_created ON issues (created_at, seq)`

  yield* sql`CREATE TABLE id_counters (
    prefix TEXT PRIMARY KEY NOT NULL,
    counter BIGINT NOT NULL
  )`

  yield* sql`CREATE TABLE leases (
    issue_id TEXT PRIMARY KEY NOT NULL,
    runner_id TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    stage TEXT NOT NULL,
    acquired_at BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    agent_pid INTEGER,
    agent_pgid INTEGER,
    sandbox_path TEXT,
    last_output_at BIGINT,
    epoch BIGINT NOT NULL DEFAULT 0
  )`
  yield* sql`CREATE INDEX leases_runner ON leases (runner_id)`

  yield* sql`CREATE TABLE issue_epochs (
    issue_id TEXT PRIMARY KEY NOT NULL,
    epoch BIGINT NOT NULL
  )`

  yield* sql`CREATE TABLE attempts (
    issue_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    seq BIGSERIAL NOT NULL,
    runner_id TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    ended_at BIGINT,
    branch TEXT,
    sandbox_path TEXT,
    base_commit TEXT,
    "commit" TEXT,
    terminal_state TEXT,
    cause TEXT,
    counted INTEGER NOT NULL DEFAULT 1,
    runner_deaths INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (issue_id, attempt)
  )`
  yield* sql`CREATE INDEX attempts_ended ON attempts (ended_at) WHERE ended_at IS NOT NULL`

  yield* sql`CREATE TABLE retries (
    issue_id TEXT PRIMARY KEY NOT NULL,
    attempt INTEGER NOT NULL,
    due_at BIGINT NOT NULL,
    error TEXT NOT NULL
  )`

  yield* sql`CREATE TABLE events (
    seq BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL,
    runner_id TEXT NOT NULL,
    issue_id TEXT,
    type TEXT NOT NULL,
    message TEXT NOT NULL,
    data TEXT NOT NULL DEFAULT '{}'
  )`
  yield* sql`CREATE INDEX events_issue ON events (issue_id, seq)`

  yield* sql`CREATE TABLE evidence (
    issue_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    summary TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    dir TEXT NOT NULL,
    bundle TEXT NOT NULL,
    input_tokens BIGINT NOT NULL DEFAULT 0,
    output_tokens BIGINT NOT NULL DEFAULT 0,
    cost_usd DOUBLE PRECISION,
    PRIMARY KEY (issue_id, attempt),
    CONSTRAINT evidence_bundle_json CHECK (bundle::jsonb IS NOT NULL)
  )`

  yield* sql`CREATE TABLE stage_artifacts (
    issue_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    stage TEXT NOT NULL,
    at BIGINT NOT NULL,
    epoch BIGINT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (issue_id, attempt, seq)
  )`

  yield* sql`CREATE TABLE base_results (
    key TEXT PRIMARY KEY NOT NULL,
    base_commit TEXT NOT NULL,
    ran_at BIGINT NOT NULL,
    data TEXT NOT NULL
  )`
  yield* sql`CREATE INDEX base_results_ran ON base_results (ran_at)`

  yield* sql`CREATE TABLE runners (
    runner_id TEXT PRIMARY KEY NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL
  )`

  yield* sql.unsafe(`CREATE FUNCTION switchyard_notify_issues() RETURNS TRIGGER
    LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_notify('switchyard_issues', TG_OP); -- a payload: @effect/sql-pg drops empty ones
      RETURN NULL;
    END $$`)
  yield* sql.unsafe(`CREATE TRIGGER issues_notify AFTER INSERT OR UPDATE OR DELETE ON issues
    FOR EACH STATEMENT EXECUTE FUNCTION switchyard_notify_issues()`)
})
