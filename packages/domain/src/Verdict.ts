/**
 * The closed vocabulary of verdict causes: why an attempt ended in its terminal state. Every cause the line, the
 * decision table and the supervisor can write is listed here, so the compiler checks each one and
 * docs/architecture.md ("Verdict causes") lists them from one place.
 */
import { Schema } from "effect"
import { EscapeTarget } from "./Confinement.js"
import { GuardRuleId } from "./Verification.js"

/** The hooks a failure can name (`hook_failed:<hook>`). */
export const HookName = Schema.Literal("after_create", "before_run", "after_run", "before_remove")
export type HookName = typeof HookName.Type

/** Causes with a fixed name. */
export const PlainVerdictCause = Schema.Literal(
  // decided from what the factory observed (Line/decide.ts)
  "verified",
  "not_reproducible",
  "agent_no_op",
  "agent_escalated",
  "no_op_but_reproduction_fails",
  "claimed_change_without_diff",
  "no_change_no_claim",
  "no_op_with_diff",
  "reproduction_still_fails",
  "validation_failed",
  "verification_environment_failure",
  "reproduction_environment_failure",
  "reproduction_tool_missing",
  "reproduction_ran_no_tests",
  "validation_ran_no_tests",
  // the CI check after PR_READY kept failing (`integration.ci_command`, `agent.max_ci_revisions`)
  "ci_failed",
  "agent_timed_out",
  "agent_crashed",
  "agent_exit_nonzero",
  "stalled",
  "budget_exceeded",
  "retries_exhausted",
  // the runner, not the agent (Supervisor)
  "runner_died",
  "lease_expired",
  "no_live_lease",
  "runner_deaths_exhausted",
  // infrastructure before a verdict (Line/decide.ts `infrastructure`)
  "dirty_base",
  "workflow_invalid",
  "template_render_error",
  "sandbox_failed",
  "store_failed",
  "defect"
)
export type PlainVerdictCause = typeof PlainVerdictCause.Type

/** `guard_failed:<rule>`: the diff broke an anti-cheat rule. */
export const GuardCause = Schema.TemplateLiteral("guard_failed:", GuardRuleId)
/** `hook_failed:<hook>`: a workspace hook failed or timed out. */
export const HookCause = Schema.TemplateLiteral("hook_failed:", HookName)
/** `sandbox_escape:<target>`: the main repository changed where the agent could have changed it. */
export const EscapeCause = Schema.TemplateLiteral("sandbox_escape:", EscapeTarget)

/**
 * Causes that versions before this vocabulary wrote (an unreachable `not_verified` row, and infrastructure causes
 * derived from error tags). Never written now; listed so bundles stored by those versions still decode.
 */
export const LegacyVerdictCause = Schema.Literal(
  "not_verified",
  "evidence_error",
  "orchestrator_error",
  "tracker_error",
  "issue_not_found",
  "invalid_issue_id",
  "not_a_git_repo",
  "confinement_error",
  "evidence_signer_error"
)

/** Every cause a verdict can carry. */
export const VerdictCause = Schema.Union(PlainVerdictCause, GuardCause, HookCause, EscapeCause, LegacyVerdictCause)
export type VerdictCause = typeof VerdictCause.Type

/** Causes of a runner's death: charged to `orchestrator.max_runner_deaths`, never to `agent.max_attempts`. */
export const RUNNER_DEATH_CAUSES: ReadonlySet<VerdictCause> = new Set(["runner_died", "lease_expired", "no_live_lease"])

/** Why an attempt ended without a terminal state (it is not counted). */
export const InterruptCause = Schema.Literal(
  "shutdown",
  "canceled_by_reconciliation",
  /** The issue no longer carries every `tracker.required_labels` label (Symphony SPEC §5.3.1: "or continue"). */
  "required_labels_missing",
  "lease_lost",
  "interrupted"
)
export type InterruptCause = typeof InterruptCause.Type
