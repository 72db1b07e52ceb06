/**
 * CommandAgent: the `AgentStation` of kind `command`. It runs WORKFLOW.md's `agent.command` with `sh -c` in the
 * sandbox and reads the agent's claim from a result file.
 *
 * The agent gets (all files live in `runDir`, outside the sandbox):
 * - stdin: the rendered prompt, also in `$SWITCHYARD_PROMPT_FILE` (`prompt.md`);
 * - `$SWITCHYARD_TASK_FILE` (`task.json`): the task packet, Schema-encoded;
 * - `$SWITCHYARD_RESULT_FILE` (`result.json`): where it may write an `AgentClaim` as JSON;
 * - `$SWITCHYARD_ISSUE_ID`, `$SWITCHYARD_ATTEMPT`.
 * Its combined output is appended to `agent.log` as it arrives. The station never fails: a missing command, a
 * crash or a timeout is described in the `AgentReport`.
 */
import { CommandExecutor, FileSystem, Path } from "@effect/platform"
import { AgentStation, type AgentRunInput, type AgentStationShape, Workflow } from "@switchyard/core"
import { AgentClaim, AgentReport, TaskPacket } from "@switchyard/domain"
import { Effect, Either, Layer, ParseResult, Schema } from "effect"
import * as ProcessRunner from "../ProcessRunner/ProcessRunner.js"

/** The station kind, as in WORKFLOW.md `agent.kind`. */
export const KIND = "command"
/** File name (in `runDir`) of the rendered prompt; `$SWITCHYARD_PROMPT_FILE`. */
export const PROMPT_FILE = "prompt.md"
/** File name (in `runDir`) of the Schema-encoded `TaskPacket`; `$SWITCHYARD_TASK_FILE`. */
export const TASK_FILE = "task.json"
/** File name (in `runDir`) where the agent may write its `AgentClaim`; `$SWITCHYARD_RESULT_FILE`. */
export const RESULT_FILE = "result.json"
/** File name (in `runDir`) of the agent's combined stdout+stderr, appended as it arrives. */
export const TRANSCRIPT_FILE = "agent.log"
/** A result file larger than this (bytes) is not read; it does not count as a claim. */
export const MAX_RESULT_BYTES = 1_000_000

const decodeClaim = Schema.decodeUnknownEither(Schema.parseJson(AgentClaim))
const encodeTask = Schema.encode(Schema.parseJson(TaskPacket, { space: 2 }))

/** One line per issue, e.g. `claim: Expected "NO_OP", actual "DONE"` (the tree format is too long for evidence). */
const describeParseError = (error: ParseResult.ParseError): string =>
  ParseResult.ArrayFormatter.formatErrorSync(error)
    .map((issue) => `${issue.path.length === 0 ? "(root)" : issue.path.join(".")}: ${issue.message}`)
    .join("; ")

interface ClaimRead {
  readonly claim: AgentClaim | null
  readonly claimError: string | null
}

/** The claim in the result file, or why there is none. Never fails. */
const readClaim = (fs: FileSystem.FileSystem, file: string): Effect.Effect<ClaimRead> =>
  Effect.gen(function*() {
    if (!(yield* fs.exists(file))) return { claim: null, claimError: "no result file (the agent made no claim)" }
    const info = yield* fs.stat(file)
    if (info.type !== "File") return { claim: null, claimError: "the result file is not a regular file" }
    if (Number(info.size) > MAX_RESULT_BYTES) {
      return { claim: null, claimError: `the result file is ${info.size} bytes; the limit is ${MAX_RESULT_BYTES}` }
    }
    const text = yield* fs.readFileString(file)
    const decoded = decodeClaim(text)
    return Either.isRight(decoded)
      ? { claim: decoded.right, claimError: null }
      : {
        claim: null,
        claimError: `the result file is not a valid claim: ${describeParseError(decoded.left)}`
      }
  }).pipe(
    Effect.catchAll((error) => Effect.succeed({ claim: null, claimError: `cannot read the result file: ${error.message}` }))
  )

/** A report for an agent that never ran. */
const notRun = (command: string, reason: string): AgentReport =>
  AgentReport.make({
    kind: KIND,
    command,
    exitCode: null,
    signal: null,
    timedOut: false,
    crashed: true,
    durationMs: 0,
    outputTail: reason,
    claim: null,
    claimError: "the agent did not run",
    summary: null,
    plan: null,
    question: null,
    residualRisk: null
  })

