/**
 * Lander: how a change reaches the base branch, and what the base branch says about changes already there. The
 * local implementation (`GitLander`, @switchyard/node) fast-forwards the branch the repository's HEAD is on; a
 * hosted one (the GitHub tracker: merge the pull request through the API, `integration.land`) plugs in behind the
 * same Tag (docs/trust.md, "What the GitHub half adds").
 */
import { Context, type Effect, Schema } from "effect"

/** A git or hosting operation of the Lander failed (one sentence). */
export class LandError extends Schema.TaggedError<LandError>()("LandError", { reason: Schema.String }) {
  override get message() {
    return this.reason
  }
}

/** A candidate carried onto the current base: the commit to verify and land, or why it cannot be carried. */
export type OnBase = { readonly _tag: "Carried"; readonly commit: string } | { readonly _tag: "Conflict"; readonly reason: string }

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
   * included. Fails when the branch moved meanwhile, the work tree is in the way, or it is not a fast-forward.
   */
  readonly land: (commit: string, expectedBase: string) => Effect.Effect<{ readonly method: "fast-forward" }, LandError>
  /**
   * Publishes the landed base branch `branch` to `remote` (never forced: a remote that moved refuses it). Never
   * fails: the result says what happened (`integration.push`).
   */
  readonly publish: (branch: string, remote: string) => Effect.Effect<{ readonly pushed: boolean; readonly error: string | null }>
}

export class Lander extends Context.Tag("switchyard/Lander")<Lander, LanderShape>() {}
