import { NodeContext } from "@effect/platform-node"
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { eligibleIssues, Tracker } from "@switchyard/core"
import { IssueInput, type Priority } from "@switchyard/domain"
import { Context, Effect } from "effect"
import { id, open, scratch } from "./helpers.js"

const stores = Effect.gen(function*() {
  const ctx = yield* open(yield* scratch)
  return { tracker: Context.get(ctx, Tracker), sql: Context.get(ctx, SqlClient.SqlClient) }
}).pipe(Effect.provide(NodeContext.layer))

const priorities: ReadonlyArray<Priority> = ["low", "critical", "none", "high", "medium"]

describe("SqliteTracker.ready (the tick's ready set, read from the dispatch index)", () => {
  it.scoped("agrees with candidates + the pure eligibility rules on a mixed tracker", () =>
    Effect.gen(function*() {
      const { tracker } = yield* stores
      // 40 issues: mixed priorities; every 3rd blocked by the previous one; every 7th a parent of the next one.
      for (let n = 1; n <= 40; n++) {
        yield* tracker.create(new IssueInput({
          title: `issue ${n}`,
          priority: priorities[n % priorities.length]!,
          labels: n % 2 === 0 ? ["Even"] : [],
          blocked_by: n % 3 === 0 ? [id(`SY-${n - 1}`)] : [],
          parent: n % 7 === 1 && n > 7 ? id(`SY-${n - 1}`) : null
        }))
      }
      for (const n of [2, 8, 14]) yield* tracker.update(`SY-${n}`, { status: "done" })
      yield* tracker.update("SY-20", { status: "cancelled" })
      yield* tracker.update("SY-21", { status: "in_progress" })
      const expected = eligibleIssues(yield* tracker.candidates, { now: 0, claimed: new Set(), retryDue: new Map() })
      const ready = yield* tracker.ready
      expect(ready.refs.map((r) => r.id)).toEqual(expected.map((i) => i.id))
      expect(ready.refs.length).toBeGreaterThan(10)
      expect(ready.refs.length).toBeLessThan(36) // blockers and open children really exclude some
      expect(ready.refs.find((r) => r.id === "SY-4")?.labels).toEqual(["Even"])
      expect(ready.invalid).toEqual([])
    }))

  it.scoped("reports a row whose JSON does not parse and still returns the others", () =>
    Effect.gen(function*() {
      const { tracker, sql } = yield* stores
      for (const title of ["one", "two", "three"]) yield* tracker.create(new IssueInput({ title }))
      yield* sql`UPDATE issues SET blocked_by = '[not json' WHERE id = 'SY-2'`
      const ready = yield* tracker.ready
      expect(ready.refs.map((r) => r.id)).toEqual(["SY-1", "SY-3"])
      expect(ready.invalid.map((i) => i.id)).toEqual(["SY-2"])
    }))

  it.scoped("candidates still works when todo issues reference more ids than SQLite allows parameters", () =>
    Effect.gen(function*() {
      const { tracker, sql } = yield* stores
      // 33,000 todo issues each blocked by its own done issue: more referenced ids than the 32,766 bind limit.
      const now = new Date().toISOString()
      yield* sql`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 66000)
        INSERT INTO issues (id, title, body, status, priority, labels, parent, blocked_by, created_at, updated_at)
        SELECT 'SY-' || i, 'issue ' || i, '', CASE WHEN i % 2 = 0 THEN 'todo' ELSE 'done' END, 'medium', '[]', NULL,
               CASE WHEN i % 2 = 0 THEN json_array('SY-' || (i - 1)) ELSE '[]' END, ${now}, ${now}
        FROM n`
      const snapshot = yield* tracker.candidates
      expect(snapshot.todo.length).toBe(33_000)
      expect(snapshot.statusOf.size).toBe(33_000)
      expect((yield* tracker.ready).refs.length).toBe(33_000)
    }), 120_000)
})
