/** The task packet: everything the agent station receives about one issue (issue + workflow defaults). */
import { Schema } from "effect"
import { IssueId } from "./Issue.js"

export class TaskPacket extends Schema.Class<TaskPacket>("TaskPacket")({
  issue_id: IssueId,
  title: Schema.String,
  /** The issue body: what the human wants and why. */
  intent: Schema.String,
  source: Schema.Struct({ tracker: Schema.String, issue_id: IssueId, labels: Schema.Array(Schema.String) }),
  attempt: Schema.Int,
  scope: Schema.Array(Schema.String),
  non_goals: Schema.Array(Schema.String),
  reproduction: Schema.NullOr(Schema.String),
  validation: Schema.Array(Schema.String),
  no_op_rules: Schema.Array(Schema.String),
  evidence_required: Schema.Array(Schema.String),
  output_contract: Schema.Struct({
    result_file: Schema.String,
    format: Schema.String
  })
}) {}
