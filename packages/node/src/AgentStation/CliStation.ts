/**
 * How the `claude-code` and `codex` stations read their agent (makeStation's `Events` decoder): decode every
 * stdout line into `AgentEvent`s as it arrives, record each event in the transcript, watch the token budget, and
 * fold what was seen into the report's exit code, summary, session, usage and budget fields.
 */
import type { TokenUsage } from "@switchyard/domain"
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
import type { OutputReader } from "./makeStation.js"
import type * as Transcript from "./Transcript.js"

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

/** The output bytes of `line` (newline included), for the transcript's cut marker. */
const lineBytes = (line: SplitLine) => (line._tag === "Line" ? Buffer.byteLength(line.text, "utf8") : line.bytes) + 1

/**
 * The reader of one run of an agent CLI that prints JSON lines (see the module docs). `decodeLine` turns a line into
 * events; `maxTokens` (`agent.max_tokens`: input + output + cache writes) stops the run when exceeded; `maxCostUsd`
 * words the sentence when Claude Code stopped itself on its cost budget; `baseline` is the usage already counted for
 * a resumed thread whose CLI reports thread totals (Codex), subtracted from what the run reports. Rules of `finish`:
 * - the exit code is 1 when the process exited 0 but the agent reported an error (a Claude Code result with
 *   `is_error`, a Codex `turn.failed`), so the decision table sees a failed run;
 * - `budgetExceeded` when the run was stopped on `maxTokens`, or Claude Code stopped itself on its cost budget;
 * - `summary` is the agent's final text (the result, else its last message), else null (the claim's is used).
 */
export const eventReader = (options: {
  readonly decodeLine: (line: string) => ReadonlyArray<AgentEvent>
  readonly transcript: Transcript.Transcript
  readonly maxTokens: number | null
  readonly maxCostUsd: number | null
  readonly baseline: TokenUsage | null
}): OutputReader => {
  const { transcript } = options
  const state = new RunState(options.baseline)
  const tail = new LastLines(maxKeptBytes)
  const note = (text: string) => Effect.sync(() => tail.push(text))
  return {
    maxLineBytes,
    onStdout: (line) =>
      Effect.gen(function*() {
        const events = line._tag === "Line" ? options.decodeLine(line.text) : [tooLongEvent(line, maxLineBytes)]
        // Each event stands for its share of the line; it is encoded only if it is written.
        const share = Math.ceil(lineBytes(line) / Math.max(1, events.length))
        for (const event of events) {
          state.observe(event)
          yield* transcript.record(share, () => ({ type: "event", event: encodeEvent(event) }))
          const described = describeEvent(event)
          if (described !== null) yield* note(described)
        }
        return overTokenBudget(state, options.maxTokens)
      }),
    onStderr: (line) => {
      const text = line._tag === "Line" ? line.text : `${line.prefix} … (${line.bytes} bytes)`
      return text.trim() === ""
        ? Effect.void
        : transcript.recordLine(lineBytes(line), "stderr", text).pipe(Effect.zipRight(note(`stderr: ${cutUtf8(text, 500)}`)))
    },
    finish: (proc, redact) =>
      Effect.gen(function*() {
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
        if (agentError !== null) yield* note(agentError)
        if (proc.stopped !== null) yield* note(`stopped: ${proc.stopped}`)
        const finalText = state.result !== null && state.result.result.trim() !== "" ? state.result.result : state.lastText
        return {
          exitCode: proc.exitCode === 0 && agentError !== null ? 1 : proc.exitCode,
          outputTail: tail.text(redact),
          summary: finalText,
          sessionId: state.sessionId,
          usage: state.usage(),
          costUsd: state.result?.totalCostUsd ?? null,
          numTurns: state.result?.numTurns ?? (state.turnsCompleted > 0 ? state.turnsCompleted : null),
          budgetExceeded: proc.stopped ?? selfStoppedOnBudget(state.result, options.maxCostUsd),
          threadUsage: state.threadUsage
        }
      })
  }
}
