/**
 * Violations: disagreements between the layers that the supervisor cannot repair, so a human must
 * (docs/architecture.md, "The loop and the supervisor"; docs/status.md). The vocabulary is closed: `status --json`
 * prints these kinds, `reconcile.violation` events carry them, and scripts may match on them.
 */
import { Schema } from "effect"

export const ViolationKind = Schema.Literal(
  /** A terminal attempt has no evidence bundle. */
  "terminal_without_evidence",
  /** A PR_READY issue in review has no `switchyard/<id>` branch. */
  "pr_ready_branch_missing",
  /** A PR_READY issue in review whose `switchyard/<id>` branch no longer points at `fingerprint.commit`. */
  "pr_ready_branch_rewritten",
  /** A bundle's signature does not match it: the bundle was edited after it was signed. */
  "evidence_signature_invalid",
  /** A bundle validly signed by a key that is not the runner's (or the runner has no key to check it with). */
  "evidence_signed_by_other_key",
  /** A bundle without a signature, stored after the runner's key existed. */
  "evidence_unsigned",
  /** A bundle whose outcome or cause is not that of the attempt's `terminal.*` event. */
  "evidence_disagrees_with_events",
  /** A bundle whose outcome or cause is not the `attempts` row's `terminal_state`/`cause`. */
  "evidence_disagrees_with_attempt"
)
export type ViolationKind = typeof ViolationKind.Type

/** One violation: its kind, the attempt it is about, and a sentence a person can act on. */
export const Violation = Schema.Struct({
  kind: ViolationKind,
  issueId: Schema.String,
  attempt: Schema.Int,
  detail: Schema.String
})
export type Violation = typeof Violation.Type
