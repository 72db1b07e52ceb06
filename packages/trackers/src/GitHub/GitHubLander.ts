/**
 * GitHubLander: the hosted `Lander` (`integration.land: github`, docs/trust.md "The GitHub half"). The base branch
 * is the repository's default branch **on GitHub**; landing merges the change's pull request through
 * `PUT /repos/{owner}/{repo}/pulls/{n}/merge` with the head sha it was verified at (GitHub answers 409 when the head
 * moved, 405 when it is not mergeable), after checking the base branch did not move since the landing was decided.
 * History is GitHub's: a change is merged when a merged pull request has it as its head (a merge, squash or rebase
 * merge by a person) or when the base branch contains it; a revert is a commit on the base branch saying
 * "This reverts commit <sha>." of the candidate, of its landed commit or of its pull request's merge commit (the
 * squash commit). Carrying a candidate onto a moved base is local git (`local.onBase`, after `fetch` brought the
 * remote base), so the ladder verifies it again before anything lands.
 */
import { LandError, Lander, type LanderShape } from "@switchyard/core"
import { Effect, Option } from "effect"
import type { GitHubApi, GitHubError } from "./GitHubApi.js"

/** How many of the base branch's newest commits are read for reverts (one page). */
export const REVERT_SCAN_COMMITS = 100

export interface GitHubLanderOptions {
  readonly api: GitHubApi
  /** The repository's owner (the head of a pull request is `owner:branch`). */
  readonly owner: string
  /** The local Lander of the checkout: carries a candidate onto a moved base (`onBase`). */
  readonly local: LanderShape
  /** Brings the remote's branches into the checkout (`git fetch`), so a base commit made on GitHub is there. */
  readonly fetch: Effect.Effect<void, LandError>
  /** `integration.merge_method`. */
  readonly method: "merge" | "squash" | "rebase"
}

const landError = (e: GitHubError) => new LandError({ reason: e.message })

