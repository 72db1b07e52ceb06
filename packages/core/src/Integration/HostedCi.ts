/**
 * HostedCi: the CI a hosting service runs on a pushed commit (GitHub check runs and commit statuses,
 * `integration.ci: github`, docs/trust.md "The GitHub half"). The line asks it about a candidate that verified
 * PR_READY; a failure becomes a revision turn exactly like a failing `integration.ci_command` (only the source of the
 * result differs). Optional: the line reads it with `Effect.serviceOption`, so a line without it (and every test
 * line) is unchanged.
 */
import { Context, type Effect } from "effect"

/** What hosted CI said about a commit. Texts are as the host gave them: the line trims and redacts them. */
export type HostedCiResult =
  | { readonly _tag: "Passed"; readonly checks: number }
  | {
    readonly _tag: "Failed"
    /** The failed step (check run or status context). */
    readonly step: string
    /** Its conclusion (`failure`, `timed_out`, `error`, ...). */
    readonly conclusion: string
    /** Its output (title, summary, text) or description. */
    readonly log: string
    /** Where a person sees the run. */
    readonly url: string | null
  }
  /** CI could not be read or never finished (push refused, API error, `integration.ci_timeout_ms` spent). */
  | { readonly _tag: "Unavailable"; readonly reason: string }

export interface HostedCiShape {
  /**
   * Publishes `commit` as `branch` to `remote` (so the host's CI runs on it), then reads its checks every `pollMs`
   * until none is pending or `timeoutMs` passed (Clock time). Never fails: a problem is `Unavailable`.
   */
  readonly check: (input: {
    readonly issueId: string
    readonly branch: string
    readonly commit: string
    readonly remote: string
    readonly timeoutMs: number
    readonly pollMs: number
  }) => Effect.Effect<HostedCiResult>
}

export class HostedCi extends Context.Tag("switchyard/HostedCi")<HostedCi, HostedCiShape>() {}
