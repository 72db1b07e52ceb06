/**
 * The OpenAI Responses API wire format, as far as the model twin needs it to drive the real Codex CLI
 * (`codex exec` with a model provider whose `wire_api = "responses"`): a permissive request schema, how to read a
 * conversation out of a request, and builders for streamed replies and error bodies. Pure; `Twin.ts` serves it.
 *
 * What codex-cli 0.169.0 sends and accepts (seen against a local server, see docs/agents.md):
 * - `POST <base_url>/responses` with `stream: true`; `input` is the whole conversation: developer messages
 *   (instructions), an `additional_tools` item listing the tools, user messages (first an
 *   `<environment_context>` block, then the prompt), and earlier model output replayed with the ids the server
 *   gave it (`message`, `function_call`, `custom_tool_call`) followed by their `*_call_output` items.
 * - The reply is SSE, `event: <type>` + `data: <json>`: `response.created`, per output item
 *   `response.output_item.added` (+ `response.output_text.delta` for text) and `response.output_item.done`, then
 *   `response.completed` with `response.usage` (`input_tokens`, `input_tokens_details.cached_tokens`,
 *   `output_tokens`, `output_tokens_details.reasoning_tokens`, `total_tokens`).
 * - Its shell tool is, in 0.169, a custom tool `exec` whose input is JavaScript run in a V8 isolate that calls
 *   `tools.exec_command({cmd})`; older versions expose `exec_command` or `shell` as function tools. The twin sends
 *   a `Bash` turn as whichever of these the request offers.
 */
import { Schema } from "effect"
import type { ErrorStatus, Reply } from "./Playbook.js"

/** One item of a request's `input` (only the fields the twin reads are typed; the rest is kept as-is). */
export const InputItem = Schema.Struct(
  {
    type: Schema.optional(Schema.String),
    role: Schema.optional(Schema.String),
    id: Schema.optional(Schema.String),
    name: Schema.optional(Schema.String),
    content: Schema.optional(Schema.Union(Schema.String, Schema.Array(Schema.Unknown))),
    tools: Schema.optional(Schema.Array(Schema.Unknown))
  },
  Schema.Record({ key: Schema.String, value: Schema.Unknown })
)
export type InputItem = typeof InputItem.Type

/** The fields of a `POST /responses` body the twin reads; other fields are allowed and ignored. */
export const ResponsesRequest = Schema.Struct({
  model: Schema.String,
  input: Schema.Union(Schema.String, Schema.Array(InputItem)),
  instructions: Schema.optional(Schema.NullOr(Schema.String)),
  tools: Schema.optional(Schema.Array(Schema.Unknown)),
  stream: Schema.optional(Schema.Boolean)
})
export type ResponsesRequest = typeof ResponsesRequest.Type

const TextPart = Schema.Struct({ type: Schema.String, text: Schema.String })
const decodeTextPart = Schema.decodeUnknownOption(TextPart)
const ToolDef = Schema.Struct({
  type: Schema.optional(Schema.String),
  name: Schema.optional(Schema.String),
  tools: Schema.optional(Schema.Array(Schema.Unknown))
})
const decodeToolDef = Schema.decodeUnknownOption(ToolDef)

const items = (request: ResponsesRequest): ReadonlyArray<InputItem> =>
  typeof request.input === "string" ? [{ type: "message", role: "user", content: request.input }] : request.input

const itemText = (item: InputItem): string =>
  typeof item.content === "string"
    ? item.content
    : (item.content ?? []).flatMap((part) => {
      const text = decodeTextPart(part)
      return text._tag === "Some" ? [text.value.text] : []
    }).join("\n")

/** Context blocks Codex adds as user messages (`<environment_context>`, AGENTS.md); they are not the prompt. */
const isContext = (text: string): boolean => text.trimStart().startsWith("<") || text.startsWith("# AGENTS.md")

/**
 * The prompt: the text of the first user message that is not a context block (Codex sends its environment
 * context as the first user message). Stays the same when a thread is resumed, so it keys the conversation.
 */
