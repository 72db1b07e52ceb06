/**
 * The engine behind the `claude-code` and `codex` stations: run one agent CLI that prints JSON lines, decode every
 * line into `AgentEvent`s as it arrives, append each event to the transcript, watch the token budget, and turn
 * what was seen into an `AgentReport`. The stations only build the command line (ClaudeCodeAgent, CodexAgent).
 */
import { type CommandExecutor, FileSystem } from "@effect/platform"
import type { AgentRunInput, ConfinementShape } from "@switchyard/core"
import { AgentReport, type TokenUsage } from "@switchyard/domain"
import { Effect } from "effect"
import { LastLines } from "../internal/LastLines.js"
import {
  type AgentEvent,
  cutUtf8,
  describeEvent,
  encodeEvent,
  maxKeptBytes,
  maxLineBytes,
  type Result,
  type SplitLine,
  tooLongEvent
} from "./AgentEvent.js"
import { commandLine, readClaim, type RunPaths } from "./RunFiles.js"
import * as StreamProcess from "./StreamProcess.js"
import * as Transcript from "./Transcript.js"

/** One invocation of an agent CLI, as a station built it. */
export interface CliInvocation {
  readonly kind: "claude-code" | "codex"
  readonly executable: string
  readonly args: ReadonlyArray<string>
  /** The prompt (or the revision feedback), written to stdin; stdin is then closed. */
  readonly stdin: string
  /** The whole environment of the process. */
  readonly env: Readonly<Record<string, string>>
  /** The session or thread resumed, or null. */
  readonly resume: string | null
  readonly decodeLine: (line: string) => ReadonlyArray<AgentEvent>
  /** `agent.max_tokens`: over it (input + output + cache writes) the run is stopped. */
  readonly maxTokens: number | null
  /** `agent.max_cost_usd`, for the sentence when the agent stopped itself on its budget. */
  readonly maxCostUsd: number | null
  /**
   * Usage already counted for a resumed thread whose CLI reports thread totals (Codex); subtracted from what the
   * run reports. Null for none.
   */
  readonly usageBaseline: TokenUsage | null
  /** The model API the CLI talks to: under confinement, the one destination it can reach. */
  readonly modelEndpoint: string
  /** `agent.max_log_bytes`: what one run may leave in `transcript.jsonl` (first half, cut marker, last half). */
  readonly maxLogBytes: number
}

/** What a finished run saw, besides the report (the Codex station keeps the thread total for the next turn). */
export interface CliRun {
  readonly report: AgentReport
  /** The last thread total a Codex `turn.completed` reported, or null. */
  readonly threadUsage: TokenUsage | null
}

/** Tokens that count against `agent.max_tokens`: input + output + cache writes (cache reads do not count). */
export const budgetTokens = (u: TokenUsage): number => u.inputTokens + u.outputTokens + u.cacheCreationInputTokens

const zero: TokenUsage = { inputTokens: 0, outputTokens: 0, cacheReadInputTokens: 0, cacheCreationInputTokens: 0 }

const add = (a: TokenUsage, b: TokenUsage): TokenUsage => ({
  inputTokens: a.inputTokens + b.inputTokens,
  outputTokens: a.outputTokens + b.outputTokens,
  cacheReadInputTokens: a.cacheReadInputTokens + b.cacheReadInputTokens,
  cacheCreationInputTokens: a.cacheCreationInputTokens + b.cacheCreationInputTokens
})

/** `a − b`, each field clamped at 0. */
export const subtractUsage = (a: TokenUsage, b: TokenUsage): TokenUsage => ({
  inputTokens: Math.max(0, a.inputTokens - b.inputTokens),
  outputTokens: Math.max(0, a.outputTokens - b.outputTokens),
  cacheReadInputTokens: Math.max(0, a.cacheReadInputTokens - b.cacheReadInputTokens),
  cacheCreationInputTokens: Math.max(0, a.cacheCreationInputTokens - b.cacheCreationInputTokens)
})

/**
 * What the events of one run add up to. Mutable, private to one run; `observe` folds one event in.
 * Pure apart from that: tested through `observe` and the getters.
 */
export class RunState {
  sessionId: string | null = null
  result: Result | null = null
  lastText: string | null = null
  turnFailed: string | null = null
  turnsCompleted = 0
  /** Claude Code: the latest usage per assistant message id. */
  readonly messages = new Map<string, TokenUsage>()
  /** Codex: the latest thread total. */
  threadUsage: TokenUsage | null = null

  constructor(readonly baseline: TokenUsage | null) {}

