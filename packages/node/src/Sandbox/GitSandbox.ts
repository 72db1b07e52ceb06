/**
 * GitSandbox: the `Sandbox` as git worktrees. Each attempt works in `<workspaceRoot>/<issueId>` on the
 * branch `switchyard/<issueId>`; the Verifier gets throw-away detached worktrees under
 * `<workspaceRoot>/.verify/`. The hooks are the caller's (`hooks: HooksConfig`, from the attempt's WORKFLOW.md
 * snapshot; nothing here reads the workflow) and run with `sh -c` in the worktree, each limited by
 * `hooks.timeout_ms` (Symphony SPEC §9.4 says which are fatal).
 */
import { CommandExecutor, FileSystem, Path } from "@effect/platform"
import {
  branchFor,
  Candidate,
  type Checkout,
  type ConfinedSpec,
  Confinement,
  DirtyBase,
  HookFailed,
  type IntegritySnapshot,
  NotAGitRepo,
  Sandbox,
  SandboxError,
  SandboxHandle,
  type SandboxReuse,
  type SandboxShape,
  type WorktreeInfo
} from "@switchyard/core"
import type { CommandResult, HookName, HooksConfig } from "@switchyard/domain"
import { Clock, Effect, Exit, Layer, Option, Random, Schema } from "effect"
import * as NodeFs from "node:fs"
import { confinedEnv } from "../AgentStation/AgentEnv.js"
import * as ProcessRunner from "../ProcessRunner/ProcessRunner.js"
import { INSTALLED_FILE, installKey, installOutputs, INSTALLS_DIR, installsToPrune, isInstallInput, NOT_REUSABLE_FILE, SCRATCH_DIRS } from "./installs.js"

/** What `installed.json` holds: the `node_modules` directories the install produced, relative to its tree. */
const InstalledJson = Schema.parseJson(Schema.Struct({ dirs: Schema.Array(Schema.String) }))
const decodeInstalled = Schema.decodeUnknownOption(InstalledJson)

/**
 * `<workspaceRoot>/.attempts/<id>/sandbox.json`, written by the runner when it makes or takes up a sandbox (outside
 * what the agent can write): the base the sandbox's files are on, the attempt that created it, and the install
 * key of that base (hook text + install inputs), which decides whether its work may be carried to a moved base.
 */
const SandboxMeta = Schema.parseJson(Schema.Struct({ base: Schema.String, createdBy: Schema.Int, install: Schema.String }))
const decodeMeta = Schema.decodeUnknownOption(SandboxMeta)
const encodeMeta = Schema.encodeSync(SandboxMeta)

