/**
 * NodeWorkflowFile: the `Workflow` service backed by a WORKFLOW.md file on disk, and the path rules that need the
 * platform (the home and temp directories, the environment, sha256): where WORKFLOW.md is, and where sandboxes
 * live (`workspace.root`). Parsing stays in core (`parseWorkflow`), free of platform code.
 *
 * The file is loaded when the layer is built (a missing or invalid file fails startup, Symphony SPEC §6.3) and
 * re-read on every `current`, so edits apply to the next dispatch without a restart (SPEC §6.2). An invalid edit
 * keeps the last good definition, logs an error once per distinct bad content and records the problem for
 * `switchyard status` (`WorkflowProblems`) until the file parses again (SPEC §6.2: keep the last known good config
 * and emit an operator-visible error).
 */
import { FileSystem } from "@effect/platform"
import { parseWorkflow, Workflow, WORKFLOW_FILE_NAME, WorkflowError, type WorkflowShape } from "@switchyard/core"
import type { WorkflowDefinition } from "@switchyard/domain"
import { Clock, Effect, Layer, Ref, type Scope } from "effect"
import { createHash } from "node:crypto"
import * as os from "node:os"
import * as nodePath from "node:path"
import * as WorkflowProblems from "./WorkflowProblems.js"

/** `<repoRoot>/WORKFLOW.md`: where the loader looks when no explicit path is given (SPEC §5.1). */
export const workflowPath = (repoRoot: string): string => nodePath.join(repoRoot, WORKFLOW_FILE_NAME)

const ENV_REFERENCE = /\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g

/**
 * The default workspace root for a repo: `<os.tmpdir()>/switchyard_workspaces/<repo-name>-<hash>`, where the
 * name is the repo directory's basename with characters outside `[A-Za-z0-9._-]` replaced by `_` (SPEC §4.2
 * charset) and the hash is the first 8 hex digits of sha256 of the absolute repo path, so two checkouts with
 * the same name do not share sandboxes. Symphony's default is `<system-temp>/symphony_workspaces` (SPEC §5.3.3).
 */
export const defaultWorkspaceRoot = (repoRoot: string): string => {
  const absolute = nodePath.resolve(repoRoot)
  const name = nodePath.basename(absolute).replace(/[^A-Za-z0-9._-]/g, "_") || "repo"
  const hash = createHash("sha256").update(absolute).digest("hex").slice(0, 8)
  return nodePath.join(os.tmpdir(), "switchyard_workspaces", `${name}-${hash}`)
}

/**
 * The absolute directory sandboxes live under, from `workspace.root` (SPEC §5.3.3, §6.1):
 * - a leading `~` (`~` or `~/...`) is the home directory;
 * - `$VAR` and `${VAR}` are replaced from `env` (default `process.env`); this expansion applies to this path
 *   value only, never to commands (SPEC §6.1). A referenced variable that is unset or empty makes the value
 *   count as missing (SPEC §5.3.1), so the default applies;
 * - a relative result resolves against the directory containing WORKFLOW.md (`def.path`, itself resolved against
 *   `repoRoot` when relative); the result is normalized.
 * - null (or missing) means {@link defaultWorkspaceRoot}.
 *
 * Pure given `env`, the home directory and the temp directory: nothing on disk is read or created.
 */
export const resolveWorkspaceRoot = (
  def: WorkflowDefinition,
  repoRoot: string,
  env: Readonly<Record<string, string | undefined>> = process.env
): string => {
  const configured = def.config.workspace.root
  if (configured === null || configured.trim() === "") return defaultWorkspaceRoot(repoRoot)
  let missing = false
  const home = configured === "~" || configured.startsWith("~/")
    ? os.homedir() + configured.slice(1)
    : configured
  const expanded = home.replace(ENV_REFERENCE, (_, braced: string | undefined, bare: string | undefined) => {
    const value = env[braced ?? bare ?? ""]
    if (value === undefined || value === "") missing = true
    return value ?? ""
  })
  if (missing || expanded.trim() === "") return defaultWorkspaceRoot(repoRoot)
  const workflowDir = nodePath.dirname(nodePath.resolve(repoRoot, def.path))
  return nodePath.resolve(workflowDir, expanded)
}

export interface WorkflowFileOptions {
  /** The repo's top level; resolved to an absolute path. */
  readonly repoRoot: string
  /**
   * The workflow file to load (`switchyard run --workflow PATH`); relative paths resolve against the process cwd.
   * Default `<repoRoot>/WORKFLOW.md`.
   */
  readonly path?: string | undefined
  /** The state directory; relative paths resolve against the process cwd. Default `<repoRoot>/.switchyard`. */
  readonly stateDir?: string | undefined
}

interface ReloadState {
  /** The text of the last good file and what it parsed to. */
  readonly goodText: string
  readonly good: WorkflowDefinition
  /** What the last warning was about (the bad text, or the read error), so each problem is logged once. */
  readonly warned: string | null
}

/**
 * Reads and parses the file. A file that cannot be read is `missing_workflow_file` (SPEC §5.1); `explicit` says the
 * path was given (`--workflow`), so the reason does not suggest `switchyard init`.
 */
