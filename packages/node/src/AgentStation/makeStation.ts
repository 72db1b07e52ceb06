/**
 * The one station skeleton (docs/agents.md). A station is its command line, its environment and how its output is
 * read (`StationSpec`); everything around the agent process is here, once:
 * 1. `spec.unavailable(config)`: a config the station cannot run (e.g. no `agent.command`) is a not-run report;
 * 2. prepare the run directory and the agent's io directory (RunFiles.prepare); a failure is a not-run report;
 * 3. the environment: `spec.env(config, runnerEnv)` with the `SWITCHYARD_*` variables over it;
 * 4. run `spec.argv(...)` through `StreamProcess.run`, confined (only the sandbox, the io dir and HOME writable;
 *    the network the decoder asks for), with `agent.timeout_ms` (SIGTERM, then SIGKILL to the process group);
 * 5. record the run in `transcript.jsonl` (and, for a `Text` decoder, `agent.log`), bounded by `agent.max_log_bytes`;
 * 6. read the claim (RunFiles.readClaim) and build the `AgentReport`.
 * Everything written (transcript, log, report text, the command line) goes through the `Redactor`. The station reads
 * no configuration of its own: `input.agent` is the agent config the caller routed to (AgentRunInput). `run` never
 * fails: every problem is described in the report.
 */
import { type CommandExecutor, FileSystem, Path } from "@effect/platform"
import { AgentStation, type AgentRunInput, type AgentStationShape, annotate, Attr, Confinement, Redactor, traced } from "@switchyard/core"
import { type AgentConfig, type AgentKind, AgentReport, type ConfinementKind, type TokenUsage } from "@switchyard/domain"
import { Effect, Either, Layer, Ref, type Scope } from "effect"
import { LastLines } from "../internal/LastLines.js"
import type { AgentEvent, SplitLine } from "./AgentEvent.js"
import { cutUtf8 } from "./AgentEvent.js"
import { budgetTokens, eventReader } from "./CliStation.js"
import { commandLine, notRun, prepare, readClaim, revisionPrompt, switchyardEnv } from "./RunFiles.js"
import * as StreamProcess from "./StreamProcess.js"
import * as Transcript from "./Transcript.js"

/** The runner's environment: where the variables `agent.env` allows come from. */
export type RunnerEnv = Readonly<Record<string, string | undefined>>

/** Options of a station (and of the router, which hands them to each station). */
export interface RunnerOptions {
  /**
   * The runner's environment, the source of the variables passed to the agent (`agent.env`). Default: `process.env`,
   * read once when the station is built. Give the `Redactor` the same environment (EnvRedactor.layer), so what may
   * reach an agent is what is redacted from what it prints.
   */
  readonly runnerEnv?: RunnerEnv | undefined
}

/** What the command line may depend on besides the config and the session to resume. */
export interface ArgvContext {
  /** The agent's whole environment (e.g. Codex names its API key variable only when it is passed). */
  readonly env: Readonly<Record<string, string>>
  /** The confinement in force (Codex picks its own sandbox mode from it). */
  readonly confinement: ConfinementKind
}

/**
 * How a station reads its agent's output:
 * - `Text`: any program; each stdout/stderr line is recorded as text (`agent.log` and `{"type":"stdout"|"stderr"}`
 *   transcript lines); no network; the claim comes only from the result file; no resume;
 * - `Events`: an agent CLI printing JSON lines, decoded by `decodeLine` into `AgentEvent`s (CliStation); the network
 *   reaches only `endpoint(config)`; a revision with a known session resumes it and sends only the feedback.
 *   `threadTotals`: the CLI reports usage as thread totals (Codex), so the station subtracts what it saw at the end
 *   of the previous run of the same thread (remembered for the life of the station).
 */
export type Decoder =
  | { readonly _tag: "Text" }
  | {
    readonly _tag: "Events"
    readonly decodeLine: (line: string) => ReadonlyArray<AgentEvent>
    readonly endpoint: (config: AgentConfig) => string
    readonly threadTotals: boolean
  }

