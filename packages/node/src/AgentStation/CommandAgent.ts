/**
 * CommandAgent: the `AgentStation` of kind `command`. It runs WORKFLOW.md's `agent.command` with `sh -c` in the
 * sandbox and reads the agent's claim from a result file.
 *
 * The agent gets the prompt on stdin (then stdin is closed) and the run files and `SWITCHYARD_*` variables of
 * RunFiles. Its environment is the allow-list of AgentEnv: PATH, HOME, USER, SHELL, LANG, LC_ALL, TERM, TMPDIR and
 * the names in `agent.env`; nothing else from the runner. A revision re-runs the command with the prompt, a blank
 * line and the feedback on stdin, and `$SWITCHYARD_REVISION` / `$SWITCHYARD_FEEDBACK` set.
 *
 * Its output is recorded line by line as it arrives, with the runner's secrets redacted: as text in `agent.log`,
 * and as `{"type":"stdout"|"stderr","text"}` lines in `transcript.jsonl` (Transcript). Each file keeps at most
 * `agent.max_log_bytes` of one run's output: the first half as it comes, then one cut marker and the last half,
 * written when the run ends (a line that will be dropped costs its size and a place in memory: it is not
 * redacted, encoded or written). The station never fails: a missing command, a crash or a timeout is described in the `AgentReport`.
 */
import { type CommandExecutor, FileSystem, Path } from "@effect/platform"
import { AgentStation, type AgentRunInput, type AgentStationShape, Confinement, type Workflow } from "@switchyard/core"
import { type AgentConfig, AgentReport } from "@switchyard/domain"
import { Effect, Either, Layer } from "effect"
import { LastLines } from "../internal/LastLines.js"
import type { SplitLine } from "./AgentEvent.js"
import { agentEnv, redactor, secretValues } from "./AgentEnv.js"
import { notRun, prepare, readClaim, revisionPrompt, switchyardEnv } from "./RunFiles.js"
import { fromRunner, type RunnerOptions, runnerEnvOf, type StationRunner } from "./Station.js"
import * as StreamProcess from "./StreamProcess.js"
import * as Transcript from "./Transcript.js"

export { MAX_RESULT_BYTES, PROMPT_FILE, RESULT_FILE, TASK_FILE } from "./RunFiles.js"

/** The station kind, as in WORKFLOW.md `agent.kind`. */
export const KIND = "command"
/**
 * File name (in `runDir`) of the agent's output as text (stdout and stderr lines, redacted), appended as it
 * arrives up to half of `agent.max_log_bytes`; the last half is written at the end, after a `[switchyard: N lines
 * (B bytes) of output cut here; ...]` line.
 */
export const LOG_FILE = "agent.log"
/** Bytes of output kept for `AgentReport.outputTail`. */
const TAIL_BYTES = 4096

