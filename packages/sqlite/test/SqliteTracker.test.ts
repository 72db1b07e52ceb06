import { NodeContext } from "@effect/platform-node"
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { buildTaskPacket, Tracker } from "@switchyard/core"
import { IssueInput, MAX_BODY_BYTES, MAX_TITLE_BYTES, WorkflowConfig } from "@switchyard/domain"
import { Context, Effect, Exit, Layer } from "effect"
import { Sql, SqliteTracker } from "../src/index.js"
import { id, open, scratch } from "./helpers.js"

const input = (fields: ConstructorParameters<typeof IssueInput>[0]) => IssueInput.make(fields)

/** Opens fresh stores in a scratch dir and hands the test the tracker and the raw SQL client. */
const stores = Effect.gen(function*() {
  const paths = yield* scratch
  const context = yield* open(paths)
  return { paths, tracker: Context.get(context, Tracker), sql: Context.get(context, SqlClient.SqlClient) }
})

describe("SqliteTracker", () => {
  it.scoped("creates, reads, lists, updates and comments on issues", () =>
    Effect.gen(function*() {
      const { tracker } = yield* stores
      const a = yield* tracker.create(input({ title: "Fix the sum", labels: ["bug"], validation: ["pnpm test"] }))
      const b = yield* tracker.create(input({ title: "Write docs", status: "backlog", priority: "low" }))
      expect(a.id).toBe("SY-1")
      expect(b.id).toBe("SY-2")

      const read = yield* tracker.get("SY-1")
      expect(read.title).toBe("Fix the sum")
      expect(read.labels).toEqual(["bug"])
      expect(read.validation).toEqual(["pnpm test"])
      expect(read.status).toBe("todo")

      expect((yield* tracker.list()).map((issue) => issue.id)).toEqual(["SY-1", "SY-2"])
      expect((yield* tracker.list({ status: "backlog" })).map((issue) => issue.id)).toEqual(["SY-2"])

      const updated = yield* tracker.update("SY-2", { status: "todo", labels: ["docs"], blocked_by: [a.id] })
      expect(updated.status).toBe("todo")
      expect(updated.labels).toEqual(["docs"])
      expect(updated.blocked_by).toEqual(["SY-1"])
      expect(updated.title).toBe("Write docs")
      expect((yield* tracker.get("SY-2")).blocked_by).toEqual(["SY-1"])

      yield* tracker.comment("SY-1", "first look", "alice")
      const commented = yield* tracker.comment("SY-1", "second look", "bob")
      expect(commented.comments.map((c) => [c.author, c.body])).toEqual([["alice", "first look"], ["bob", "second look"]])
      expect((yield* tracker.get("SY-1")).comments).toHaveLength(2)

      const counts = yield* tracker.counts
      expect(counts.todo).toBe(2)
      expect(counts.backlog).toBe(0)
      expect(counts.done).toBe(0)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("allocates ids from a counter that survives reopening the file", () =>
    Effect.gen(function*() {
      const paths = yield* scratch
      const first = yield* Effect.scoped(Effect.gen(function*() {
        const tracker = Context.get(yield* open(paths), Tracker)
        yield* tracker.create(input({ title: "one" }))
        return yield* tracker.create(input({ title: "two" }))
      }))
      expect(first.id).toBe("SY-2")
      const again = yield* Effect.scoped(Effect.gen(function*() {
        const tracker = Context.get(yield* open(paths), Tracker)
        const created = yield* tracker.create(input({ title: "three" }))
        return { created, all: yield* tracker.list() }
      }))
      expect(again.created.id).toBe("SY-3")
      expect(again.all.map((issue) => issue.title)).toEqual(["one", "two", "three"])

      const acme = yield* Effect.scoped(Effect.gen(function*() {
        const tracker = Context.get(yield* open(paths, "ACME"), Tracker)
        return yield* tracker.create(input({ title: "other prefix" }))
      }))
      expect(acme.id).toBe("ACME-1")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("refuses a prefix that cannot make an issue id", () =>
    Effect.gen(function*() {
      const paths = yield* scratch
      const exit = yield* Effect.exit(
        Layer.build(SqliteTracker.layer({ prefix: "sy/" }).pipe(Layer.provide(Sql.layer({ filename: paths.filename }))))
      )
      expect(exit).toStrictEqual(Exit.fail(expect.objectContaining({ _tag: "TrackerError", operation: "init" })))
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("validates raw ids before touching SQL", () =>
    Effect.gen(function*() {
      const { tracker } = yield* stores
      yield* tracker.create(input({ title: "exists" }))
      for (const raw of ["../etc/passwd", "sy-1", "SY-1; DROP TABLE issues", ""]) {
        const get = yield* Effect.flip(tracker.get(raw))
        expect(get).toMatchObject({ _tag: "InvalidIssueId", input: raw })
        const update = yield* Effect.flip(tracker.update(raw, { title: "x" }))
        expect(update._tag).toBe("InvalidIssueId")
        const comment = yield* Effect.flip(tracker.comment(raw, "x", "me"))
        expect(comment._tag).toBe("InvalidIssueId")
      }
      expect((yield* tracker.list()).map((issue) => issue.id)).toEqual(["SY-1"])
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("fails with IssueNotFound for unknown ids and unknown references", () =>
    Effect.gen(function*() {
      const { tracker } = yield* stores
      const a = yield* tracker.create(input({ title: "a" }))
      expect(yield* Effect.flip(tracker.get("SY-99"))).toMatchObject({ _tag: "IssueNotFound", id: "SY-99" })
      expect(yield* Effect.flip(tracker.update("SY-99", { title: "b" }))).toMatchObject({ _tag: "IssueNotFound" })
      expect(yield* Effect.flip(tracker.comment("SY-99", "b", "me"))).toMatchObject({ _tag: "IssueNotFound" })
      expect(yield* Effect.flip(tracker.transition(id("SY-99"), ["todo"], "done"))).toMatchObject({
        _tag: "IssueNotFound",
        id: "SY-99"
      })
      expect(yield* Effect.flip(tracker.create(input({ title: "b", blocked_by: [a.id, id("SY-42")] })))).toMatchObject({
        _tag: "IssueNotFound",
        id: "SY-42"
      })
      expect(yield* Effect.flip(tracker.create(input({ title: "c", parent: id("SY-43") })))).toMatchObject({
        _tag: "IssueNotFound",
        id: "SY-43"
      })
      expect(yield* Effect.flip(tracker.update("SY-1", { blocked_by: [id("SY-44")] }))).toMatchObject({
        _tag: "IssueNotFound",
        id: "SY-44"
      })
      // A failed create allocates nothing: the next id is still SY-2.
      expect((yield* tracker.create(input({ title: "d", parent: a.id }))).id).toBe("SY-2")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("refuses an issue that blocks itself", () =>
    Effect.gen(function*() {
      const { tracker } = yield* stores
      const a = yield* tracker.create(input({ title: "a" }))
      const error = yield* Effect.flip(tracker.update(a.id, { blocked_by: [a.id] }))
      expect(error).toMatchObject({ _tag: "TrackerError", operation: "update" })
      expect((yield* tracker.get(a.id)).blocked_by).toEqual([])
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("create, update and comment refuse a title or body over its limit with one sentence, and write nothing", () =>
    Effect.gen(function*() {
      const { tracker } = yield* stores
      const a = yield* tracker.create(input({ title: "a", body: "b".repeat(MAX_BODY_BYTES) }))
      // A plain object typed as IssueInput skips the class's own checks: the tracker still refuses it.
      const long = { ...a, title: "t".repeat(MAX_TITLE_BYTES + 1) } as unknown as IssueInput
      const created = yield* Effect.flip(tracker.create(long))
      expect(created).toMatchObject({ _tag: "TrackerError", operation: "create" })
      expect(created.message).toBe(
        "tracker create failed: invalid issue: the title is 1025 bytes (UTF-8), over the limit of 1024 bytes (1 KiB); shorten it"
      )
      const blank = yield* Effect.flip(tracker.create({ ...a, title: " " } as unknown as IssueInput))
      expect(blank.message).toBe("tracker create failed: invalid issue: the title is empty")
      // Bytes, not characters: 100k three-byte characters are 300 KB.
      const updated = yield* Effect.flip(tracker.update(a.id, { body: "€".repeat(100_000) }))
      expect(updated.message).toBe(
        "tracker update failed: invalid issue: the body is 300000 bytes (UTF-8), over the limit of 262144 bytes (256 KiB); shorten it"
      )
      const commented = yield* Effect.flip(tracker.comment(a.id, "c".repeat(MAX_BODY_BYTES + 1), "eve"))
      expect(commented.message).toContain("tracker comment failed: invalid comment: the comment is 262145 bytes")
      const stored = yield* tracker.get(a.id)
      expect(stored.body).toHaveLength(MAX_BODY_BYTES)
      expect(stored.comments).toEqual([])
      expect((yield* tracker.list()).map((issue) => issue.id)).toEqual([a.id])
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("a row over the limits written by hand still reads, updates and comments; the packet gets it cut", () =>
    Effect.gen(function*() {
      const { sql, tracker } = yield* stores
      const a = yield* tracker.create(input({ title: "a" }))
      const title = "T".repeat(120 * 1024)
      const body = "B".repeat(10 * 1024 * 1024)
      yield* sql`UPDATE issues SET title = ${title}, body = ${body} WHERE id = ${a.id}`
      const read = yield* tracker.get(a.id)
      expect(read.body).toHaveLength(body.length)
      // Writes that do not set the oversized fields still work on such a row.
      expect((yield* tracker.update(a.id, { priority: "high" })).priority).toBe("high")
      expect((yield* tracker.comment(a.id, "seen", "ana")).comments).toHaveLength(1)

      const packet = buildTaskPacket(read, new WorkflowConfig({}), 1, "/r/result.json")
      expect(Buffer.byteLength(packet.title)).toBeLessThanOrEqual(MAX_TITLE_BYTES)
      expect(packet.title).toMatch(/^T+ \[… cut by Switchyard: the title is 122880 bytes\]$/)
      expect(Buffer.byteLength(packet.intent)).toBeLessThanOrEqual(MAX_BODY_BYTES)
      expect(packet.intent).toMatch(/^B+\n\n\[… cut by Switchyard: the body is 10485760 bytes, over the limit of 262144; the rest is not shown\]$/)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("transition is a compare-and-set on status", () =>
    Effect.gen(function*() {
      const { tracker } = yield* stores
      const a = yield* tracker.create(input({ title: "a" }))
      expect(yield* tracker.transition(a.id, ["todo"], "in_progress")).toBe(true)
      expect((yield* tracker.get(a.id)).status).toBe("in_progress")
      // A second claimer expecting `todo` loses and changes nothing.
      expect(yield* tracker.transition(a.id, ["todo"], "cancelled")).toBe(false)
      expect(yield* tracker.transition(a.id, [], "cancelled")).toBe(false)
      expect((yield* tracker.get(a.id)).status).toBe("in_progress")
      expect(yield* tracker.transition(a.id, ["todo", "in_progress"], "in_review")).toBe(true)
      expect((yield* tracker.get(a.id)).status).toBe("in_review")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("candidates: todo issues, the statuses they reference, open children, poison rows", () =>
    Effect.gen(function*() {
      const { sql, tracker } = yield* stores
      const done = yield* tracker.create(input({ title: "done blocker" }))
      const busy = yield* tracker.create(input({ title: "in-progress blocker" }))
      const blocked = yield* tracker.create(input({ title: "blocked", blocked_by: [done.id, busy.id] }))
      const parent = yield* tracker.create(input({ title: "parent" }))
      const openChild = yield* tracker.create(input({ title: "open child", parent: parent.id, status: "backlog" }))
      const closedChild = yield* tracker.create(input({ title: "closed child", parent: parent.id }))
      const poison = yield* tracker.create(input({ title: "poison" }))
      yield* tracker.transition(done.id, ["todo"], "done")
      yield* tracker.transition(busy.id, ["todo"], "in_progress")
      yield* tracker.transition(closedChild.id, ["todo"], "cancelled")
      yield* sql`UPDATE issues SET labels = 'not json' WHERE id = ${poison.id}`

      const snapshot = yield* tracker.candidates
      expect(snapshot.todo.map((issue) => issue.id)).toEqual([blocked.id, parent.id])
      expect(Object.fromEntries(snapshot.statusOf)).toEqual({ [done.id]: "done", [busy.id]: "in_progress" })
      expect([...snapshot.openChildren]).toEqual([parent.id])
      expect(snapshot.invalid).toHaveLength(1)
      expect(snapshot.invalid[0]?.id).toBe(poison.id)
      expect(snapshot.invalid[0]?.reason).toContain("labels")

      // The poison row is skipped by list, named by get, and never stops the other issues.
      expect((yield* tracker.list()).map((issue) => issue.id)).not.toContain(poison.id)
      expect((yield* tracker.list())).toHaveLength(6)
      const error = yield* Effect.flip(tracker.get(poison.id))
      expect(error).toMatchObject({ _tag: "TrackerError", operation: "get" })
      expect(error.message).toContain(poison.id)

      // Closing the last open child clears the parent from openChildren.
      yield* tracker.update(openChild.id, { status: "done" })
      expect((yield* tracker.candidates).openChildren.size).toBe(0)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("candidates reports a referenced issue whose status no longer decodes", () =>
    Effect.gen(function*() {
      const { sql, tracker } = yield* stores
      const blocker = yield* tracker.create(input({ title: "blocker" }))
      const blocked = yield* tracker.create(input({ title: "blocked", blocked_by: [blocker.id] }))
      yield* sql`UPDATE issues SET status = 'weird' WHERE id = ${blocker.id}`
      const snapshot = yield* tracker.candidates
      expect(snapshot.todo.map((issue) => issue.id)).toEqual([blocked.id])
      expect(snapshot.statusOf.has(blocker.id)).toBe(false)
      expect(snapshot.invalid.map((entry) => entry.id)).toEqual([blocker.id])
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("statuses answers many ids in one read; unknown ids and undecodable statuses are absent", () =>
    Effect.gen(function*() {
      const { tracker, sql } = yield* stores
      const a = yield* tracker.create(input({ title: "one" }))
      const b = yield* tracker.create(input({ title: "two", status: "backlog" }))
      const c = yield* tracker.create(input({ title: "three" }))
      yield* tracker.update(a.id, { status: "in_review" })
      yield* sql`UPDATE issues SET status = 'garbage' WHERE id = ${c.id}`
      // More ids than SQLite will bind as parameters: they must travel as one value.
      const many = [a.id, b.id, c.id, "SY-404", ...Array.from({ length: 33_000 }, (_, i) => `SY-${1_000 + i}`)]
      const found = yield* tracker.statuses(many)
      expect([...found.entries()].sort()).toEqual([[a.id, "in_review"], [b.id, "backlog"]])
      expect((yield* tracker.statuses([])).size).toBe(0)
    }).pipe(Effect.provide(NodeContext.layer)))
})