  observe(event: AgentEvent): void {
    switch (event._tag) {
      case "Init":
        this.sessionId = event.sessionId
        break
      case "AssistantText":
        this.lastText = event.text
        break
      case "MessageUsage":
        this.messages.set(event.messageId, event.usage)
        break
      case "TurnCompleted":
        this.threadUsage = event.usage
        this.turnsCompleted += 1
        break
      case "TurnFailed":
        this.turnFailed = event.message
        break
      case "Result":
        this.result = event
        this.sessionId = event.sessionId
        break
      default:
        break
    }
  }

  /** Usage of this run so far: the result's, else the thread total minus the baseline, else the messages' sum. */
  usage(): TokenUsage | null {
    if (this.result !== null) return this.result.usage
    if (this.threadUsage !== null) return subtractUsage(this.threadUsage, this.baseline ?? zero)
    if (this.messages.size > 0) return [...this.messages.values()].reduce(add, zero)
    return null
  }

  /** Tokens counted against the budget so far (see `budgetTokens`). */
  tokensSoFar(): number {
    const usage = this.result === null && this.threadUsage === null && this.messages.size > 0
      ? [...this.messages.values()].reduce(add, zero)
      : this.usage()
    return usage === null ? 0 : budgetTokens(usage)
  }
}

/** The stop reason when `state` is over `maxTokens`, else null. */
export const overTokenBudget = (state: RunState, maxTokens: number | null): string | null => {
  if (maxTokens === null) return null
  const used = state.tokensSoFar()
  return used > maxTokens
    ? `the run used ${used} tokens (input + output + cache writes), over agent.max_tokens = ${maxTokens}`
    : null
}

/** The sentence when Claude Code stopped itself on `--max-budget-usd` (`error_max_budget_usd`), else null. */
const selfStoppedOnBudget = (result: Result | null, maxCostUsd: number | null): string | null =>
  result !== null && result.subtype === "error_max_budget_usd"
    ? `the run cost $${result.totalCostUsd.toFixed(4)}, over agent.max_cost_usd = $${maxCostUsd ?? "?"}${
      result.errors.length > 0 ? ` (the agent stopped: ${result.errors.join("; ")})` : ""
    }`
    : null

/**
 * Runs `inv` in the sandbox with `input.timeoutMs`, records it in `<runDir>/transcript.jsonl` (redacted with
 * `redact`, at most `inv.maxLogBytes` of this run's events: head, cut marker, tail), and reports. Never fails. Rules:
 * - the exit code is 1 when the process exited 0 but the agent reported an error (a Claude Code result with
 *   `is_error`, a Codex `turn.failed`), so the decision table sees a failed run;
 * - `crashed` when the process could not start, or died from a signal that was not our timeout or stop;
 * - `budgetExceeded` when the run was stopped on `maxTokens`, or Claude Code stopped itself on its cost budget;
 * - `summary` is the agent's final text (the result, else its last message), else the claim's summary.
 */