/** A station: its kind, command line, environment and decoder (see the module docs). */
export interface StationSpec {
  readonly kind: AgentKind
  /**
   * The whole argv (program first) for `config`; `resume` is the session or thread to continue (an `Events`
   * decoder on a revision with a known session), else null. Pure.
   */
  readonly argv: (config: AgentConfig, resume: string | null, context: ArgvContext) => ReadonlyArray<string>
  /** The agent's environment without the `SWITCHYARD_*` variables (AgentEnv.agentEnv and the station's own). Pure. */
  readonly env: (config: AgentConfig, runnerEnv: RunnerEnv) => Record<string, string>
  readonly decode: Decoder
  /** Why `config` cannot run (a sentence for the report), or null. Default: it always can. */
  readonly unavailable?: ((config: AgentConfig) => string | null) | undefined
  /** The command line shown in the report and the transcript (before redaction). Default: `argv` shell-quoted. */
  readonly display?: ((argv: ReadonlyArray<string>) => string) | undefined
}

/** What a decoder makes of a finished run, for the report. */
export interface ReadOutcome {
  /** The exit code to record (an `Events` decoder turns an agent-reported error after exit 0 into 1). */
  readonly exitCode: number | null
  /** The kept output lines, redacted, for `AgentReport.outputTail`. */
  readonly outputTail: string
  /** The agent's own final text, or null (then the claim's summary is used). Not yet redacted. */
  readonly summary: string | null
  readonly sessionId: string | null
  readonly usage: TokenUsage | null
  readonly costUsd: number | null
  readonly numTurns: number | null
  readonly budgetExceeded: string | null
  /** The last thread total the CLI reported (Codex), or null. */
  readonly threadUsage: TokenUsage | null
}

/** One run's output handling, made by a decoder. */
export interface OutputReader {
  /** Longest stdout/stderr line handled whole, in bytes. */
  readonly maxLineBytes?: number | undefined
  /** Each stdout line; a non-null result stops the run with that reason. */
  readonly onStdout: (line: SplitLine) => Effect.Effect<string | null>
  readonly onStderr: (line: SplitLine) => Effect.Effect<void>
  /** Once the process ended. */
  readonly finish: (proc: StreamProcess.StreamRun, redact: (text: string) => string) => Effect.Effect<ReadOutcome>
}

/**
 * File name (in `runDir`) of a `Text` agent's output as text (stdout and stderr lines, redacted), appended as it
 * arrives up to half of `agent.max_log_bytes`; the last half is written at the end, after a `[switchyard: N lines
 * (B bytes) of output cut here; ...]` line.
 */
export const LOG_FILE = "agent.log"
/** Bytes of a `Text` agent's output kept for `AgentReport.outputTail`. */
const TEXT_TAIL_BYTES = 4096

/** The `Text` decoder's reader: every line to `agent.log` and the transcript, the last 4 KiB for the tail. */
const textReader = (
  logFile: string,
  transcript: Transcript.Transcript,
  maxLogBytes: number,
  redact: (text: string) => string
): Effect.Effect<OutputReader, never, FileSystem.FileSystem | Scope.Scope> =>
  Effect.gen(function*() {
    const limits = Transcript.logLimits(maxLogBytes)
    const log = yield* Transcript.openBounded(logFile, limits, redact, (cut) =>
      `[switchyard: ${cut.lines} lines (${cut.bytes} bytes) of output cut here; agent.max_log_bytes keeps the first ${limits.headBytes} and the last ${limits.tailBytes} bytes of each run]\n`)
    const tail = new LastLines(TEXT_TAIL_BYTES)
    // Per line only what a dropped line needs: its size and the tail; redaction and JSON happen when it is written.
    const record = (stream: "stdout" | "stderr") => (line: SplitLine) =>
      Effect.suspend(() => {
        const raw = line._tag === "Line" ? line.text : `${line.prefix} … (line of ${line.bytes} bytes cut)`
        const bytes = (line._tag === "Line" ? Buffer.byteLength(raw, "utf8") : line.bytes) + 1
        tail.push(raw)
        return Effect.zipRight(log.add(bytes, raw), transcript.recordLine(bytes, stream, raw))
      })
    return {
      onStdout: (line) => Effect.as(record("stdout")(line), null),
      onStderr: record("stderr"),
      finish: (proc, redactText) =>
        Effect.sync(() => {
          if (proc.spawnError !== null) tail.push(proc.spawnError)
          return {
            exitCode: proc.exitCode,
            outputTail: tail.text(redactText),
            summary: null,
            sessionId: null,
            usage: null,
            costUsd: null,
            numTurns: null,
            budgetExceeded: null,
            threadUsage: null
          }
        })
    } satisfies OutputReader
  })

