/**
 * Decoding of `codex exec --json` output (JSONL, one `ThreadEvent` per line) into `AgentEvent`s (rules in
 * AgentEvent.ts: never fails, unknown lines kept raw, text cut to 4 KiB).
 *
 * Wire shapes: openai/codex `codex-rs/exec/src/exec_events.rs` (`ThreadEvent`, `ThreadItem`):
 * - `thread.started {thread_id}` → `Init` (the thread id is the session id `codex exec resume` takes);
 * - `turn.started` → `TurnStarted`; `turn.completed {usage}` → `TurnCompleted`; `turn.failed {error}` →
 *   `TurnFailed`; `error {message}` → `Error`;
 * - `item.started` / `item.updated` / `item.completed {item: {id, type, ...}}` by item type:
 *   `agent_message` (completed) → `AssistantText`; `reasoning` (completed) → `Reasoning`;
 *   `command_execution` → `ToolUse` when it starts, `ToolResult` (aggregated output, error unless it completed
 *   with exit code 0) when it completes; `file_change` (completed only) → `ToolUse` + `ToolResult`;
 *   `mcp_tool_call` → `ToolUse` / `ToolResult` like commands; `web_search` (started) → `ToolUse`;
 *   `error` → `Error`; `todo_list`, `plan` and updates of the others give no event; any other type → `Unknown`.
 *
 * Usage: Codex's `input_tokens` include the cached ones, so `inputTokens` = input − cached and
 * `cacheReadInputTokens` = cached (the same meaning as Anthropic's fields); `cache_write_input_tokens`, when
 * present, is `cacheCreationInputTokens`.
 */
import { Either, Schema } from "effect"
import {
  type AgentEvent,
  AssistantText,
  cutUtf8,
  decodeJsonLine,
  decodeStreamWith,
  ErrorEvent,
  Init,
  Reasoning,
  ToolResult,
  ToolUse,
  TurnCompleted,
  TurnFailed,
  TurnStarted,
  Unknown
} from "./AgentEvent.js"

const count = () => Schema.optionalWith(Schema.Number, { default: () => 0, nullable: true })

const WireUsage = Schema.Struct({
  input_tokens: count(),
  cached_input_tokens: count(),
  cache_write_input_tokens: count(),
  output_tokens: count()
})

const ThreadStarted = Schema.Struct({ type: Schema.Literal("thread.started"), thread_id: Schema.String })
const TurnCompletedLine = Schema.Struct({ type: Schema.Literal("turn.completed"), usage: WireUsage })
const ErrorBody = Schema.Struct({ message: Schema.String })
const TurnFailedLine = Schema.Struct({ type: Schema.Literal("turn.failed"), error: ErrorBody })
const ErrorLine = Schema.Struct({ type: Schema.Literal("error"), message: Schema.String })
const ItemLine = Schema.Struct({
  type: Schema.Literal("item.started", "item.updated", "item.completed"),
  item: Schema.Struct({ id: Schema.String, type: Schema.String })
})

const TextItem = Schema.Struct({ text: Schema.String })
const CommandItem = Schema.Struct({
  command: Schema.String,
  aggregated_output: Schema.optionalWith(Schema.String, { default: () => "", nullable: true }),
  exit_code: Schema.optionalWith(Schema.NullOr(Schema.Number), { default: () => null }),
  status: Schema.optionalWith(Schema.String, { default: () => "completed" })
})
const FileChangeItem = Schema.Struct({
  changes: Schema.Array(Schema.Struct({ path: Schema.String, kind: Schema.String })),
  status: Schema.optionalWith(Schema.String, { default: () => "completed" })
})
const McpItem = Schema.Struct({
  server: Schema.String,
  tool: Schema.String,
  arguments: Schema.optionalWith(Schema.Unknown, { default: () => null }),
  result: Schema.optionalWith(Schema.Unknown, { default: () => null }),
  error: Schema.optionalWith(Schema.NullOr(ErrorBody), { default: () => null }),
  status: Schema.optionalWith(Schema.String, { default: () => "completed" })
})
const WebSearchItem = Schema.Struct({ query: Schema.String })

const TypedLine = Schema.Struct({ type: Schema.String })

const decodeTyped = Schema.decodeUnknownEither(TypedLine)
const decodeThreadStarted = Schema.decodeUnknownEither(ThreadStarted)
const decodeTurnCompleted = Schema.decodeUnknownEither(TurnCompletedLine)
const decodeTurnFailed = Schema.decodeUnknownEither(TurnFailedLine)
const decodeErrorLine = Schema.decodeUnknownEither(ErrorLine)
const decodeItemLine = Schema.decodeUnknownEither(ItemLine)
const decodeText = Schema.decodeUnknownEither(TextItem)
const decodeCommand = Schema.decodeUnknownEither(CommandItem)
const decodeFileChange = Schema.decodeUnknownEither(FileChangeItem)
const decodeMcp = Schema.decodeUnknownEither(McpItem)
const decodeWebSearch = Schema.decodeUnknownEither(WebSearchItem)
const decodeErrorItem = Schema.decodeUnknownEither(ErrorBody)

const unknownOf = (raw: string) => new Unknown({ raw: cutUtf8(raw) })

