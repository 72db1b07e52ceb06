/**
 * WorkflowProblems: how a running `switchyard` process tells the others that its workflow file has become invalid
 * (Symphony SPEC §6.2: keep the last good config and emit an operator-visible error). While its file does not
 * parse, each process that reads it (`NodeWorkflowFile`) keeps one small JSON file
 * `<stateDir>/workflow-problems/<pid>.json`, removed when the file parses again or the process ends;
 * `switchyard status` lists the files of live processes. Kept apart from `NodeWorkflowFile` so `status` reads the
 * problems without loading the workflow parser.
 */
import { FileSystem } from "@effect/platform"
import { Effect, Schema } from "effect"
import * as NodeOs from "node:os"
import * as nodePath from "node:path"
import { isProcessAlive } from "../internal/ProcessGroup.js"

/** The directory under the state directory that holds the problem files. */
export const PROBLEMS_DIR = "workflow-problems"

/** One process's invalid workflow file. */
export const WorkflowProblem = Schema.Struct({
  /** The process that keeps its last good version (a `switchyard run`, or a `verify`). */
  pid: Schema.Int,
  /** The host it runs on (`os.hostname()`); liveness is checked only on the same host. */
  host: Schema.String,
  /** The workflow file's absolute path. */
  path: Schema.String,
  /** The `WorkflowError` message: `<path>[ (<key>)]: <reason> [<kind>]`. */
  message: Schema.String,
  /** When the process first read this bad content, epoch ms. */
  since: Schema.Int
})
export type WorkflowProblem = typeof WorkflowProblem.Type

const decode = Schema.decodeUnknownOption(Schema.parseJson(WorkflowProblem))

/** `<stateDir>/workflow-problems/<pid>.json`. */
export const problemFile = (stateDir: string, pid: number = process.pid): string =>
  nodePath.join(stateDir, PROBLEMS_DIR, `${pid}.json`)

/**
 * Records this process's problem (replacing an older one). Never fails: a state directory that cannot be written
 * loses only the `status` line (the log has the error), so the failure is logged at debug level.
 */
export const record = (stateDir: string, problem: Omit<WorkflowProblem, "pid" | "host">): Effect.Effect<void, never, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const file = problemFile(stateDir)
    yield* fs.makeDirectory(nodePath.dirname(file), { recursive: true })
    const body: WorkflowProblem = { pid: process.pid, host: NodeOs.hostname(), ...problem }
    yield* fs.writeFileString(`${file}.tmp`, JSON.stringify(body) + "\n")
    yield* fs.rename(`${file}.tmp`, file)
  }).pipe(Effect.catchAll((error) => Effect.logDebug(`cannot record the workflow problem: ${error.message}`)))

/** Removes this process's problem file, if any. Never fails. */
export const clear = (stateDir: string): Effect.Effect<void, never, FileSystem.FileSystem> =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.remove(problemFile(stateDir), { force: true })).pipe(Effect.ignore)

/**
 * The problems of live processes, oldest first: files of a dead process on this host (killed before it could
 * remove its file) and files that do not decode are skipped. Another host's are kept (their liveness cannot be
 * checked here). A missing directory is no problem. Never fails.
 */
export const list = (stateDir: string): Effect.Effect<ReadonlyArray<WorkflowProblem>, never, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const dir = nodePath.join(stateDir, PROBLEMS_DIR)
    const names = yield* fs.readDirectory(dir).pipe(Effect.orElseSucceed(() => []))
    const host = NodeOs.hostname()
    const found: Array<WorkflowProblem> = []
    for (const name of names.filter((n) => n.endsWith(".json")).sort()) {
      const text = yield* fs.readFileString(nodePath.join(dir, name)).pipe(Effect.option)
      if (text._tag === "None") continue
      const problem = decode(text.value)
      if (problem._tag === "None") continue
      if (problem.value.host === host && !(yield* isProcessAlive(problem.value.pid))) continue
      found.push(problem.value)
    }
    return found.sort((a, b) => a.since - b.since)
  })
