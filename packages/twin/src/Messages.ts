/**
 * The Anthropic Messages API wire format, as far as the model twin needs it: a permissive request schema,
 * and builders for replies (a full message JSON, or the SSE frames of a streamed one) and error bodies.
 * Pure; `Twin.ts` puts it on HTTP.
 *
 * Stream order (Anthropic "Streaming Messages" docs, and what Claude Code 2.1.330 accepted here):
 * `message_start`, then per content block `content_block_start`, one or more `content_block_delta`
 * (`text_delta` or `input_json_delta`), `content_block_stop`; then `message_delta` (stop_reason and
 * output_tokens) and `message_stop`. Each frame is `event: <type>\ndata: <json>\n\n`.
 */
import { Schema } from "effect"
import type { ErrorStatus, Reply } from "./Playbook.js"

/** A content block in a request message. Only `type` and `text` are read; the rest is kept as-is. */
export const RequestBlock = Schema.Struct(
  { type: Schema.String, text: Schema.optional(Schema.String) },
  Schema.Record({ key: Schema.String, value: Schema.Unknown })
)

/** One message of a request; Claude Code also sends `role: "system"` entries with empty content. */
export const RequestMessage = Schema.Struct({
  role: Schema.String,
  content: Schema.Union(Schema.String, Schema.Array(RequestBlock))
})
export type RequestMessage = typeof RequestMessage.Type

/** The fields of a `POST /v1/messages` body the twin reads; other fields are allowed and ignored. */
export const MessagesRequest = Schema.Struct({
  model: Schema.String,
  messages: Schema.Array(RequestMessage),
  system: Schema.optional(Schema.Union(Schema.String, Schema.Array(RequestBlock))),
  tools: Schema.optional(Schema.Array(Schema.Unknown)),
  stream: Schema.optional(Schema.Boolean)
})
export type MessagesRequest = typeof MessagesRequest.Type

const blocksText = (content: string | ReadonlyArray<typeof RequestBlock.Type>): string =>
  typeof content === "string"
    ? content
    : content.flatMap((block) => (block.type === "text" && block.text !== undefined ? [block.text] : [])).join("\n")

/**
 * The text of the first user message (its text blocks joined by newlines). Claude Code sends it as blocks on
 * a first run and as a plain string after `--resume`; both give the same text.
 */
export const firstUserText = (request: MessagesRequest): string => {
  const first = request.messages.find((m) => m.role === "user")
  return first === undefined ? "" : blocksText(first.content)
}

/** The system prompt as text (blocks joined by newlines); empty when absent. */
export const systemText = (request: MessagesRequest): string =>
  request.system === undefined ? "" : blocksText(request.system)

/** How many assistant messages the request replays (= replies the conversation has already had). */
export const assistantCount = (request: MessagesRequest): number =>
  request.messages.filter((m) => m.role === "assistant").length

/**
 * Whether a request belongs to the main agent loop. Claude Code sends its tool list on every main-loop
 * request; a request without tools is a side request (e.g. a title or summary) and must not use script turns.
 */
export const isMainConversation = (request: MessagesRequest): boolean =>
  request.tools !== undefined && request.tools.length > 0

/** Ids for one reply; deterministic so recorded transcripts are stable. */
export interface ReplyIds {
  readonly messageId: string
  readonly toolUseId: string
}

type ContentBlock =
  | { readonly type: "text"; readonly text: string }
  | { readonly type: "tool_use"; readonly id: string; readonly name: string; readonly input: unknown }

const contentBlocks = (reply: Reply, ids: ReplyIds): ReadonlyArray<ContentBlock> => [
  ...(reply.text === undefined ? [] : [{ type: "text" as const, text: reply.text }]),
  ...(reply.tool === undefined
    ? []
    : [{ type: "tool_use" as const, id: ids.toolUseId, name: reply.tool.name, input: reply.tool.input }])
]

/** `tool_use` when the reply calls a tool, else `end_turn`. */
export const stopReason = (reply: Reply): "tool_use" | "end_turn" => reply.tool === undefined ? "end_turn" : "tool_use"

