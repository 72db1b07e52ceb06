/** The four terminal states of one attempt (the brief's contract) and the agent's claim about its own work. */
import { Schema } from "effect"

export const TerminalState = Schema.Literal("PR_READY", "NO_OP", "ESCALATE", "RETRYABLE_FAILURE")
export type TerminalState = typeof TerminalState.Type

/**
 * What a command agent may write to `$SWITCHYARD_RESULT_FILE`. It is an input to the verdict, never the verdict.
 * A missing or malformed file counts as no claim.
 */
export class AgentClaim extends Schema.Class<AgentClaim>("AgentClaim")({
  claim: Schema.Literal("PR_READY", "NO_OP", "ESCALATE"),
  summary: Schema.String,
  plan: Schema.optional(Schema.String),
  question: Schema.optional(Schema.String),
  residual_risk: Schema.optional(Schema.String)
}) {}
