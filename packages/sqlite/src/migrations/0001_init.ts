/**
 * Migration 1: the whole durable state of a repo's factory in one SQLite file.
 *
 * - `issues`: the tracker (array and comment fields are JSON text; times are ISO-8601 UTC strings).
 * - `id_counters`: the last issue number allocated per id prefix (`SY` at 11 gives `SY-12` next).
 * - `leases`, `attempts`, `retries`, `events`: the orchestrator (times are epoch milliseconds).
 * - `evidence`: one row per (issue, attempt) with the Schema-encoded bundle as JSON text.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient

  yield* sql`CREATE TABLE issues (
    id TEXT PRIMARY KEY NOT NULL,
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
    updated_at TEXT NOT NULL
  )`
  yield* sql`CREATE INDEX issues_status ON issues (status)`
  yield* sql`CREATE INDEX issues_parent ON issues (parent) WHERE parent IS NOT NULL`

  yield* sql`CREATE TABLE id_counters (
    prefix TEXT PRIMARY KEY NOT NULL,
    counter INTEGER NOT NULL
  )`

  yield* sql`CREATE TABLE leases (
    issue_id TEXT PRIMARY KEY NOT NULL,
    runner_id TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    stage TEXT NOT NULL,
    acquired_at INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    agent_pid INTEGER,
    agent_pgid INTEGER,
    sandbox_path TEXT,
    last_output_at INTEGER
  )`
  yield* sql`CREATE INDEX leases_runner ON leases (runner_id)`

  yield* sql`CREATE TABLE attempts (
    issue_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    runner_id TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    ended_at INTEGER,
    branch TEXT,
    sandbox_path TEXT,
    base_commit TEXT,
    "commit" TEXT,
    terminal_state TEXT,
    cause TEXT,
    counted INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (issue_id, attempt)
  )`
  yield* sql`CREATE INDEX attempts_ended ON attempts (ended_at) WHERE ended_at IS NOT NULL`

  yield* sql`CREATE TABLE retries (
    issue_id TEXT PRIMARY KEY NOT NULL,
    attempt INTEGER NOT NULL,
    due_at INTEGER NOT NULL,
    error TEXT NOT NULL
  )`

  yield* sql`CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
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
    created_at INTEGER NOT NULL,
    dir TEXT NOT NULL,
    bundle TEXT NOT NULL,
    PRIMARY KEY (issue_id, attempt)
  )`
})
