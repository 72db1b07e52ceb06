/**
 * One contract suite over every `Tracker`: MemoryTracker, SqliteTracker, the GitHub mirror on the GitHub twin (real
 * HTTP), the Linear mirror on the Linear twin (real HTTP) and the fp mirror with the fake `fp` on PATH. The same eligibility and dispatch order, compare-and-set
 * transitions, comments, blockers (where the tracker has them) and errors. Issues are seeded the tracker's own way
 * (created, opened on the twin, written into fp's state) and read back through the `Tracker` interface.
 */
import { FetchHttpClient } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { MemoryTracker, type TrackerShape } from "@switchyard/core"
import { type IssueId, IssueInput, type Priority } from "@switchyard/domain"
import { SqliteTracker } from "@switchyard/sqlite"
import { GitHubTwin, LinearTwin } from "@switchyard/twin"
import { Effect, Either, Layer, Redacted, type Scope } from "effect"
import { chmodSync, copyFileSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { FpTracker, GitHubTracker, LinearTracker, MirrorTracker } from "../src/index.js"
import { open, scratch } from "./helpers.js"

const bin = mkdtempSync(join(tmpdir(), "contract-fp-bin-"))
copyFileSync(fileURLToPath(new URL("./fixtures/fake-fp.mjs", import.meta.url)), join(bin, "fp"))
chmodSync(join(bin, "fp"), 0o755)

interface Seed {
  readonly title: string
  readonly priority: Priority
  /** Index (into the same seed list) of the issue that blocks this one. */
  readonly blockedBy?: number
  /** Index (into the same seed list) of this issue's parent. */
  readonly parent?: number
}

interface Subject {
  readonly tracker: TrackerShape
  /** Seeds the issues (in order, one second apart in creation where the tracker takes times) and returns their ids. */
  readonly seed: (issues: ReadonlyArray<Seed>) => Effect.Effect<ReadonlyArray<IssueId>>
  /** Whether the tracker has blockers. */
  readonly blockers: boolean
  /** An id of this tracker's shape that no issue has. */
  readonly unknownId: string
}

type Make = Effect.Effect<Subject, never, Scope.Scope | NodeContext.NodeContext>

const createWith = (tracker: TrackerShape) => (issues: ReadonlyArray<Seed>) =>
  Effect.gen(function*() {
    const ids: Array<IssueId> = []
    for (const s of issues) {
      const blocked = s.blockedBy === undefined ? [] : [ids[s.blockedBy]!]
      const parent = s.parent === undefined ? null : ids[s.parent]!
      ids.push((yield* tracker.create(new IssueInput({ title: s.title, priority: s.priority, blocked_by: blocked, parent }))).id)
    }
    return ids
  }).pipe(Effect.orDie)

const subjects: ReadonlyArray<readonly [string, Make]> = [
  ["MemoryTracker", Effect.gen(function*() {
    const tracker = yield* MemoryTracker.make()
    return { tracker, seed: createWith(tracker), blockers: true, unknownId: "SY-999" }
  })],
  ["SqliteTracker", Effect.gen(function*() {
    const stores = yield* open(yield* scratch)
    const tracker = yield* SqliteTracker.make().pipe(Effect.provide(Layer.succeedContext(stores)), Effect.orDie)
    return { tracker, seed: createWith(tracker), blockers: true, unknownId: "SY-999" }
  })],
  ["GitHub (twin)", Effect.gen(function*() {
    const stores = yield* open(yield* scratch)
    const twin = yield* GitHubTwin.make({})
    const remote = yield* GitHubTracker.remote({
      repo: `${twin.owner}/${twin.repo}`,
      apiUrl: twin.url,
      token: Redacted.make(twin.token),
      labelPrefix: "switchyard",
      pollMs: 1000
    }).pipe(Effect.provide(FetchHttpClient.layer))
    const mirror = yield* MirrorTracker.make(remote).pipe(
      Effect.provide(Layer.succeedContext(stores)),
      Effect.provide(FetchHttpClient.layer),
      Effect.orDie
    )
    return {
      tracker: mirror.tracker,
      seed: (issues) =>
        Effect.gen(function*() {
          const ids: Array<IssueId> = []
          for (const s of issues) {
            const n = yield* twin.open({
              title: s.title,
              labels: [`priority:${s.priority}`],
              ...(s.blockedBy === undefined ? {} : { blockedBy: [Number(ids[s.blockedBy]!.slice(3))] }),
              ...(s.parent === undefined ? {} : { parent: Number(ids[s.parent]!.slice(3)) })
            })
            ids.push(`GH-${n}` as IssueId)
          }
          yield* mirror.syncOnce
          return ids
        }),
      blockers: true,
      unknownId: "GH-999"
    } satisfies Subject
  })],
  ["Linear (twin)", Effect.gen(function*() {
    const stores = yield* open(yield* scratch)
    const twin = yield* LinearTwin.make({})
    const remote = yield* LinearTracker.remote({
      apiUrl: twin.url,
      apiKey: Redacted.make(twin.apiKey),
      projectSlug: twin.projectSlug,
      states: {
        active: ["Todo", "In Progress"],
        terminal: ["Closed", "Cancelled", "Canceled", "Duplicate", "Done"],
        names: { todo: "Todo", running: "In Progress", review: "In Review", escalated: "Backlog", no_op: "Done" }
      },
      pollMs: 1000
    }).pipe(Effect.provide(FetchHttpClient.layer), Effect.orDie)
    const mirror = yield* MirrorTracker.make(remote).pipe(
      Effect.provide(Layer.succeedContext(stores)),
      Effect.provide(FetchHttpClient.layer),
      Effect.orDie
    )
    const rank: Record<Priority, number> = { critical: 1, high: 2, medium: 3, low: 4, none: 0 }
    return {
      tracker: mirror.tracker,
      seed: (issues) =>
        Effect.gen(function*() {
          const ids: Array<IssueId> = []
          for (const s of issues) {
            const blockedBy = s.blockedBy === undefined ? [] : [ids[s.blockedBy]!]
            const parent = s.parent === undefined ? {} : { parent: ids[s.parent]! }
            ids.push((yield* twin.create({ title: s.title, priority: rank[s.priority], blockedBy, ...parent })) as IssueId)
          }
          yield* mirror.syncOnce
          return ids
        }),
      blockers: true,
      unknownId: "ENG-999"
    } satisfies Subject
  })],
  ["fp (fake CLI)", Effect.gen(function*() {
    const stores = yield* open(yield* scratch)
    const dir = mkdtempSync(join(tmpdir(), "contract-fp-"))
    const remote = yield* FpTracker.remote({ command: join(bin, "fp"), cwd: dir, pollMs: 1000 }).pipe(
      Effect.provide(Layer.succeedContext(stores))
    )
    const executor = yield* Effect.context<NodeContext.NodeContext>()
    const mirror = yield* MirrorTracker.make(remote).pipe(Effect.provide(Layer.succeedContext(stores)), Effect.orDie)
    return {
      tracker: mirror.tracker,
      seed: (issues) =>
        Effect.gen(function*() {
          const at = Date.parse("2026-12-01T10:00:00Z")
          const uuid = (i: number) => `0000000${i + 1}-aaaa-bbbb-cccc-dddddddddddd`
          writeFileSync(
            join(dir, ".fp-fake.json"),
            JSON.stringify({
              issues: issues.map((s, i) => ({
                id: uuid(i),
                displayId: `SWYRD-abc1234${i}`,
                title: s.title,
                status: "todo",
                priority: s.priority === "none" ? null : s.priority,
                parent: s.parent === undefined ? null : uuid(s.parent),
                dependencies: s.blockedBy === undefined ? [] : [uuid(s.blockedBy)],
                createdAt: new Date(at + i * 1000).toISOString(),
                updatedAt: new Date(at).toISOString()
              }))
            })
          )
          yield* mirror.syncOnce.pipe(Effect.provide(executor))
          return issues.map((_, i) => `FP-${i + 1}` as IssueId)
        }),
      blockers: true,
      unknownId: "FP-999"
    } satisfies Subject
  })]
]

for (const [name, make] of subjects) {
  describe(`Tracker contract: ${name}`, () => {
    const live = (title: string, body: (s: Subject) => Effect.Effect<void, unknown>) =>
      it.live(title, () => Effect.flatMap(make, body).pipe(Effect.provide(NodeContext.layer), Effect.scoped), 30_000)

    live("the ready set is the todo issues in dispatch order: priority, then creation", (s) =>
      Effect.gen(function*() {
        const ids = yield* s.seed([
          { title: "low one", priority: "low" },
          { title: "critical one", priority: "critical" },
          { title: "medium one", priority: "medium" },
          { title: "another medium", priority: "medium" }
        ])
        const ready = yield* s.tracker.ready
        expect(ready.refs.map((r) => r.id)).toEqual([ids[1], ids[2], ids[3], ids[0]])
        expect(ready.refs.map((r) => r.priority)).toEqual(["critical", "medium", "medium", "low"])
        const summary = yield* s.tracker.readySummary({ exclude: [ids[1]!], limit: 2 })
        expect([summary.total, summary.head.map((r) => r.id)]).toEqual([3, [ids[2], ids[3]]])
      }))

    live("transitions are compare-and-set; a claimed issue leaves the ready set; comments append", (s) =>
      Effect.gen(function*() {
        const [a, b] = yield* s.seed([{ title: "a", priority: "medium" }, { title: "b", priority: "medium" }])
        expect(yield* s.tracker.transition(a!, ["todo"], "in_progress")).toBe(true)
        expect(yield* s.tracker.transition(a!, ["todo"], "in_progress")).toBe(false)
        expect((yield* s.tracker.get(a!)).status).toBe("in_progress")
        expect((yield* s.tracker.ready).refs.map((r) => r.id)).toEqual([b])
        expect((yield* s.tracker.statuses([a!, b!, s.unknownId])).get(a!)).toBe("in_progress")
        expect((yield* s.tracker.statuses([a!, b!, s.unknownId])).has(s.unknownId)).toBe(false)
        const counts = yield* s.tracker.counts
        expect([counts.todo, counts.in_progress]).toEqual([1, 1])
        const commented = yield* s.tracker.comment(a!, "on it", "switchyard")
        expect(commented.comments.map((c) => c.body)).toEqual(["on it"])
        expect((yield* s.tracker.get(a!)).comments.map((c) => [c.author, c.body])).toEqual([["switchyard", "on it"]])
      }))

    live("blockers: an issue waits until its blocker is done", (s) =>
      Effect.gen(function*() {
        if (!s.blockers) return
        const [first, second] = yield* s.seed([
          { title: "first", priority: "low" },
          { title: "second", priority: "critical", blockedBy: 0 }
        ])
        expect((yield* s.tracker.ready).refs.map((r) => r.id)).toEqual([first])
        expect((yield* s.tracker.get(second!)).blocked_by).toEqual([first])
        yield* s.tracker.transition(first!, ["todo"], "done")
        expect((yield* s.tracker.ready).refs.map((r) => r.id)).toEqual([second])
      }))

    live("children: a parent waits until its children are done", (s) =>
      Effect.gen(function*() {
        const [parent, child] = yield* s.seed([
          { title: "parent", priority: "critical" },
          { title: "child", priority: "low", parent: 0 }
        ])
        expect((yield* s.tracker.get(child!)).parent).toEqual(parent)
        expect((yield* s.tracker.ready).refs.map((r) => r.id)).toEqual([child])
        yield* s.tracker.transition(child!, ["todo"], "done")
        expect((yield* s.tracker.ready).refs.map((r) => r.id)).toEqual([parent])
      }))

    live("errors: an unknown id is IssueNotFound, text that is not an id is InvalidIssueId", (s) =>
      Effect.gen(function*() {
        yield* s.seed([{ title: "x", priority: "medium" }])
        const unknown = yield* Effect.either(s.tracker.get(s.unknownId))
        expect(Either.isLeft(unknown) && unknown.left._tag).toBe("IssueNotFound")
        const bad = yield* Effect.either(s.tracker.get("../etc/passwd"))
        expect(Either.isLeft(bad) && bad.left._tag).toBe("InvalidIssueId")
        const moved = yield* Effect.either(s.tracker.transition(s.unknownId as IssueId, ["todo"], "in_progress"))
        expect(Either.isLeft(moved) && moved.left._tag).toBe("IssueNotFound")
      }))
  })
}



