/** Orchestration records: leases (claims), attempts, retries, and the append-only event log. */
import { Schema } from "effect"
import { IssueId } from "./Issue.js"
import { TerminalState } from "./TerminalState.js"

/** A runner's identity: `<host>:<pid>:<start-ms>`. Unique per process lifetime. */
export const RunnerId = Schema.String.pipe(Schema.brand("RunnerId"))
export type RunnerId = typeof RunnerId.Type

/** The stage an attempt is in; one line of `switchyard run` output per change. */
export const Stage = Schema.Literal(
  "claimed",
  "sandbox",
  "hooks",
  "reproduce",
  "agent",
  "verify",
  "package",
  "done"
)
export type Stage = typeof Stage.Type

/** A durable claim on an issue by one runner. Times are epoch milliseconds. */
export class Lease extends Schema.Class<Lease>("Lease")({
  issue_id: IssueId,
  runner_id: RunnerId,
  host: Schema.String,
  pid: Schema.Int,
  attempt: Schema.Int,
  stage: Stage,
  acquired_at: Schema.Number,
  heartbeat_at: Schema.Number,
  expires_at: Schema.Number,
  /** The agent's pid and process-group id while it runs, so a successor can kill orphans. */
  agent_pid: Schema.NullOr(Schema.Int),
  agent_pgid: Schema.NullOr(Schema.Int),
  sandbox_path: Schema.NullOr(Schema.String),
  last_output_at: Schema.NullOr(Schema.Number),
  /**
   * The fencing token: a number that grows with every claim or take-over of this issue. Ending an attempt, storing
   * its evidence, moving the tracker and scheduling a retry succeed only for the current epoch, so a stale owner
   * or a second supervisor cannot act (Graphile Worker's `locked_by`, BullMQ's lock token).
   */
  epoch: Schema.optionalWith(Schema.Int, { default: () => 0 })
}) {}

/**
 * An agent process group left running on `host` when another host broke its runner's lease by expiry (issue 16,
 * docs/scale.md): recorded in the same transaction as that take-over, for `host`'s next runner to kill (only a
 * host may signal its own processes). `issue_id`/`attempt` name the attempt whose agent it was: the kill is guarded
 * by them against pid reuse. Times are epoch milliseconds.
 */
export class OrphanGroup extends Schema.Class<OrphanGroup>("OrphanGroup")({
  id: Schema.Int,
  host: Schema.String,
  pgid: Schema.Int,
  issue_id: IssueId,
  attempt: Schema.Int,
  sandbox_path: Schema.NullOr(Schema.String),
  /** The runner that broke the lease. */
  recorded_by: RunnerId,
  recorded_at: Schema.Number
}) {}

/** One try at an issue. Times are epoch milliseconds. */
export class Attempt extends Schema.Class<Attempt>("Attempt")({
  issue_id: IssueId,
  attempt: Schema.Int,
  runner_id: RunnerId,
  started_at: Schema.Number,
  ended_at: Schema.NullOr(Schema.Number),
  branch: Schema.NullOr(Schema.String),
  sandbox_path: Schema.NullOr(Schema.String),
  base_commit: Schema.NullOr(Schema.String),
  commit: Schema.NullOr(Schema.String),
  terminal_state: Schema.NullOr(TerminalState),
  /** Short machine-readable reason, e.g. `validation_failed`, `agent_crashed`, `canceled_by_reconciliation`. */
  cause: Schema.NullOr(Schema.String),
  /** False for attempts that do not count against `agent.max_attempts` (shutdown, cancellation, runner deaths). */
  counted: Schema.Boolean,
  /** How many runners died while working on this attempt (`orchestrator.max_runner_deaths` counts them all). */
  runner_deaths: Schema.optionalWith(Schema.Int, { default: () => 0 })
}) {}

/** A retry waiting for its due time (epoch ms). Symphony SPEC §4.1.7. */
export class RetryEntry extends Schema.Class<RetryEntry>("RetryEntry")({
  issue_id: IssueId,
  attempt: Schema.Int,
  due_at: Schema.Number,
  error: Schema.String
}) {}

/** One row of the append-only event log, e.g. `claim.acquired`, `agent.exited`, `terminal.PR_READY`. */
export class FactoryEvent extends Schema.Class<FactoryEvent>("FactoryEvent")({
  seq: Schema.Int,
  at: Schema.Number,
  runner_id: Schema.String,
  issue_id: Schema.NullOr(Schema.String),
  type: Schema.String,
  message: Schema.String,
  data: Schema.Record({ key: Schema.String, value: Schema.Unknown })
}) {}
