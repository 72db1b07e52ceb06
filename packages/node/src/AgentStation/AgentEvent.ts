/**
 * AgentEvent: what an agent CLI did, decoded from its JSON-lines output (Claude Code `stream-json`, Codex
 * `exec --json`) into one typed vocabulary. The stations decode every line into these events, write each one to
 * the run's transcript, and read usage, cost, the session id and the final text from them.
 *
 * Rules shared by the decoders (`ClaudeStream`, `CodexStream`):
 * - Decoding never fails. A line that is not JSON becomes `Malformed`; JSON of an unknown `type` (or a known type
 *   whose shape does not decode) becomes `Unknown` with the raw line.
 * - Kept text is cut to 4 KiB (`maxKeptBytes`, UTF-8, at a character boundary): tool output, raw lines.
 * - `splitLines` splits bytes into lines with bounded memory: a line longer than `maxLineBytes` (10 MiB, the
 *   maximum line size the Symphony spec recommends for agent protocol streams) becomes one `TooLong` item, and
 *   never more than the limit of it is held.
 *
 * The event shapes were first written for the model twin (packages/twin, `StreamJson`) and moved here, where the
 * stations live; `Init.model`/`cwd` became nullable and `MessageUsage`, `Reasoning`, `TurnStarted`,
 * `TurnCompleted` and `TurnFailed` were added for budgets and Codex.
 */
import { TokenUsage } from "@switchyard/domain"
import { Either, Schema, Stream } from "effect"

/** Text kept in events (tool output, raw lines) is cut to this many UTF-8 bytes. */
export const maxKeptBytes = 4 * 1024

/** The default line limit: 10 MiB. */
export const maxLineBytes = 10 * 1024 * 1024

/** The session (Claude Code `session_id`) or thread (Codex `thread_id`) started. */
export class Init extends Schema.TaggedClass<Init>()("Init", {
  sessionId: Schema.String,
  model: Schema.NullOr(Schema.String),
  cwd: Schema.NullOr(Schema.String),
  tools: Schema.Array(Schema.String)
}) {}

/** Codex `turn.started`: the model is working on the prompt. */
export class TurnStarted extends Schema.TaggedClass<TurnStarted>()("TurnStarted", {}) {}

/** A text block of an assistant message (Codex: a completed `agent_message` item). */
export class AssistantText extends Schema.TaggedClass<AssistantText>()("AssistantText", {
  text: Schema.String
}) {}

/** A reasoning summary (Codex `reasoning` item); cut to 4 KiB. */
export class Reasoning extends Schema.TaggedClass<Reasoning>()("Reasoning", {
  text: Schema.String
}) {}

/**
 * A tool call the model made. Claude Code: a `tool_use` block (`name` is the tool, e.g. `Bash`). Codex: an item
 * that started (`command_execution`, `file_change`, `mcp:<server>/<tool>`, `web_search`).
 */
export class ToolUse extends Schema.TaggedClass<ToolUse>()("ToolUse", {
  id: Schema.String,
  name: Schema.String,
  input: Schema.Unknown
}) {}

/** The result of a tool call; `content` is cut to 4 KiB. */
export class ToolResult extends Schema.TaggedClass<ToolResult>()("ToolResult", {
  toolUseId: Schema.String,
  content: Schema.String,
  isError: Schema.Boolean
}) {}

/**
 * Claude Code: the usage of one assistant message so far (`message.usage`). A message printed as several lines
 * repeats its id; the latest values count. Output tokens are only partly known while the message streams.
 */
export class MessageUsage extends Schema.TaggedClass<MessageUsage>()("MessageUsage", {
  messageId: Schema.String,
  usage: TokenUsage
}) {}

/** Codex `turn.completed`: usage so far for the whole thread (Codex reports thread totals). */
export class TurnCompleted extends Schema.TaggedClass<TurnCompleted>()("TurnCompleted", {
  usage: TokenUsage
}) {}

/** Codex `turn.failed`: the turn ended with an error. */
export class TurnFailed extends Schema.TaggedClass<TurnFailed>()("TurnFailed", {
  message: Schema.String
}) {}

/**
 * Claude Code's last line. `isError` is true for API failures even when `subtype` is "success" (Claude Code
 * 2.1.330 reports a run that gave up on repeated 529s as `subtype: "success", is_error: true`), and for its own
 * limits (`error_max_turns`, `error_max_budget_usd`). `apiErrorStatus` is the HTTP status of the failing API call,
 * when there was one; `errors` are Claude Code's own error sentences (e.g. "Reached maximum budget ($0.5)").
 */