/**
 * Builds the station of `spec` (see the module docs). `crashed` in a report: the agent could not be started (spawn
 * failure, exit 126/127), or died from a signal that was not the timeout or a budget stop.
 */
export const makeStation = (
  spec: StationSpec,
  options: RunnerOptions = {}
): Effect.Effect<
  AgentStationShape,
  never,
  CommandExecutor.CommandExecutor | FileSystem.FileSystem | Path.Path | Confinement | Redactor
> =>
  Effect.gen(function*() {
    const context = yield* Effect.context<CommandExecutor.CommandExecutor | FileSystem.FileSystem | Path.Path>()
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const confinement = yield* Confinement
    const { redact } = yield* Redactor
    const runnerEnv: RunnerEnv = options.runnerEnv ?? (yield* Effect.sync(() => ({ ...process.env })))
    const { decode, kind } = spec
    /** Thread id → the last thread total seen (`threadTotals` decoders). */
    const threads = yield* Ref.make(new Map<string, TokenUsage>())

    const runOnce = (input: AgentRunInput): Effect.Effect<AgentReport, never, CommandExecutor.CommandExecutor | FileSystem.FileSystem> =>
      Effect.scoped(Effect.gen(function*() {
        const config = input.agent
        const unavailable = spec.unavailable?.(config) ?? null
        if (unavailable !== null) return notRun(kind, "", unavailable)
        const resume = decode._tag === "Events" ? input.continuation?.sessionId ?? null : null
        const stdin = resume !== null && input.continuation !== null ? input.continuation.feedback : revisionPrompt(input)
        const prepared = yield* Effect.either(prepare(fs, path, input))
        const env = Either.isRight(prepared)
          ? { ...spec.env(config, runnerEnv), ...switchyardEnv(input, prepared.right) }
          : spec.env(config, runnerEnv)
        const argv = spec.argv(config, resume, { env, confinement: confinement.kind })
        const command = redact((spec.display ?? commandLine)(argv))
        if (Either.isLeft(prepared)) {
          return notRun(kind, command, `cannot prepare the run directory ${input.runDir}: ${prepared.left.message}`)
        }
        const paths = prepared.right

        const transcript = yield* Transcript.open(
          path.join(input.runDir, Transcript.TRANSCRIPT_FILE),
          input.continuation?.turn ?? 0,
          redact,
          Transcript.logLimits(config.max_log_bytes)
        )
        yield* transcript.append({ type: "run.started", station: kind, command, resume })
        const baseline = decode._tag === "Events" && decode.threadTotals && resume !== null
          ? (yield* Ref.get(threads)).get(resume) ?? null
          : null
        const reader = decode._tag === "Text"
          ? yield* textReader(path.join(input.runDir, LOG_FILE), transcript, config.max_log_bytes, redact)
          : eventReader({
            decodeLine: decode.decodeLine,
            transcript,
            maxTokens: config.max_tokens,
            maxCostUsd: config.max_cost_usd,
            baseline
          })

        yield* Effect.logInfo("agent starting").pipe(Effect.annotateLogs({ resume: resume ?? "none" }))
        const proc = yield* StreamProcess.run({
          executable: argv[0]!,
          args: argv.slice(1),
          cwd: input.sandboxPath,
          env,
          stdin,
          timeoutMs: config.timeout_ms,
          maxLineBytes: reader.maxLineBytes,
          onStdout: reader.onStdout,
          onStderr: reader.onStderr,
          onSpawn: input.onSpawn,
          onOutput: input.onOutput,
          confine: {
            confinement,
            spec: {
              cwd: input.sandboxPath,
              writable: [input.sandboxPath, input.ioDir],
              home: input.home,
              network: decode._tag === "Text" ? "none" : { modelEndpoint: decode.endpoint(config) }
            }
          }
        })
        const read = yield* reader.finish(proc, redact)
        yield* transcript.append({
          type: "run.ended",
          exitCode: read.exitCode,
          signal: proc.signal,
          timedOut: proc.timedOut,
          stopped: proc.stopped,
          spawnError: proc.spawnError
        })

        const { claim, claimError } = yield* readClaim(fs, paths)
        const crashed = proc.spawnError !== null || proc.exitCode === 126 || proc.exitCode === 127 ||
          (proc.signal !== null && !proc.timedOut && proc.stopped === null)
        const text = (value: string | null | undefined): string | null =>
          value === null || value === undefined ? null : redact(cutUtf8(value))
        const report = AgentReport.make({
          kind,
          command,
          exitCode: read.exitCode,
          signal: proc.signal,
          timedOut: proc.timedOut,
          crashed,
          durationMs: proc.durationMs,
          outputTail: read.outputTail,
          claim: claim?.claim ?? null,
          claimError,
          summary: text(read.summary ?? claim?.summary),
          plan: text(claim?.plan),
          question: text(claim?.question),
          residualRisk: text(claim?.residual_risk),
          sessionId: read.sessionId ?? resume,
          usage: read.usage,
          costUsd: read.costUsd,
          numTurns: read.numTurns,
          budgetExceeded: read.budgetExceeded,
          transcript: transcript.path,
          confinement: proc.network === null ? null : confinement.record(proc.network, proc.egress)
        })
        const thread = report.sessionId
        if (decode._tag === "Events" && decode.threadTotals && thread !== null && read.threadUsage !== null) {
          const total = read.threadUsage
          yield* Ref.update(threads, (m) => new Map(m).set(thread, total))
        }
        yield* Effect.logInfo("agent finished").pipe(
          Effect.annotateLogs({
            exitCode: report.exitCode,
            signal: proc.signal,
            timedOut: proc.timedOut,
            crashed,
            claim: report.claim,
            sessionId: report.sessionId ?? "none",
            tokens: read.usage === null ? "unknown" : budgetTokens(read.usage),
            costUsd: report.costUsd ?? "unknown",
            budgetExceeded: report.budgetExceeded ?? "no"
          })
        )
        return report
      }))

    return AgentStation.of({
      kind,
      run: (input) =>
        runOnce(input).pipe(
          Effect.map((report) => new AgentReport({ ...report, route: input.route })),
          Effect.tap((report) =>
            annotate({
              [Attr.inputTokens]: report.usage?.inputTokens ?? 0,
              [Attr.outputTokens]: report.usage?.outputTokens ?? 0,
              ...(report.costUsd === null ? {} : { [Attr.costUsd]: report.costUsd }),
              [Attr.exitCode]: report.exitCode ?? -1,
              [Attr.durationMs]: report.durationMs
            })
          ),
          traced("switchyard.agent.run", {
            attributes: {
              [Attr.issueId]: input.issue.id,
              [Attr.attempt]: input.attempt,
              [Attr.station]: kind,
              [Attr.route]: input.route ?? "default"
            }
          }),
          Effect.provide(context),
          Effect.annotateLogs({ issueId: input.issue.id, attempt: input.attempt, station: kind })
        )
    })
  })

/** The `AgentStation` layer of `spec` (see `makeStation`). */
export const stationLayer = (
  spec: StationSpec,
  options: RunnerOptions = {}
): Layer.Layer<AgentStation, never, CommandExecutor.CommandExecutor | FileSystem.FileSystem | Path.Path | Confinement | Redactor> =>
  Layer.effect(AgentStation, makeStation(spec, options))