/** The station with the config passed per run (for the routing station). */
export const makeRunner = (
  options: RunnerOptions = {}
): Effect.Effect<StationRunner, never, CommandExecutor.CommandExecutor | FileSystem.FileSystem | Path.Path | Confinement> =>
  Effect.gen(function*() {
    const context = yield* Effect.context<CommandExecutor.CommandExecutor | FileSystem.FileSystem | Path.Path>()
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const confinement = yield* Confinement

    const run = (config: AgentConfig, input: AgentRunInput): Effect.Effect<AgentReport> =>
      Effect.scoped(Effect.gen(function*() {
        const command = config.command
        if (command === null) return notRun(KIND, "", "agent.command is not set in WORKFLOW.md")
        const prepared = yield* Effect.either(prepare(fs, path, input))
        if (Either.isLeft(prepared)) {
          return notRun(KIND, command, `cannot prepare the run directory ${input.runDir}: ${prepared.left.message}`)
        }
        const paths = prepared.right
        const runnerEnv = yield* runnerEnvOf(options)
        const redact = redactor(secretValues(runnerEnv))
        const turn = input.continuation?.turn ?? 0
        const limits = Transcript.logLimits(config.max_log_bytes)
        const log = yield* Transcript.openBounded(path.join(input.runDir, LOG_FILE), limits, redact, (cut) =>
          `[switchyard: ${cut.lines} lines (${cut.bytes} bytes) of output cut here; agent.max_log_bytes keeps the first ${limits.headBytes} and the last ${limits.tailBytes} bytes of each run]\n`)
        const transcript = yield* Transcript.open(path.join(input.runDir, Transcript.TRANSCRIPT_FILE), turn, redact, limits)
        yield* transcript.append({ type: "run.started", station: KIND, command: redact(command), resume: null })
        const tail = new LastLines(TAIL_BYTES)
        // Per line only what a dropped line needs: its size and the tail; redaction and JSON happen when it is written.
        const record = (stream: "stdout" | "stderr") => (line: SplitLine) =>
          Effect.suspend(() => {
            const raw = line._tag === "Line" ? line.text : `${line.prefix} … (line of ${line.bytes} bytes cut)`
            const bytes = (line._tag === "Line" ? Buffer.byteLength(raw, "utf8") : line.bytes) + 1
            tail.push(raw)
            return Effect.zipRight(log.add(bytes, raw), transcript.recordLine(bytes, stream, raw))
          })

        yield* Effect.logInfo("agent starting")
        const result = yield* StreamProcess.run({
          executable: "sh",
          args: ["-c", command],
          cwd: input.sandboxPath,
          env: agentEnv(config.env, runnerEnv, switchyardEnv(input, paths)),
          stdin: revisionPrompt(input),
          timeoutMs: input.timeoutMs,
          onStdout: (line) => Effect.as(record("stdout")(line), null),
          onStderr: record("stderr"),
          onSpawn: input.onSpawn,
          onOutput: input.onOutput,
          confine: {
            confinement,
            spec: { cwd: input.sandboxPath, writable: [input.sandboxPath, input.ioDir], home: input.home, network: "none" }
          }
        })
        if (result.spawnError !== null) tail.push(result.spawnError)
        yield* transcript.append({
          type: "run.ended",
          exitCode: result.exitCode,
          signal: result.signal,
          timedOut: result.timedOut,
          stopped: null,
          spawnError: result.spawnError
        })
        const { claim, claimError } = yield* readClaim(fs, paths)
        const crashed = result.spawnError !== null || result.exitCode === 126 || result.exitCode === 127 ||
          (result.signal !== null && !result.timedOut)
        yield* Effect.logInfo("agent finished").pipe(
          Effect.annotateLogs({
            exitCode: result.exitCode,
            signal: result.signal,
            timedOut: result.timedOut,
            crashed,
            claim: claim?.claim ?? null
          })
        )
        const text = (value: string | null | undefined): string | null =>
          value === null || value === undefined ? null : redact(value)
        return AgentReport.make({
          kind: KIND,
          command: redact(command),
          exitCode: result.exitCode,
          signal: result.signal,
          timedOut: result.timedOut,
          crashed,
          durationMs: result.durationMs,
          outputTail: tail.text(redact),
          claim: claim?.claim ?? null,
          claimError,
          summary: text(claim?.summary),
          plan: text(claim?.plan),
          question: text(claim?.question),
          residualRisk: text(claim?.residual_risk),
          transcript: transcript.path,
          confinement: result.network === null ? null : confinement.record(result.network, result.egress)
        })
      })).pipe(
        Effect.provide(context),
        Effect.annotateLogs({ issueId: input.issue.id, attempt: input.attempt, station: KIND })
      )

    return { kind: KIND, run } satisfies StationRunner
  })

/**
 * Builds the station. `run` reads `agent.command` from the workflow at call time (so WORKFLOW.md edits apply to
 * the next run), prepares `runDir`, runs the agent with `input.timeoutMs` (SIGTERM then SIGKILL to its process
 * group), and reports. `crashed` is true when the agent could not be started (spawn failure, exit 126/127) or
 * died from a signal we did not send for the timeout.
 */
export const make: Effect.Effect<
  AgentStationShape,
  never,
  Workflow | CommandExecutor.CommandExecutor | FileSystem.FileSystem | Path.Path | Confinement
> = Effect.flatMap(makeRunner(), fromRunner)

/** The `AgentStation` layer (kind `command`). */
export const layer: Layer.Layer<
  AgentStation,
  never,
  Workflow | CommandExecutor.CommandExecutor | FileSystem.FileSystem | Path.Path | Confinement
> = Layer.effect(AgentStation, make)
