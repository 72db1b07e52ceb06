/**
 * GitWorktreeSandbox: the `Sandbox` as git worktrees. Each attempt works in `<workspaceRoot>/<issueId>` on the
 * branch `switchyard/<issueId>`; the Verifier gets throw-away detached worktrees under
 * `<workspaceRoot>/.verify/`. Hooks come from WORKFLOW.md (`hooks.*`, read on every call) and run with
 * `sh -c` in the worktree, each limited by `hooks.timeout_ms` (Symphony SPEC §9.4 says which are fatal).
 */
import { CommandExecutor, FileSystem, Path } from "@effect/platform"
import {
  branchFor,
  Candidate,
  DirtyBase,
  HookFailed,
  NotAGitRepo,
  Sandbox,
  SandboxError,
  SandboxHandle,
  type SandboxShape,
  Workflow,
  type WorktreeInfo
} from "@switchyard/core"
import type { CommandResult, WorkflowDefinition } from "@switchyard/domain"
import { Clock, Effect, Layer, Option, Random } from "effect"
import * as ProcessRunner from "../ProcessRunner/ProcessRunner.js"

export interface GitWorktreeSandboxOptions {
  /** The repository's top level (see `findRepoRoot`). */
  readonly repoRoot: string
  /** Where worktrees are created; should be outside the repository. */
  readonly workspaceRoot: string
}

/** The patch size limit when `snapshot` is called without one, in bytes. */
export const DEFAULT_MAX_PATCH_BYTES = 1_000_000

/**
 * `-c` options for every commit switchyard makes: a fixed identity, no signing (which could prompt), and no hooks
 * at all (`--no-verify` skips only pre-commit and commit-msg; the agent can write hooks into the shared .git).
 */
const COMMIT_CONFIG = [
  "-c",
  "user.name=switchyard",
  "-c",
  "user.email=switchyard@localhost",
  "-c",
  "commit.gpgsign=false",
  "-c",
  "core.hooksPath=/dev/null"
]

/** Diff options that keep the output a plain, appliable git patch whatever the user's config says. */
const DIFF_OPTIONS = ["--no-color", "--no-ext-diff", "--no-textconv", "--src-prefix=a/", "--dst-prefix=b/"]

const lines = (text: string): Array<string> => text.split("\n").filter((line) => line.length > 0)
const nulSeparated = (text: string): Array<string> => text.split("\0").filter((entry) => entry.length > 0)

/**
 * Paths from `git status --porcelain -z`: `XY path\0`, and for renames and copies `XY new\0old\0`.
 * Returns the current paths.
 */
export const parseStatusZ = (output: string): Array<string> => {
  const entries = output.split("\0")
  const files: Array<string> = []
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!
    if (entry.length < 4) continue
    files.push(entry.slice(3))
    if (entry[0] === "R" || entry[0] === "C") i++ // skip the origin path
  }
  return files
}

/** Entries of `git worktree list --porcelain`; `branch` is the short name (without `refs/heads/`). */
export const parseWorktreeList = (output: string): Array<WorktreeInfo> => {
  const result: Array<WorktreeInfo> = []
  for (const block of output.split(/\n\n+/)) {
    let path: string | null = null
    let head = ""
    let branch: string | null = null
    for (const line of block.split("\n")) {
      if (line.startsWith("worktree ")) path = line.slice("worktree ".length)
      else if (line.startsWith("HEAD ")) head = line.slice("HEAD ".length)
      else if (line.startsWith("branch ")) branch = line.slice("branch ".length).replace(/^refs\/heads\//, "")
    }
    if (path !== null) result.push({ path, branch, head })
  }
  return result
}

/**
 * The top level of the git work tree containing `cwd`: the nearest directory, from `cwd`'s real path upwards,
 * that holds a `.git` entry (a directory in a clone, a file in a linked worktree or a submodule). This is what
 * `git rev-parse --show-toplevel` answers in those cases, without starting a git process (about 50 ms of every
 * `switchyard status`; docs/benchmarks.md). Not honoured: `GIT_DIR`/`GIT_WORK_TREE` and
 * `GIT_CEILING_DIRECTORIES`. Fails `NotAGitRepo` when no such directory exists, or `cwd` does not.
 */
export const findRepoRoot = (cwd: string): Effect.Effect<string, NotAGitRepo, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const notARepo = new NotAGitRepo({ path: cwd })
    let dir = yield* fs.realPath(cwd).pipe(Effect.mapError(() => notARepo))
    for (;;) {
      if (yield* fs.exists(path.join(dir, ".git")).pipe(Effect.orElseSucceed(() => false))) return dir
      const parent = path.dirname(dir)
      if (parent === dir) return yield* notARepo
      dir = parent
    }
  })

