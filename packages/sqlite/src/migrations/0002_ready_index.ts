/**
 * Migration 2: the ready set is persisted and maintained on write, so the tick and `status` read an index instead
 * of deriving it from every `todo` row.
 *
 * - `issue_blockers(issue_id, blocker_id)`: one row per element of `issues.blocked_by` (for rows whose
 *   `blocked_by` is valid JSON; the elements are `json_each` values, a JSON `null` element is a NULL
 *   `blocker_id`), with the reverse lookup "which issues does X block" on `blocker_id`. A blocker id need not
 *   exist (yet): an unknown blocker blocks.
 * - `issue_readiness` (view): the dispatch row of every `todo` issue, computed from `issues` + `issue_blockers`.
 *   The only place the readiness rules live; the triggers and the backfill copy from it.
 * - `dispatch_index`: one row per `todo` issue, a copy of `issue_readiness`: `ready`/`valid` flags (0/1), the
 *   dispatch order keys, and the issue's `priority` and `labels` (JSON text) so reading the ready refs never
 *   touches `issues`. Partial indexes: the ready rows in dispatch order (covering: id, priority, labels), and the
 *   rows to report as unreadable.
 * - `dispatch_stale`: scratch ids whose dispatch row the next issue trigger recomputes (only used when an
 *   `INSERT OR REPLACE` by hand replaces an issue: its old parent is no longer visible to the AFTER trigger).
 * - Triggers on `issues` (AFTER INSERT / UPDATE / DELETE, plus the BEFORE INSERT for REPLACE) keep the tables exact
 *   for every writer, the tracker, the orchestrator's claims and anyone editing the file with the sqlite3 CLI.
 *
 * The rules are those of the query `SqliteTracker.ready` ran on every read before this migration (`json_each` over
 * every `todo` row), which the tests keep as their oracle. A `todo` issue is ready (`ready = 1`) when its
 * `blocked_by` and `labels` are valid JSON, every blocker exists and is `done` or `cancelled`, no child
 * (`issues.parent = id`) is in another status, and the fields a ready ref decodes besides its id (priority, labels
 * as an array of strings) would decode. It is reported unreadable (`valid = 0`) when one of its JSON columns does
 * not parse, or when it is otherwise ready but its priority or labels would not decode (then the old query listed
 * it as a decode failure). Dispatch order: priority rank (critical, high, medium, low, anything else),
 * `created_at`, the id's prefix, the id's number.
 *
 * Only SQL that the sqlite3 CLI of Debian 12 (SQLite 3.40) runs: a hand edit must not fail on the triggers.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/** `done` and `cancelled`: the statuses that satisfy a blocker and close a child (`resolvedStatuses`). */
const resolved = (status: string) => `${status} IN ('done', 'cancelled')`

/**
 * The fields a ready ref decodes besides its id (`ReadyRef`: priority, labels) would decode. The id's shape is
 * left to the reader's decode (it only breaks by hand, and checking it here doubles the cost of the backfill).
 */
const dispatchFieldsDecode = `(
  i.priority IN ('critical', 'high', 'medium', 'low', 'none')
  AND CASE WHEN json_valid(i.labels)
    THEN json_type(i.labels) = 'array'
      AND NOT EXISTS (SELECT 1 FROM json_each(i.labels) l WHERE l.type <> 'text')
    ELSE 0 END)`

/** A blocker of `i` that is unknown or not resolved. */
const openBlocker = `EXISTS (
  SELECT 1 FROM issue_blockers e LEFT JOIN issues b ON b.id = e.blocker_id
  WHERE e.issue_id = i.id AND (b.id IS NULL OR NOT ${resolved("b.status")}))`

/** A child of `i` that is not resolved. */
const openChild = `EXISTS (SELECT 1 FROM issues c WHERE c.parent = i.id AND NOT ${resolved("c.status")})`

const jsonColumnsParse = `(json_valid(i.labels) AND json_valid(i.blocked_by) AND json_valid(i.validation)
  AND json_valid(i.scope) AND json_valid(i.non_goals) AND json_valid(i.comments))`

const columns = "id, ready, valid, priority_rank, created_at, id_prefix, id_number, priority, labels"

