/**
 * Decoding of Claude Code's `--output-format stream-json --verbose` output (one JSON object per line) into
 * typed `AgentEvent`s.
 *
 * Rules:
 * - Decoding never fails. A line that is not JSON becomes `Malformed`; JSON of an unknown `type` (or a known
 *   type whose shape does not decode) becomes `Unknown` with the raw line.
 * - One line can give several events: an assistant message with a text block and a tool call gives
 *   `AssistantText` then `ToolUse`; a user message with tool results gives one `ToolResult` per block.
 * - Kept text is cut to 4 KiB (`maxKeptBytes`, UTF-8, at a character boundary): tool output, raw lines.
 * - `decodeStream` splits bytes into lines with bounded memory: a line longer than `maxLineBytes` (10 MiB, the
 *   maximum line size the Symphony spec recommends for agent protocol streams) becomes one `Malformed`
 *   "line too long" event, and the twin never holds more than the limit of it.
 *
 * The line shapes are the ones Claude Code 2.1.330 printed against the model twin (see the test fixtures).
 */
import { Array as Arr, Either, Schema, Stream } from "effect"

/** Text kept in events (tool output, raw lines) is cut to this many UTF-8 bytes. */
export const maxKeptBytes = 4 * 1024

/** The default line limit for `decodeStream`: 10 MiB. */
export const maxLineBytes = 10 * 1024 * 1024

/** Token usage summed over a run, from the `result` line. */
export const ResultUsage = Schema.Struct({
  inputTokens: Schema.Number,
  outputTokens: Schema.Number,
  cacheReadInputTokens: Schema.Number,
  cacheCreationInputTokens: Schema.Number
})
export type ResultUsage = typeof ResultUsage.Type

/** `system/init`: the session started. */
export class Init extends Schema.TaggedClass<Init>()("Init", {
  sessionId: Schema.String,
  model: Schema.String,
  cwd: Schema.String,
  tools: Schema.Array(Schema.String)
}) {}

/** A text block of an assistant message. */
export class AssistantText extends Schema.TaggedClass<AssistantText>()("AssistantText", {
  text: Schema.String
}) {}

/** A tool call the model made (Claude Code then runs it). */
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
 * The last line of a run. `isError` is true for API failures even when `subtype` is "success" (Claude Code
 * 2.1.330 reports a run that gave up on repeated 529s as `subtype: "success", is_error: true`).
 * `apiErrorStatus` is the HTTP status of the failing API call, when there was one.
 */
export class Result extends Schema.TaggedClass<Result>()("Result", {
  subtype: Schema.String,
  isError: Schema.Boolean,
  numTurns: Schema.Number,
  result: Schema.String,
  sessionId: Schema.String,
  totalCostUsd: Schema.Number,
  usage: ResultUsage,
  apiErrorStatus: Schema.NullOr(Schema.Number)
}) {}

/** `system/api_retry`: Claude Code is about to retry a failed API call after `retryDelayMs` ms. */
export class ApiRetry extends Schema.TaggedClass<ApiRetry>()("ApiRetry", {
  attempt: Schema.Number,
  maxRetries: Schema.Number,
  retryDelayMs: Schema.Number,
  errorStatus: Schema.NullOr(Schema.Number),
  error: Schema.String
}) {}

/** An error reported by the agent: an `error` line, or an assistant message that is an API error. */
export class ErrorEvent extends Schema.TaggedClass<ErrorEvent>()("Error", {
  message: Schema.String
}) {}

/** A JSON line (or content block) of a type this decoder does not know; `raw` is cut to 4 KiB. */
export class Unknown extends Schema.TaggedClass<Unknown>()("Unknown", {
  raw: Schema.String
}) {}

/** A line that is not JSON, or is too long; `raw` is cut to 4 KiB. */
export class Malformed extends Schema.TaggedClass<Malformed>()("Malformed", {
  raw: Schema.String,
  reason: Schema.String
}) {}

/** Every event `decodeLine` and `decodeStream` produce. */
export const AgentEvent = Schema.Union(
  Init,
  AssistantText,
  ToolUse,
  ToolResult,
  Result,
  ApiRetry,
  ErrorEvent,
  Unknown,
  Malformed
)
export type AgentEvent = typeof AgentEvent.Type

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

// ---- wire shapes (Claude Code 2.1.330) ----

const num = (fallback = 0) => Schema.optionalWith(Schema.Number, { default: () => fallback })

const InitLine = Schema.Struct({
  type: Schema.Literal("system"),
  subtype: Schema.Literal("init"),
  session_id: Schema.String,
  model: Schema.String,
  cwd: Schema.String,
  tools: Schema.Array(Schema.String)
})

const ApiRetryLine = Schema.Struct({
  type: Schema.Literal("system"),
  subtype: Schema.Literal("api_retry"),
  attempt: num(),
  max_retries: num(),
  retry_delay_ms: num(),
  error_status: Schema.optionalWith(Schema.NullOr(Schema.Number), { default: () => null }),
  error: Schema.optionalWith(Schema.String, { default: () => "" })
})