const nonNegative = (n: number): number => Math.max(0, Math.trunc(n))

/** Item types that carry nothing a transcript reader needs beyond what other events say. */
const quietItems: ReadonlySet<string> = new Set(["todo_list", "plan"])

const itemEvents = (
  raw: string,
  phase: "item.started" | "item.updated" | "item.completed",
  id: string,
  itemType: string,
  item: unknown
): ReadonlyArray<AgentEvent> => {
  const orUnknown = <A, E>(decoded: Either.Either<A, E>, f: (a: A) => ReadonlyArray<AgentEvent>) =>
    Either.match(decoded, { onLeft: (): ReadonlyArray<AgentEvent> => [unknownOf(raw)], onRight: f })
  if (phase === "item.updated" || quietItems.has(itemType)) return []
  const completed = phase === "item.completed"
  switch (itemType) {
    case "agent_message":
      return completed ? orUnknown(decodeText(item), (i) => [new AssistantText({ text: i.text })]) : []
    case "reasoning":
      return completed ? orUnknown(decodeText(item), (i) => [new Reasoning({ text: cutUtf8(i.text) })]) : []
    case "command_execution":
      return orUnknown(decodeCommand(item), (i) =>
        completed
          ? [
            new ToolResult({
              toolUseId: id,
              content: cutUtf8(i.aggregated_output),
              isError: i.status !== "completed" || (i.exit_code !== null && i.exit_code !== 0)
            })
          ]
          : [new ToolUse({ id, name: "command_execution", input: { command: i.command } })])
    case "file_change":
      return completed
        ? orUnknown(decodeFileChange(item), (i) => [
          new ToolUse({ id, name: "file_change", input: { changes: i.changes } }),
          new ToolResult({
            toolUseId: id,
            content: i.changes.map((c) => `${c.kind} ${c.path}`).join("\n"),
            isError: i.status !== "completed"
          })
        ])
        : []
    case "mcp_tool_call":
      return orUnknown(decodeMcp(item), (i) =>
        completed
          ? [
            new ToolResult({
              toolUseId: id,
              content: cutUtf8(i.error?.message ?? JSON.stringify(i.result) ?? ""),
              isError: i.error !== null || i.status !== "completed"
            })
          ]
          : [new ToolUse({ id, name: `mcp:${i.server}/${i.tool}`, input: i.arguments })])
    case "web_search":
      return completed ? [] : orUnknown(decodeWebSearch(item), (i) => [
        new ToolUse({ id, name: "web_search", input: { query: i.query } })
      ])
    case "error":
      return completed ? orUnknown(decodeErrorItem(item), (i) => [new ErrorEvent({ message: i.message })]) : []
    default:
      return [unknownOf(raw)]
  }
}

const typedEvents = (raw: string, value: unknown, type: string): ReadonlyArray<AgentEvent> => {
  const orUnknown = <A, E>(decoded: Either.Either<A, E>, f: (a: A) => ReadonlyArray<AgentEvent>) =>
    Either.match(decoded, { onLeft: (): ReadonlyArray<AgentEvent> => [unknownOf(raw)], onRight: f })
  switch (type) {
    case "thread.started":
      return orUnknown(decodeThreadStarted(value), (l) => [
        new Init({ sessionId: l.thread_id, model: null, cwd: null, tools: [] })
      ])
    case "turn.started":
      return [new TurnStarted()]
    case "turn.completed":
      return orUnknown(decodeTurnCompleted(value), ({ usage: u }) => {
        const cached = Math.min(nonNegative(u.cached_input_tokens), nonNegative(u.input_tokens))
        return [
          new TurnCompleted({
            usage: {
              inputTokens: nonNegative(u.input_tokens) - cached,
              outputTokens: nonNegative(u.output_tokens),
              cacheReadInputTokens: cached,
              cacheCreationInputTokens: nonNegative(u.cache_write_input_tokens)
            }
          })
        ]
      })
    case "turn.failed":
      return orUnknown(decodeTurnFailed(value), (l) => [new TurnFailed({ message: l.error.message })])
    case "error":
      return orUnknown(decodeErrorLine(value), (l) => [new ErrorEvent({ message: l.message })])
    case "item.started":
    case "item.updated":
    case "item.completed":
      return orUnknown(decodeItemLine(value), (l) =>
        itemEvents(raw, l.type, l.item.id, l.item.type, (value as { item: unknown }).item))
    default:
      return [unknownOf(raw)]
  }
}

/**
 * Decode one `codex exec --json` line into events (possibly none: blank lines, quiet items, item updates).
 * Never fails: non-JSON → `Malformed`; unknown or undecodable JSON → `Unknown`.
 */
export const decodeLine = (line: string): ReadonlyArray<AgentEvent> =>
  decodeJsonLine(line, (raw, value) =>
    Either.match(decodeTyped(value), {
      onLeft: () => [unknownOf(raw)],
      onRight: ({ type }) => typedEvents(raw, value, type)
    }))

/**
 * Decode `codex exec --json` stdout into events. Never fails on content (only with the byte stream's own error
 * `E`). Memory is bounded by `options.maxLineBytes` (default 10 MiB) plus one chunk.
 */
export const decodeStream = decodeStreamWith(decodeLine)
