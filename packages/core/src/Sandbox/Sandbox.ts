/**
 * Sandbox: one isolated working copy per attempt, outside the repo (under `workspace.root`), plus throw-away clean
 * checkouts for the Verifier. Each is a private git repository that borrows the main repository's objects, so the
 * agent never shares the main repository's `.git` (its hooks, config, refs): the candidate is read from the
 * sandbox's files by the runner and committed on `switchyard/<id>` in the main repository (docs/security.md).
 * The hooks come from the caller (`hooks`, the attempt's WORKFLOW.md snapshot): the Sandbox reads no config itself.
 * Implementation: `GitSandbox` (@switchyard/node).
 */
import type { CommandResult, HooksConfig, IssueId, IssueStatus } from "@switchyard/domain"
import { Context, type Effect, type Option, Schema, type Scope } from "effect"
import type { ReadOnlyMount } from "../Confinement/Confinement.js"
import type { DirtyBase, HookFailed, SandboxError } from "./errors.js"
import type { IntegritySnapshot } from "./integrity.js"

/**
 * A sandbox kept from an earlier attempt of the same issue and taken up again (workspace continuity, Symphony SPEC
 * §9.1: one workspace per issue, `after_create` only when it is created): the attempt that created it, the base it
 * was on, and whether its work in progress was carried to a new base (a three-way merge onto the moved base).
 */
export const SandboxReuse = Schema.Struct({
  fromAttempt: Schema.Int,
  base: Schema.String,
  carried: Schema.Boolean
})
export type SandboxReuse = typeof SandboxReuse.Type

/**
 * Whether an issue's sandbox outlives the attempt that used it, by the issue's status after it (or `deleted`):
 * kept while the issue may run again (`todo`, `in_progress`, and the pauses `in_review`, `backlog`, `blocked`) so
 * its work resumes; removed once it is `done`, `cancelled` or deleted (Symphony SPEC §8.5/§9.1: terminal issues'
 * workspaces are cleaned). Pure.
 */
export const keepsSandbox = (status: IssueStatus | "deleted"): boolean =>
  status !== "done" && status !== "cancelled" && status !== "deleted"

export class SandboxHandle extends Schema.Class<SandboxHandle>("SandboxHandle")({
  issue_id: Schema.String,
  attempt: Schema.Int,
  /** Absolute path of the sandbox's work tree (the agent's cwd). */
  path: Schema.String,
  branch: Schema.String,
  base_commit: Schema.String,
  /** The attempt's private HOME (kept across revision turns). */
  home: Schema.String,
  /** The agent's io directory (prompt, task packet, result file). */
  io: Schema.String,
  /** Set when the sandbox was kept from an earlier attempt and taken up again (no `after_create`). */
  reused: Schema.optionalWith(Schema.NullOr(SandboxReuse), { default: () => null }),
  /**
   * True when `after_create` did not run in the new sandbox because its base's install was copied in from the
   * installed base of the same install key (`verify.reuse_install`): one install per key, not per sandbox.
   */
  installCopied: Schema.optionalWith(Schema.Boolean, { default: () => false })
}) {}

/** The agent's work as a commit on the sandbox branch; `commit` and `tree` are null when nothing changed. */
export class Candidate extends Schema.Class<Candidate>("Candidate")({
  commit: Schema.NullOr(Schema.String),
  tree: Schema.NullOr(Schema.String),
  files: Schema.Array(Schema.String),
  stat: Schema.String,
  patch: Schema.String,
  patchTruncated: Schema.Boolean
}) {
  get empty(): boolean {
    return this.files.length === 0
  }
}

/**
 * A clean checkout for verification: its work tree, a throw-away HOME, and the reused install bound into it
 * read-only (empty when its `after_create` ran in it), which every confined command in it must be given.
 */
export interface Checkout {
  readonly path: string
  readonly home: string
  readonly mounts: ReadonlyArray<ReadOnlyMount>
}

/** A directory under the workspace root that belongs to a sandbox or a verification checkout. */
export interface WorktreeInfo {
  readonly path: string
  readonly branch: string | null
  readonly head: string
}

export const branchFor = (id: IssueId | string): string => `switchyard/${id}`

