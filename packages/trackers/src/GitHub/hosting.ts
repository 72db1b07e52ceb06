/**
 * The shapes of GitHub's hosting payloads Switchyard reads (pull requests, merges, check runs, commit statuses,
 * reviews, review comments, commits, branches, comparisons), as Schemas: a response is hostile until decoded, and
 * only the fields read are declared (GitHub's REST API, 2022-11-28; the twin serves the same, GitHubHosting.ts).
 */
import { Schema } from "effect"

const Login = Schema.Struct({ login: Schema.String })

export const PullRequest = Schema.Struct({
  number: Schema.Number,
  state: Schema.String,
  html_url: Schema.String,
  head: Schema.Struct({ ref: Schema.String, sha: Schema.NullOr(Schema.String) }),
  base: Schema.Struct({ ref: Schema.String, sha: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null }) }),
  merged: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  merged_at: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null }),
  merged_by: Schema.optionalWith(Schema.NullOr(Login), { default: () => null }),
  merge_commit_sha: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null }),
  mergeable: Schema.optionalWith(Schema.NullOr(Schema.Boolean), { default: () => null })
})
export type PullRequest = typeof PullRequest.Type

export const MergeResult = Schema.Struct({ sha: Schema.String, merged: Schema.Boolean, message: Schema.String })

export const CheckRun = Schema.Struct({
  name: Schema.String,
  status: Schema.String,
  conclusion: Schema.NullOr(Schema.String),
  html_url: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null }),
  details_url: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null }),
  output: Schema.optionalWith(
    Schema.Struct({
      title: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null }),
      summary: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null }),
      text: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null })
    }),
    { default: () => ({ title: null, summary: null, text: null }) }
  )
})
export type CheckRun = typeof CheckRun.Type

export const CheckRuns = Schema.Struct({ total_count: Schema.Number, check_runs: Schema.Array(CheckRun) })

export const CommitStatus = Schema.Struct({
  context: Schema.String,
  state: Schema.String,
  description: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null }),
  target_url: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null })
})
export type CommitStatus = typeof CommitStatus.Type

export const CombinedStatus = Schema.Struct({ state: Schema.String, statuses: Schema.Array(CommitStatus) })

export const Review = Schema.Struct({
  id: Schema.Number,
  user: Schema.NullOr(Login),
  state: Schema.String,
  body: Schema.NullOr(Schema.String),
  submitted_at: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null }),
  commit_id: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null }),
  html_url: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null })
})
export type Review = typeof Review.Type

export const ReviewComment = Schema.Struct({
  pull_request_review_id: Schema.NullOr(Schema.Number),
  user: Schema.NullOr(Login),
  path: Schema.String,
  line: Schema.optionalWith(Schema.NullOr(Schema.Number), { default: () => null }),
  body: Schema.String
})
export type ReviewComment = typeof ReviewComment.Type

export const Commit = Schema.Struct({ sha: Schema.String, commit: Schema.Struct({ message: Schema.String }) })

export const Branch = Schema.Struct({ name: Schema.String, commit: Schema.Struct({ sha: Schema.String }) })

export const Comparison = Schema.Struct({ status: Schema.Literal("identical", "ahead", "behind", "diverged") })

/** What a commit's CI says, summed up from its check runs and its combined status. */
export type CiState =
  | { readonly _tag: "Pending"; readonly waitingFor: ReadonlyArray<string> }
  | { readonly _tag: "Passed"; readonly checks: number }
  | { readonly _tag: "NoChecks" }
  | {
    readonly _tag: "Failed"
    /** The failed step: the check run's or status context's name. */
    readonly step: string
    /** The check's conclusion or status state (`failure`, `timed_out`, `error`, ...). */
    readonly conclusion: string
    /** The check's output (title, summary, text) or the status description; untrimmed, unredacted. */
    readonly log: string
    /** Where a person sees the run (`details_url`, `html_url` or `target_url`). */
    readonly url: string | null
  }

/** Conclusions that fail a change (`neutral` and `skipped` do not). */
const FAILING = new Set(["failure", "timed_out", "cancelled", "action_required", "startup_failure", "stale"])

/**
 * Sums up check runs and statuses: the first failure (check runs first, in order) is `Failed`; any run not
 * completed or status pending is `Pending`; none at all is `NoChecks`; else `Passed`. Pure.
 */
export const ciStateOf = (runs: ReadonlyArray<CheckRun>, statuses: ReadonlyArray<CommitStatus>): CiState => {
  const failedRun = runs.find((r) => r.status === "completed" && r.conclusion !== null && FAILING.has(r.conclusion))
  if (failedRun !== undefined) {
    const o = failedRun.output
    return {
      _tag: "Failed",
      step: failedRun.name,
      conclusion: failedRun.conclusion ?? "failure",
      log: [o.title, o.summary, o.text].filter((x): x is string => x !== null && x.trim() !== "").join("\n"),
      url: failedRun.details_url ?? failedRun.html_url
    }
  }
  const failedStatus = statuses.find((s) => s.state === "failure" || s.state === "error")
  if (failedStatus !== undefined) {
    return { _tag: "Failed", step: failedStatus.context, conclusion: failedStatus.state, log: failedStatus.description ?? "", url: failedStatus.target_url }
  }
  const waiting = [...runs.filter((r) => r.status !== "completed").map((r) => r.name), ...statuses.filter((s) => s.state === "pending").map((s) => s.context)]
  if (waiting.length > 0) return { _tag: "Pending", waitingFor: waiting }
  if (runs.length + statuses.length === 0) return { _tag: "NoChecks" }
  return { _tag: "Passed", checks: runs.length + statuses.length }
}
