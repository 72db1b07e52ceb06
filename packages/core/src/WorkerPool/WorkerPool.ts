/**
 * WorkerPool: what is happening now. One fiber per running attempt (a `FiberMap` keyed by issue id), with the
 * live stage, pid and output time of each. Interrupting a worker interrupts its agent, whose finalizer kills
 * the agent's whole process group.
 */
import type { Issue, IssueId, Lease, Stage } from "@switchyard/domain"
import { Context, type Effect, type Stream } from "effect"

export interface WorkerInfo {
  readonly issueId: IssueId
  readonly attempt: number
  readonly labels: ReadonlyArray<string>
  readonly stage: Stage
  /** Epoch ms. */
  readonly startedAt: number
  /** Epoch ms of the agent's last output, or null before any. */
  readonly lastOutputAt: number | null
  readonly pid: number | null
}

export interface WorkerPoolShape {
  /** Starts an attempt for a claimed issue in the background. A second dispatch of a running issue is ignored. */
  readonly dispatch: (issue: Issue, lease: Lease) => Effect.Effect<void>
  readonly workers: Effect.Effect<ReadonlyArray<WorkerInfo>>
  /**
   * Interrupts the worker of `issueId` (if any) and waits for its cleanup. `cause` is recorded on the attempt,
   * e.g. `canceled_by_reconciliation` or `shutdown`; such attempts do not count against `agent.max_attempts`.
   */
  readonly interrupt: (issueId: IssueId, cause: string) => Effect.Effect<boolean>
  /** Interrupts every worker (graceful shutdown) and waits for their cleanup. */
  readonly interruptAll: (cause: string) => Effect.Effect<void>
  /** Emits the issue id each time a worker ends, however it ends. */
  readonly finished: Stream.Stream<IssueId>
}

export class WorkerPool extends Context.Tag("switchyard/WorkerPool")<WorkerPool, WorkerPoolShape>() {}
