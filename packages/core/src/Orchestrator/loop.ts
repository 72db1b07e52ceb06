/**
 * The line's main loop (`switchyard run`): every tick reconciles first, then claims eligible issues into free
 * slots and hands them to the WorkerPool (Symphony SPEC §8.1: reconciliation runs before dispatch).
 * A tick is triggered by the poll interval, a worker finishing, or a retry falling due.
 */
import type { IssueId } from "@switchyard/domain"
import { Clock, Duration, Effect, Option, Queue, Schedule, Stream } from "effect"
import { Supervisor } from "../Supervisor/Supervisor.js"
import { annotate, Attr, traced } from "../Telemetry/Telemetry.js"
import {
  eligibleRefs,
  hasRequiredLabels,
  missingRequiredLabels,
  normalizeLabel,
  selectForDispatch
} from "../Tracker/eligibility.js"
import { Tracker } from "../Tracker/Tracker.js"
import { WorkerPool, type WorkerInfo } from "../WorkerPool/WorkerPool.js"
import { Workflow } from "../Workflow/Workflow.js"
import { Orchestrator } from "./Orchestrator.js"

export interface RunOptions {
  /** Drain and return: stop when nothing is eligible, no retry is waiting and no worker runs. */
  readonly once: boolean
  /** Overrides `agent.max_concurrent_agents`. */
  readonly concurrency?: number | undefined
  /** Extra wake-ups: a tick soon after each element (`POST /api/v1/refresh`, Symphony SPEC §13.7). */
  readonly refresh?: Stream.Stream<void> | undefined
}

export interface TickResult {
  readonly started: ReadonlyArray<IssueId>
  /** Eligible issues left waiting for a slot. */
  readonly waiting: number
  /**
   * Issues this tick picked but could not start because another runner claimed (or moved) them first, between
   * the read and the claim. The loop ticks again soon instead of concluding that nothing is left.
   */
  readonly contested: number
  /** Epoch ms of the earliest pending retry of a `todo` issue, or null. */
  readonly nextRetryAt: number | null
  /** Workers running at the start or at the end of the tick (the larger). */
  readonly running: number
}

/** How soon (ms) a failed tick is retried, whatever the poll interval. */
export const TICK_RETRY_MS = 250

/** Consecutive failed ticks after which a `--once` run gives up (about 10 s at `TICK_RETRY_MS`). */
export const ONCE_MAX_FAILED_TICKS = 40

/** At most this many `issue.eligible` events per tick (the first ones in dispatch order). */
export const ELIGIBLE_EVENTS_PER_TICK = 20

export interface TickMemory {
  /** Poison rows already reported (each is reported once per runner). */
  readonly poison: Set<string>
  /** Issues seen eligible on the previous tick (so `issue.eligible` is recorded once per transition). */
  eligible: ReadonlySet<string>
  /** Epoch ms of the last tick that read the ready set, or null before the first. */
  readyReadAt: number | null
}

export const emptyTickMemory = (): TickMemory => ({ poison: new Set(), eligible: new Set(), readyReadAt: null })

/**
 * Interrupts workers whose issue left `in_progress` in the tracker (cancelled, moved back, deleted), so a
 * cancellation takes effect within one tick; and workers whose issue no longer carries every
 * `tracker.required_labels` label (`requiredLabels`; Symphony SPEC §5.3.1: an issue needs them "to dispatch or
 * continue"), which go back to `todo` (cause `required_labels_missing`, not counted) and stay there until the labels
 * are back. Workers already packaging are left to finish.
 * A cancellation is recorded as `canceled_by_reconciliation` and not counted (WorkerPool.interrupt).
 *
 * Returns the current labels of each running issue it read from the tracker (keyed by issue id), so per-label
 * slots are counted from the labels an issue has now, not the ones it had at dispatch (`runningLabels`).
 */
