import { Schema } from "effect"

/** The runner's evidence key could not be created, read or used. */
export class EvidenceSignerError extends Schema.TaggedError<EvidenceSignerError>()("EvidenceSignerError", {
  keyFile: Schema.String,
  reason: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {
  override get message() {
    return `the evidence signing key ${this.keyFile} cannot be used: ${this.reason}`
  }
}
