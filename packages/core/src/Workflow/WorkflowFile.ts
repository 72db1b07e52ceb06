/**
 * WorkflowFile: the `Workflow` service backed by a WORKFLOW.md file on disk.
 *
 * The file is loaded when the layer is built (a missing or invalid file fails startup, Symphony SPEC §6.3) and
 * re-read on every `current`, so edits apply to the next dispatch without a restart (SPEC §6.2). An invalid edit
 * keeps the last good definition and logs a warning once per distinct bad content (SPEC §6.2: keep the last known
 * good config and emit an operator-visible error).
 */
import { FileSystem } from "@effect/platform"
import type { WorkflowDefinition } from "@switchyard/domain"
import { Effect, Layer, Ref } from "effect"
import * as nodePath from "node:path"
import { WorkflowError } from "./errors.js"
import { parseWorkflow, workflowPath } from "./load.js"
import { Workflow, type WorkflowShape } from "./Workflow.js"

export interface WorkflowFileOptions {
  /** The repo's top level; resolved to an absolute path. */
  readonly repoRoot: string
  /** The WORKFLOW.md to load; relative paths resolve against the process cwd. Default `<repoRoot>/WORKFLOW.md`. */
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

/** Reads and parses the file. A file that cannot be read is `missing_workflow_file` (SPEC §5.1). */
const load = (fs: FileSystem.FileSystem, path: string) =>
  fs.readFileString(path).pipe(
    Effect.mapError((error) =>
      new WorkflowError({
        kind: "missing_workflow_file",
        path,
        key: null,
        reason: error._tag === "SystemError" && error.reason === "NotFound"
          ? `no WORKFLOW.md at ${path}; run \`switchyard init\` to create one`
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
 * When the file has become unreadable or invalid, `current` succeeds with the last good definition and logs
 * `Effect.logWarning` with the error message, once per distinct bad content (a new bad edit warns again, and so
 * does the same bad content after a good one).
 */
export const make = (options: WorkflowFileOptions): Effect.Effect<WorkflowShape, WorkflowError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const repoRoot = nodePath.resolve(options.repoRoot)
    const path = nodePath.resolve(options.path ?? workflowPath(repoRoot))
    const stateDir = nodePath.resolve(options.stateDir ?? nodePath.join(repoRoot, ".switchyard"))
    const first = yield* load(fs, path)
    const state = yield* Ref.make<ReloadState>({ goodText: first.text, good: first.definition, warned: null })

    const keepLastGood = (problem: string, error: WorkflowError) =>
      Ref.modify(state, (s): [boolean, ReloadState] =>
        s.warned === problem ? [false, s] : [true, { ...s, warned: problem }]
      ).pipe(
        Effect.tap((isNew) =>
          isNew
            ? Effect.logWarning(`WORKFLOW.md is invalid; keeping the last good version: ${error.message}`).pipe(
              Effect.annotateLogs({ workflow_path: path, error_kind: error.kind })
            )
            : Effect.void
        ),
        Effect.zipRight(Ref.get(state)),
        Effect.map((s) => s.good)
      )

    const current: Effect.Effect<WorkflowDefinition, WorkflowError> = Effect.gen(function*() {
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
      if (text === known.goodText) return known.good
      const parsed = yield* Effect.either(parseWorkflow(path, text))
      if (parsed._tag === "Left") return yield* keepLastGood(`text:${text}`, parsed.left)
      yield* Ref.set(state, { goodText: text, good: parsed.right, warned: null })
      return parsed.right
    })

    return Workflow.of({ repoRoot, stateDir, current })
  })

/**
 * The `Workflow` service from a WORKFLOW.md file (see {@link make}). Building the layer fails with
 * `WorkflowError` when the file is missing (`missing_workflow_file`, reason
 * "no WORKFLOW.md at <path>; run `switchyard init` to create one"), unreadable or invalid.
 */
export const layer = (options: WorkflowFileOptions): Layer.Layer<Workflow, WorkflowError, FileSystem.FileSystem> =>
  Layer.effect(Workflow, make(options))

/** A `Workflow` service that always returns `def`, for tests and embedding (no file, no reload). */
export const layerStatic = (def: WorkflowDefinition, repoRoot: string, stateDir: string): Layer.Layer<Workflow> =>
  Layer.succeed(Workflow, Workflow.of({ repoRoot, stateDir, current: Effect.succeed(def) }))