export const cancelDeparted = (requiredLabels: ReadonlyArray<string> = []) =>
  Effect.gen(function*() {
    const tracker = yield* Tracker
    const pool = yield* WorkerPool
    const orchestrator = yield* Orchestrator
    const labels = new Map<string, ReadonlyArray<string>>()
    for (const w of yield* pool.workers) {
      const current = yield* Effect.either(tracker.get(w.issueId))
      if (current._tag === "Right") labels.set(w.issueId, current.right.labels)
      if (w.stage === "package" || w.stage === "done") continue
      const status = current._tag === "Right" ? current.right.status : current.left._tag === "IssueNotFound" ? "deleted" : null
      if (status === null) continue
      if (status === "in_progress") {
        if (current._tag === "Left" || hasRequiredLabels(current.right.labels, requiredLabels)) continue
        const missing = missingRequiredLabels(current.right.labels, requiredLabels)
        yield* orchestrator.record(
          "reconcile.canceled",
          w.issueId,
          `${w.issueId} no longer has the required label(s) ${missing.map((l) => JSON.stringify(l)).join(", ")}; stopping its worker`,
          { status, missingLabels: missing }
        )
        yield* pool.interrupt(w.issueId, "required_labels_missing")
        continue
      }
      yield* orchestrator.record("reconcile.canceled", w.issueId, `${w.issueId} is now ${status}; interrupting its worker`, {
        status
      })
      yield* pool.interrupt(w.issueId, "canceled_by_reconciliation")
    }
    return labels as ReadonlyMap<string, ReadonlyArray<string>>
  })

/**
 * The labels each running worker holds slots under: its issue's current labels as last read from the tracker,
 * falling back to the labels it had at dispatch when the tracker could not be read for it this tick.
 */
export const runningLabels = (
  workers: ReadonlyArray<Pick<WorkerInfo, "issueId" | "labels">>,
  current: ReadonlyMap<string, ReadonlyArray<string>>
): ReadonlyArray<ReadonlyArray<string>> => workers.map((w) => current.get(w.issueId) ?? w.labels)

/**
 * One tick: reconcile, read the candidates, claim and dispatch into free slots.
 *
 * When every slot is taken (`--concurrency`, else `agent.max_concurrent_agents`), nothing can start, so the
 * ready set (the one read that grows with the tracker: ~55 ms at 100k issues) is read only if the last read is
 * older than `polling.interval_ms`; `issue.eligible` events are then at most one poll interval late. A run's own
 * writes wake the loop several times per issue, and at 100k issues those reads were most of its cost per issue
 * (docs/benchmarks.md). Reconciliation runs on every tick regardless.
 *
 * Fails only with `WorkflowError`/`TrackerError`/`OrchestratorError` reading state; the caller logs and goes on.
 */
