/**
 * The closed vocabulary of the event log: every `type` the factory records (`Orchestrator.record` takes only
 * these), so the compiler checks each name and docs/architecture.md ("Events") lists them from one place.
 */
import { Schema } from "effect"
import { TerminalState } from "./TerminalState.js"

/** Event types with a fixed name, grouped by who records them. */
export const PlainEventType = Schema.Literal(
  // the loop (Orchestrator/loop.ts)
  "runner.started",
  "runner.drained",
  "tick.failed",
  "issue.eligible",
  "issue.invalid",
  "claim.acquired",
  // the line (Line/)
  "attempt.resumed",
  "attempt.interrupted",
  "sandbox.created",
  "sandbox.reused",
  "sandbox.kept",
  "sandbox.escape",
  "sandbox.branch_deleted",
  "hook.after_create",
  "hook.before_run",
  "hook.after_run",
  "verify.reproduction_before",
  "verify.command_started",
  "verify.command_done",
  "verify.done",
  "agent.started",
  "agent.output",
  "agent.stalled",
  "agent.exited",
  "agent.revision",
  "ci.passed",
  "ci.failed",
  "package.failed",
  "integration.done",
  "evidence.failed",
  "settle.fenced",
  "settle.failed",
  // the trust ladder (Trust/ladder.ts: `switchyard trust`, `switchyard land`)
  "trust.merged",
  "trust.landed",
  "trust.reverted",
  "trust.reverified",
  "trust.blocked",
  // review feedback from a hosted pull request (Trust/reviews.ts)
  "review.approved",
  "review.changes_requested",
  // the supervisor (Supervisor/)
  "lease.expired",
  "reconcile.canceled",
  "reconcile.requeued",
  "reconcile.resumable",
  "reconcile.retry_dropped",
  "reconcile.lease_lost",
  "reconcile.lease_released",
  "reconcile.worktree_removed",
  "reconcile.sandbox_removed",
  "reconcile.branch_deleted",
  "reconcile.orphan_killed",
  "reconcile.violation"
)
export type PlainEventType = typeof PlainEventType.Type

/** `terminal.<STATE>`: an attempt ended in that terminal state (one per terminal attempt). */
export const TerminalEventType = Schema.TemplateLiteral("terminal.", TerminalState)
export type TerminalEventType = typeof TerminalEventType.Type

/** Every event type. */
export const FactoryEventType = Schema.Union(PlainEventType, TerminalEventType)
export type FactoryEventType = typeof FactoryEventType.Type

/** The terminal event type of `state`. */
export const terminalEvent = (state: TerminalState): TerminalEventType => `terminal.${state}`

/**
 * Named points of the line and the supervisor where a test can have the runner SIGKILL itself
 * (`SWITCHYARD_KILL_AT`, docs/reliability.md), to check recovery at exactly that point.
 */
export const KillPoint = Schema.Literal(
  "sandbox.created",
  "candidate.stored",
  "verify.started",
  "bundle.stored",
  "repair.taken_over"
)
export type KillPoint = typeof KillPoint.Type