export const run = (
  inv: CliInvocation,
  input: AgentRunInput,
  paths: RunPaths,
  redact: (text: string) => string,
  confinement: ConfinementShape
): Effect.Effect<CliRun, never, CommandExecutor.CommandExecutor | FileSystem.FileSystem> =>
  Effect.scoped(Effect.gen(function*() {
    const turn = input.continuation?.turn ?? 0
    const argv = [inv.executable, ...inv.args]
    const command = redact(commandLine(argv))
    const transcript = yield* Transcript.open(
      `${input.runDir}/${Transcript.TRANSCRIPT_FILE}`,
      turn,
      redact,
      Transcript.logLimits(inv.maxLogBytes)
    )
    yield* transcript.append({ type: "run.started", station: inv.kind, command, resume: inv.resume })
    const state = new RunState(inv.usageBaseline)
    const tail = new LastLines(maxKeptBytes)
    const note = (text: string) => Effect.sync(() => tail.push(text))
    const limit = maxLineBytes
    /** The output bytes of `line` (newline included), for the transcript's cut marker. */
    const lineBytes = (line: SplitLine) => (line._tag === "Line" ? Buffer.byteLength(line.text, "utf8") : line.bytes) + 1

    const onStdout = (line: SplitLine): Effect.Effect<string | null> =>
      Effect.gen(function*() {
        const events = line._tag === "Line" ? inv.decodeLine(line.text) : [tooLongEvent(line, limit)]
        // Each event stands for its share of the line; it is encoded only if it is written.
        const share = Math.ceil(lineBytes(line) / Math.max(1, events.length))
        for (const event of events) {
          state.observe(event)
          yield* transcript.record(share, () => ({ type: "event", event: encodeEvent(event) }))
          const described = describeEvent(event)
          if (described !== null) yield* note(described)
        }
        return overTokenBudget(state, inv.maxTokens)
      })
    const onStderr = (line: SplitLine): Effect.Effect<void> => {
      const text = line._tag === "Line" ? line.text : `${line.prefix} … (${line.bytes} bytes)`
      return text.trim() === ""
        ? Effect.void
        : transcript.recordLine(lineBytes(line), "stderr", text).pipe(
          Effect.zipRight(note(`stderr: ${cutUtf8(text, 500)}`))
        )
    }

    yield* Effect.logInfo("agent starting").pipe(Effect.annotateLogs({ resume: inv.resume ?? "none" }))
    const proc = yield* StreamProcess.run({
      executable: inv.executable,
      args: inv.args,
      cwd: input.sandboxPath,
      env: inv.env,
      stdin: inv.stdin,
      timeoutMs: input.timeoutMs,
      maxLineBytes: limit,
      onStdout,
      onStderr,
      onSpawn: input.onSpawn,
      onOutput: input.onOutput,
      confine: {
        confinement,
        spec: {
          cwd: input.sandboxPath,
          writable: [input.sandboxPath, input.ioDir],
          home: input.home,
          network: { modelEndpoint: inv.modelEndpoint }
        }
      }
    })
    if (proc.spawnError !== null) yield* note(proc.spawnError)
    // Claude Code reports an API failure as `subtype: "success"` with `is_error: true`; "success" is left out.
    const errorDetail = state.result?.isError === true
      ? [
        state.result.subtype === "success" ? null : state.result.subtype,
        state.result.apiErrorStatus === null ? null : `API status ${state.result.apiErrorStatus}`
      ].filter((part) => part !== null)
      : []
    const agentError = state.result?.isError === true
      ? `the agent reported an error${errorDetail.length === 0 ? "" : ` (${errorDetail.join(", ")})`}`
      : state.turnFailed !== null
      ? `the turn failed: ${state.turnFailed}`
      : null
    const exitCode = proc.exitCode === 0 && agentError !== null ? 1 : proc.exitCode
    if (agentError !== null) yield* note(agentError)
    const budgetExceeded = proc.stopped ?? selfStoppedOnBudget(state.result, inv.maxCostUsd)
    if (proc.stopped !== null) yield* note(`stopped: ${proc.stopped}`)
    yield* transcript.append({
      type: "run.ended",
      exitCode,
      signal: proc.signal,
      timedOut: proc.timedOut,
      stopped: proc.stopped,
      spawnError: proc.spawnError
    })

    const fs = yield* FileSystem.FileSystem
    const { claim, claimError } = yield* readClaim(fs, paths)
    const crashed = proc.spawnError !== null || (proc.signal !== null && !proc.timedOut && proc.stopped === null)
    const finalText = state.result !== null && state.result.result.trim() !== "" ? state.result.result : state.lastText
    const text = (value: string | null | undefined): string | null =>
      value === null || value === undefined ? null : redact(cutUtf8(value))
    const usage = state.usage()
    const report = AgentReport.make({
      kind: inv.kind,
      command,
      exitCode,
      signal: proc.signal,
      timedOut: proc.timedOut,
      crashed,
      durationMs: proc.durationMs,
      outputTail: tail.text(redact),
      claim: claim?.claim ?? null,
      claimError,
      summary: text(finalText ?? claim?.summary),
      plan: text(claim?.plan),
      question: text(claim?.question),
      residualRisk: text(claim?.residual_risk),
      sessionId: state.sessionId ?? inv.resume,
      usage,
      costUsd: state.result?.totalCostUsd ?? null,
      numTurns: state.result?.numTurns ?? (state.turnsCompleted > 0 ? state.turnsCompleted : null),
      budgetExceeded,
      transcript: transcript.path,
      confinement: proc.network === null ? null : confinement.record(proc.network, proc.egress)
    })
    yield* Effect.logInfo("agent finished").pipe(
      Effect.annotateLogs({
        exitCode,
        signal: proc.signal,
        timedOut: proc.timedOut,
        crashed,
        claim: report.claim,
        sessionId: report.sessionId ?? "none",
        tokens: usage === null ? "unknown" : budgetTokens(usage),
        costUsd: report.costUsd ?? "unknown",
        budgetExceeded: budgetExceeded ?? "no"
      })
    )
    return { report, threadUsage: state.threadUsage } satisfies CliRun
  }))