/** Builds the GitHub Lander (see the module docs). No I/O until used. */
export const make = (options: GitHubLanderOptions): LanderShape => {
  const { api } = options
  const defaultBranch = api.getRepo.pipe(
    Effect.map((r) =>
      typeof r === "object" && r !== null && typeof (r as { default_branch?: unknown }).default_branch === "string"
        ? (r as { default_branch: string }).default_branch
        : "main"
    )
  )
  const base: LanderShape["base"] = Effect.gen(function*() {
    const branch = yield* defaultBranch
    const b = yield* api.branch(branch)
    return { branch, commit: b.commit.sha }
  }).pipe(Effect.mapError(landError))

  /** Merged pull requests whose head was `commit`. */
  const mergedPullsOf = (commit: string) =>
    api.pullsOfCommit(commit).pipe(
      Effect.map((ps) => ps.filter((p) => p.merged || p.merged_at !== null)),
      Effect.catchIf((e) => e.category === "not_found" || e.category === "status", () => Effect.succeed([]))
    )

  const contains: LanderShape["contains"] = (commit) =>
    Effect.gen(function*() {
      // Merged by a person in any way (merge, squash, rebase): a merged pull request had it as head.
      if ((yield* mergedPullsOf(commit)).length > 0) return true
      const b = yield* base
      return yield* api.compare(b.commit, commit).pipe(
        Effect.map((c) => c.status === "behind" || c.status === "identical"),
        // A commit GitHub does not have is not merged.
        Effect.catchIf((e) => e.category === "not_found", () => Effect.succeed(false))
      )
    }).pipe(Effect.mapError((e) => (e instanceof LandError ? e : landError(e))))

  const revertsOf: LanderShape["revertsOf"] = (commits) =>
    Effect.gen(function*() {
      const found = new Map<string, string>()
      if (commits.length === 0) return found
      // Each commit, and the merge commits of its merged pull requests (a squash's revert names the squash commit).
      const aliases = new Map<string, string>()
      for (const c of commits) {
        aliases.set(c, c)
        for (const p of yield* mergedPullsOf(c)) if (p.merge_commit_sha !== null) aliases.set(p.merge_commit_sha, c)
      }
      const b = yield* base
      const log = yield* api.commits(b.branch, REVERT_SCAN_COMMITS).pipe(Effect.mapError(landError))
      for (const entry of log) {
        for (const m of entry.commit.message.matchAll(/This reverts commit ([0-9a-f]{7,40})/g)) {
          for (const [alias, target] of aliases) {
            if (alias.startsWith(m[1]!) && !found.has(target)) found.set(target, entry.sha)
          }
        }
      }
      return found
    }).pipe(Effect.mapError((e) => (e instanceof LandError ? e : landError(e))))

  const onBase: LanderShape["onBase"] = (commit, baseCommit, message) =>
    Effect.zipRight(options.fetch, options.local.onBase(commit, baseCommit, message))

  const land: LanderShape["land"] = (_commit, expectedBase, change) =>
    Effect.gen(function*() {
      const pull = yield* api.pullOfBranch(options.owner, change.branch).pipe(Effect.mapError(landError))
      if (Option.isNone(pull)) return yield* new LandError({ reason: `no pull request from ${change.branch}: nothing to merge` })
      const p = pull.value
      if (p.state !== "open") return yield* new LandError({ reason: `pull request #${p.number} is ${p.state}: nothing to merge` })
      const now = yield* base
      if (now.commit !== expectedBase) {
        return yield* new LandError({ reason: `${now.branch} moved to ${now.commit.slice(0, 10)} on GitHub while landing; nothing was merged` })
      }
      const merged = yield* api.mergePull(p.number, {
        sha: change.candidate,
        method: options.method,
        title: `${change.issueId}: landed by Switchyard (#${p.number})`,
        message: `Landed by Switchyard under ${change.rule}.`
      }).pipe(
        Effect.mapError((e) =>
          new LandError({
            reason: e.status === 409
              ? `pull request #${p.number}'s head is no longer the verified ${change.candidate.slice(0, 10)}: nothing was merged (${e.reason})`
              : e.status === 405
              ? `GitHub refused to merge pull request #${p.number}: ${e.reason}`
              : e.message
          })
        )
      )
      yield* options.fetch.pipe(Effect.ignore)
      return { method: options.method, commit: merged.sha, url: p.html_url }
    })

  // The merge happened on GitHub: the remote already has the landed base; the checkout only fetches it.
  const publish: LanderShape["publish"] = () =>
    options.fetch.pipe(
      Effect.as({ pushed: true, error: null }),
      Effect.catchAll((e) => Effect.succeed({ pushed: true, error: `merged on GitHub; fetching it back failed: ${e.reason}` }))
    )

  const reviewsOf: NonNullable<LanderShape["reviewsOf"]> = (branch) =>
    Effect.gen(function*() {
      const pull = yield* api.pullOfBranch(options.owner, branch)
      if (Option.isNone(pull)) return Option.none()
      const p = pull.value
      const [reviews, comments] = yield* Effect.all([api.reviews(p.number), api.reviewComments(p.number)], { concurrency: 2 })
      return Option.some({
        number: p.number,
        url: p.html_url,
        headSha: p.head.sha,
        reviews: reviews.map((r) => ({
          id: r.id,
          reviewer: r.user?.login ?? "(ghost)",
          state: r.state,
          body: r.body ?? "",
          submittedAt: r.submitted_at,
          commitId: r.commit_id,
          url: r.html_url
        })),
        comments: comments.map((c) => ({ reviewId: c.pull_request_review_id, reviewer: c.user?.login ?? "(ghost)", path: c.path, line: c.line, body: c.body }))
      })
    }).pipe(Effect.mapError(landError))

  return Lander.of({ base, contains, revertsOf, onBase, land, publish, reviewsOf })
}