/**
 * The readiness rules, once. The CASEs fix the evaluation order: the cheap checks first, `json_type`/`json_each`
 * only on text that parses, and the EXISTS subqueries only for the rows that need them. `+i.status` keeps the
 * planner off `issues_status` so a trigger's `WHERE id IN (…)` looks the few ids up by primary key (otherwise it
 * may walk every `todo` row on every write).
 */
const readinessView = `CREATE VIEW issue_readiness AS
SELECT
  i.id AS id,
  CASE
    WHEN NOT json_valid(i.blocked_by) THEN 0
    WHEN NOT ${dispatchFieldsDecode} THEN 0
    WHEN ${openBlocker} THEN 0
    WHEN ${openChild} THEN 0
    ELSE 1
  END AS ready,
  CASE
    WHEN NOT ${jsonColumnsParse} THEN 0
    WHEN ${dispatchFieldsDecode} THEN 1
    WHEN ${openBlocker} OR ${openChild} THEN 1
    ELSE 0
  END AS valid,
  CASE i.priority WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 WHEN 'low' THEN 3 ELSE 4 END
    AS priority_rank,
  i.created_at AS created_at,
  substr(i.id, 1, instr(i.id, '-') - 1) AS id_prefix,
  CAST(substr(i.id, instr(i.id, '-') + 1) AS INTEGER) AS id_number,
  i.priority AS priority,
  i.labels AS labels
FROM issues i
WHERE +i.status = 'todo'`

/**
 * The blocker rows of `NEW`, from its `blocked_by` when that is valid JSON. `CAST(value AS TEXT)` is the
 * conversion the TEXT column would apply anyway; with DISTINCT the insert cannot conflict, so it needs no ON
 * CONFLICT clause (which the outer statement's, e.g. a hand-typed `UPDATE OR FAIL`, would override).
 */
const insertEdges = `INSERT INTO issue_blockers (issue_id, blocker_id)
    SELECT DISTINCT NEW.id, CAST(value AS TEXT)
    FROM json_each(CASE WHEN json_valid(NEW.blocked_by) THEN NEW.blocked_by ELSE '[]' END)`

/** Recomputes the dispatch row of the issue `id` (an SQL expression; NULL is a no-op). */
const recomputeOne = (id: string) => `
    DELETE FROM dispatch_index WHERE id = ${id};
    INSERT INTO dispatch_index (${columns}) SELECT ${columns} FROM issue_readiness WHERE id = ${id};`

/** Recomputes the dispatch rows of the ids the subquery `ids` selects. */
const recomputeAll = (ids: string) => `
    DELETE FROM dispatch_index WHERE id IN (${ids});
    INSERT INTO dispatch_index (${columns}) SELECT ${columns} FROM issue_readiness WHERE id IN (${ids});`

/** The issues whose `blocked_by` names `id`. */
const blockedBy = (id: string) => `SELECT issue_id FROM issue_blockers WHERE blocker_id = ${id}`

/** Whether a status change flips `resolved`, the only thing about an issue's status its dependents see. */
const resolvedFlips = `(${resolved("OLD.status")}) IS NOT (${resolved("NEW.status")})`

/**
 * Per event, a `_self` trigger (always: the row's blocker rows, then its own dispatch row) and a `_dependents`
 * trigger whose WHEN lets it run only when others can be affected (its parent, the issues it blocks). Each
 * recomputation reads the state after the statement, so the order in which SQLite fires them does not matter.
 * The statements stay `=` lookups wherever they can: an `IN (subquery)` costs a temporary b-tree per execution.
 */
