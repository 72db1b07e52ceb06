import { Schema } from "effect"

/** The id is well-formed but no issue has it. */
export class IssueNotFound extends Schema.TaggedError<IssueNotFound>()("IssueNotFound", {
  id: Schema.String
}) {
  override get message() {
    return `no issue ${this.id}; run \`switchyard issue list\` to see the ids`
  }
}

/** The text is not an issue id (e.g. `../etc`, `sy 1`); refused before it reaches a query or a path. */
export class InvalidIssueId extends Schema.TaggedError<InvalidIssueId>()("InvalidIssueId", {
  input: Schema.String
}) {
  override get message() {
    return `${JSON.stringify(this.input)} is not an issue id: ids look like SY-12 (upper-case prefix, dash, number)`
  }
}

/** The tracker's store failed (I/O, SQL, a row that does not decode). */
export class TrackerError extends Schema.TaggedError<TrackerError>()("TrackerError", {
  operation: Schema.String,
  reason: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {
  override get message() {
    return `tracker ${this.operation} failed: ${this.reason}`
  }
}
