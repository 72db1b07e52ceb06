/**
 * The in-process WorkerPool: a `FiberMap` of running attempts keyed by issue id. Closing the layer's scope
 * interrupts every worker (graceful shutdown): each attempt's interruption handler records the attempt as not
 * counted, returns the issue to `todo` and removes its sandbox, and the lease is released.
 */
import type { IssueId } from "@switchyard/domain"
import { Clock, Effect, Fiber, FiberMap, Layer, PubSub, Ref, Stream } from "effect"
import { AgentStation } from "../AgentStation/AgentStation.js"
import { EvidenceStore } from "../EvidenceStore/EvidenceStore.js"
import { Orchestrator } from "../Orchestrator/Orchestrator.js"
import { Sandbox } from "../Sandbox/Sandbox.js"
import { Tracker } from "../Tracker/Tracker.js"
import { Verifier } from "../Verifier/Verifier.js"
import { Confinement } from "../Confinement/Confinement.js"
import { Redactor } from "../Redactor/Redactor.js"
import { Workflow } from "../Workflow/Workflow.js"
import { runAttempt } from "../Line/runAttempt.js"
import { WorkerPool, type WorkerInfo } from "./WorkerPool.js"
import { Attr, traced } from "../Telemetry/Telemetry.js"

/** Builds the pool; its fibers live as long as the surrounding scope. */
export const make = Effect.gen(function*() {
  const context = yield* Effect.context<
    Tracker | Orchestrator | Sandbox | AgentStation | Verifier | EvidenceStore | Workflow | Confinement | Redactor
  >()
  const orchestrator = yield* Orchestrator
  const fibers = yield* FiberMap.make<IssueId>()
  const infos = yield* Ref.make<ReadonlyMap<IssueId, WorkerInfo>>(new Map())
  const causes = yield* Ref.make<ReadonlyMap<IssueId, string>>(new Map())
  const finished = yield* PubSub.unbounded<IssueId>()

  const patch = (id: IssueId, f: (w: WorkerInfo) => WorkerInfo) =>
    Ref.update(infos, (m) => {
      const w = m.get(id)
      return w === undefined ? m : new Map(m).set(id, f(w))
    })
  const forget = (id: IssueId) =>
    Ref.update(infos, (m) => {
      const next = new Map(m)
      next.delete(id)
      return next
    })

  const dispatch: WorkerPool["Type"]["dispatch"] = (issue, lease) =>
    Effect.gen(function*() {
      // The previous attempt's fiber may still be finishing (its lease is released by its ending, before it removes
      // its sandbox): wait for it, so the new attempt is never silently dropped.
      const previous = yield* FiberMap.get(fibers, issue.id).pipe(Effect.option)
      if (previous._tag === "Some") yield* Fiber.await(previous.value)
      const startedAt = yield* Clock.currentTimeMillis
      yield* Ref.update(infos, (m) =>
        new Map(m).set(issue.id, {
          issueId: issue.id,
          attempt: lease.attempt,
          labels: issue.labels,
          stage: "claimed",
          startedAt,
          lastOutputAt: null,
          pid: null
        }))
      const work = runAttempt(issue, lease, {
        stage: (stage) => patch(issue.id, (w) => ({ ...w, stage })),
        spawned: (pid) => patch(issue.id, (w) => ({ ...w, pid })),
        output: (at) => patch(issue.id, (w) => ({ ...w, lastOutputAt: at })),
        interruptCause: Ref.get(causes).pipe(Effect.map((m) => m.get(issue.id) ?? "interrupted"))
      }).pipe(
        traced("switchyard.attempt", { root: true, attributes: { [Attr.issueId]: issue.id, [Attr.attempt]: lease.attempt } }),
        Effect.ensuring(
          Effect.all([
            orchestrator.release(issue.id, lease.epoch).pipe(Effect.ignoreLogged),
            forget(issue.id),
            Ref.update(causes, (m) => {
              const next = new Map(m)
              next.delete(issue.id)
              return next
            }),
            PubSub.publish(finished, issue.id)
          ], { discard: true })
        ),
        Effect.provide(context)
      )
      yield* FiberMap.run(fibers, issue.id, work)
    })

  const interrupt: WorkerPool["Type"]["interrupt"] = (issueId, cause) =>
    Effect.gen(function*() {
      if (!(yield* FiberMap.has(fibers, issueId))) return false
      yield* Ref.update(causes, (m) => new Map(m).set(issueId, cause))
      yield* FiberMap.remove(fibers, issueId)
      return true
    })

  const interruptAll: WorkerPool["Type"]["interruptAll"] = (cause) =>
    Effect.gen(function*() {
      const ids = [...(yield* Ref.get(infos)).keys()]
      yield* Ref.update(causes, (m) => {
        const next = new Map(m)
        for (const id of ids) next.set(id, cause)
        return next
      })
      yield* FiberMap.clear(fibers)
    })

  yield* Effect.addFinalizer(() => interruptAll("shutdown"))

  return WorkerPool.of({
    dispatch,
    workers: Ref.get(infos).pipe(Effect.map((m) => [...m.values()])),
    interrupt,
    interruptAll,
    finished: Stream.fromPubSub(finished)
  })
})

export const layer = Layer.scoped(WorkerPool, make)