/**
 * Builds the Sandbox. Git runs without a shell; hooks run with `sh -c` in the worktree and get
 * `SWITCHYARD_WORKSPACE` (and `SWITCHYARD_ISSUE_ID`/`SWITCHYARD_ATTEMPT` when known) in their environment.
 * `repoRoot` and `workspaceRoot` are resolved to absolute paths.
 */
export const make = (
  options: GitWorktreeSandboxOptions
): Effect.Effect<SandboxShape, never, Workflow | CommandExecutor.CommandExecutor | FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const workflow = yield* Workflow
    const executor = yield* CommandExecutor.CommandExecutor
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const repoRoot = path.resolve(options.repoRoot)
    const workspaceRoot = path.resolve(options.workspaceRoot)
    const verifyRoot = path.join(workspaceRoot, ".verify")

    const withExecutor = Effect.provideService(CommandExecutor.CommandExecutor, executor)
    const git = (args: ReadonlyArray<string>, cwd: string) => withExecutor(ProcessRunner.runGit(args, cwd))
    const gitRaw = (args: ReadonlyArray<string>, cwd: string, maxStdoutBytes?: number) =>
      withExecutor(ProcessRunner.git(args, cwd, { maxStdoutBytes }))

    const fsError = (operation: string) => (error: { readonly message: string }) =>
      new SandboxError({ operation, reason: error.message, cause: error })

    /** The workspace root with symlinks resolved (git prints real paths), when it exists. */
    const realWorkspaceRoot = fs.realPath(workspaceRoot).pipe(Effect.orElseSucceed(() => workspaceRoot))

    const isInside = (root: string, candidate: string): boolean => {
      const relative = path.relative(root, candidate)
      return relative !== "" && !relative.startsWith("..") && !path.isAbsolute(relative)
    }
    const isUnderWorkspace = (candidate: string) =>
      Effect.map(realWorkspaceRoot, (real) => isInside(workspaceRoot, candidate) || isInside(real, candidate))
    /** Same path, comparing the literal path and the one with the workspace root's symlinks resolved. */
    const samePath = (a: string, b: string) =>
      Effect.map(realWorkspaceRoot, (real) => {
        const resolvedA = path.resolve(a)
        const resolvedB = path.resolve(b)
        const viaReal = (p: string) => isInside(workspaceRoot, p) ? path.join(real, path.relative(workspaceRoot, p)) : p
        return resolvedA === resolvedB || viaReal(resolvedA) === viaReal(resolvedB)
      })

    const loadWorkflow = (operation: string): Effect.Effect<WorkflowDefinition, SandboxError> =>
      workflow.current.pipe(
        Effect.mapError((error) =>
          new SandboxError({ operation, reason: `WORKFLOW.md could not be loaded: ${error.message}`, cause: error })
        )
      )

    const runHookScript = (
      hook: string,
      script: string,
      cwd: string,
      timeoutMs: number,
      env: Record<string, string>
    ): Effect.Effect<CommandResult> =>
      withExecutor(ProcessRunner.runShell({ command: script, cwd, timeoutMs, env })).pipe(
        Effect.tap((result) =>
          result.passed
            ? Effect.logDebug("hook finished")
            : Effect.logWarning("hook failed").pipe(
              Effect.annotateLogs({ exitCode: result.exitCode, timedOut: result.timedOut })
            )
        ),
        Effect.annotateLogs({ hook, cwd })
      )

    const hookFailed = (hook: string, result: CommandResult) =>
      new HookFailed({
        hook,
        exitCode: result.exitCode,
        timedOut: result.timedOut,
        outputTail: result.outputTail
      })

    /** Runs `hooks.after_create` in `dir` when configured; a failure is `HookFailed`. */
    const afterCreate = (definition: WorkflowDefinition, dir: string, env: Record<string, string>) => {
      const script = definition.config.hooks.after_create
      return script === null ? Effect.void : runHookScript(
        "after_create",
        script,
        dir,
        definition.config.hooks.timeout_ms,
        { SWITCHYARD_WORKSPACE: dir, ...env }
      ).pipe(
        Effect.filterOrFail((result) => result.passed, (result) => hookFailed("after_create", result)),
        Effect.asVoid
      )
    }

    const allWorktrees = Effect.map(git(["worktree", "list", "--porcelain"], repoRoot), parseWorktreeList)

    /** Removes a worktree by path whatever its state (registered, stale or a leftover directory). Never fails. */
    const forceRemove = (dir: string): Effect.Effect<void> =>
      Effect.gen(function*() {
        yield* git(["worktree", "remove", "--force", "--force", dir], repoRoot).pipe(
          Effect.catchAll((error) => Effect.logDebug("git worktree remove failed").pipe(Effect.annotateLogs({ reason: error.reason })))
        )
        if (yield* fs.exists(dir).pipe(Effect.orElseSucceed(() => false))) {
          yield* fs.remove(dir, { recursive: true }).pipe(
            Effect.catchAll((error) => Effect.logWarning("could not delete worktree directory").pipe(Effect.annotateLogs({ reason: error.message })))
          )
        }
        yield* git(["worktree", "prune"], repoRoot).pipe(Effect.ignore)
      }).pipe(Effect.annotateLogs({ worktree: dir }))

    const resolveBase: SandboxShape["resolveBase"] = Effect.gen(function*() {
      const head = yield* gitRaw(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], repoRoot)
      if (head.exitCode !== 0 || head.stdout.trim() === "") {
        return yield* new SandboxError({
          operation: "resolveBase",
          reason: "the repository has no commits yet; commit something first"
        })
      }
      const status = yield* git(["status", "--porcelain", "-z", "--untracked-files=no"], repoRoot)
      const files = parseStatusZ(status)
      if (files.length > 0) return yield* new DirtyBase({ repo: repoRoot, files })
      return head.stdout.trim()
    })

    const create: SandboxShape["create"] = (issueId, attempt, baseCommit) =>
      Effect.gen(function*() {
        const dir = path.resolve(workspaceRoot, issueId)
        if (!isInside(workspaceRoot, dir) || path.dirname(dir) !== workspaceRoot) {
          return yield* new SandboxError({
            operation: "create",
            reason: `the sandbox path ${dir} for ${issueId} is not directly inside the workspace root ${workspaceRoot}`
          })
        }
        const branch = branchFor(issueId)
        const definition = yield* loadWorkflow("create")

        // Clear what an earlier attempt left: the worktree at this path, or another worktree of ours holding the
        // branch (git refuses to check a branch out twice), then stale registrations and leftover directories.
        for (const entry of yield* allWorktrees) {
          const atPath = yield* samePath(entry.path, dir)
          const holdsBranch = entry.branch === branch && (yield* isUnderWorkspace(entry.path))
          if (atPath || holdsBranch) {
            yield* Effect.logInfo("removing stale worktree").pipe(Effect.annotateLogs({ worktree: entry.path }))
            yield* forceRemove(entry.path)
          }
        }
        yield* git(["worktree", "prune"], repoRoot)
        if (yield* fs.exists(dir).pipe(Effect.mapError(fsError("create")))) {
          yield* fs.remove(dir, { recursive: true }).pipe(Effect.mapError(fsError("create")))
        }
        yield* fs.makeDirectory(workspaceRoot, { recursive: true }).pipe(Effect.mapError(fsError("create")))
        yield* git(["worktree", "add", "-q", "-B", branch, dir, baseCommit], repoRoot)

        yield* afterCreate(definition, dir, { SWITCHYARD_ISSUE_ID: issueId, SWITCHYARD_ATTEMPT: String(attempt) }).pipe(
          Effect.tapError(() =>
            forceRemove(dir).pipe(
              Effect.zipRight(git(["branch", "-D", branch], repoRoot).pipe(Effect.ignore))
            )
          )
        )
        yield* Effect.logInfo("sandbox created")
        return SandboxHandle.make({ issue_id: issueId, attempt, path: dir, branch, base_commit: baseCommit })
      }).pipe(Effect.annotateLogs({ issueId, attempt }))

    const runHook: SandboxShape["runHook"] = (handle, hook) =>
      Effect.gen(function*() {
        const definition = yield* workflow.current.pipe(
          Effect.mapError((error) =>
            new HookFailed({
              hook,
              exitCode: null,
              timedOut: false,
              outputTail: `WORKFLOW.md could not be loaded: ${error.message}`
            })
          )
        )
        const script = definition.config.hooks[hook]
        if (script === null) return Option.none<CommandResult>()
        const result = yield* runHookScript(hook, script, handle.path, definition.config.hooks.timeout_ms, {
          SWITCHYARD_WORKSPACE: handle.path,
          SWITCHYARD_ISSUE_ID: handle.issue_id,
          SWITCHYARD_ATTEMPT: String(handle.attempt)
        })
        if (hook === "before_run" && !result.passed) return yield* hookFailed(hook, result)
        return Option.some(result)
      }).pipe(
        // after_run is never fatal (SPEC §9.4), not even when the workflow cannot be read.
        Effect.catchAll((error) =>
          hook === "after_run"
            ? Effect.logWarning("after_run hook skipped").pipe(
              Effect.annotateLogs({ reason: error.outputTail }),
              Effect.as(Option.none<CommandResult>())
            )
            : Effect.fail(error)
        ),
        Effect.annotateLogs({ issueId: handle.issue_id })
      )

    /** Makes sure the worktree is on its branch (an agent may have switched), keeping the working tree as it is. */
    const ensureOnBranch = (handle: SandboxHandle) =>
      Effect.gen(function*() {
        const current = yield* gitRaw(["symbolic-ref", "-q", "HEAD"], handle.path)
        if (current.exitCode === 0 && current.stdout.trim() === `refs/heads/${handle.branch}`) return
        yield* Effect.logWarning("sandbox HEAD left its branch; moving the branch to HEAD").pipe(
          Effect.annotateLogs({ head: current.stdout.trim(), branch: handle.branch })
        )
        yield* git(["checkout", "-q", "-B", handle.branch], handle.path)
      })

    const snapshot: SandboxShape["snapshot"] = (handle, message, maxPatchBytes = DEFAULT_MAX_PATCH_BYTES) =>
      Effect.gen(function*() {
        const cwd = handle.path
        const range = `${handle.base_commit}..HEAD`
        yield* ensureOnBranch(handle)
        yield* git(["add", "-A"], cwd)
        const staged = yield* git(["diff", "--cached", "--name-only", "-z"], cwd)
        if (nulSeparated(staged).length > 0) {
          yield* git([...COMMIT_CONFIG, "commit", "-q", "--no-verify", "-m", message], cwd)
        }
        const files = nulSeparated(yield* git(["diff", "--name-only", "-z", "--no-renames", range], cwd))
        if (files.length === 0) {
          return Candidate.make({ commit: null, tree: null, files: [], stat: "", patch: "", patchTruncated: false })
        }
        const stat = yield* git(["diff", "--stat", ...DIFF_OPTIONS, range], cwd)
        const patch = yield* gitRaw(["diff", "--binary", ...DIFF_OPTIONS, range], cwd, maxPatchBytes)
        if (patch.exitCode !== 0) {
          return yield* new SandboxError({ operation: "snapshot", reason: patch.stderr.trim() })
        }
        const commit = (yield* git(["rev-parse", "HEAD"], cwd)).trim()
        const tree = (yield* git(["rev-parse", "HEAD^{tree}"], cwd)).trim()
        return Candidate.make({ commit, tree, files, stat, patch: patch.stdout, patchTruncated: patch.truncated })
      }).pipe(Effect.annotateLogs({ issueId: handle.issue_id }))

    const amend: SandboxShape["amend"] = (handle, message) =>
      Effect.gen(function*() {
        const head = (yield* git(["rev-parse", "HEAD"], handle.path)).trim()
        if (head === handle.base_commit) {
          return yield* new SandboxError({
            operation: "amend",
            reason: "the sandbox branch has no commit beyond the base; there is nothing to amend"
          })
        }
        // --only without paths: the message changes, anything staged since is left out, so the tree is kept.
        yield* git(
          [...COMMIT_CONFIG, "commit", "--amend", "--only", "--allow-empty", "-q", "--no-verify", "-m", message],
          handle.path
        )
        return (yield* git(["rev-parse", "HEAD"], handle.path)).trim()
      })

    const formatPatch: SandboxShape["formatPatch"] = (handle, outDir) =>
      Effect.gen(function*() {
        const out = path.resolve(outDir)
        const written = yield* git(
          ["format-patch", "--no-color", "-o", out, `${handle.base_commit}..refs/heads/${handle.branch}`],
          repoRoot
        )
        return lines(written).map((file) => path.resolve(repoRoot, file))
      })

    const checkout: SandboxShape["checkout"] = (commit, label) =>
      Effect.gen(function*() {
        const definition = yield* loadWorkflow("checkout")
        const safeLabel = label.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 40) || "checkout"
        const suffix = `${(yield* Clock.currentTimeMillis).toString(36)}${(yield* Random.nextIntBetween(0, 2 ** 31 - 1)).toString(36)}`
        const dir = path.join(verifyRoot, `${safeLabel}-${suffix}`)
        yield* fs.makeDirectory(verifyRoot, { recursive: true }).pipe(Effect.mapError(fsError("checkout")))
        yield* Effect.acquireRelease(
          git(["worktree", "add", "-q", "--detach", dir, commit], repoRoot),
          () => forceRemove(dir)
        )
        yield* afterCreate(definition, dir, {})
        return dir
      }).pipe(Effect.annotateLogs({ commit, label }))

    const branchHead: SandboxShape["branchHead"] = (branch) =>
      Effect.gen(function*() {
        const out = yield* gitRaw(["rev-parse", "--verify", "--quiet", `refs/heads/${branch}^{commit}`], repoRoot)
        if (out.exitCode === 0 && out.stdout.trim() !== "") return Option.some(out.stdout.trim())
        if (out.exitCode === 1) return Option.none()
        return yield* new SandboxError({ operation: "branchHead", reason: out.stderr.trim() || `exited ${out.exitCode}` })
      })

    const branches: SandboxShape["branches"] = withExecutor(ProcessRunner.localBranches(repoRoot))

    const remove: SandboxShape["remove"] = (target, removeOptions) =>
      Effect.gen(function*() {
        const dir = path.resolve(target)
        if (!(yield* isUnderWorkspace(dir))) {
          return yield* new SandboxError({
            operation: "remove",
            reason: `${dir} is not under the workspace root ${workspaceRoot}; refusing to remove it`
          })
        }
        if (yield* fs.exists(dir).pipe(Effect.orElseSucceed(() => false))) {
          yield* workflow.current.pipe(
            Effect.flatMap((definition) => {
              const script = definition.config.hooks.before_remove
              return script === null ? Effect.void : runHookScript(
                "before_remove",
                script,
                dir,
                definition.config.hooks.timeout_ms,
                { SWITCHYARD_WORKSPACE: dir }
              )
            }),
            // Failures are logged and ignored (SPEC §9.4).
            Effect.catchAll((error) =>
              Effect.logWarning("before_remove hook skipped").pipe(Effect.annotateLogs({ reason: error.message }))
            )
          )
        }
        let registered = false
        for (const entry of yield* allWorktrees) {
          if (yield* samePath(entry.path, dir)) registered = true
        }
        if (registered) yield* git(["worktree", "remove", "--force", "--force", dir], repoRoot)
        else if (yield* fs.exists(dir).pipe(Effect.orElseSucceed(() => false))) {
          yield* fs.remove(dir, { recursive: true }).pipe(Effect.mapError(fsError("remove")))
        }
        yield* git(["worktree", "prune"], repoRoot)
        const branch = removeOptions?.deleteBranch
        if (branch !== undefined && Option.isSome(yield* branchHead(branch))) {
          yield* git(["branch", "-D", branch], repoRoot)
        }
        yield* Effect.logInfo("worktree removed")
      }).pipe(Effect.annotateLogs({ worktree: target }))

    const list: SandboxShape["list"] = Effect.gen(function*() {
      const entries = yield* allWorktrees
      const kept: Array<WorktreeInfo> = []
      for (const entry of entries) {
        if (yield* isUnderWorkspace(entry.path)) kept.push(entry)
      }
      return kept
    })

    return Sandbox.of({
      repoRoot,
      workspaceRoot,
      resolveBase,
      create,
      runHook,
      snapshot,
      amend,
      formatPatch,
      checkout,
      remove,
      list,
      branchHead,
      branches
    })
  })

/** The `Sandbox` layer for one repository and workspace root. */
export const layer = (
  options: GitWorktreeSandboxOptions
): Layer.Layer<Sandbox, never, Workflow | CommandExecutor.CommandExecutor | FileSystem.FileSystem | Path.Path> =>
  Layer.effect(Sandbox, make(options))