export interface GitSandboxOptions {
  /** The repository's top level (see `findRepoRoot`). */
  readonly repoRoot: string
  /** Where sandboxes and checkouts are created; should be outside the repository. */
  readonly workspaceRoot: string
  /**
   * The workflow file of this run (absolute, or relative to the process cwd). When it lies inside the repository,
   * its uncommitted edits do not make the base dirty (`resolveBase`): the workflow is the factory's config, read
   * from a snapshot per attempt, not code under test (docs/workflow.md, "Editing WORKFLOW.md"). Default: none.
   */
  readonly workflowFile?: string | undefined
  /**
   * `verify.reuse_install` (default true): keep one installed base per install key (`installs.ts`) and bind it
   * into verification checkouts read-only instead of running `hooks.after_create` in each. Only under a
   * confinement that can mount (bubblewrap); read when the line starts.
   */
  readonly reuseInstalls?: boolean | undefined
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

/** An issue id as a directory name (`SY-12`): the sandboxes' names under the workspace root. */
const SANDBOX_NAME = /^[A-Z][A-Z0-9]{0,9}-[1-9][0-9]{0,8}$/

/** The per-attempt directories of a sandbox `<workspaceRoot>/.attempts/<ID>`: home, io and the runner's index. */
export const ATTEMPTS_DIR = ".attempts"
/** Verification checkouts live under `<workspaceRoot>/.verify/`. */
export const VERIFY_DIR = ".verify"

/**
 * Config appended to a private repository's own: the identity of commits an agent makes in its sandbox, and no
 * automatic gc (its objects are mostly borrowed).
 */
const AGENT_CONFIG = "[user]\n\tname = Switchyard agent\n\temail = agent@switchyard.invalid\n[gc]\n\tauto = 0\n"

/**
 * Builds the Sandbox. Git runs without a shell and with hooks off (`ProcessRunner.GIT_SAFETY`); hooks run with
 * `sh -c` and get `SWITCHYARD_WORKSPACE` (and `SWITCHYARD_ISSUE_ID`/`SWITCHYARD_ATTEMPT` when known).
 * `repoRoot` and `workspaceRoot` are resolved to absolute paths. The repository's object directory is read once,
 * here (`git rev-parse --git-path objects`).
 */
export const make = (
  options: GitSandboxOptions
): Effect.Effect<
  SandboxShape,
  SandboxError,
  Confinement | CommandExecutor.CommandExecutor | FileSystem.FileSystem | Path.Path
> =>
  Effect.gen(function*() {
    const confinement = yield* Confinement
    const executor = yield* CommandExecutor.CommandExecutor
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const repoRoot = path.resolve(options.repoRoot)
    const workspaceRoot = path.resolve(options.workspaceRoot)
    const verifyRoot = path.join(workspaceRoot, VERIFY_DIR)
    const attemptsRoot = path.join(workspaceRoot, ATTEMPTS_DIR)

    const withExecutor = Effect.provideService(CommandExecutor.CommandExecutor, executor)
    const git = (args: ReadonlyArray<string>, cwd: string, env?: Record<string, string>) =>
      withExecutor(ProcessRunner.git(args, cwd, { env })).pipe(
        Effect.flatMap((out) =>
          out.exitCode === 0
            ? Effect.succeed(out.stdout)
            : Effect.fail(new SandboxError({ operation: `git ${args.join(" ")}`, reason: out.stderr.trim() || `exited ${out.exitCode}` }))
        )
      )
    const gitRaw = (args: ReadonlyArray<string>, cwd: string, maxStdoutBytes?: number) =>
      withExecutor(ProcessRunner.git(args, cwd, { maxStdoutBytes }))
    /** Git in a private repository Switchyard made: no global or system config. */
    const isolatedGit = (args: ReadonlyArray<string>, cwd: string) => git(args, cwd, { ...ProcessRunner.ISOLATED_GIT_ENV })

    const fsError = (operation: string) => (error: { readonly message: string }) =>
      new SandboxError({ operation, reason: error.message, cause: error })

    // The main repository's git directories, read once (a linked worktree or a submodule has a `.git` file).
    const gitDir = (yield* git(["rev-parse", "--path-format=absolute", "--git-dir"], repoRoot)).trim()
    const commonDir = (yield* git(["rev-parse", "--path-format=absolute", "--git-common-dir"], repoRoot)).trim()
    const objectsDir = path.join(commonDir, "objects")
    // The workflow file as git names it (relative to the top level, `/`-separated), or null outside the repository.
    const workflowEntry = options.workflowFile === undefined ? null : yield* fs.realPath(options.workflowFile).pipe(
      Effect.orElseSucceed(() => path.resolve(options.workflowFile!)),
      Effect.map((file) => {
        const relative = path.relative(repoRoot, file)
        return relative === "" || relative.startsWith("..") || path.isAbsolute(relative) ? null : relative.split(path.sep).join("/")
      })
    )

    const isInside = (root: string, candidate: string): boolean => {
      const relative = path.relative(root, candidate)
      return relative !== "" && !relative.startsWith("..") && !path.isAbsolute(relative)
    }

    /**
     * Runs a hook script, limited to `timeoutMs` (ms; enforced inside uninterruptible regions too, then the hook's
     * process group is killed). Confined (`spec` given): with `allow`ed runner variables only; otherwise (hooks that
     * run on the base before any agent code) with the runner's environment, as before any confinement existed.
     */
    const runHookScript = (
      hook: string,
      script: string,
      cwd: string,
      timeoutMs: number,
      env: Record<string, string>,
      confine: { readonly spec: ConfinedSpec; readonly allow: ReadonlyArray<string> } | null
    ): Effect.Effect<CommandResult> =>
      withExecutor(ProcessRunner.runShell(
        confine === null
          ? { command: script, cwd, timeoutMs, env }
          : {
            command: script,
            cwd,
            timeoutMs,
            env: confinedEnv(confine.allow, process.env, env),
            confine: { confinement, spec: confine.spec }
          }
      )).pipe(
        Effect.tap((result) =>
          result.passed
            ? Effect.logDebug("hook finished")
            : Effect.logWarning("hook failed").pipe(
              Effect.annotateLogs({ exitCode: result.exitCode, timedOut: result.timedOut })
            )
        ),
        Effect.annotateLogs({ hook, cwd, confined: confine !== null })
      )

    const hookFailed = (hook: HookName, result: CommandResult) =>
      new HookFailed({
        hook,
        exitCode: result.exitCode,
        timedOut: result.timedOut,
        outputTail: result.outputTail
      })

    /**
     * Makes `dir` a private repository at `commit` (on `branch`, or detached) whose objects borrow from the main
     * repository's, and checks the commit out (hooks off, no config but the identity written here).
     */
    const privateRepo = (dir: string, commit: string, branch: string | null, files: "checkout" | "keep" = "checkout") =>
      Effect.gen(function*() {
        yield* fs.makeDirectory(dir, { recursive: true }).pipe(Effect.mapError(fsError("create")))
        yield* isolatedGit(["init", "-q", "--template=", dir], dir)
        const gitDir = path.join(dir, ".git")
        // Written as files, not one git process each: the alternates, the identity, and HEAD (with its branch).
        const write = (file: string, text: string, flag: "a" | "w" = "w") =>
          fs.writeFileString(path.join(gitDir, file), text, { flag }).pipe(Effect.mapError(fsError("create")))
        yield* write("objects/info/alternates", `${objectsDir}\n`)
        yield* write("config", AGENT_CONFIG, "a")
        if (branch === null) {
          yield* write("HEAD", `${commit}\n`)
        } else {
          yield* fs.makeDirectory(path.dirname(path.join(gitDir, "refs", "heads", branch)), { recursive: true }).pipe(
            Effect.mapError(fsError("create"))
          )
          yield* write(`refs/heads/${branch}`, `${commit}\n`)
          yield* write("HEAD", `ref: refs/heads/${branch}\n`)
        }
        // `keep`: only the index is read from the commit; the files in `dir` stay as they are.
        yield* isolatedGit(files === "checkout" ? ["reset", "-q", "--hard"] : ["reset", "-q"], dir)
      })

    const removeDir = (dir: string) =>
      fs.remove(dir, { recursive: true, force: true }).pipe(Effect.mapError(fsError("remove")))

    const attemptDirOf = (issueId: string) => path.join(attemptsRoot, issueId)

    const resolveBase: SandboxShape["resolveBase"] = Effect.gen(function*() {
      const head = yield* gitRaw(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], repoRoot)
      if (head.exitCode !== 0 || head.stdout.trim() === "") {
        return yield* new SandboxError({
          operation: "resolveBase",
          reason: "the repository has no commits yet; commit something first"
        })
      }
      const status = yield* git(["status", "--porcelain", "-z", "--untracked-files=no"], repoRoot)
      // The workflow file's own edits are config, not base: each attempt reads it from its snapshot.
      const files = parseStatusZ(status).filter((file) => file !== workflowEntry)
      if (files.length > 0) return yield* new DirtyBase({ repo: repoRoot, files })
      return head.stdout.trim()
    })

    /** Removes a sandbox and its attempt directory; a legacy worktree registration goes with `worktree prune`. */
    const clearSandbox = (dir: string, issueId: string) =>
      Effect.gen(function*() {
        yield* removeDir(dir)
        yield* removeDir(attemptDirOf(issueId))
        yield* git(["worktree", "prune"], repoRoot).pipe(Effect.ignore)
      })

    /** Deletes `switchyard/<id>` in the main repository when it exists. */
    const deleteBranch = (branch: string) =>
      Effect.gen(function*() {
        if (Option.isSome(yield* branchHead(branch))) yield* git(["update-ref", "-d", `refs/heads/${branch}`], repoRoot)
      })

    /** The install key of `commit` for `afterCreate`: the hook text and the install inputs' blob ids. */
    const installKeyOf = (commit: string, afterCreate: string | null) =>
      Effect.map(git(["ls-tree", "-r", "--full-tree", commit], repoRoot), (listing) =>
        installKey({
          afterCreate: afterCreate ?? "",
          env: {},
          inputs: lines(listing).filter((l) => isInstallInput(l.slice(l.indexOf("\t") + 1)))
        }))

    const writeMeta = (issueId: string, meta: typeof SandboxMeta.Type) =>
      fs.writeFileString(path.join(attemptDirOf(issueId), "sandbox.json"), encodeMeta(meta)).pipe(Effect.mapError(fsError("create")))

    const gitDirExists = (dir: string) => fs.exists(path.join(dir, ".git")).pipe(Effect.orElseSucceed(() => false))

    /**
     * Carries the sandbox's files from `from` to `to` in place: the files are read into a commit on `from` through
     * the runner's index (as `snapshot` does: the sandbox's `.git` is never used), merged onto `to` in the main
     * repository (`git merge-tree --write-tree`), and the merged tree is written back over the work tree (ignored
     * files such as node_modules stay). The sandbox gets a fresh `.git` at `to`. Fails on a conflict.
     */
    const carry = (dir: string, issueId: string, branch: string, from: string, to: string) =>
      Effect.gen(function*() {
        const indexEnv = { GIT_INDEX_FILE: path.join(attemptDirOf(issueId), "index") }
        yield* git([`--work-tree=${dir}`, "add", "-A"], repoRoot, indexEnv)
        const tree = (yield* git(["write-tree"], repoRoot, indexEnv)).trim()
        const work = (yield* git([...COMMIT_CONFIG, "commit-tree", tree, "-p", from, "-m", "work in progress"], repoRoot)).trim()
        const merged = yield* gitRaw(["merge-tree", "--write-tree", "--no-messages", to, work], repoRoot)
        const mergedTree = merged.stdout.split("\n")[0]?.trim() ?? ""
        if (merged.exitCode !== 0 || !/^[0-9a-f]{40,64}$/.test(mergedTree)) {
          return yield* new SandboxError({ operation: "carry", reason: `the work in progress conflicts with ${to.slice(0, 10)}` })
        }
        yield* git([`--work-tree=${dir}`, "read-tree", "-m", "-u", tree, mergedTree], repoRoot, indexEnv)
        yield* removeDir(path.join(dir, ".git"))
        yield* privateRepo(dir, to, branch, "keep")
      })

    /**
     * Takes up the sandbox an earlier attempt of `issueId` kept, if there is one that can be: None when there is
     * none, or it cannot be carried to `baseCommit` (then `create` makes a new one, replacing what is there).
     */
    const adopt = (issueId: string, dir: string, branch: string, baseCommit: string, hooks: HooksConfig) =>
      Effect.gen(function*() {
        const found = yield* readOptional(path.join(attemptDirOf(issueId), "sandbox.json"))
        const meta = found === null ? Option.none() : decodeMeta(found)
        if (Option.isNone(meta) || !(yield* gitDirExists(dir))) return Option.none<SandboxReuse>()
        const kept = meta.value
        const carried = kept.base !== baseCommit
        if (carried) {
          const install = yield* installKeyOf(baseCommit, hooks.after_create)
          if (install !== kept.install) {
            yield* Effect.logInfo("kept sandbox not taken up: the base's install inputs changed; making a new one")
            return Option.none<SandboxReuse>()
          }
          yield* carry(dir, issueId, branch, kept.base, baseCommit)
          yield* writeMeta(issueId, { ...kept, base: baseCommit })
        }
        // The branch restarts at the base when it is gone (deleted after an ending) or the base moved.
        if (carried || Option.isNone(yield* branchHead(branch))) yield* git(["update-ref", `refs/heads/${branch}`, baseCommit], repoRoot)
        return Option.some<SandboxReuse>({ fromAttempt: kept.createdBy, base: kept.base, carried })
      }).pipe(
        Effect.catchAll((error) =>
          Effect.logInfo("kept sandbox not taken up; making a new one").pipe(
            Effect.annotateLogs({ reason: error.message }),
            Effect.as(Option.none<SandboxReuse>())
          )
        )
      )

    const create: SandboxShape["create"] = (issueId, attempt, baseCommit, hooks, verifyEnv = []) =>
      Effect.gen(function*() {
        const dir = path.resolve(workspaceRoot, issueId)
        if (!isInside(workspaceRoot, dir) || path.dirname(dir) !== workspaceRoot || !SANDBOX_NAME.test(issueId)) {
          return yield* new SandboxError({
            operation: "create",
            reason: `the sandbox path ${dir} for ${issueId} is not directly inside the workspace root ${workspaceRoot}`
          })
        }
        const branch = branchFor(issueId)
        const attemptDir = attemptDirOf(issueId)
        const handle = SandboxHandle.make({
          issue_id: issueId,
          attempt,
          path: dir,
          branch,
          base_commit: baseCommit,
          home: path.join(attemptDir, "home"),
          io: path.join(attemptDir, "io")
        })
        const reused = yield* adopt(issueId, dir, branch, baseCommit, hooks)
        if (Option.isSome(reused)) {
          yield* Effect.logInfo("sandbox taken up from an earlier attempt").pipe(
            Effect.annotateLogs({ fromAttempt: reused.value.fromAttempt, carried: reused.value.carried })
          )
          return SandboxHandle.make({ ...handle, reused: reused.value })
        }
        // What an earlier attempt left (a crash, an older layout, a sandbox that could not be taken up) goes first.
        yield* clearSandbox(dir, issueId)
        let copiedInstall = false
        const made = Effect.gen(function*() {
          yield* privateRepo(dir, baseCommit, branch)
          for (const d of [handle.home, handle.io]) {
            yield* fs.makeDirectory(d, { recursive: true }).pipe(Effect.mapError(fsError("create")))
          }
          // The runner's index starts as the sandbox's own, taken before any agent ran: stat data that lets `add -A`
          // re-hash only the files the agent touched.
          yield* fs.copyFile(path.join(dir, ".git", "index"), path.join(attemptDir, "index")).pipe(Effect.mapError(fsError("create")))
          yield* git(["update-ref", `refs/heads/${branch}`, baseCommit], repoRoot)
          const script = hooks.after_create
          // One install per install key: the base's installed base, when the reproduction on the base (or an
          // earlier issue) made one, is copied in, as independent files (never links into it or the package store).
          // Otherwise, and for a hook that installs nothing into the tree (it does something else), the hook runs.
          const installed = script !== null && reuseInstalls
            ? Option.filter(yield* installedBase(baseCommit, script, hooks.timeout_ms, verifyEnv, "lookup"), (i) => i.dirs.length > 0)
            : Option.none()
          if (Option.isSome(installed)) {
            for (const modules of installed.value.dirs) {
              const copied = yield* withExecutor(ProcessRunner.runShell({
                command: `mkdir -p "$(dirname "$SY_TO")" && cp -a --reflink=auto -- "$SY_FROM" "$SY_TO"`,
                env: { SY_FROM: path.join(installed.value.tree, modules), SY_TO: path.join(dir, modules) },
                cwd: dir,
                timeoutMs: hooks.timeout_ms
              }))
              if (!copied.passed) return yield* hookFailed("after_create", copied)
            }
            copiedInstall = true
          } else if (script !== null) {
            const result = yield* runHookScript("after_create", script, dir, hooks.timeout_ms, {
              SWITCHYARD_WORKSPACE: dir,
              SWITCHYARD_ISSUE_ID: issueId,
              SWITCHYARD_ATTEMPT: String(attempt),
              // The agent can write its sandbox's node_modules: pnpm copies files into it instead of hard-linking
              // them from its store, so a rewritten file cannot reach the store and the installs made from it.
              npm_config_package_import_method: "copy"
            }, null)
            if (!result.passed) return yield* hookFailed("after_create", result)
          }
          yield* writeMeta(issueId, { base: baseCommit, createdBy: attempt, install: yield* installKeyOf(baseCommit, script) })
        })
        // Acquire/release: the release runs when `made` fails OR is interrupted (a SIGTERM to the runner during a
        // slow after_create, threat model A28), uninterruptibly and after the hook's process group is gone.
        // Nothing of the sandbox is left: its directories, and the branch (each removal tried on its own).
        const release = Effect.all([
          clearSandbox(dir, issueId).pipe(Effect.ignoreLogged),
          deleteBranch(branch).pipe(Effect.ignoreLogged)
        ], { discard: true }).pipe(
          Effect.zipRight(Effect.logInfo("sandbox creation did not finish; its directories and branch were removed"))
        )
        yield* Effect.uninterruptibleMask((restore) =>
          restore(made).pipe(Effect.onExit((exit) => Exit.isSuccess(exit) ? Effect.void : release))
        )
        yield* Effect.logInfo("sandbox created")
        return copiedInstall ? SandboxHandle.make({ ...handle, installCopied: true }) : handle
      }).pipe(Effect.annotateLogs({ issueId, attempt }))

    const runHook: SandboxShape["runHook"] = (handle, hook, hooks) =>
      Effect.gen(function*() {
        const script = hooks[hook]
        if (script === null) return Option.none<CommandResult>()
        const env = {
          SWITCHYARD_WORKSPACE: handle.path,
          SWITCHYARD_ISSUE_ID: handle.issue_id,
          SWITCHYARD_ATTEMPT: String(handle.attempt)
        }
        // before_run runs before the agent, on the base; after_run runs the agent's leftovers: confined.
        const confine = hook === "after_run"
          ? { spec: { cwd: handle.path, writable: [handle.path], home: handle.home, network: "none" as const }, allow: hooks.env }
          : null
        const result = yield* runHookScript(hook, script, handle.path, hooks.timeout_ms, env, confine)
        // after_run is never fatal (SPEC §9.4).
        if (hook === "before_run" && !result.passed) return yield* hookFailed(hook, result)
        return Option.some(result)
      }).pipe(Effect.annotateLogs({ issueId: handle.issue_id }))

    const snapshot: SandboxShape["snapshot"] = (handle, message, maxPatchBytes = DEFAULT_MAX_PATCH_BYTES) =>
      Effect.gen(function*() {
        const ref = `refs/heads/${handle.branch}`
        const index = path.join(attemptDirOf(handle.issue_id), "index")
        const indexEnv = { GIT_INDEX_FILE: index }
        const parent = Option.getOrElse(yield* branchHead(handle.branch), () => handle.base_commit)
        if (!(yield* fs.exists(index).pipe(Effect.orElseSucceed(() => false)))) {
          yield* git(["read-tree", parent], repoRoot, indexEnv)
        }
        // The sandbox's files, read by the runner into the main repository through its own index: the sandbox's
        // `.git` (hostile after the agent ran) is never consulted, and with hooks off nothing runs.
        yield* git([`--work-tree=${handle.path}`, "add", "-A"], repoRoot, indexEnv)
        const tree = (yield* git(["write-tree"], repoRoot, indexEnv)).trim()
        const parentTree = (yield* git(["rev-parse", `${parent}^{tree}`], repoRoot)).trim()
        const empty = Candidate.make({ commit: null, tree: null, files: [], stat: "", patch: "", patchTruncated: false })
        if (tree !== parentTree) {
          const commit = (yield* git([...COMMIT_CONFIG, "commit-tree", tree, "-p", parent, "-m", message], repoRoot)).trim()
          yield* git(["update-ref", ref, commit, parent], repoRoot)
        } else if (parent === handle.base_commit) {
          // Nothing changed since the base (the common NO_OP): no diff to read.
          return empty
        }
        const range = `${handle.base_commit}..${ref}`
        const files = nulSeparated(yield* git(["diff", "--name-only", "-z", "--no-renames", range], repoRoot))
        if (files.length === 0) return empty
        const stat = yield* git(["diff", "--stat", ...DIFF_OPTIONS, range], repoRoot)
        const patch = yield* gitRaw(["diff", "--binary", ...DIFF_OPTIONS, range], repoRoot, maxPatchBytes)
        if (patch.exitCode !== 0) {
          return yield* new SandboxError({ operation: "snapshot", reason: patch.stderr.trim() })
        }
        const commit = (yield* git(["rev-parse", ref], repoRoot)).trim()
        const headTree = (yield* git(["rev-parse", `${ref}^{tree}`], repoRoot)).trim()
        return Candidate.make({ commit, tree: headTree, files, stat, patch: patch.stdout, patchTruncated: patch.truncated })
      }).pipe(Effect.annotateLogs({ issueId: handle.issue_id }))

    const amend: SandboxShape["amend"] = (handle, message) =>
      Effect.gen(function*() {
        const ref = `refs/heads/${handle.branch}`
        const head = (yield* git(["rev-parse", ref], repoRoot)).trim()
        if (head === handle.base_commit) {
          return yield* new SandboxError({
            operation: "amend",
            reason: "the sandbox branch has no commit beyond the base; there is nothing to amend"
          })
        }
        const [, ...parents] = (yield* git(["rev-list", "--parents", "-n", "1", head], repoRoot)).trim().split(" ")
        const tree = (yield* git(["rev-parse", `${head}^{tree}`], repoRoot)).trim()
        const amended = (yield* git(
          [...COMMIT_CONFIG, "commit-tree", tree, ...parents.flatMap((p) => ["-p", p]), "-m", message],
          repoRoot
        )).trim()
        yield* git(["update-ref", ref, amended, head], repoRoot)
        return amended
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

    const installsRoot = path.join(workspaceRoot, INSTALLS_DIR)
    const reuseInstalls = (options.reuseInstalls ?? true) && confinement.kind === "bwrap"
    // One build of an installed base at a time in this process (the candidate's and the base's checkouts are made
    // at once, and usually want the same one).
    const installLock = yield* Effect.makeSemaphore(1)

    /** `after_create` confined in `tree` (a clean checkout of the candidate's or the base's code). */
    const confinedAfterCreate = (script: string, tree: string, home: string, timeoutMs: number, env: ReadonlyArray<string>) =>
      runHookScript("after_create", script, tree, timeoutMs, { SWITCHYARD_WORKSPACE: tree }, {
        spec: { cwd: tree, writable: [tree], home, network: "none" },
        allow: env
      })

    /**
     * The installed base for `commit` (its `node_modules` directories, relative to its tree), built now if there is
     * none for its install key: a clean checkout with `after_create` run in it, confined. None when reuse is off,
     * there is no hook, the install failed (the checkout then runs it itself, and reports it), another process is
     * building it, or the install wrote more than `node_modules` (then never for that key).
     */
    const installInputs = (commit: string) =>
      Effect.map(git(["ls-tree", "-r", "--full-tree", commit], repoRoot), (listing) =>
        lines(listing).filter((l) => isInstallInput(l.slice(l.indexOf("\t") + 1))))

    /** Whether `commit` is in the repository's own history (an ancestor of HEAD, or HEAD): code a human committed. */
    const isTrusted = (commit: string) =>
      Effect.map(gitRaw(["merge-base", "--is-ancestor", commit, "HEAD"], repoRoot), (out) => out.exitCode === 0)

    /**
     * The commit of the repository's own history to build the install of `commit` from: `commit` itself when it is
     * trusted, else its merge base with HEAD when that has the same install inputs (`inputs`: the install is then
     * the same by the key's own definition), else null (the install runs the candidate's manifests: confined).
     */
    const trustedSource = (commit: string, inputs: ReadonlyArray<string>) =>
      Effect.gen(function*() {
        if (yield* isTrusted(commit)) return commit
        const base = yield* gitRaw(["merge-base", commit, "HEAD"], repoRoot)
        const mergeBase = base.exitCode === 0 ? base.stdout.trim() : ""
        if (mergeBase === "") return null
        const same = (yield* installInputs(mergeBase)).join("\n") === inputs.join("\n")
        return same ? mergeBase : null
      })

    /** Records that the installed base in `dir` was used now (its marker file's mtime: the age pruning reads). */
    const markUsed = (dir: string) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        fs.utimes(path.join(dir, INSTALLED_FILE), new Date(now), new Date(now))).pipe(Effect.ignore)

    /**
     * Removes the installed bases `installsToPrune` names once `keep` was built: finished ones (a marker file)
     * beyond the most recently used few that went unused for a day. Bases being built (no marker) are left to
     * their builder. Failures are logged, never fatal.
     */
    const pruneInstalls = (keep: string) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const keys = yield* fs.readDirectory(installsRoot)
        const finished: Array<{ key: string; lastUsedMs: number }> = []
        for (const key of keys) {
          for (const marker of [INSTALLED_FILE, NOT_REUSABLE_FILE]) {
            const info = yield* fs.stat(path.join(installsRoot, key, marker)).pipe(Effect.option)
            if (Option.isSome(info)) {
              finished.push({ key, lastUsedMs: Option.getOrElse(info.value.mtime, () => new Date(0)).getTime() })
              break
            }
          }
        }
        const stale = installsToPrune(finished, keep, now)
        for (const key of stale) yield* removeDir(path.join(installsRoot, key))
        if (stale.length > 0) {
          yield* Effect.logInfo("removed installed bases unused for a day").pipe(Effect.annotateLogs({ removed: stale.length }))
        }
      }).pipe(Effect.catchAll((e) => Effect.logWarning(`could not prune installed bases: ${e.message}`)))