export class Result extends Schema.TaggedClass<Result>()("Result", {
  subtype: Schema.String,
  isError: Schema.Boolean,
  numTurns: Schema.Number,
  result: Schema.String,
  sessionId: Schema.String,
  totalCostUsd: Schema.Number,
  usage: TokenUsage,
  apiErrorStatus: Schema.NullOr(Schema.Number),
  errors: Schema.Array(Schema.String)
}) {}

/** Claude Code `system/api_retry`: it is about to retry a failed API call after `retryDelayMs` ms. */
export class ApiRetry extends Schema.TaggedClass<ApiRetry>()("ApiRetry", {
  attempt: Schema.Number,
  maxRetries: Schema.Number,
  retryDelayMs: Schema.Number,
  errorStatus: Schema.NullOr(Schema.Number),
  error: Schema.String
}) {}

/** An error the agent reported: an `error` line, an API-error assistant message, a Codex `error` item. */
export class ErrorEvent extends Schema.TaggedClass<ErrorEvent>()("Error", {
  message: Schema.String
}) {}

/** A JSON line (or content block) of a type the decoder does not know; `raw` is cut to 4 KiB. */
export class Unknown extends Schema.TaggedClass<Unknown>()("Unknown", {
  raw: Schema.String
}) {}

/** A line that is not JSON, or is too long; `raw` is cut to 4 KiB. */
export class Malformed extends Schema.TaggedClass<Malformed>()("Malformed", {
  raw: Schema.String,
  reason: Schema.String
}) {}

/** Every event the decoders produce. */
export const AgentEvent = Schema.Union(
  Init,
  TurnStarted,
  AssistantText,
  Reasoning,
  ToolUse,
  ToolResult,
  MessageUsage,
  TurnCompleted,
  TurnFailed,
  Result,
  ApiRetry,
  ErrorEvent,
  Unknown,
  Malformed
)
export type AgentEvent = typeof AgentEvent.Type

/** Encodes an event to plain JSON (for the transcript). */
export const encodeEvent = Schema.encodeSync(AgentEvent)

/** Cut `text` to at most `maxBytes` UTF-8 bytes, at a character boundary. */
export const cutUtf8 = (text: string, maxBytes: number = maxKeptBytes): string => {
  if (text.length * 3 <= maxBytes) return text
  const bytes = Buffer.from(text, "utf8")
  if (bytes.length <= maxBytes) return text
  let end = maxBytes
  // Back up over continuation bytes (10xxxxxx) so the cut lands on the start of a character.
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--
  return bytes.subarray(0, end).toString("utf8")
}

/** One line split from a byte stream: its text, or the first 4 KiB of a line over the limit. */
export type SplitLine =
  | { readonly _tag: "Line"; readonly text: string }
  | { readonly _tag: "TooLong"; readonly prefix: string; readonly bytes: number }

/**
 * Split a byte stream into lines (LF; a trailing CR is left for the decoder's trim) with bounded memory: at most
 * `limit` bytes of one line are held; a longer line is reported as `TooLong` (first 4 KiB and its length) once
 * its end arrives. The last line needs no trailing newline.
 */
export const splitLines = (limit: number = maxLineBytes) =>
<E, R>(bytes: Stream.Stream<Uint8Array, E, R>): Stream.Stream<SplitLine, E, R> =>
  Stream.suspend(() => {
    // Mutable state, private to one run of the stream (Stream.suspend creates it per run).
    let pieces: Array<Uint8Array> = []
    let size = 0
    let tooLong: { prefix: Uint8Array; bytes: number } | undefined = undefined

    const append = (part: Uint8Array): void => {
      if (part.length === 0) return
      if (tooLong !== undefined) {
        tooLong.bytes += part.length
        if (tooLong.prefix.length < maxKeptBytes) {
          tooLong.prefix = Uint8Array.from(
            Buffer.concat([tooLong.prefix, part.subarray(0, maxKeptBytes - tooLong.prefix.length)])
          )
        }
      } else if (size + part.length > limit) {
        const head = Buffer.concat([...pieces, part.subarray(0, maxKeptBytes)]).subarray(0, maxKeptBytes)
        tooLong = { prefix: Uint8Array.from(head), bytes: size + part.length }
        pieces = []
        size = 0
      } else {
        pieces.push(part)
        size += part.length
      }
    }

    const finish = (): SplitLine => {
      const line: SplitLine = tooLong !== undefined
        ? { _tag: "TooLong", prefix: cutUtf8(Buffer.from(tooLong.prefix).toString("utf8")), bytes: tooLong.bytes }
        : { _tag: "Line", text: Buffer.concat(pieces).toString("utf8") }
      pieces = []
      size = 0
      tooLong = undefined
      return line
    }

    const push = (chunk: Uint8Array): ReadonlyArray<SplitLine> => {
      const out: Array<SplitLine> = []
      // One view per chunk: a line that lies wholly in it is decoded in place (no copy, no view per line).
      const view = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
      let start = 0
      for (;;) {
        const newline = view.indexOf(10, start)
        if (newline === -1) {
          append(view.subarray(start))
          return out
        }
        if (size === 0 && tooLong === undefined && newline - start <= limit) {
          out.push({ _tag: "Line", text: view.toString("utf8", start, newline) })
        } else {
          append(view.subarray(start, newline))
          out.push(finish())
        }
        start = newline + 1
      }
    }

    return bytes.pipe(
      Stream.mapConcat(push),
      Stream.concat(Stream.suspend(() => Stream.fromIterable(size > 0 || tooLong !== undefined ? [finish()] : [])))
    )
  })

