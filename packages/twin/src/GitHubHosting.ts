/**
 * The hosting half of the GitHub twin (docs/trust.md, "The GitHub half"): pull request merges, check runs,
 * commit statuses and reviews, over a real bare git repository that stands for GitHub's storage (the test's
 * `origin`). Merges are made with real git in that repository (`git merge-tree --write-tree`, `git commit-tree`,
 * `git update-ref` with the old value), so a merge, squash or rebase yields the commits GitHub would, and a
 * conflict is a real conflict. Kept apart from `GitHubTwin.ts` so the issue routes stay as they were.
 */
import { spawnSync } from "node:child_process"

/** A check run as the twin serves it (`GET /commits/{ref}/check-runs`). */
export interface TwinCheckRun {
  readonly name: string
  readonly status: "queued" | "in_progress" | "completed"
  readonly conclusion: "success" | "failure" | "neutral" | "cancelled" | "skipped" | "timed_out" | "action_required" | null
  /** The check's output summary and text (its log as GitHub shows it). */
  readonly summary?: string
  readonly text?: string
}

/** A commit status as the twin serves it (`GET /commits/{ref}/status`). */
export interface TwinStatus {
  readonly context: string
  readonly state: "error" | "failure" | "pending" | "success"
  readonly description?: string
}

/** What a commit's CI says: its check runs and its statuses. */
export interface TwinChecks {
  readonly checkRuns: ReadonlyArray<TwinCheckRun>
  readonly statuses: ReadonlyArray<TwinStatus>
}

/** A pull request review. */
export interface TwinReview {
  readonly id: number
  readonly user: string
  readonly state: "APPROVED" | "CHANGES_REQUESTED" | "COMMENTED"
  readonly body: string
  readonly submitted_at: string
  readonly commit_id: string
}

/** A review comment (on a line of the diff). */
export interface TwinReviewComment {
  readonly id: number
  readonly review_id: number
  readonly user: string
  readonly path: string
  readonly line: number
  readonly body: string
  readonly created_at: string
}

/** A merged pull request. */
export interface TwinMerge {
  /** The commit the base branch moved to (GitHub's `merge_commit_sha`). */
  readonly sha: string
  /** The head commit that was merged. */
  readonly headSha: string
  readonly method: "merge" | "squash" | "rebase"
  readonly at: string
  readonly by: string
}

export interface TwinHostingState {
  readonly merges: ReadonlyMap<number, TwinMerge>
  /** By commit sha. */
  readonly checks: ReadonlyMap<string, TwinChecks>
  /** Served, in order, to the next commits asked about that have none (a CI that runs on every push). */
  readonly checkQueue: ReadonlyArray<TwinChecks>
  readonly reviews: ReadonlyMap<number, ReadonlyArray<TwinReview>>
  readonly reviewComments: ReadonlyMap<number, ReadonlyArray<TwinReviewComment>>
  /** Every merge request as `{number, sha, method}`, refused ones included. */
  readonly mergeRequests: ReadonlyArray<{ readonly number: number; readonly sha: string | null; readonly method: string; readonly status: number }>
}

export const emptyHosting = (): TwinHostingState => ({
  merges: new Map(),
  checks: new Map(),
  checkQueue: [],
  reviews: new Map(),
  reviewComments: new Map(),
  mergeRequests: []
})

const IDENTITY = ["-c", "user.name=GitHub", "-c", "user.email=noreply@github.com", "-c", "commit.gpgsign=false"]

/** `git <args>` in the bare repository: exit code and trimmed stdout/stderr. */
export const gitIn = (gitDir: string, args: ReadonlyArray<string>) => {
  const r = spawnSync("git", [...IDENTITY, ...args], { cwd: gitDir, encoding: "utf8", env: { ...process.env, GIT_DIR: gitDir } })
  return { code: r.status ?? 1, stdout: (r.stdout ?? "").trim(), stderr: (r.stderr ?? "").trim() }
}

/** The commit `ref` names in the repository (a branch name or a sha), or null. */
export const resolve = (gitDir: string, ref: string): string | null => {
  if (!/^[\w./-]+$/.test(ref) || ref.startsWith("-")) return null
  for (const candidate of [`refs/heads/${ref}`, ref]) {
    const r = gitIn(gitDir, ["rev-parse", "--verify", "-q", `${candidate}^{commit}`])
    if (r.code === 0) return r.stdout
  }
  return null
}

export const isAncestor = (gitDir: string, a: string, b: string): boolean => gitIn(gitDir, ["merge-base", "--is-ancestor", a, b]).code === 0

/** The outcome of a merge: the new base commit, or why GitHub would refuse it (405). */
export type MergeOutcome = { readonly _tag: "Merged"; readonly sha: string } | { readonly _tag: "Refused"; readonly reason: string }

/**
 * Merges `head` into branch `base` as GitHub does for `method`: `merge` always makes a merge commit (parents base,
 * head); `squash` one commit with the merged tree on top of base; `rebase` replays head's commits on base (the twin
 * does this only when base is already an ancestor of head, GitHub's common case). A conflict is refused. The base
 * branch moves with `update-ref` guarded by its old value.
 */
export const merge = (
  gitDir: string,
  base: string,
  headSha: string,
  method: "merge" | "squash" | "rebase",
  message: string
): MergeOutcome => {
  const baseSha = resolve(gitDir, base)
  if (baseSha === null) return { _tag: "Refused", reason: `Base branch ${base} does not exist` }
  let sha: string
  if (method === "rebase") {
    if (!isAncestor(gitDir, baseSha, headSha)) return { _tag: "Refused", reason: "This branch can't be rebased" }
    const commits = gitIn(gitDir, ["rev-list", "--reverse", "--no-merges", `${baseSha}..${headSha}`]).stdout.split("\n").filter((l) => l !== "")
    let tip = baseSha
    for (const c of commits) {
      const tree = gitIn(gitDir, ["rev-parse", `${c}^{tree}`]).stdout
      const msg = gitIn(gitDir, ["log", "-1", "--format=%B", c]).stdout
      tip = gitIn(gitDir, ["commit-tree", tree, "-p", tip, "-m", msg]).stdout
    }
    sha = tip
  } else {
    const merged = gitIn(gitDir, ["merge-tree", "--write-tree", baseSha, headSha])
    if (merged.code !== 0) return { _tag: "Refused", reason: "Pull Request is not mergeable" }
    const tree = merged.stdout.split("\n")[0]!
    const parents = method === "merge" ? ["-p", baseSha, "-p", headSha] : ["-p", baseSha]
    sha = gitIn(gitDir, ["commit-tree", tree, ...parents, "-m", message]).stdout
  }
  const moved = gitIn(gitDir, ["update-ref", `refs/heads/${base}`, sha, baseSha])
  if (moved.code !== 0) return { _tag: "Refused", reason: `Base branch was modified: ${moved.stderr}` }
  return { _tag: "Merged", sha }
}

/** The base branch's log, newest first: sha and full message (`GET /commits?sha=<branch>`). */
export const log = (gitDir: string, ref: string, limit: number): ReadonlyArray<{ readonly sha: string; readonly message: string }> => {
  const r = gitIn(gitDir, ["log", `-n${limit}`, "--format=%H%x1f%B%x1e", ref])
  if (r.code !== 0) return []
  return r.stdout.split("\x1e").map((e) => e.trim()).filter((e) => e !== "").map((e) => {
    const [sha, message] = e.split("\x1f")
    return { sha: sha!.trim(), message: (message ?? "").trim() }
  })
}
