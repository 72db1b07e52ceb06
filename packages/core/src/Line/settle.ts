/**
 * The one way an attempt ends, for the worker, the interrupt path and every supervisor repair: store the
 * evidence bundle, move the tracker, schedule the retry, close the attempt row, record its `terminal.*` event and
 * release the lease, in ONE transaction (`Orchestrator.atomically`) fenced by the lease epoch. Idempotent: an
 * attempt that already ended is left alone (only the lease is released). Git (removing the sandbox, deleting a
 * branch) happens after the commit, by the caller, from what `settle` returns: a verified branch is never deleted.
 * (Graphile Worker completes a job only `where locked_by = worker_id`; Temporal records an activity's result once.)
 */
import {
  type Attempt,
  type EvidenceBundle,
  type IssueId,
  RetryEntry,
  terminalEvent,
  type TerminalState
} from "@switchyard/domain"
import { Effect, Schedule } from "effect"
import type { Outcome } from "../EvidenceStore/bundle.js"
import type { EvidenceError } from "../EvidenceStore/errors.js"
import { EvidenceStore } from "../EvidenceStore/EvidenceStore.js"
import { LeaseFenced, type OrchestratorError } from "../Orchestrator/errors.js"
import { Orchestrator } from "../Orchestrator/Orchestrator.js"
import type { InvalidIssueId, IssueNotFound, TrackerError } from "../Tracker/errors.js"
import { branchFor } from "../Sandbox/Sandbox.js"
import { Tracker } from "../Tracker/Tracker.js"
import { evidenceRef } from "./summary.js"
import { endingAttributes, recordEnding } from "../Telemetry/Telemetry.js"

/** What `settle` did. */
export type Settled =
  | { readonly _tag: "Settled"; readonly bundle: EvidenceBundle }
  | { readonly _tag: "AlreadyEnded"; readonly attempt: Attempt }

export type SettleError = LeaseFenced | OrchestratorError | EvidenceError | TrackerError | IssueNotFound | InvalidIssueId

/** The tracker status a terminal state moves an issue to (from `in_progress`). */
export const statusAfter = (state: TerminalState) =>
  state === "PR_READY" ? "in_review" as const : state === "NO_OP" ? "done" as const : state === "ESCALATE"
  ? "blocked" as const
  : "todo" as const

/**
 * Checks the fence and whether the attempt already ended, inside the caller's transaction. Fails `LeaseFenced`
 * when this runner no longer holds the lease at `epoch`; returns the attempt row when it already ended.
 */
const fenced = (issueId: IssueId, attempt: number, epoch: number) =>
  Effect.gen(function*() {
    const orchestrator = yield* Orchestrator
    if (!(yield* orchestrator.holds(issueId, epoch))) return yield* new LeaseFenced({ issueId, attempt, epoch })
    const row = (yield* orchestrator.attempts(issueId)).find((a) => a.attempt === attempt)
    return row !== undefined && row.ended_at !== null ? row : null
  })

/** One ending of an attempt, as `settle` writes it. */
export interface Ending {
  readonly issueId: IssueId
  readonly attempt: number
  /** The lease epoch it is written under (the fence). */
  readonly epoch: number
  /** The bundle: its outcome, verdict, summary and question are what the tracker and the log get. */
  readonly bundle: EvidenceBundle
  /** False when the bundle is already stored (completing the ending a dead worker began). */
  readonly store: boolean
  /** The commit a PR_READY is bound to. */
  readonly commit: string | null
  /** False when the attempt must not count against `agent.max_attempts` (a runner death). */
  readonly counted: boolean
  /** The retry a RETRYABLE_FAILURE schedules; null: eligible again at once (or another state). */
  readonly retry: RetryEntry | null
  readonly endedBy: "worker" | "supervisor"
}

/** The ending of a worker's or a repair's outcome with its bundle. */
export const endingOf = (o: Outcome, bundle: EvidenceBundle): Ending => ({
  issueId: o.issue.id,
  attempt: o.attempt,
  epoch: o.epoch,
  bundle,
  store: true,
  commit: o.commit,
  counted: o.counted,
  retry: o.verdict.state === "RETRYABLE_FAILURE" && o.retryAt !== null
    ? RetryEntry.make({ issue_id: o.issue.id, attempt: o.nextTry, due_at: o.retryAt, error: o.verdict.cause })
    : null,
  endedBy: o.endedBy
})

/**
 * Ends an attempt in one fenced transaction: `EvidenceStore.put` of its bundle (unless already stored), the
 * tracker moved from `in_progress` by the outcome (ESCALATE also comments the reasons and the question; a tracker
 * with `ended` queues its write-back), the
 * retry scheduled or cleared, `finishAttempt`, `terminal.*` recorded, the lease at `epoch` released. An attempt
 * that already ended is left alone (its lease released: `AlreadyEnded`). Fails `LeaseFenced` (nothing written)
 * when the lease moved on, or with a store error (everything rolled back; the attempt stays open for the
 * supervisor).
 */