/** The `Malformed` event for a line over the limit. */
export const tooLongEvent = (line: { readonly prefix: string; readonly bytes: number }, limit: number): Malformed =>
  new Malformed({ raw: line.prefix, reason: `line too long: ${line.bytes} bytes, limit ${limit}` })

/**
 * Decode a byte stream of JSON lines with a line decoder. Never fails on content (only with the byte stream's own
 * error `E`). Memory is bounded by `options.maxLineBytes` (default 10 MiB) plus one chunk.
 */
export const decodeStreamWith = (decodeLine: (line: string) => ReadonlyArray<AgentEvent>) =>
<E, R>(
  bytes: Stream.Stream<Uint8Array, E, R>,
  options: { readonly maxLineBytes?: number } = {}
): Stream.Stream<AgentEvent, E, R> => {
  const limit = options.maxLineBytes ?? maxLineBytes
  return bytes.pipe(
    splitLines(limit),
    Stream.mapConcat((line): ReadonlyArray<AgentEvent> =>
      line._tag === "Line" ? decodeLine(line.text) : [tooLongEvent(line, limit)]
    )
  )
}

const clip = (text: string, max = 200): string => {
  const flat = text.replace(/\s+/g, " ").trim()
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat
}

/**
 * One short human-readable line for an event (for `AgentReport.outputTail`), or null for events that carry
 * nothing a reader needs there (usage snapshots, turn starts).
 */
export const describeEvent = (event: AgentEvent): string | null => {
  switch (event._tag) {
    case "Init":
      return `[session ${event.sessionId}${event.model === null ? "" : `, model ${event.model}`}]`
    case "AssistantText":
      return `assistant: ${clip(event.text, 400)}`
    case "Reasoning":
      return `reasoning: ${clip(event.text)}`
    case "ToolUse": {
      const input = event.input as { command?: unknown } | null
      const detail = typeof input === "object" && input !== null && typeof input.command === "string"
        ? input.command
        : JSON.stringify(event.input) ?? ""
      return `tool ${event.name}: ${clip(detail)}`
    }
    case "ToolResult":
      return `  ${event.isError ? "error" : "result"}: ${clip(event.content)}`
    case "Result":
      return `result (${event.subtype}${event.isError ? ", error" : ""}): ${clip(event.result, 400)}`
    case "ApiRetry":
      return `api retry ${event.attempt}/${event.maxRetries} after ${event.errorStatus ?? "no response"}`
    case "TurnFailed":
      return `turn failed: ${clip(event.message)}`
    case "Error":
      return `error: ${clip(event.message)}`
    case "Unknown":
      return null
    case "Malformed":
      return `malformed line (${event.reason})`
    case "MessageUsage":
    case "TurnStarted":
    case "TurnCompleted":
      return null
  }
}

const parseJson = Schema.decodeUnknownEither(Schema.parseJson())

/**
 * The envelope every JSONL decoder shares: a blank line gives no event, a line that is not JSON gives one
 * `Malformed` (raw cut to 4 KiB), and any other line is handed to `decode(trimmedLine, parsedValue)`.
 * Never fails.
 */
export const decodeJsonLine = (
  line: string,
  decode: (raw: string, value: unknown) => ReadonlyArray<AgentEvent>
): ReadonlyArray<AgentEvent> => {
  const trimmed = line.trim()
  if (trimmed === "") return []
  return Either.match(parseJson(trimmed), {
    onLeft: (error) => [
      new Malformed({ raw: cutUtf8(trimmed), reason: `not JSON: ${cutUtf8(error.message.split("\n").join(" "), 300)}` })
    ],
    onRight: (value) => decode(trimmed, value)
  })
}