export const tick = (options: RunOptions, memory: TickMemory = emptyTickMemory()) =>
  Effect.gen(function*() {
    const tracker = yield* Tracker
    const orchestrator = yield* Orchestrator
    const pool = yield* WorkerPool
    const supervisor = yield* Supervisor
    const workflow = yield* Workflow
    yield* supervisor.reconcile
    const def = yield* workflow.current
    const cfg = def.config
    const required = cfg.tracker.required_labels
    const currentLabels = yield* cancelDeparted(required)
    const maxConcurrent = options.concurrency ?? cfg.agent.max_concurrent_agents
    const busy = (yield* pool.workers).length
    const startedAt = yield* Clock.currentTimeMillis
    if (
      busy >= maxConcurrent && memory.readyReadAt !== null &&
      startedAt - memory.readyReadAt < cfg.polling.interval_ms
    ) {
      return { started: [], waiting: memory.eligible.size, contested: 0, nextRetryAt: null, running: busy } satisfies TickResult
    }
    memory.readyReadAt = startedAt
    const ready = yield* tracker.ready
    for (const bad of ready.invalid) {
      if (memory.poison.has(bad.id)) continue
      memory.poison.add(bad.id)
      yield* orchestrator.record("issue.invalid", null, `issue ${bad.id} cannot be read and is skipped: ${bad.reason}`, {
        id: bad.id
      })
    }
    const leases = yield* orchestrator.leases
    const retries = yield* orchestrator.retries
    const now = yield* Clock.currentTimeMillis
    // An issue whose worker here is still finishing (its ending released the lease; it is removing its sandbox) is
    // not claimable by this runner yet: its retry would otherwise be claimed while the old fiber still runs.
    const working = (yield* pool.workers).map((w) => w.issueId as string)
    // `tracker.required_labels` (all-of, case-insensitive) filter the ready set for every tracker kind.
    const labelled = required.length === 0 ? ready.refs : ready.refs.filter((r) => hasRequiredLabels(r.labels, required))
    const eligible = eligibleRefs(labelled, {
      now,
      claimed: new Set([...leases.map((l) => l.issue_id as string), ...working]),
      retryDue: new Map(retries.map((r) => [r.issue_id, r.due_at]))
    })
    // `issue.eligible` once per issue when it becomes eligible; bounded per tick so a tracker with 100k todo
    // issues does not write 100k events on the first tick (the rest are counted in one event).
    const fresh = eligible.filter((i) => !memory.eligible.has(i.id))
    for (const issue of fresh.slice(0, ELIGIBLE_EVENTS_PER_TICK)) {
      yield* orchestrator.record("issue.eligible", issue.id, `${issue.id} is eligible (${issue.priority})`)
    }
    if (fresh.length > ELIGIBLE_EVENTS_PER_TICK) {
      yield* orchestrator.record(
        "issue.eligible",
        null,
        `${fresh.length - ELIGIBLE_EVENTS_PER_TICK} more issues became eligible`,
        { count: fresh.length - ELIGIBLE_EVENTS_PER_TICK }
      )
    }
    memory.eligible = new Set(eligible.map((i) => i.id))
    const byLabel = Object.fromEntries(
      Object.entries(cfg.agent.max_concurrent_agents_by_label as Readonly<Record<string, number>>).map((
        [k, v]
      ) => [normalizeLabel(k), v] as const)
    )
    const workers = yield* pool.workers
    const picked = selectForDispatch(eligible, {
      maxConcurrent,
      byLabel,
      running: runningLabels(workers, currentLabels)
    })
    const started: Array<IssueId> = []
    let contested = 0
    for (const ref of picked) {
      // Only the issues actually dispatched are read in full; one that no longer decodes is poison, skipped.
      const read = yield* Effect.either(tracker.get(ref.id))
      if (read._tag === "Left") {
        if (!memory.poison.has(ref.id)) {
          memory.poison.add(ref.id)
          yield* orchestrator.record("issue.invalid", ref.id, `issue ${ref.id} cannot be read and is skipped: ${read.left.message}`)
        }
        continue
      }
      const issue = read.right
      // Revalidated on the full read (Symphony SPEC §11.1 stale-dispatch revalidation): labels may have changed.
      if (!hasRequiredLabels(issue.labels, required)) continue
      // An attempt left open by a dead runner (with a candidate on record: the supervisor closes the others) is
      // resumed under its own number; otherwise this is the next attempt.
      const rows = yield* orchestrator.attempts(issue.id)
      const latest = rows.at(-1)
      const attempt = latest !== undefined && latest.ended_at === null ? latest.attempt : rows.length + 1
      const lease = yield* orchestrator.claim(issue.id, attempt, cfg.orchestrator.lease_ttl_ms)
      if (Option.isNone(lease)) {
        contested += 1
        continue
      }
      const moved = yield* tracker.transition(issue.id, ["todo"], "in_progress")
      if (!moved) {
        yield* orchestrator.release(issue.id)
        contested += 1
        continue
      }
      yield* orchestrator.clearRetry(issue.id)
      yield* orchestrator.record("claim.acquired", issue.id, `claimed ${issue.id} (attempt ${attempt}): ${issue.title}`, {
        attempt,
        priority: issue.priority
      })
      yield* pool.dispatch(issue, lease.value)
      started.push(issue.id)
    }
    const todo = new Set(ready.refs.map((r) => r.id as string))
    const due = retries.filter((r) => todo.has(r.issue_id) && r.due_at > now).map((r) => r.due_at)
    return {
      started,
      waiting: eligible.length - started.length,
      contested,
      nextRetryAt: due.length === 0 ? null : Math.min(...due),
      // A worker that ended during this tick (after the ready read, so its retry or its issue's new state was not
      // seen) still counts as running: the next tick reads the ready set again before `--once` concludes it drained.
      running: Math.max(busy, (yield* pool.workers).length)
    } satisfies TickResult
  })