const load = (fs: FileSystem.FileSystem, path: string, explicit: boolean) =>
  fs.readFileString(path).pipe(
    Effect.mapError((error) =>
      new WorkflowError({
        kind: "missing_workflow_file",
        path,
        key: null,
        reason: error._tag === "SystemError" && error.reason === "NotFound"
          ? explicit
            ? "no such workflow file"
            : `no WORKFLOW.md at ${path}; run \`switchyard init\` to create one`
          : `cannot read ${path}: ${error.message}`
      })
    ),
    Effect.flatMap((text) =>
      parseWorkflow(path, text).pipe(Effect.map((definition) => ({ text, definition })))
    )
  )

/**
 * Builds the service: reads and parses the file once (failing with `WorkflowError` if it is missing, unreadable
 * or invalid), then serves `current`, which re-reads the file on each call. Unchanged text is not re-parsed.
 * When the file has become unreadable or invalid, `current` succeeds with the last good definition, logs
 * `Effect.logError` with the error message once per distinct bad content (a new bad edit logs again, and so does
 * the same bad content after a good one; re-reading the same bad content on every tick does not), and records the
 * problem in `<stateDir>/workflow-problems/<pid>.json` for `switchyard status`; a good read removes it, and so does
 * the end of the scope.
 */
export const make = (
  options: WorkflowFileOptions
): Effect.Effect<WorkflowShape, WorkflowError, FileSystem.FileSystem | Scope.Scope> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const repoRoot = nodePath.resolve(options.repoRoot)
    const path = nodePath.resolve(options.path ?? workflowPath(repoRoot))
    const stateDir = nodePath.resolve(options.stateDir ?? nodePath.join(repoRoot, ".switchyard"))
    const first = yield* load(fs, path, options.path !== undefined)
    const state = yield* Ref.make<ReloadState>({ goodText: first.text, good: first.definition, warned: null })
    const withFs = Effect.provideService(FileSystem.FileSystem, fs)
    yield* Effect.addFinalizer(() => withFs(WorkflowProblems.clear(stateDir)))

    const keepLastGood = (problem: string, error: WorkflowError) =>
      Ref.modify(state, (s): [boolean, ReloadState] =>
        s.warned === problem ? [false, s] : [true, { ...s, warned: problem }]
      ).pipe(
        Effect.tap((isNew) =>
          isNew
            ? Effect.logError(`the workflow file is invalid; keeping the last good version: ${error.message}`).pipe(
              Effect.annotateLogs({ workflow_path: path, error_kind: error.kind }),
              Effect.zipRight(Clock.currentTimeMillis),
              Effect.flatMap((since) => withFs(WorkflowProblems.record(stateDir, { path, message: error.message, since })))
            )
            : Effect.void
        ),
        Effect.zipRight(Ref.get(state)),
        Effect.map((s) => s.good)
      )

    // One read-and-decide at a time: a read that started before an edit must not clear the problem a later read
    // of the edit recorded (it would log the same bad edit twice).
    const lock = yield* Effect.makeSemaphore(1)
    const current: Effect.Effect<WorkflowDefinition, WorkflowError> = lock.withPermits(1)(Effect.gen(function*() {
      const read = yield* Effect.either(fs.readFileString(path))
      if (read._tag === "Left") {
        const error = new WorkflowError({
          kind: "missing_workflow_file",
          path,
          key: null,
          reason: `cannot read ${path}: ${read.left.message}`
        })
        return yield* keepLastGood(`read:${read.left.message}`, error)
      }
      const text = read.right
      const known = yield* Ref.get(state)
      if (text === known.goodText && known.warned === null) return known.good
      if (text === known.goodText) {
        // Back to the last good text after a bad edit: the problem is over.
        yield* withFs(WorkflowProblems.clear(stateDir))
        yield* Ref.set(state, { ...known, warned: null })
        return known.good
      }
      const parsed = yield* Effect.either(parseWorkflow(path, text))
      if (parsed._tag === "Left") return yield* keepLastGood(`text:${text}`, parsed.left)
      if (known.warned !== null) yield* withFs(WorkflowProblems.clear(stateDir))
      yield* Ref.set(state, { goodText: text, good: parsed.right, warned: null })
      return parsed.right
    }))

    return Workflow.of({ repoRoot, stateDir, current })
  })

/**
 * The `Workflow` service from a WORKFLOW.md file (see {@link make}). Building the layer fails with
 * `WorkflowError` when the file is missing (`missing_workflow_file`, reason
 * "no WORKFLOW.md at <path>; run `switchyard init` to create one"), unreadable or invalid.
 */
export const layer = (options: WorkflowFileOptions): Layer.Layer<Workflow, WorkflowError, FileSystem.FileSystem> =>
  Layer.scoped(Workflow, make(options))

/** A `Workflow` service that always returns `def`, for tests and embedding (no file, no reload): `Workflow.layerStatic`. */
export const layerStatic = (def: WorkflowDefinition, repoRoot: string, stateDir: string): Layer.Layer<Workflow> =>
  Workflow.layerStatic(def, repoRoot, stateDir)