    const installedBase = (
      commit: string,
      script: string,
      timeoutMs: number,
      env: ReadonlyArray<string>,
      mode: "build" | "lookup" = "build"
    ) =>
      Effect.gen(function*() {
        const inputs = yield* installInputs(commit)
        const key = installKey({ afterCreate: script, env: confinedEnv(env, process.env), inputs })
        const dir = path.join(installsRoot, key)
        const tree = path.join(dir, "tree")
        const found = (yield* readOptional(path.join(dir, INSTALLED_FILE))) ?? null
        if (found !== null) {
          yield* markUsed(dir)
          return Option.map(decodeInstalled(found), (m) => ({ tree, dirs: m.dirs }))
        }
        if (mode === "lookup") return Option.none<{ readonly tree: string; readonly dirs: ReadonlyArray<string> }>()
        return yield* installLock.withPermits(1)(Effect.gen(function*() {
          const again = (yield* readOptional(path.join(dir, INSTALLED_FILE))) ?? null
          if (again !== null) return Option.map(decodeInstalled(again), (m) => ({ tree, dirs: m.dirs }))
          if (yield* fs.exists(path.join(dir, NOT_REUSABLE_FILE)).pipe(Effect.orElseSucceed(() => true))) return Option.none()
          const begun = yield* fs.stat(dir).pipe(Effect.option)
          if (Option.isSome(begun)) {
            // Another runner is building it (run the hook in the checkout meanwhile), or one died doing so: a
            // build older than two hook timeouts is removed and made again.
            const age = (yield* Clock.currentTimeMillis) - Option.getOrElse(begun.value.mtime, () => new Date(0)).getTime()
            if (age < 2 * timeoutMs) return Option.none()
            yield* removeDir(dir).pipe(Effect.ignore)
          }
          const home = path.join(dir, "home")
          yield* fs.makeDirectory(home, { recursive: true }).pipe(Effect.mapError(fsError("install")))
          // Built from the repository's own history when it can be (then unconfined, with the runner's environment
          // and network, like after_create in a new sandbox: it fills the package store offline installs read);
          // from the candidate's manifests only confined.
          const source = yield* trustedSource(commit, inputs)
          // An interrupted build (the runner stopping) leaves nothing half-made behind.
          const ran = yield* Effect.gen(function*() {
            yield* privateRepo(tree, source ?? commit, null)
            return source !== null
              ? yield* runHookScript("after_create", script, tree, timeoutMs, { SWITCHYARD_WORKSPACE: tree }, null)
              : yield* confinedAfterCreate(script, tree, home, timeoutMs, env)
          }).pipe(Effect.onInterrupt(() => removeDir(dir).pipe(Effect.ignore)))
          if (!ran.passed) {
            yield* removeDir(dir).pipe(Effect.ignore)
            return Option.none()
          }
          const untracked = (yield* isolatedGit(["ls-files", "--others", "--directory", "-z"], tree)).split("\0")
            .filter((e) => e.length > 0)
          const outputs = installOutputs(untracked)
          if (!outputs.reusable) {
            yield* Effect.logInfo("install not reused: after_create writes more than node_modules").pipe(
              Effect.annotateLogs({ others: outputs.others.slice(0, 5).join(", ") })
            )
            yield* removeDir(tree).pipe(Effect.ignore)
            yield* fs.writeFileString(path.join(dir, NOT_REUSABLE_FILE), JSON.stringify({ others: outputs.others }))
              .pipe(Effect.mapError(fsError("install")))
            yield* pruneInstalls(key)
            return Option.none()
          }
          for (const modules of outputs.dirs) {
            for (const scratch of SCRATCH_DIRS) {
              yield* fs.makeDirectory(path.join(tree, modules, scratch), { recursive: true }).pipe(Effect.ignore)
            }
          }
          yield* fs.writeFileString(path.join(dir, INSTALLED_FILE), JSON.stringify({ dirs: outputs.dirs }))
            .pipe(Effect.mapError(fsError("install")))
          yield* Effect.logInfo("installed base ready").pipe(Effect.annotateLogs({ key: key.slice(0, 12), dirs: outputs.dirs.length }))
          yield* pruneInstalls(key)
          return Option.some({ tree, dirs: outputs.dirs })
        }))
      })