/**
 * Runs the line until interrupted, or (with `once`) until it drains: nothing running, no retry pending, and a
 * tick that found nothing to start without losing a claim to another runner. Renews this runner's leases every
 * `orchestrator.heartbeat_ms`. A failing tick (unreadable workflow or store) is logged and retried after
 * `TICK_RETRY_MS`; it never ends a long-lived run (Symphony SPEC §14.2). A `--once` run fails with the tick's
 * error (`WorkflowError`, `TrackerError`, `OrchestratorError`) after `ONCE_MAX_FAILED_TICKS` failures in a row.
 */
export const runLine = (options: RunOptions) =>
  Effect.gen(function*() {
    const orchestrator = yield* Orchestrator
    const pool = yield* WorkerPool
    const workflow = yield* Workflow
    const tracker = yield* Tracker
    const first = yield* workflow.current
    const wake = yield* Queue.sliding<void>(1)
    // Push, not only pull: a worker finishing, or any tracker change (this process or another), ticks at once.
    yield* pool.finished.pipe(Stream.runForEach(() => Queue.offer(wake, undefined)), Effect.forkScoped)
    yield* tracker.changes.pipe(Stream.runForEach(() => Queue.offer(wake, undefined)), Effect.forkScoped)
    if (options.refresh !== undefined) {
      yield* options.refresh.pipe(Stream.runForEach(() => Queue.offer(wake, undefined)), Effect.forkScoped)
    }
    yield* Effect.gen(function*() {
      const cfg = (yield* workflow.current).config
      yield* orchestrator.heartbeat(cfg.orchestrator.lease_ttl_ms)
    }).pipe(
      Effect.ignoreLogged,
      Effect.repeat(Schedule.spaced(Duration.millis(first.config.orchestrator.heartbeat_ms))),
      Effect.forkScoped
    )
    yield* orchestrator.record("runner.started", null, `runner ${orchestrator.runnerId} started`, {
      once: options.once,
      concurrency: options.concurrency ?? first.config.agent.max_concurrent_agents
    })
    const memory = emptyTickMemory()
    let failures = 0
    while (true) {
      const outcome = yield* Effect.either(tick(options, memory).pipe(
        Effect.tap((r) => annotate({ [Attr.started]: r.started.length, [Attr.running]: r.running })),
        traced("switchyard.tick", { root: true })
      ))
      if (outcome._tag === "Left") {
        // A failed tick knows nothing about the work left, so it does not end a `--once` run by itself: retry
        // shortly. Only a `--once` run that keeps failing gives up, with the error (a long-lived run never does).
        failures += 1
        yield* orchestrator.record("tick.failed", null, outcome.left.message)
        yield* Effect.logWarning(`tick failed, retrying: ${outcome.left.message}`)
        if (options.once && failures >= ONCE_MAX_FAILED_TICKS) return yield* Effect.fail(outcome.left)
        yield* Effect.race(Queue.take(wake), Effect.sleep(Duration.millis(TICK_RETRY_MS)))
        continue
      }
      failures = 0
      const result = outcome.right
      // Drained: nothing running, no retry pending, nothing started, and no claim lost to another runner (a lost
      // race says nothing about the rest of the eligible issues: the next tick reads them again).
      const drained = result.running === 0 && result.nextRetryAt === null && result.started.length === 0 &&
        result.contested === 0
      if (options.once && drained) break
      const now = yield* Clock.currentTimeMillis
      const interval = (yield* Effect.either(workflow.current)).pipe((e) =>
        e._tag === "Right" ? e.right.config.polling.interval_ms : first.config.polling.interval_ms
      )
      const untilRetry = result.nextRetryAt === null ? interval : Math.max(0, result.nextRetryAt - now)
      const wait = result.contested > 0 ? Math.min(TICK_RETRY_MS, interval, untilRetry) : Math.min(interval, untilRetry)
      yield* Effect.race(Queue.take(wake), Effect.sleep(Duration.millis(wait)))
    }
    yield* orchestrator.record("runner.drained", null, "nothing left to do")
  }).pipe(Effect.scoped)