const TextBlock = Schema.Struct({ type: Schema.Literal("text"), text: Schema.String })
const ToolUseBlock = Schema.Struct({
  type: Schema.Literal("tool_use"),
  id: Schema.String,
  name: Schema.String,
  input: Schema.Unknown
})
const ToolResultBlock = Schema.Struct({
  type: Schema.Literal("tool_result"),
  tool_use_id: Schema.String,
  content: Schema.optionalWith(Schema.Union(Schema.String, Schema.Array(Schema.Unknown)), { default: () => "" }),
  is_error: Schema.optionalWith(Schema.Boolean, { default: () => false })
})
const TypedBlock = Schema.Struct({ type: Schema.String })

const AssistantLine = Schema.Struct({
  type: Schema.Literal("assistant"),
  message: Schema.Struct({ content: Schema.Array(Schema.Unknown) }),
  is_api_error_message: Schema.optionalWith(Schema.Boolean, { default: () => false })
})

const UserLine = Schema.Struct({
  type: Schema.Literal("user"),
  message: Schema.Struct({ content: Schema.Union(Schema.String, Schema.Array(Schema.Unknown)) })
})

const ResultLine = Schema.Struct({
  type: Schema.Literal("result"),
  subtype: Schema.String,
  is_error: Schema.Boolean,
  num_turns: num(),
  result: Schema.optionalWith(Schema.String, { default: () => "" }),
  session_id: Schema.String,
  total_cost_usd: num(),
  usage: Schema.optionalWith(
    Schema.Struct({
      input_tokens: num(),
      output_tokens: num(),
      cache_read_input_tokens: num(),
      cache_creation_input_tokens: num()
    }),
    { default: () => ({ input_tokens: 0, output_tokens: 0, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 }) }
  ),
  api_error_status: Schema.optionalWith(Schema.NullOr(Schema.Number), { default: () => null })
})

const ErrorLine = Schema.Struct({
  type: Schema.Literal("error"),
  message: Schema.optional(Schema.String),
  error: Schema.optional(Schema.Union(Schema.String, Schema.Struct({ message: Schema.String })))
})

const TypedLine = Schema.Struct({ type: Schema.String, subtype: Schema.optional(Schema.String) })

const parseJson = Schema.decodeUnknownEither(Schema.parseJson())
const decodeTyped = Schema.decodeUnknownEither(TypedLine)
const decodeInit = Schema.decodeUnknownEither(InitLine)
const decodeApiRetry = Schema.decodeUnknownEither(ApiRetryLine)
const decodeAssistant = Schema.decodeUnknownEither(AssistantLine)
const decodeUser = Schema.decodeUnknownEither(UserLine)
const decodeResult = Schema.decodeUnknownEither(ResultLine)
const decodeError = Schema.decodeUnknownEither(ErrorLine)
const decodeTextBlock = Schema.decodeUnknownEither(TextBlock)
const decodeToolUseBlock = Schema.decodeUnknownEither(ToolUseBlock)
const decodeToolResultBlock = Schema.decodeUnknownEither(ToolResultBlock)
const decodeTypedBlock = Schema.decodeUnknownEither(TypedBlock)

/** Content block types that carry nothing for the factory (model reasoning); they give no event. */
const silentBlocks: ReadonlySet<string> = new Set(["thinking", "redacted_thinking"])

const unknownOf = (raw: string) => new Unknown({ raw: cutUtf8(raw) })

const toolResultText = (content: string | ReadonlyArray<unknown>): string =>
  typeof content === "string"
    ? content
    : content
      .map((part) =>
        Either.match(decodeTextBlock(part), {
          onRight: (block) => block.text,
          onLeft: () => Either.match(decodeTypedBlock(part), { onRight: (b) => `[${b.type}]`, onLeft: () => "" })
        })
      )
      .join("\n")

const assistantEvents = (line: typeof AssistantLine.Type): ReadonlyArray<AgentEvent> =>
  line.message.content.flatMap((block): ReadonlyArray<AgentEvent> => {
    const text = decodeTextBlock(block)
    if (Either.isRight(text)) {
      return [line.is_api_error_message ? new ErrorEvent({ message: text.right.text }) : new AssistantText({ text: text.right.text })]
    }
    const tool = decodeToolUseBlock(block)
    if (Either.isRight(tool)) return [new ToolUse({ id: tool.right.id, name: tool.right.name, input: tool.right.input })]
    const typed = decodeTypedBlock(block)
    if (Either.isRight(typed) && silentBlocks.has(typed.right.type)) return []
    return [unknownOf(JSON.stringify(block) ?? "")]
  })

const userEvents = (line: typeof UserLine.Type): ReadonlyArray<AgentEvent> =>
  typeof line.message.content === "string"
    ? []
    : line.message.content.flatMap((block): ReadonlyArray<AgentEvent> =>
      Either.match(decodeToolResultBlock(block), {
        onRight: (r) => [
          new ToolResult({ toolUseId: r.tool_use_id, content: cutUtf8(toolResultText(r.content)), isError: r.is_error })
        ],
        // Plain user text (the prompt) carries nothing new.
        onLeft: () => []
      })
    )