    const checkout: SandboxShape["checkout"] = (commit, label, hooks, env) =>
      Effect.gen(function*() {
        const safeLabel = label.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 40) || "checkout"
        const suffix = `${(yield* Clock.currentTimeMillis).toString(36)}${(yield* Random.nextIntBetween(0, 2 ** 31 - 1)).toString(36)}`
        const root = path.join(verifyRoot, `${safeLabel}-${suffix}`)
        const tree = path.join(root, "tree")
        const home = path.join(root, "home")
        yield* Effect.acquireRelease(
          Effect.gen(function*() {
            yield* fs.makeDirectory(home, { recursive: true }).pipe(Effect.mapError(fsError("checkout")))
            yield* privateRepo(tree, commit, null)
          }),
          () => removeDir(root).pipe(Effect.ignore)
        )
        const script = hooks.after_create
        if (script === null) return { path: tree, home, mounts: [] } satisfies Checkout
        const installed = reuseInstalls ? yield* installedBase(commit, script, hooks.timeout_ms, env) : Option.none()
        if (Option.isSome(installed)) {
          // The install is bound in read-only at each of its node_modules (mount points made here).
          const mounts = []
          for (const modules of installed.value.dirs) {
            const target = path.join(tree, modules)
            yield* fs.makeDirectory(target, { recursive: true }).pipe(Effect.mapError(fsError("checkout")))
            mounts.push({
              source: path.join(installed.value.tree, modules),
              target,
              scratch: SCRATCH_DIRS.map((d) => path.join(target, d))
            })
          }
          yield* Effect.logDebug("install reused").pipe(Effect.annotateLogs({ dirs: mounts.length }))
          return { path: tree, home, mounts } satisfies Checkout
        }
        // The checkout holds the candidate's code, so its after_create (e.g. an install that runs package
        // scripts) is confined like the verification commands, with their environment.
        const ran = yield* confinedAfterCreate(script, tree, home, hooks.timeout_ms, env)
        if (!ran.passed) return yield* hookFailed("after_create", ran)
        return { path: tree, home, mounts: [] } satisfies Checkout
      }).pipe(Effect.annotateLogs({ commit, label }))

    const branchHead: SandboxShape["branchHead"] = (branch) =>
      Effect.gen(function*() {
        const out = yield* gitRaw(["rev-parse", "--verify", "--quiet", `refs/heads/${branch}^{commit}`], repoRoot)
        if (out.exitCode === 0 && out.stdout.trim() !== "") return Option.some(out.stdout.trim())
        if (out.exitCode === 1) return Option.none()
        return yield* new SandboxError({ operation: "branchHead", reason: out.stderr.trim() || `exited ${out.exitCode}` })
      })

    const branches: SandboxShape["branches"] = withExecutor(ProcessRunner.localBranches(repoRoot))
    const knownBranches: SandboxShape["knownBranches"] = withExecutor(ProcessRunner.localBranches(repoRoot, { remotes: true }))

    const remove: SandboxShape["remove"] = (target, removeOptions) =>
      Effect.gen(function*() {
        const dir = path.resolve(target)
        if (!isInside(workspaceRoot, dir)) {
          return yield* new SandboxError({
            operation: "remove",
            reason: `${dir} is not under the workspace root ${workspaceRoot}; refusing to remove it`
          })
        }
        const name = path.basename(dir)
        const isSandbox = path.dirname(dir) === workspaceRoot && SANDBOX_NAME.test(name)
        const hooks: HooksConfig | undefined = removeOptions?.hooks
        const script = hooks?.before_remove ?? null
        if (hooks !== undefined && script !== null && isSandbox && (yield* fs.exists(dir).pipe(Effect.orElseSucceed(() => false)))) {
          const home = path.join(attemptDirOf(name), "home")
          yield* fs.makeDirectory(home, { recursive: true }).pipe(
            Effect.zipRight(runHookScript("before_remove", script, dir, hooks.timeout_ms, {
              SWITCHYARD_WORKSPACE: dir
            }, {
              spec: { cwd: dir, writable: [dir], home, network: "none" },
              allow: hooks.env
            })),
            // Failures are logged and ignored (SPEC §9.4).
            Effect.catchAll((error) =>
              Effect.logWarning("before_remove hook skipped").pipe(Effect.annotateLogs({ reason: error.message }))
            )
          )
        }
        if (isSandbox) yield* clearSandbox(dir, name)
        else yield* removeDir(dir)
        const branch = removeOptions?.deleteBranch
        if (branch !== undefined) yield* deleteBranch(branch)
        yield* Effect.logInfo("sandbox removed")
      }).pipe(Effect.annotateLogs({ worktree: target }))

    const entries = (dir: string) =>
      fs.readDirectory(dir).pipe(
        Effect.catchAll((error) =>
          error._tag === "SystemError" && error.reason === "NotFound" ? Effect.succeed([]) : Effect.fail(fsError("list")(error))
        )
      )

    const list: SandboxShape["list"] = Effect.gen(function*() {
      const found: Array<WorktreeInfo> = []
      const sandboxes = new Set<string>()
      for (const name of yield* entries(workspaceRoot)) {
        if (!SANDBOX_NAME.test(name)) continue
        sandboxes.add(name)
        found.push({ path: path.join(workspaceRoot, name), branch: branchFor(name), head: "" })
      }
      for (const name of yield* entries(verifyRoot)) found.push({ path: path.join(verifyRoot, name), branch: null, head: "" })
      // An attempt directory whose sandbox is gone (a crash between the two removals).
      for (const name of yield* entries(attemptsRoot)) {
        if (SANDBOX_NAME.test(name) && !sandboxes.has(name)) found.push({ path: path.join(attemptsRoot, name), branch: null, head: "" })
      }
      return found
    })

    const readOptional = (file: string) =>
      Effect.sync(() => Option.getOrNull(Option.liftThrowable(() => NodeFs.readFileSync(file, "latin1"))()))

    const hooksDir = path.join(commonDir, "hooks")
    const configFile = path.join(commonDir, "config")
    const attributesFile = path.join(commonDir, "info", "attributes")

    const integrity: SandboxShape["integrity"] = Effect.gen(function*() {
      const refs = new Map<string, string>()
      for (const line of lines(yield* git(["for-each-ref", "--format=%(objectname) %(refname)"], repoRoot))) {
        const space = line.indexOf(" ")
        if (space > 0) refs.set(line.slice(space + 1), line.slice(0, space))
      }
      const hooks = new Map<string, string>()
      for (const name of yield* entries(hooksDir)) {
        const content = yield* readOptional(path.join(hooksDir, name))
        if (content !== null) hooks.set(name, content)
      }
      const headText = ((yield* readOptional(path.join(gitDir, "HEAD"))) ?? "").trim()
      const symbolic = headText.startsWith("ref: ") ? headText.slice("ref: ".length) : null
      const snapshot: IntegritySnapshot = {
        refs,
        hooks,
        config: yield* readOptional(configFile),
        attributes: yield* readOptional(attributesFile),
        head: { symbolic, commit: symbolic === null ? (headText === "" ? null : headText) : (refs.get(symbolic) ?? null) },
        status: yield* git(["status", "--porcelain", "-z"], repoRoot)
      }
      return snapshot
    })

    const writeBack = (file: string, content: string | null) =>
      Effect.try(() => {
        if (content === null) NodeFs.rmSync(file, { force: true })
        else NodeFs.writeFileSync(file, Buffer.from(content, "latin1"))
      }).pipe(Effect.mapError((cause) => new SandboxError({ operation: "restore", reason: `cannot restore ${file}: ${String(cause)}` })))

    const restore: SandboxShape["restore"] = (before) =>
      Effect.gen(function*() {
        const now = yield* integrity
        const restored: Array<string> = []
        for (const name of new Set([...now.hooks.keys(), ...before.hooks.keys()])) {
          const was = before.hooks.get(name) ?? null
          if (now.hooks.get(name) === was) continue
          yield* writeBack(path.join(hooksDir, name), was)
          restored.push(was === null ? `removed .git/hooks/${name}` : `restored .git/hooks/${name}`)
        }
        if (now.config !== before.config) {
          yield* writeBack(configFile, before.config)
          restored.push("restored .git/config")
        }
        if (now.attributes !== before.attributes) {
          yield* writeBack(attributesFile, before.attributes)
          restored.push(before.attributes === null ? "removed .git/info/attributes" : "restored .git/info/attributes")
        }
        return restored
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
      deleteBranch,
      list,
      branchHead,
      branches,
      knownBranches,
      integrity,
      restore
    })
  })

/** The `Sandbox` layer for one repository and workspace root. Fails `SandboxError` when `repoRoot` is not a repository. */
export const layer = (
  options: GitSandboxOptions
): Layer.Layer<
  Sandbox,
  SandboxError,
  Confinement | CommandExecutor.CommandExecutor | FileSystem.FileSystem | Path.Path
> => Layer.effect(Sandbox, make(options))
