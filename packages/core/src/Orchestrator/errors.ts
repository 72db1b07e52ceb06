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
