import { Schema } from "effect"

/** Evidence could not be written or read (SQL, filesystem, or a stored bundle that no longer decodes). */
export class EvidenceError extends Schema.TaggedError<EvidenceError>()("EvidenceError", {
  operation: Schema.String,
  reason: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {
  override get message() {
    return `evidence ${this.operation} failed: ${this.reason}`
  }
}