const typedEvents = (raw: string, value: unknown, type: string, subtype: string | undefined): ReadonlyArray<AgentEvent> => {
  const orUnknown = <A, E>(
    decoded: Either.Either<A, E>,
    f: (a: A) => ReadonlyArray<AgentEvent>
  ): ReadonlyArray<AgentEvent> => Either.match(decoded, { onLeft: () => [unknownOf(raw)], onRight: f })
  switch (type) {
    case "system":
      if (subtype === "init") {
        return orUnknown(decodeInit(value), (l) => [
          new Init({ sessionId: l.session_id, model: l.model, cwd: l.cwd, tools: l.tools })
        ])
      }
      if (subtype === "api_retry") {
        return orUnknown(decodeApiRetry(value), (l) => [
          new ApiRetry({
            attempt: l.attempt,
            maxRetries: l.max_retries,
            retryDelayMs: l.retry_delay_ms,
            errorStatus: l.error_status,
            error: l.error
          })
        ])
      }
      return [unknownOf(raw)]
    case "assistant":
      return orUnknown(decodeAssistant(value), assistantEvents)
    case "user":
      return orUnknown(decodeUser(value), userEvents)
    case "result":
      return orUnknown(decodeResult(value), (l) => [
        new Result({
          subtype: l.subtype,
          isError: l.is_error,
          numTurns: l.num_turns,
          result: l.result,
          sessionId: l.session_id,
          totalCostUsd: l.total_cost_usd,
          usage: {
            inputTokens: l.usage.input_tokens,
            outputTokens: l.usage.output_tokens,
            cacheReadInputTokens: l.usage.cache_read_input_tokens,
            cacheCreationInputTokens: l.usage.cache_creation_input_tokens
          },
          apiErrorStatus: l.api_error_status
        })
      ])
    case "error":
      return orUnknown(decodeError(value), (l) => [
        new ErrorEvent({
          message: l.message ??
            (typeof l.error === "string" ? l.error : l.error?.message) ??
            cutUtf8(raw)
        })
      ])
    default:
      return [unknownOf(raw)]
  }
}

/**
 * Decode one stream-json line into events (possibly none: blank lines, the echoed prompt, thinking blocks).
 * Never fails: non-JSON → `Malformed`; unknown or undecodable JSON → `Unknown`.
 */
export const decodeLine = (line: string): ReadonlyArray<AgentEvent> => {
  const trimmed = line.trim()
  if (trimmed === "") return []
  return Either.match(parseJson(trimmed), {
    onLeft: (error) => [
      new Malformed({ raw: cutUtf8(trimmed), reason: `not JSON: ${cutUtf8(error.message.split("\n").join(" "), 300)}` })
    ],
    onRight: (value) =>
      Either.match(decodeTyped(value), {
        onLeft: () => [unknownOf(trimmed)],
        onRight: ({ subtype, type }) => typedEvents(trimmed, value, type, subtype)
      })
  })
}

/** One line split from a byte stream: its text, or the first 4 KiB of a line over the limit. */
export type SplitLine =
  | { readonly _tag: "Line"; readonly text: string }
  | { readonly _tag: "TooLong"; readonly prefix: string; readonly bytes: number }

/**
 * Split a byte stream into lines (LF; a trailing CR is dropped by `decodeLine`'s trim) with bounded memory:
 * at most `limit` bytes of one line are held; a longer line is reported as `TooLong` (first 4 KiB and its
 * length) once its end arrives. The last line needs no trailing newline.
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
      let start = 0
      for (;;) {
        const newline = chunk.indexOf(10, start)
        if (newline === -1) {
          append(chunk.subarray(start))
          return out
        }
        append(chunk.subarray(start, newline))
        out.push(finish())
        start = newline + 1
      }
    }

    return bytes.pipe(
      Stream.mapConcat(push),
      Stream.concat(Stream.suspend(() => Stream.fromIterable(size > 0 || tooLong !== undefined ? [finish()] : [])))
    )
  })

/**
 * Decode Claude Code's stream-json stdout into events. Never fails on content (only with the byte stream's own
 * error `E`). Memory is bounded by `options.maxLineBytes` (default 10 MiB) plus one chunk.
 */
export const decodeStream = <E, R>(
  bytes: Stream.Stream<Uint8Array, E, R>,
  options: { readonly maxLineBytes?: number } = {}
): Stream.Stream<AgentEvent, E, R> => {
  const limit = options.maxLineBytes ?? maxLineBytes
  return bytes.pipe(
    splitLines(limit),
    Stream.mapConcat((line): ReadonlyArray<AgentEvent> =>
      line._tag === "Line"
        ? decodeLine(line.text)
        : [new Malformed({ raw: line.prefix, reason: `line too long: ${line.bytes} bytes, limit ${limit}` })]
    )
  )
}

/** The last `Result` event of a run, if any. */
export const lastResult = (events: ReadonlyArray<AgentEvent>) =>
  Arr.findLast(events, (e): e is Result => e._tag === "Result")
