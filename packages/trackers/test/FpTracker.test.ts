/**
 * The fp tracker with a fake `fp` on PATH (fixtures/fake-fp.mjs: the five verbs, the JSON shapes of
 * integrations.md §2, its state in a JSON file), through `@effect/platform`'s Command; a real SQLite file and the
 * real loop. fp cannot be installed here (it is on neither npm nor Debian).
 */
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Orchestrator, runLine, Tracker } from "@switchyard/core"
import { IssueId } from "@switchyard/domain"
import { Context, Effect, Layer, Option, Ref, Schedule } from "effect"
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { FpTracker, MirrorTracker } from "../src/index.js"
import { open, scratch } from "./helpers.js"
import { standInLine } from "./standIns.js"

// `fp` on PATH is the fake, for this test file's worker.
const bin = mkdtempSync(join(tmpdir(), "fake-fp-bin-"))
copyFileSync(fileURLToPath(new URL("./fixtures/fake-fp.mjs", import.meta.url)), join(bin, "fp"))
chmodSync(join(bin, "fp"), 0o755)
process.env["PATH"] = `${bin}:${process.env["PATH"] ?? ""}`

interface FakeIssue {
  id: string
  displayId: string
  title: string
  description?: string | null
  status: "todo" | "in-progress" | "done"
  priority?: string | null
  parent?: string | null
  dependencies?: Array<string>
  properties?: Record<string, string>
  comments?: Array<string>
  deleted?: boolean
  raw?: unknown
  createdAt: string
  updatedAt: string
}

/** A project directory holding the fake's state. */
const project = (issues: Array<Partial<FakeIssue> & { title: string }>) => {
  const dir = mkdtempSync(join(tmpdir(), "fake-fp-project-"))
  mkdirSync(dir, { recursive: true })
  const at = "2026-12-01T10:00:00.000Z"
  const full = issues.map((i, n) => ({
    id: `0000000${n + 1}-aaaa-bbbb-cccc-dddddddddddd`,
    displayId: `SWYRD-abc1234${n}`,
    status: "todo" as const,
    createdAt: new Date(Date.parse(at) + n * 1000).toISOString(),
    updatedAt: at,
    ...i
  }))
  // Atomic, as the fake writes: neither side ever reads half a file.
  const write = (all: Array<FakeIssue>) => {
    writeFileSync(join(dir, ".fp-fake.json.test.tmp"), JSON.stringify({ issues: all }))
    renameSync(join(dir, ".fp-fake.json.test.tmp"), join(dir, ".fp-fake.json"))
  }
  write(full as Array<FakeIssue>)
  return {
    dir,
    read: (): Array<FakeIssue> => JSON.parse(readFileSync(join(dir, ".fp-fake.json"), "utf8")).issues,
    edit: (index: number, patch: Partial<FakeIssue>) =>
      Effect.sync(() => {
        const all = JSON.parse(readFileSync(join(dir, ".fp-fake.json"), "utf8")).issues as Array<FakeIssue>
        all[index] = { ...all[index]!, ...patch }
        write(all)
      }),
    mode: (m: string) => Effect.sync(() => writeFileSync(join(dir, ".fp-fake-mode"), m))
  }
}

const setUp = (issues: Parameters<typeof project>[0]) =>
  Effect.gen(function*() {
    const paths = yield* scratch
    const stores = yield* open(paths)
    const p = project(issues)
    const options = { command: "fp", cwd: p.dir, pollMs: 40 }
    const remote = yield* FpTracker.remote(options).pipe(Effect.provide(Layer.succeedContext(stores)))
    const mirror = yield* MirrorTracker.make(remote).pipe(Effect.provide(Layer.succeedContext(stores)))
    return { paths, stores, p, options, mirror }
  })

