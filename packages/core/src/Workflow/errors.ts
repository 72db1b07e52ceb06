import { Schema } from "effect"

/**
 * WORKFLOW.md could not be used. `kind` follows Symphony SPEC §5.5: `missing_workflow_file`,
 * `workflow_parse_error`, `workflow_front_matter_not_a_map`, `workflow_invalid_config`, `template_parse_error`.
 * `key` is the dotted path of the offending key when there is one (e.g. `agent.max_attempts`).
 */
export class WorkflowError extends Schema.TaggedError<WorkflowError>()("WorkflowError", {
  kind: Schema.Literal(
    "missing_workflow_file",
    "workflow_parse_error",
    "workflow_front_matter_not_a_map",
    "workflow_invalid_config",
    "template_parse_error"
  ),
  path: Schema.String,
  key: Schema.NullOr(Schema.String),
  reason: Schema.String
}) {
  override get message() {
    return `${this.path}${this.key === null ? "" : ` (${this.key})`}: ${this.reason} [${this.kind}]`
  }
}

/** The prompt template failed to render for one issue (unknown variable or filter). Fails only that attempt. */
export class PromptRenderError extends Schema.TaggedError<PromptRenderError>()("PromptRenderError", {
  reason: Schema.String
}) {
  override get message() {
    return `prompt template failed to render: ${this.reason} [template_render_error]`
  }
}