/**
 * Builds the station. `run` reads `agent.command` from the workflow at call time (so WORKFLOW.md edits apply to the
 * next run), prepares `runDir`, runs the agent with `input.timeoutMs` (SIGTERM then SIGKILL to its process group),
 * and reports. `crashed` is true when the agent could not be started (spawn failure, exit 126/127) or died from a
 * signal we did not send for the timeout.
 */
export const make: Effect.Effect<
  AgentStationShape,
  never,
  Workflow | CommandExecutor.CommandExecutor | FileSystem.FileSystem | Path.Path
> = Effect.gen(function*() {
  const workflow = yield* Workflow
  const executor = yield* CommandExecutor.CommandExecutor
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path

  const run = (input: AgentRunInput): Effect.Effect<AgentReport> =>
    Effect.gen(function*() {
      const loaded = yield* Effect.either(workflow.current)
      if (Either.isLeft(loaded)) return notRun("", `WORKFLOW.md could not be loaded: ${loaded.left.message}`)
      const command = loaded.right.config.agent.command
      if (command === null) return notRun("", "agent.command is not set in WORKFLOW.md")

      const promptFile = path.join(input.runDir, PROMPT_FILE)
      const taskFile = path.join(input.runDir, TASK_FILE)
      const resultFile = path.join(input.runDir, RESULT_FILE)
      const prepared = yield* Effect.either(Effect.gen(function*() {
        yield* fs.makeDirectory(input.runDir, { recursive: true })
        yield* fs.writeFileString(promptFile, input.prompt)
        yield* fs.writeFileString(taskFile, yield* encodeTask(input.packet))
        yield* fs.remove(resultFile, { force: true })
      }))
      if (Either.isLeft(prepared)) {
        return notRun(command, `cannot prepare the run directory ${input.runDir}: ${prepared.left.message}`)
      }

      yield* Effect.logInfo("agent starting")
      const shell = yield* ProcessRunner.execute({
        command,
        cwd: input.sandboxPath,
        stdin: input.prompt,
        env: {
          SWITCHYARD_PROMPT_FILE: promptFile,
          SWITCHYARD_TASK_FILE: taskFile,
          SWITCHYARD_RESULT_FILE: resultFile,
          SWITCHYARD_ISSUE_ID: input.issue.id,
          SWITCHYARD_ATTEMPT: String(input.attempt)
        },
        timeoutMs: input.timeoutMs,
        transcriptFile: path.join(input.runDir, TRANSCRIPT_FILE),
        onSpawn: input.onSpawn,
        onOutput: input.onOutput
      }).pipe(Effect.provideService(CommandExecutor.CommandExecutor, executor))
      const result = shell.result
      const { claim, claimError } = yield* readClaim(fs, resultFile)
      const crashed = shell.spawnFailed || result.exitCode === 126 || result.exitCode === 127 ||
        (result.signal !== null && !result.timedOut)
      yield* Effect.logInfo("agent finished").pipe(
        Effect.annotateLogs({
          exitCode: result.exitCode,
          signal: result.signal,
          timedOut: result.timedOut,
          crashed,
          claim: claim?.claim ?? null,
          outputBytes: shell.outputBytes
        })
      )
      return AgentReport.make({
        kind: KIND,
        command,
        exitCode: result.exitCode,
        signal: result.signal,
        timedOut: result.timedOut,
        crashed,
        durationMs: result.durationMs,
        outputTail: result.outputTail,
        claim: claim?.claim ?? null,
        claimError,
        summary: claim?.summary ?? null,
        plan: claim?.plan ?? null,
        question: claim?.question ?? null,
        residualRisk: claim?.residual_risk ?? null
      })
    }).pipe(Effect.annotateLogs({ issueId: input.issue.id, attempt: input.attempt, station: KIND }))

  return AgentStation.of({ kind: KIND, run })
})

/** The `AgentStation` layer (kind `command`). */
export const layer: Layer.Layer<
  AgentStation,
  never,
  Workflow | CommandExecutor.CommandExecutor | FileSystem.FileSystem | Path.Path
> = Layer.effect(AgentStation, make)
