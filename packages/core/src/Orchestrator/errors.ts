import { Schema } from "effect"

/** The orchestrator's durable state (leases, attempts, retries, events) could not be read or written. */
export class OrchestratorError extends Schema.TaggedError<OrchestratorError>()("OrchestratorError", {
  operation: Schema.String,
  reason: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {
  override get message() {
    return `orchestrator ${this.operation} failed: ${this.reason}`
  }
}

/**
 * A fenced write was refused: the lease on `issueId` is no longer held at `epoch` by this runner (a supervisor
 * took it over, or another one already repaired it). The caller stops acting on the attempt; nothing was written.
 */
export class LeaseFenced extends Schema.TaggedError<LeaseFenced>()("LeaseFenced", {
  issueId: Schema.String,
  attempt: Schema.Int,
  epoch: Schema.Int
}) {
  override get message() {
    return `the lease on ${this.issueId} (attempt ${this.attempt}) is no longer held at epoch ${this.epoch}; another runner or supervisor owns it now`
  }
}