const usageJson = (reply: Reply, outputTokens: number) => ({
  input_tokens: reply.usage.inputTokens,
  output_tokens: outputTokens,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 0
})

/** The full (non-streaming) message JSON for a reply. */
export const messageJson = (reply: Reply, model: string, ids: ReplyIds): unknown => ({
  id: ids.messageId,
  type: "message",
  role: "assistant",
  model,
  content: contentBlocks(reply, ids),
  stop_reason: stopReason(reply),
  stop_sequence: null,
  usage: usageJson(reply, reply.usage.outputTokens)
})

/** One SSE frame: the event type and its JSON payload (which repeats `type`). */
export interface SseFrame {
  readonly event: string
  readonly data: unknown
}

/** Split a string into pieces of at most `size` UTF-16 units (at least one piece, possibly empty). */
export const chunks = (text: string, size: number): ReadonlyArray<string> => {
  const out: Array<string> = []
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size))
  return out.length === 0 ? [""] : out
}

/** Delta pieces are at most this many UTF-16 units, so a reply streams as several deltas like the real API. */
export const deltaSize = 64

/** The SSE frames of a streamed reply, in the Messages API order (see the module docs). */
export const sseFrames = (reply: Reply, model: string, ids: ReplyIds): ReadonlyArray<SseFrame> => {
  const frame = (event: string, data: Record<string, unknown>): SseFrame => ({ event, data: { type: event, ...data } })
  const blocks = contentBlocks(reply, ids).flatMap((block, index): ReadonlyArray<SseFrame> => {
    if (block.type === "text") {
      return [
        frame("content_block_start", { index, content_block: { type: "text", text: "" } }),
        ...chunks(block.text, deltaSize).map((text) =>
          frame("content_block_delta", { index, delta: { type: "text_delta", text } })
        ),
        frame("content_block_stop", { index })
      ]
    }
    return [
      frame("content_block_start", {
        index,
        content_block: { type: "tool_use", id: block.id, name: block.name, input: {} }
      }),
      ...chunks(JSON.stringify(block.input), deltaSize).map((partial_json) =>
        frame("content_block_delta", { index, delta: { type: "input_json_delta", partial_json } })
      ),
      frame("content_block_stop", { index })
    ]
  })
  return [
    frame("message_start", {
      message: {
        id: ids.messageId,
        type: "message",
        role: "assistant",
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: usageJson(reply, 1)
      }
    }),
    ...blocks,
    frame("message_delta", {
      delta: { stop_reason: stopReason(reply), stop_sequence: null },
      usage: { output_tokens: reply.usage.outputTokens }
    }),
    frame("message_stop", {})
  ]
}

/** Encode one frame as SSE text: `event: <type>\ndata: <json>\n\n`. */
export const encodeFrame = (frame: SseFrame): string => `event: ${frame.event}\ndata: ${JSON.stringify(frame.data)}\n\n`

/** The Anthropic error type for a scripted HTTP status. */
export const errorType = (status: ErrorStatus | 400 | 404): string => {
  switch (status) {
    case 400:
      return "invalid_request_error"
    case 404:
      return "not_found_error"
    case 429:
      return "rate_limit_error"
    case 500:
      return "api_error"
    case 529:
      return "overloaded_error"
  }
}

/** An Anthropic-style error body: `{"type":"error","error":{"type":...,"message":...}}`. */
export const errorJson = (status: ErrorStatus | 400 | 404, message: string | undefined): unknown => ({
  type: "error",
  error: { type: errorType(status), message: message ?? defaultErrorMessage(status) }
})

const defaultErrorMessage = (status: ErrorStatus | 400 | 404): string => {
  switch (status) {
    case 400:
      return "Invalid request"
    case 404:
      return "Not found"
    case 429:
      return "Rate limited (model twin)"
    case 500:
      return "Internal server error (model twin)"
    case 529:
      return "Overloaded (model twin)"
  }
}
