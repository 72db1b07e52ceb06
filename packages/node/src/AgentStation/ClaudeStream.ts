/**
 * Decoding of Claude Code's `--output-format stream-json --verbose` output (one JSON object per line) into
 * `AgentEvent`s (rules in AgentEvent.ts: never fails, unknown lines kept raw, text cut to 4 KiB).
 *
 * One line can give several events: an assistant message with a text block and a tool call gives `AssistantText`
 * then `ToolUse`, then its `MessageUsage`; a user message with tool results gives one `ToolResult` per block.
 * The line shapes are the ones Claude Code 2.1.330 printed against the model twin (packages/twin/test/fixtures).
 */
import { Either, Schema } from "effect"
import {
  type AgentEvent,
  ApiRetry,
  AssistantText,
  cutUtf8,
  decodeJsonLine,
  decodeStreamWith,
  ErrorEvent,
  Init,
  MessageUsage,
  Result,
  ToolResult,
  ToolUse,
  Unknown
} from "./AgentEvent.js"

// ---- wire shapes (Claude Code 2.1.330) ----

const num = (fallback = 0) => Schema.optionalWith(Schema.Number, { default: () => fallback, nullable: true })
const count = () => Schema.optionalWith(Schema.NonNegativeInt, { default: () => 0, nullable: true })

const WireUsage = Schema.Struct({
  input_tokens: count(),
  output_tokens: count(),
  cache_read_input_tokens: count(),
  cache_creation_input_tokens: count()
})
const emptyUsage = { input_tokens: 0, output_tokens: 0, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 }

const toUsage = (u: typeof WireUsage.Type) => ({
  inputTokens: u.input_tokens,
  outputTokens: u.output_tokens,
  cacheReadInputTokens: u.cache_read_input_tokens,
  cacheCreationInputTokens: u.cache_creation_input_tokens
})

const InitLine = Schema.Struct({
  type: Schema.Literal("system"),
  subtype: Schema.Literal("init"),
  session_id: Schema.String,
  model: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null }),
  cwd: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null }),
  tools: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] })
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
  content: Schema.optionalWith(Schema.Union(Schema.String, Schema.Array(Schema.Unknown)), {
    default: () => "",
    nullable: true
  }),
  is_error: Schema.optionalWith(Schema.Boolean, { default: () => false, nullable: true })
})
const TypedBlock = Schema.Struct({ type: Schema.String })

const AssistantLine = Schema.Struct({
  type: Schema.Literal("assistant"),
  message: Schema.Struct({
    id: Schema.optional(Schema.String),
    content: Schema.Array(Schema.Unknown),
    usage: Schema.optional(Schema.NullOr(WireUsage))
  }),
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
  // null when Claude Code stopped itself (e.g. `error_max_budget_usd`)
  result: Schema.optionalWith(Schema.String, { default: () => "", nullable: true }),
  session_id: Schema.String,
  total_cost_usd: num(),
  usage: Schema.optionalWith(WireUsage, { default: () => emptyUsage, nullable: true }),
  api_error_status: Schema.optionalWith(Schema.NullOr(Schema.Number), { default: () => null }),
  errors: Schema.optionalWith(Schema.Array(Schema.Unknown), { default: () => [], nullable: true })
})

const ErrorLine = Schema.Struct({
  type: Schema.Literal("error"),
  message: Schema.optional(Schema.String),
  error: Schema.optional(Schema.Union(Schema.String, Schema.Struct({ message: Schema.String })))
})

const TypedLine = Schema.Struct({ type: Schema.String, subtype: Schema.optional(Schema.Unknown) })

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

const assistantEvents = (line: typeof AssistantLine.Type): ReadonlyArray<AgentEvent> => {
  const content = line.message.content.flatMap((block): ReadonlyArray<AgentEvent> => {
    const text = decodeTextBlock(block)
    if (Either.isRight(text)) {
      return [
        line.is_api_error_message ? new ErrorEvent({ message: text.right.text }) : new AssistantText({ text: text.right.text })
      ]
    }
    const tool = decodeToolUseBlock(block)
    if (Either.isRight(tool)) return [new ToolUse({ id: tool.right.id, name: tool.right.name, input: tool.right.input })]
    const typed = decodeTypedBlock(block)
    if (Either.isRight(typed) && silentBlocks.has(typed.right.type)) return []
    return [unknownOf(JSON.stringify(block) ?? "")]
  })
  const { id, usage } = line.message
  // API-error messages are synthetic (`model: "<synthetic>"`): no tokens were used.
  return usage !== undefined && usage !== null && id !== undefined && !line.is_api_error_message
    ? [...content, new MessageUsage({ messageId: id, usage: toUsage(usage) })]
    : content
}

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

const typedEvents = (raw: string, value: unknown, type: string, subtype: unknown): ReadonlyArray<AgentEvent> => {
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
          usage: toUsage(l.usage),
          apiErrorStatus: l.api_error_status,
          errors: l.errors.map((e) => cutUtf8(typeof e === "string" ? e : JSON.stringify(e) ?? ""))
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
export const decodeLine = (line: string): ReadonlyArray<AgentEvent> =>
  decodeJsonLine(line, (raw, value) =>
    Either.match(decodeTyped(value), {
      onLeft: () => [unknownOf(raw)],
      onRight: ({ subtype, type }) => typedEvents(raw, value, type, subtype)
    }))

/**
 * Decode Claude Code's stream-json stdout into events. Never fails on content (only with the byte stream's own
 * error `E`). Memory is bounded by `options.maxLineBytes` (default 10 MiB) plus one chunk.
 */
export const decodeStream = decodeStreamWith(decodeLine)