export const settle = (e: Ending) =>
  Effect.gen(function*() {
    const orchestrator = yield* Orchestrator
    const tracker = yield* Tracker
    const evidence = yield* EvidenceStore
    const { attempt, bundle, epoch, issueId } = e
    return yield* orchestrator.atomically(Effect.gen(function*() {
      const ended = yield* fenced(issueId, attempt, epoch)
      if (ended !== null) {
        yield* orchestrator.release(issueId, epoch)
        return { _tag: "AlreadyEnded", attempt: ended } satisfies Settled as Settled
      }
      if (e.store) yield* evidence.put(bundle)
      const state = bundle.outcome
      const moved = yield* tracker.transition(issueId, ["in_progress"], statusAfter(state))
      if (state === "ESCALATE" && moved) {
        const question = bundle.question === null ? "" : `\n\nQuestion: ${bundle.question}`
        yield* tracker.comment(
          issueId,
          `Switchyard escalated attempt ${attempt}: ${bundle.verdict.reasons.join(" ")}${question}\n\nEvidence: ${
            evidenceRef(issueId, attempt)
          }`,
          "switchyard"
        )
      }
      if (moved && tracker.ended !== undefined) {
        yield* tracker.ended({
          issueId,
          attempt,
          bundle,
          evidencePath: evidenceRef(issueId, attempt),
          branch: state === "PR_READY" ? branchFor(issueId) : null
        })
      }
      if (e.retry !== null) yield* orchestrator.scheduleRetry(e.retry)
      else yield* orchestrator.clearRetry(issueId)
      yield* orchestrator.finishAttempt(issueId, attempt, {
        terminal_state: state,
        cause: bundle.verdict.cause,
        commit: state === "PR_READY" ? e.commit : null,
        counted: e.counted
      })
      yield* orchestrator.record(terminalEvent(state), issueId, bundle.summary, {
        attempt,
        cause: bundle.verdict.cause,
        usage: bundle.usage,
        endedBy: e.endedBy,
        ...(e.counted ? {} : { counted: false })
      })
      yield* orchestrator.release(issueId, epoch)
      return { _tag: "Settled", bundle } satisfies Settled as Settled
    }))
  }).pipe(
    // Counted once it committed (metrics are in memory, and exported only when OpenTelemetry is configured).
    Effect.tap((s) => s._tag === "Settled" ? recordEnding(s.bundle) : Effect.void),
    Effect.withSpan("Line.settle", { attributes: { ...endingAttributes(e.bundle), epoch: e.epoch } })
  )

/**
 * Ends an interrupted attempt without a terminal state, in one fenced transaction: the row closed as not counted
 * with `cause` (`shutdown`, `canceled_by_reconciliation`, `lease_lost`), the issue back to `todo` unless `requeue`
 * is false (a cancellation already moved it), `attempt.interrupted` recorded, the lease released. Idempotent.
 */
export const settleInterrupted = (
  interrupted: {
    readonly issueId: IssueId
    readonly attempt: number
    readonly epoch: number
    readonly cause: string
    readonly requeue: boolean
  }
) =>
  Effect.gen(function*() {
    const orchestrator = yield* Orchestrator
    const tracker = yield* Tracker
    const { attempt, cause, epoch, issueId } = interrupted
    return yield* orchestrator.atomically(Effect.gen(function*() {
      const ended = yield* fenced(issueId, attempt, epoch)
      if (ended === null) {
        yield* orchestrator.finishAttempt(issueId, attempt, { terminal_state: null, cause, commit: null, counted: false })
        if (interrupted.requeue) yield* tracker.transition(issueId, ["in_progress"], "todo")
        yield* orchestrator.record("attempt.interrupted", issueId, `attempt ${attempt} interrupted (${cause}); not counted`, {
          attempt,
          cause
        })
      }
      yield* orchestrator.release(issueId, epoch)
      return ended === null
    }))
  })

/**
 * How a worker retries a settle that failed on the store (not on the fence): 3 more tries, 100 ms doubling.
 * A store that stays broken leaves the attempt open and the issue in progress, for the supervisor to repair.
 */
export const SETTLE_RETRY = Schedule.exponential("100 millis").pipe(Schedule.intersect(Schedule.recurs(3)))

/** {@link settle} retried by {@link SETTLE_RETRY} unless fenced. */
export const settleWithRetry = (e: Ending) =>
  settle(e).pipe(Effect.retry({ schedule: SETTLE_RETRY, while: (e: SettleError) => e._tag !== "LeaseFenced" }))
