/**
 * Lander: how a change reaches the base branch, and what the base branch says about changes already there. The
 * local implementation (`GitLander`, @switchyard/node) fast-forwards the branch the repository's HEAD is on; a
 * hosted one (the GitHub tracker: merge the pull request through the API, `integration.land`) plugs in behind the
 * same Tag (docs/trust.md, "What the GitHub half adds").
 */
import { Context, type Effect, type Option, Schema } from "effect"

/** A git or hosting operation of the Lander failed (one sentence). */
export class LandError extends Schema.TaggedError<LandError>()("LandError", { reason: Schema.String }) {
  override get message() {
    return this.reason
  }
}

/** A candidate carried onto the current base: the commit to verify and land, or why it cannot be carried. */
export type OnBase = { readonly _tag: "Carried"; readonly commit: string } | { readonly _tag: "Conflict"; readonly reason: string }

/** The change being landed, for a Lander that lands through its pull request (the GitHub one). */
export interface LandingChange {
  readonly issueId: string
  /** The candidate's branch, `switchyard/<id>` (the pull request's head). */
  readonly branch: string
  /** The verified candidate commit (the pull request's head must still be it). */
  readonly candidate: string
  /** The rule it lands under, for the merge commit's message. */
  readonly rule: string
}

/** How a change landed: the method, and the commit the base branch moved to when the Lander made a new one. */
export interface Landed {
  readonly method: "fast-forward" | "merge" | "squash" | "rebase"
  /** The base branch's new head when it is not the commit asked for (a hosted merge); absent: that commit. */
  readonly commit?: string
  /** Where a person sees the landing (the merged pull request), when there is one. */
  readonly url?: string
}

/** A pull request's reviews as a hosted Lander reads them (docs/trust.md, "Review feedback"). */
export interface PullReviews {
  readonly number: number
  readonly url: string
  /** The pull request's head commit now. */
  readonly headSha: string | null
  readonly reviews: ReadonlyArray<{
    readonly id: number
    readonly reviewer: string
    readonly state: string
    readonly body: string
    readonly submittedAt: string | null
    readonly commitId: string | null
    readonly url: string | null
  }>
  readonly comments: ReadonlyArray<{ readonly reviewId: number | null; readonly reviewer: string; readonly path: string; readonly line: number | null; readonly body: string }>
}

export interface LanderShape {
  /** The base branch (the one the repository's HEAD is on) and its head commit. Fails when HEAD is detached. */
  readonly base: Effect.Effect<{ readonly branch: string; readonly commit: string }, LandError>
  /** True when `commit` is reachable from the base branch's head (merged). */
  readonly contains: (commit: string) => Effect.Effect<boolean, LandError>
  /**
   * Of `commits`, those a commit on the base branch reverts (`git revert`'s "This reverts commit <sha>."), mapped
   * to the reverting commit.
   */
  readonly revertsOf: (commits: ReadonlyArray<string>) => Effect.Effect<ReadonlyMap<string, string>, LandError>
  /**
   * `commit` carried onto `base`: `commit` itself when `base` is its parent, else a new merge commit (parents
   * `base`, `commit`) with the merged tree, made without touching any branch or work tree; a conflict is a reason.
   */
  readonly onBase: (commit: string, base: string, message: string) => Effect.Effect<OnBase, LandError>
  /**
   * Moves the base branch from `expectedBase` to `commit` (a fast-forward: `commit` must descend from it), work tree
   * included. Fails when the branch moved meanwhile, the work tree is in the way, or it is not a fast-forward. A
   * hosted Lander merges `change`'s pull request instead (its head must still be `change.candidate`), and says
   * which commit the base moved to.
   */
  readonly land: (commit: string, expectedBase: string, change: LandingChange) => Effect.Effect<Landed, LandError>
  /**
   * Publishes the landed base branch `branch` to `remote` (never forced: a remote that moved refuses it). Never
   * fails: the result says what happened (`integration.push`).
   */
  readonly publish: (branch: string, remote: string) => Effect.Effect<{ readonly pushed: boolean; readonly error: string | null }>
  /**
   * The reviews of the pull request from `branch`, when the Lander is a hosted one (None: no pull request). Absent
   * on a local Lander: there is nobody to review.
   */
  readonly reviewsOf?: (branch: string) => Effect.Effect<Option.Option<PullReviews>, LandError>
}

export class Lander extends Context.Tag("switchyard/Lander")<Lander, LanderShape>() {}