describe("fp tracker", () => {
  it.live("mirrors fp issues as FP-<n>, with dependencies as blockers and others' in-progress work left alone", () =>
    Effect.gen(function*() {
      const { mirror, p } = yield* setUp([
        { title: "first", priority: "high" },
        { title: "second, after the first", dependencies: ["00000001-aaaa-bbbb-cccc-dddddddddddd"] },
        { title: "a person is on it", status: "in-progress" },
        { title: "ours, escalated", status: "in-progress", properties: { switchyard_state: "escalated" } },
        { title: "x", raw: { id: "broken", status: "sideways" } }
      ])
      yield* mirror.syncOnce
      const issues = yield* mirror.tracker.list()
      expect(issues.map((i) => [i.id, i.title, i.status, i.priority])).toEqual([
        ["FP-1", "first", "todo", "high"],
        ["FP-2", "second, after the first", "todo", "medium"],
        ["FP-3", "a person is on it", "backlog", "medium"],
        ["FP-4", "ours, escalated", "blocked", "medium"]
      ])
      expect(issues[1]?.blocked_by).toEqual(["FP-1"])
      const ready = yield* mirror.tracker.ready
      // The blocked one waits for its blocker; the malformed record is reported.
      expect(ready.refs.map((r) => r.id)).toEqual(["FP-1"])
      expect(ready.invalid.map((i) => i.id)).toEqual(["fp broken"])
      // Ids are stable across reads.
      yield* p.edit(0, { title: "first, renamed" })
      yield* mirror.syncOnce
      expect((yield* mirror.tracker.get("FP-1")).title).toBe("first, renamed")
    }).pipe(Effect.provide(NodeContext.layer), Effect.scoped), 30_000)

  it.live("task-packet fields come from a ```switchyard block in the description; a bad block makes the issue malformed", () =>
    Effect.gen(function*() {
      const { mirror } = yield* setUp([
        {
          title: "fix the parser",
          description: "It breaks.\n\n```switchyard\nreproduction: node test/parse.test.js\nvalidation: [pnpm typecheck]\nscope: [src/parse/**]\nnon_goals: [rewrite the lexer]\n```\n"
        },
        { title: "no block", description: "plain text" },
        { title: "bad block", description: "```switchyard\nvalidation: 3\n```" }
      ])
      yield* mirror.syncOnce
      const issue = yield* mirror.tracker.get("FP-1")
      expect([issue.reproduction, issue.validation, issue.scope, issue.non_goals]).toEqual([
        "node test/parse.test.js",
        ["pnpm typecheck"],
        ["src/parse/**"],
        ["rewrite the lexer"]
      ])
      const plain = yield* mirror.tracker.get("FP-2")
      expect([plain.reproduction, plain.validation]).toEqual([null, []])
      const ready = yield* mirror.tracker.ready
      expect(ready.refs.map((r) => r.id)).toEqual(["FP-1", "FP-2"])
      expect(ready.invalid.map((i) => [i.id, i.reason.includes("switchyard")])).toEqual([["fp 00000003-aaaa-bbbb-cccc-dddddddddddd", true]])
    }).pipe(Effect.provide(NodeContext.layer), Effect.scoped), 30_000)

  it.live("an unregistered project or output that is not JSON: unhealthy, nothing dispatched, one clear preflight line", () =>
    Effect.gen(function*() {
      const { mirror, options, p } = yield* setUp([{ title: "one" }])
      yield* mirror.syncOnce
      expect((yield* mirror.tracker.ready).refs.length).toBe(1)
      yield* p.mode("malformed")
      yield* mirror.syncOnce
      expect((yield* mirror.health).lastError).toContain("printed no JSON")
      expect((yield* mirror.tracker.ready).refs).toEqual([])
      yield* p.mode("unregistered")
      expect(yield* FpTracker.preflight(options).pipe(Effect.provide(NodeContext.layer))).toContain("not a registered fp project")
      expect(yield* FpTracker.preflight({ command: join(bin, "no-such-fp"), cwd: p.dir }).pipe(Effect.provide(NodeContext.layer)))
        .toContain("cannot be run")
      yield* p.mode("")
      expect(yield* FpTracker.preflight(options).pipe(Effect.provide(NodeContext.layer))).toBeNull()
    }).pipe(Effect.provide(NodeContext.layer), Effect.scoped), 30_000)

  it.live("the line: status and run data written back as fp status and properties, a comment per ending, once", () =>
    Effect.gen(function*() {
      const { options, p, paths, stores } = yield* setUp([
        { title: "fix the parser" },
        { title: "noop: already fine" },
        { title: "ask a human" },
        { title: "hang until deleted" }
      ])
      const trackerContext = yield* Layer.build(FpTracker.layer(options).pipe(Layer.provide(Layer.succeedContext(stores)))).pipe(
        Effect.orDie
      )
      const all = Context.merge(stores, trackerContext)
      const { line, runs } = yield* standInLine(all, paths.stateDir, { tracker: { kind: "fp" } })
      const tracker = Context.get(all, Tracker)
      const orchestrator = Context.get(all, Orchestrator)
      const runner = yield* runLine({ once: true }).pipe(Effect.provide(line), Effect.fork)
      yield* Effect.repeat(Ref.get(runs), { until: (m) => m.has("FP-4"), schedule: Schedule.spaced("10 millis") })
      yield* p.edit(3, { deleted: true })
      const drained = yield* runner.await.pipe(Effect.timeoutOption("20 seconds"))
      expect(Option.isSome(drained)).toBe(true)
      // The flush at the end of a run: here, wait for the sync fiber to deliver.
      yield* Effect.repeat(Effect.sync(() => p.read()), {
        until: (issues) => issues.filter((i) => (i.comments ?? []).length > 0).length === 3,
        schedule: Schedule.spaced("50 millis")
      }).pipe(Effect.timeout("15 seconds"))
      const after = p.read()
      expect(after.map((i) => [i.status, i.properties?.["switchyard_state"] ?? ""])).toEqual([
        ["in-progress", "in-review"],
        ["done", "no-op"],
        ["in-progress", "escalated"],
        ["in-progress", "running"]
      ])
      expect(after[0]?.properties?.["switchyard_branch"]).toBe("switchyard/FP-1")
      expect(after[0]?.comments?.[0]).toContain("The verified commit is on branch `switchyard/FP-1`")
      expect(after[1]?.comments?.[0]).toContain("Switchyard found nothing to change")
      expect(after[2]?.comments?.[0]).toContain("Switchyard escalated attempt 1")
      expect(after.map((i) => (i.comments ?? []).length)).toEqual([1, 1, 1, 0])
      // Deleted in fp while running: stopped, not counted.
      expect((yield* orchestrator.attempts(IssueId.make("FP-4"))).map((a) => [a.terminal_state, a.cause])).toEqual([
        [null, "canceled_by_reconciliation"]
      ])
      expect((yield* tracker.get("FP-4")).status).toBe("cancelled")
    }).pipe(Effect.provide(NodeContext.layer), Effect.scoped), 60_000)
})