const triggers = [
  // `INSERT OR REPLACE` deletes the old row without firing the DELETE triggers (unless recursive_triggers is on):
  // remember its parent now; the AFTER INSERT trigger recomputes it.
  `CREATE TRIGGER issues_ready_before_insert BEFORE INSERT ON issues
  WHEN EXISTS (SELECT 1 FROM issues WHERE id = NEW.id AND parent IS NOT NULL)
  BEGIN
    INSERT INTO dispatch_stale (id) SELECT parent FROM issues
      WHERE id = NEW.id AND parent IS NOT NULL AND parent NOT IN (SELECT id FROM dispatch_stale);
  END`,
  `CREATE TRIGGER issues_ready_insert_self AFTER INSERT ON issues
  BEGIN
    DELETE FROM issue_blockers WHERE issue_id = NEW.id;
    ${insertEdges};
    ${recomputeOne("NEW.id")}
  END`,
  `CREATE TRIGGER issues_ready_insert_dependents AFTER INSERT ON issues
  WHEN NEW.parent IS NOT NULL OR EXISTS (${blockedBy("NEW.id")}) OR EXISTS (SELECT 1 FROM dispatch_stale)
  BEGIN
    ${recomputeOne("NEW.parent")}
    ${recomputeAll(blockedBy("NEW.id"))}
    ${recomputeAll("SELECT id FROM dispatch_stale")}
    DELETE FROM dispatch_stale;
  END`,
  `CREATE TRIGGER issues_ready_update_self AFTER UPDATE ON issues
  BEGIN
    DELETE FROM issue_blockers
      WHERE issue_id = OLD.id AND (OLD.id IS NOT NEW.id OR OLD.blocked_by IS NOT NEW.blocked_by);
    ${insertEdges} WHERE OLD.id IS NOT NEW.id OR OLD.blocked_by IS NOT NEW.blocked_by;
    DELETE FROM dispatch_index WHERE id = OLD.id;
    ${recomputeOne("NEW.id")}
  END`,
  `CREATE TRIGGER issues_ready_update_dependents AFTER UPDATE ON issues
  WHEN OLD.id IS NOT NEW.id OR OLD.parent IS NOT NEW.parent OR ${resolvedFlips}
  BEGIN
    ${recomputeOne("OLD.parent")}
    ${recomputeOne("NEW.parent")}
    ${recomputeAll(blockedBy("OLD.id"))}
    ${recomputeAll(`${blockedBy("NEW.id")} AND NEW.id IS NOT OLD.id`)}
  END`,
  `CREATE TRIGGER issues_ready_delete_self AFTER DELETE ON issues
  BEGIN
    DELETE FROM issue_blockers WHERE issue_id = OLD.id;
    DELETE FROM dispatch_index WHERE id = OLD.id;
  END`,
  `CREATE TRIGGER issues_ready_delete_dependents AFTER DELETE ON issues
  WHEN OLD.parent IS NOT NULL OR EXISTS (${blockedBy("OLD.id")})
  BEGIN
    ${recomputeOne("OLD.parent")}
    ${recomputeAll(blockedBy("OLD.id"))}
  END`
]

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient

  yield* sql`CREATE TABLE issue_blockers (
    issue_id TEXT NOT NULL,
    blocker_id TEXT,
    PRIMARY KEY (issue_id, blocker_id)
  )`
  yield* sql`CREATE TABLE dispatch_index (
    id TEXT PRIMARY KEY NOT NULL,
    ready INTEGER NOT NULL,
    valid INTEGER NOT NULL,
    priority_rank INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    id_prefix TEXT NOT NULL,
    id_number INTEGER NOT NULL,
    priority TEXT NOT NULL,
    labels TEXT NOT NULL
  ) WITHOUT ROWID`
  yield* sql`CREATE TABLE dispatch_stale (id TEXT PRIMARY KEY NOT NULL) WITHOUT ROWID`
  yield* sql.unsafe(readinessView)

  // The backfill, before the indexes and triggers exist (one bulk build each instead of per-row upkeep).
  yield* sql`INSERT INTO issue_blockers (issue_id, blocker_id)
    SELECT DISTINCT i.id, CAST(b.value AS TEXT)
    FROM issues i, json_each(CASE WHEN json_valid(i.blocked_by) THEN i.blocked_by ELSE '[]' END) b
    WHERE i.blocked_by <> '[]'`
  yield* sql`CREATE INDEX issue_blockers_blocker ON issue_blockers (blocker_id)`
  yield* sql.unsafe(`INSERT INTO dispatch_index (${columns}) SELECT ${columns} FROM issue_readiness`)
  yield* sql`CREATE INDEX dispatch_index_order
    ON dispatch_index (priority_rank, created_at, id_prefix, id_number, priority, labels) WHERE ready = 1`
  yield* sql`CREATE INDEX dispatch_index_invalid ON dispatch_index (id) WHERE valid = 0`

  for (const trigger of triggers) yield* sql.unsafe(trigger)
})
