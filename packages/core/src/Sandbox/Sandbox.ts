/**
 * Sandbox: one isolated git worktree per attempt, on the branch `switchyard/<id>`, outside the repo
 * (under `workspace.root`), plus throw-away clean checkouts for the Verifier.
 * Implementation: `GitWorktreeSandbox` (@switchyard/node).
 */
import type { CommandResult, IssueId } from "@switchyard/domain"
import { Context, type Effect, type Option, Schema, type Scope } from "effect"
import type { DirtyBase, HookFailed, SandboxError } from "./errors.js"

export class SandboxHandle extends Schema.Class<SandboxHandle>("SandboxHandle")({
  issue_id: Schema.String,
  attempt: Schema.Int,
  /** Absolute path of the worktree. */
  path: Schema.String,
  branch: Schema.String,
  base_commit: Schema.String
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

export interface WorktreeInfo {
  readonly path: string
  readonly branch: string | null
  readonly head: string
}

export const branchFor = (id: IssueId | string): string => `switchyard/${id}`

export interface SandboxShape {
  /** Absolute path of the repo's top level. */
  readonly repoRoot: string
  /** Absolute path where worktrees are created. */
  readonly workspaceRoot: string
  /** The repo's HEAD commit. Fails `DirtyBase` when tracked files have uncommitted changes. */
  readonly resolveBase: Effect.Effect<string, SandboxError | DirtyBase>
  /**
   * Creates a worktree at `<workspaceRoot>/<id>` on `switchyard/<id>` reset to `baseCommit` (replacing a stale
   * one from an earlier attempt), then runs `hooks.after_create` there (fatal on failure, SPEC §9.4).
   */
  readonly create: (issueId: IssueId, attempt: number, baseCommit: string) => Effect.Effect<SandboxHandle, SandboxError | HookFailed>
  /**
   * Runs `hooks.before_run` (fatal) or `hooks.after_run` (result returned, never fatal) in the sandbox.
   * Returns None when the hook is not configured.
   */
  readonly runHook: (
    handle: SandboxHandle,
    hook: "before_run" | "after_run"
  ) => Effect.Effect<Option.Option<CommandResult>, HookFailed>
  /**
   * Commits everything the agent left (tracked and untracked, honouring .gitignore) onto the sandbox branch
   * with `message`, and describes the change from `base_commit` to the branch head (commits the agent made count).
   * The patch is cut at `maxPatchBytes`.
   */
  readonly snapshot: (handle: SandboxHandle, message: string, maxPatchBytes?: number) => Effect.Effect<Candidate, SandboxError>
  /** Rewrites the message of the branch head (same tree, so the fingerprint holds). Returns the new commit. */
  readonly amend: (handle: SandboxHandle, message: string) => Effect.Effect<string, SandboxError>
  /** Writes `git format-patch base..branch` output into `outDir`. Returns the file paths. */
  readonly formatPatch: (handle: SandboxHandle, outDir: string) => Effect.Effect<ReadonlyArray<string>, SandboxError>
  /**
   * A fresh detached worktree at `commit` for verification, with `hooks.after_create` run in it.
   * Removed when the scope closes.
   */
  readonly checkout: (commit: string, label: string) => Effect.Effect<string, SandboxError | HookFailed, Scope.Scope>
  /**
   * Removes a worktree (running `hooks.before_remove` first, failures ignored, SPEC §9.4). With
   * `deleteBranch` the branch goes too (used when nothing on it is worth keeping).
   */
  readonly remove: (path: string, options?: { readonly deleteBranch?: string | undefined }) => Effect.Effect<void, SandboxError>
  /** Worktrees of this repo that live under `workspaceRoot`. */
  readonly list: Effect.Effect<ReadonlyArray<WorktreeInfo>, SandboxError>
  /** The commit a branch points at, if the branch exists. */
  readonly branchHead: (branch: string) => Effect.Effect<Option.Option<string>, SandboxError>
  /**
   * The repo's local branches, short name (`switchyard/SY-1`) → the commit it points at, read at once: one git
   * process for any number of lookups (the supervisor checks every PR_READY issue in review on each tick: branch
   * gone, or no longer at the fingerprinted commit).
   */
  readonly branches: Effect.Effect<ReadonlyMap<string, string>, SandboxError>
}

export class Sandbox extends Context.Tag("switchyard/Sandbox")<Sandbox, SandboxShape>() {}