export interface SandboxShape {
  /** Absolute path of the repo's top level. */
  readonly repoRoot: string
  /** Absolute path where sandboxes and checkouts are created. */
  readonly workspaceRoot: string
  /**
   * The repo's HEAD commit. Fails `DirtyBase` when tracked files have uncommitted changes; the run's workflow file
   * is not one of them (an implementation that knows it leaves it out: its edits are config, read per attempt).
   */
  readonly resolveBase: Effect.Effect<string, SandboxError | DirtyBase>
  /**
   * The issue's sandbox `<workspaceRoot>/<id>` for attempt `attempt` at `baseCommit`, with its private HOME and io
   * directory. A sandbox kept from an earlier attempt (`keepsSandbox`) is taken up again with its work in
   * progress and HOME (`handle.reused`; no `after_create`): as it is when its base is `baseCommit`, or with its work
   * carried onto `baseCommit` by a three-way merge when the base moved and the install inputs (manifests,
   * lockfiles, the hook) did not. Otherwise (none kept, a conflict, changed install inputs, anything unreadable)
   * it is made anew: `switchyard/<id>` in the main repository reset to `baseCommit`, then `hooks.after_create` run
   * there (on the base, before any agent code: not confined; fatal on failure, SPEC §9.4), limited to
   * `hooks.timeout_ms` (ms); or, when an implementation keeps installed bases, the one of the base's install key
   * (for `verifyEnv`, the `verify.env` names) is copied in instead (`handle.installCopied`). Failed or interrupted,
   * a new sandbox leaves neither the directories nor the branch.
   */
  readonly create: (
    issueId: IssueId,
    attempt: number,
    baseCommit: string,
    hooks: HooksConfig,
    verifyEnv?: ReadonlyArray<string>
  ) => Effect.Effect<SandboxHandle, SandboxError | HookFailed>
  /**
   * Runs `hooks.before_run` (before the agent: not confined; fatal) or `hooks.after_run` (after the agent:
   * confined like it, with `hooks.env`; result returned, never fatal) in the sandbox, limited to `hooks.timeout_ms`
   * (ms). Returns None when the hook is not configured.
   */
  readonly runHook: (
    handle: SandboxHandle,
    hook: "before_run" | "after_run",
    hooks: HooksConfig
  ) => Effect.Effect<Option.Option<CommandResult>, HookFailed>
  /**
   * Reads everything the agent left in the sandbox's work tree (tracked and untracked, honouring .gitignore; the
   * sandbox's own `.git` is never used) into a commit on `switchyard/<id>` in the main repository with `message`
   * (a new commit only when the tree changed), and describes the change from `base_commit` to the branch head.
   * The patch is cut at `maxPatchBytes`.
   */
  readonly snapshot: (handle: SandboxHandle, message: string, maxPatchBytes?: number) => Effect.Effect<Candidate, SandboxError>
  /** Rewrites the message of the branch head (same tree and parents, so the fingerprint holds). Returns the new commit. */
  readonly amend: (handle: SandboxHandle, message: string) => Effect.Effect<string, SandboxError>
  /** Writes `git format-patch base..branch` output into `outDir`. Returns the file paths. */
  readonly formatPatch: (handle: SandboxHandle, outDir: string) => Effect.Effect<ReadonlyArray<string>, SandboxError>
  /**
   * A fresh checkout of `commit` for verification, in a private repository that has no hooks, no config but
   * Switchyard's and no filters, with `hooks.after_create` run in it confined (it runs the candidate's code), limited
   * to `hooks.timeout_ms` (ms), with the runner variables named in `env` (`verify.env`) only; or, when an
   * implementation keeps installed bases and one matches the commit's install inputs, with that install bound in
   * read-only (`Checkout.mounts`) instead of running the hook. Removed when the scope closes.
   */
  readonly checkout: (
    commit: string,
    label: string,
    hooks: HooksConfig,
    env: ReadonlyArray<string>
  ) => Effect.Effect<Checkout, SandboxError | HookFailed, Scope.Scope>
  /**
   * Removes a sandbox or checkout directory. For a sandbox, `hooks.before_remove` runs first (confined, with
   * `hooks.env`, limited to `hooks.timeout_ms` ms even in an uninterruptible region; failures ignored, SPEC §9.4);
   * without `hooks` none runs (e.g. the supervisor removing a leftover). With `deleteBranch` the branch goes too
   * (used when nothing on it is worth keeping).
   */
  readonly remove: (
    path: string,
    options?: { readonly deleteBranch?: string | undefined; readonly hooks?: HooksConfig | undefined }
  ) => Effect.Effect<void, SandboxError>
  /**
   * Deletes the branch `switchyard/<id>` when it exists, leaving the issue's sandbox (kept for its next attempt:
   * `create` makes the branch again at that attempt's base).
   */
  readonly deleteBranch: (branch: string) => Effect.Effect<void, SandboxError>
  /** Sandboxes and checkouts that live under `workspaceRoot`. */
  readonly list: Effect.Effect<ReadonlyArray<WorktreeInfo>, SandboxError>
  /** The commit a branch points at, if the branch exists. */
  readonly branchHead: (branch: string) => Effect.Effect<Option.Option<string>, SandboxError>
  /**
   * The repo's local branches, short name (`switchyard/SY-1`) → the commit it points at, read at once: one git
   * process for any number of lookups (the supervisor checks every PR_READY issue in review on each tick: branch
   * gone, or no longer at the fingerprinted commit).
   */
  readonly branches: Effect.Effect<ReadonlyMap<string, string>, SandboxError>
  /**
   * `branches`, plus the remote-tracking branches no local branch shadows, under their branch name: what the PR_READY
   * branch checks read, so a branch pushed from another runner host and fetched here counts as present.
   */
  readonly knownBranches: Effect.Effect<ReadonlyMap<string, string>, SandboxError>
  /**
   * What an agent could tamper with in the main repository, read now (refs, hooks, config, attributes, HEAD, work
   * tree status): taken before and after each agent run and compared with `compareIntegrity`.
   */
  readonly integrity: Effect.Effect<IntegritySnapshot, SandboxError>
  /**
   * Puts back what can be put back after an escape: `.git/hooks`, `.git/config` and `.git/info/attributes` as they
   * were in `before` (hooks added since are deleted). Refs and the work tree are left for a human (who moved them
   * cannot be known). Returns what was restored, one phrase each.
   */
  readonly restore: (before: IntegritySnapshot) => Effect.Effect<ReadonlyArray<string>, SandboxError>
}

export class Sandbox extends Context.Tag("switchyard/Sandbox")<Sandbox, SandboxShape>() {}