export const promptText = (request: ResponsesRequest): string => {
  const users = items(request).filter((i) => (i.type ?? "message") === "message" && i.role === "user").map(itemText)
  return users.find((t) => !isContext(t)) ?? users[0] ?? ""
}

/** The instructions: `instructions` plus the developer and system messages, joined by newlines. */
export const systemText = (request: ResponsesRequest): string =>
  [
    request.instructions ?? "",
    ...items(request).filter((i) => i.role === "developer" || i.role === "system").map(itemText)
  ].filter((t) => t !== "").join("\n")

/** Model output item types (what a reply produced, replayed in later requests). */
const modelItemTypes: ReadonlySet<string> = new Set(["function_call", "custom_tool_call", "local_shell_call"])

const isModelItem = (item: InputItem): boolean =>
  (item.type === "message" && item.role === "assistant") || modelItemTypes.has(item.type ?? "")

/** Twin item ids look like `<kind>_twin_<conversation>_<slot>`; the slot says which reply produced them. */
const TWIN_ID = /_twin_[0-9a-f]+_(\d+)$/

/**
 * How many replies the conversation has had: the distinct twin reply slots among the replayed model items (a
 * reply with narration and a tool call is two items of one reply); items without a twin id count one each.
 */
export const replyCount = (request: ResponsesRequest): number => {
  const slots = new Set<string>()
  let others = 0
  for (const item of items(request)) {
    if (!isModelItem(item)) continue
    const slot = item.id === undefined ? null : TWIN_ID.exec(item.id)?.[1] ?? null
    if (slot === null) others++
    else slots.add(slot)
  }
  return slots.size + others
}

/** The tool names a request offers (top-level `tools`, and Codex's `additional_tools` item, namespaces flattened). */
export const toolNames = (request: ResponsesRequest): ReadonlyArray<{ readonly name: string; readonly type: string }> => {
  const out: Array<{ name: string; type: string }> = []
  const walk = (defs: ReadonlyArray<unknown>) => {
    for (const def of defs) {
      const tool = decodeToolDef(def)
      if (tool._tag === "None") continue
      if (tool.value.type === "namespace") walk(tool.value.tools ?? [])
      else if (tool.value.name !== undefined) out.push({ name: tool.value.name, type: tool.value.type ?? "function" })
    }
  }
  walk(request.tools ?? [])
  for (const item of items(request)) if (item.type === "additional_tools") walk(item.tools ?? [])
  return out
}

/** Whether a request is the agent's main loop (it offers tools); others (titles, summaries) are side requests. */
export const isMainConversation = (request: ResponsesRequest): boolean => toolNames(request).length > 0

/** Ids for one reply; deterministic so recorded transcripts are stable. */
export interface ReplyIds {
  readonly responseId: string
  readonly messageId: string
  readonly callId: string
  readonly toolItemId: string
}

/** The JavaScript for Codex's code-mode `exec` tool that runs `command` with `exec_command` and returns its output. */
export const execSource = (command: string): string =>
  `const r = await tools.exec_command({ cmd: ${JSON.stringify(command)}, tty: false, yield_time_ms: 30000 });\n` +
  `text(typeof r === "string" ? r : (r.output ?? JSON.stringify(r)));`

/**
 * The output items of a reply: an assistant message for its text, then its tool call. A `Bash` call becomes what
 * the request offers: a custom `exec` call (code mode), a function `exec_command` call (`{cmd}`), or a function
 * `shell` call (`{command: ["bash", "-lc", cmd]}`); other tools become a function call with their input as is.
 */
