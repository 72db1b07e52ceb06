/**
 * `tracker.required_labels` (Symphony SPEC §5.3.1, checklist 24): an issue needs every one of them, compared
 * trimmed and lower-cased, to be dispatched or to keep running. A ported Symphony file with `required_labels` used
 * to be decoded without the key and dispatched the whole `todo` queue. The real loop over the SQLite stores.
 */
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Orchestrator, runLine, Tracker } from "@switchyard/core"
import { IssueInput } from "@switchyard/domain"
import { Context, Effect, Option, Ref, Schedule } from "effect"
import { open, scratch } from "./helpers.js"
import { standInLine } from "./standIns.js"

const setUp = (config: Record<string, unknown>) =>
  Effect.gen(function*() {
    const paths = yield* scratch
    const stores = yield* open(paths)
    const line = yield* standInLine(stores, paths.stateDir, config)
    return {
      ...line,
      tracker: Context.get(stores, Tracker),
      orchestrator: Context.get(stores, Orchestrator)
    }
  })

describe("tracker.required_labels", () => {
  it.live("a Symphony file's required_labels dispatch only the issues that carry all of them", () =>
    Effect.gen(function*() {
      const { line, runs, tracker } = yield* setUp({
        tracker: { kind: "switchyard", required_labels: ["Symphony", " ready "], active_states: ["Todo"] }
      })
      const both = yield* tracker.create(new IssueInput({ title: "noop with both", labels: ["symphony ", "READY"] }))
      const one = yield* tracker.create(new IssueInput({ title: "noop with one", labels: ["symphony"] }))
      const none = yield* tracker.create(new IssueInput({ title: "noop with none" }))
      yield* runLine({ once: true }).pipe(Effect.provide(line), Effect.timeout("20 seconds"))
      const ran = yield* Ref.get(runs)
      expect([...ran.keys()]).toEqual([both.id])
      expect((yield* tracker.get(both.id)).status).toBe("done")
      expect((yield* tracker.get(one.id)).status).toBe("todo")
      expect((yield* tracker.get(none.id)).status).toBe("todo")
    }).pipe(Effect.provide(NodeContext.layer), Effect.scoped), 30_000)

  it.live("a blank required label matches no issue", () =>
    Effect.gen(function*() {
      const { line, runs, tracker } = yield* setUp({ tracker: { required_labels: ["ready", "  "] } })
      const issue = yield* tracker.create(new IssueInput({ title: "noop ready", labels: ["ready", ""] }))
      yield* runLine({ once: true }).pipe(Effect.provide(line), Effect.timeout("20 seconds"))
      expect((yield* Ref.get(runs)).size).toBe(0)
      expect((yield* tracker.get(issue.id)).status).toBe("todo")
    }).pipe(Effect.provide(NodeContext.layer), Effect.scoped), 30_000)

  it.live("without required_labels every todo issue is dispatched", () =>
    Effect.gen(function*() {
      const { line, runs, tracker } = yield* setUp({})
      yield* tracker.create(new IssueInput({ title: "noop a", labels: ["x"] }))
      yield* tracker.create(new IssueInput({ title: "noop b" }))
      yield* runLine({ once: true }).pipe(Effect.provide(line), Effect.timeout("20 seconds"))
      expect((yield* Ref.get(runs)).size).toBe(2)
    }).pipe(Effect.provide(NodeContext.layer), Effect.scoped), 30_000)

  it.live("removing a required label from a running issue stops its worker and requeues it, uncounted", () =>
    Effect.gen(function*() {
      const { line, orchestrator, runs, tracker } = yield* setUp({ tracker: { required_labels: ["ready"] } })
      const hang = yield* tracker.create(new IssueInput({ title: "hang until relabelled", labels: ["ready", "bug"] }))
      const runner = yield* runLine({ once: true }).pipe(Effect.provide(line), Effect.fork)
      yield* Effect.repeat(Ref.get(runs), { until: (m) => (m.get(hang.id) ?? 0) > 0, schedule: Schedule.spaced("10 millis") })
      yield* tracker.update(hang.id, { labels: ["bug"] })
      const drained = yield* runner.await.pipe(Effect.timeoutOption("20 seconds"))
      expect(Option.isSome(drained)).toBe(true)
      // Back to todo, not counted, and not dispatched again while the label is missing.
      expect((yield* tracker.get(hang.id)).status).toBe("todo")
      expect((yield* orchestrator.attempts(hang.id)).map((a) => [a.terminal_state, a.cause, a.counted])).toEqual([
        [null, "required_labels_missing", false]
      ])
      expect((yield* Ref.get(runs)).get(hang.id)).toBe(1)
      const events = yield* orchestrator.events({ limit: 100 })
      const canceled = events.filter((e) => e.type === "reconcile.canceled" && e.issue_id === hang.id)
      expect(canceled.map((e) => e.message)).toEqual([`${hang.id} no longer has the required label(s) "ready"; stopping its worker`])
      expect(yield* orchestrator.leases).toEqual([])
    }).pipe(Effect.provide(NodeContext.layer), Effect.scoped), 30_000)
})