export const outputItems = (
  reply: Reply,
  request: ResponsesRequest,
  ids: ReplyIds
): ReadonlyArray<Record<string, unknown>> => {
  const message = reply.text === undefined ? [] : [{
    type: "message",
    id: ids.messageId,
    role: "assistant",
    status: "completed",
    content: [{ type: "output_text", text: reply.text, annotations: [] }]
  }]
  if (reply.tool === undefined) return message
  const tools = toolNames(request)
  const has = (name: string, type?: string) => tools.some((t) => t.name === name && (type === undefined || t.type === type))
  const command = typeof reply.tool.input.command === "string" ? reply.tool.input.command : null
  const call = (name: string, args: unknown) => ({
    type: "function_call",
    id: ids.toolItemId,
    call_id: ids.callId,
    name,
    arguments: JSON.stringify(args),
    status: "completed"
  })
  const tool = reply.tool.name === "Bash" && command !== null
    ? has("exec", "custom")
      ? { type: "custom_tool_call", id: ids.toolItemId, call_id: ids.callId, name: "exec", input: execSource(command), status: "completed" }
      : has("shell")
      ? call("shell", { command: ["bash", "-lc", command] })
      : call("exec_command", { cmd: command })
    : call(reply.tool.name, reply.tool.input)
  return [...message, tool]
}

const usageJson = (reply: Reply) => ({
  input_tokens: reply.usage.inputTokens,
  input_tokens_details: { cached_tokens: 0 },
  output_tokens: reply.usage.outputTokens,
  output_tokens_details: { reasoning_tokens: 0 },
  total_tokens: reply.usage.inputTokens + reply.usage.outputTokens
})

/** The full (non-streaming) response JSON for a reply. */
export const responseJson = (reply: Reply, request: ResponsesRequest, ids: ReplyIds): unknown => ({
  id: ids.responseId,
  object: "response",
  status: "completed",
  model: request.model,
  output: outputItems(reply, request, ids),
  usage: usageJson(reply)
})

/** One SSE frame: the event type and its JSON payload (which repeats `type`). */
export interface SseFrame {
  readonly event: string
  readonly data: unknown
}

/** The SSE frames of a streamed reply, in Responses API order (see the module docs). */
export const sseFrames = (reply: Reply, request: ResponsesRequest, ids: ReplyIds): ReadonlyArray<SseFrame> => {
  let sequence = 0
  const frame = (event: string, data: Record<string, unknown>): SseFrame => ({
    event,
    data: { type: event, sequence_number: sequence++, ...data }
  })
  const base = { id: ids.responseId, object: "response", model: request.model }
  const output = outputItems(reply, request, ids).flatMap((item, output_index): ReadonlyArray<SseFrame> =>
    item.type === "message"
      ? [
        frame("response.output_item.added", { output_index, item: { ...item, status: "in_progress", content: [] } }),
        frame("response.output_text.delta", { output_index, content_index: 0, item_id: item.id, delta: reply.text ?? "" }),
        frame("response.output_item.done", { output_index, item })
      ]
      : [frame("response.output_item.added", { output_index, item }), frame("response.output_item.done", { output_index, item })]
  )
  return [
    frame("response.created", { response: { ...base, status: "in_progress", output: [] } }),
    ...output,
    frame("response.completed", {
      response: { ...base, status: "completed", output: outputItems(reply, request, ids), usage: usageJson(reply) }
    })
  ]
}

/** Encode one frame as SSE text: `event: <type>\ndata: <json>\n\n`. */
export const encodeFrame = (frame: SseFrame): string => `event: ${frame.event}\ndata: ${JSON.stringify(frame.data)}\n\n`

/** An OpenAI-style error body for a scripted HTTP status (529 is sent as 503 overloaded, OpenAI has no 529). */
export const errorJson = (status: ErrorStatus | 400 | 404, message: string | undefined): unknown => {
  const [type, text] = status === 429
    ? ["rate_limit_exceeded", "Rate limited (model twin)"]
    : status === 400
    ? ["invalid_request_error", "Invalid request"]
    : status === 404
    ? ["not_found_error", "Not found"]
    : ["server_error", status === 529 ? "Overloaded (model twin)" : "Internal server error (model twin)"]
  return { error: { type, code: type, message: message ?? text, param: null } }
}

/** The HTTP status sent for a scripted error: 529 becomes 503 (the Responses API's overload status). */
export const httpStatus = (status: ErrorStatus): number => (status === 529 ? 503 : status)
