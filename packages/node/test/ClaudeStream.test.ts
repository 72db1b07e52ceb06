/**
 * Claude Code stream-json decoding, on the lines claude 2.1.330 printed against the model twin
 * (packages/twin/test/fixtures, recorded there) and on hand-made lines: malformed, huge and unknown ones.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Stream } from "effect"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { AgentEvent, ClaudeStream } from "../src/index.js"

/** The recorded fixtures live with the model twin that recorded them. */
export const twinFixture = (name: string) =>
  readFileSync(fileURLToPath(new URL(`../../twin/test/fixtures/${name}`, import.meta.url)), "utf8")

const decodeAll = (text: string) => text.split("\n").flatMap(ClaudeStream.decodeLine)
const tags = (events: ReadonlyArray<AgentEvent.AgentEvent>) => events.map((e) => e._tag)
const lastResult = (events: ReadonlyArray<AgentEvent.AgentEvent>) =>
  [...events].reverse().find((e): e is AgentEvent.Result => e._tag === "Result")

/** Split bytes into chunks of `size` (so lines and multi-byte characters straddle chunks). */
const chunked = (bytes: Uint8Array, size: number): Stream.Stream<Uint8Array> => {
  const parts: Array<Uint8Array> = []
  for (let i = 0; i < bytes.length; i += size) parts.push(bytes.subarray(i, i + size))
  return Stream.fromIterable(parts)
}
const collect = <E>(stream: Stream.Stream<AgentEvent.AgentEvent, E>) =>
  stream.pipe(Stream.runCollect, Effect.map(Chunk.toReadonlyArray))

describe("ClaudeStream.decodeLine on recorded claude 2.1.330 output", () => {
  it("a Bash + Read + final text run, with per-message usage", () => {
    const events = decodeAll(twinFixture("claude-success.jsonl"))
    expect(tags(events)).toEqual([
      "Unknown", // system/ui_invalidate
      "Init",
      "AssistantText",
      "MessageUsage",
      "ToolUse",
      "MessageUsage", // the same message again (text and tool call are printed as two lines)
      "ToolResult",
      "ToolUse",
      "MessageUsage",
      "Unknown", // system/permission_denied
      "ToolResult",
      "AssistantText",
      "MessageUsage",
      "Result"
    ])
    const init = events[1] as AgentEvent.Init
    expect(init.tools).toEqual(["Bash", "Edit", "Read"])
    expect(init.model).toBe("claude-opus-5-5")
    expect(init.cwd).toBe("/tmp/proto/repo2")
    const usage = events[3] as AgentEvent.MessageUsage
    expect(usage.messageId).toBe("msg_twin_10e2a8186b24d9ae_0")
    expect(usage.usage.inputTokens).toBe(100)
    expect((events[5] as AgentEvent.MessageUsage).messageId).toBe(usage.messageId)
    const bash = events[4] as AgentEvent.ToolUse
    expect(bash.name).toBe("Bash")
    expect(bash.input).toEqual({ command: "echo hi > out.txt && cat out.txt", description: "write the file" })
    expect(events[6]).toEqual(new AgentEvent.ToolResult({ toolUseId: bash.id, content: "hi", isError: false }))
    expect((events[10] as AgentEvent.ToolResult).isError).toBe(true)
    const result = lastResult(events)!
    expect(result).toMatchObject({
      subtype: "success",
      isError: false,
      numTurns: 3,
      result: "All done: wrote out.txt.",
      sessionId: init.sessionId,
      usage: { inputTokens: 300, outputTokens: 150, cacheReadInputTokens: 0, cacheCreationInputTokens: 0 },
      apiErrorStatus: null,
      errors: []
    })
    expect(result.totalCostUsd).toBeCloseTo(0.0042)
  })

  it("a run that gave up on 529s: retries, an API error message (no usage), an error result", () => {
    const events = decodeAll(twinFixture("claude-overload-529.jsonl"))
    expect(tags(events)).toEqual(["Unknown", "Init", "ApiRetry", "ApiRetry", "Error", "Result"])
    expect(events[2]).toEqual(
      new AgentEvent.ApiRetry({ attempt: 1, maxRetries: 10, retryDelayMs: 544, errorStatus: 529, error: "overloaded" })
    )
    expect((events[4] as AgentEvent.ErrorEvent).message).toContain("Repeated 529 Overloaded errors")
    expect(events[5]).toMatchObject({ subtype: "success", isError: true, apiErrorStatus: 529, numTurns: 1 })
  })

  it("a resumed run keeps the session id", () => {
    const first = decodeAll(twinFixture("claude-success.jsonl"))
    const resumed = decodeAll(twinFixture("claude-resume.jsonl"))
    expect(tags(resumed)).toEqual(["Init", "AssistantText", "MessageUsage", "Result"])
    expect(lastResult(resumed)!.sessionId).toBe(lastResult(first)!.sessionId)
  })

  it("a run Claude Code stopped on --max-budget-usd: result null, errors kept", () => {
    // shape printed by claude 2.1.330 with --max-budget-usd 0.5 against the twin (trimmed)
    const [result] = ClaudeStream.decodeLine(JSON.stringify({
      type: "result",
      subtype: "error_max_budget_usd",
      is_error: true,
      num_turns: 2,
      result: null,
      session_id: "s1",
      total_cost_usd: 0.84,
      usage: { input_tokens: 100000, output_tokens: 1, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 },
      api_error_status: null,
      errors: ["Reached maximum budget ($0.5)"],
      terminal_reason: "budget_exhausted"
    }))
    expect(result).toEqual(
      new AgentEvent.Result({
        subtype: "error_max_budget_usd",
        isError: true,
        numTurns: 2,
        result: "",
        sessionId: "s1",
        totalCostUsd: 0.84,
        usage: { inputTokens: 100000, outputTokens: 1, cacheReadInputTokens: 0, cacheCreationInputTokens: 0 },
        apiErrorStatus: null,
        errors: ["Reached maximum budget ($0.5)"]
      })
    )
  })
})

describe("ClaudeStream.decodeLine on hand-made lines", () => {
  const lines = twinFixture("handmade.jsonl").split("\n")
  const at = (i: number) => ClaudeStream.decodeLine(lines[i]!)

  it("non-JSON and truncated JSON are Malformed, with the raw line and a reason", () => {
    const [bad] = at(0)
    expect(bad).toBeInstanceOf(AgentEvent.Malformed)
    expect(bad).toMatchObject({ raw: "not json at all" })
    expect((bad as AgentEvent.Malformed).reason).toMatch(/^not JSON/)
    expect(tags(at(8))).toEqual(["Malformed"])
  })

  it("unknown types, undecodable known types and non-objects are Unknown with the raw line", () => {
    expect(at(1)).toEqual([new AgentEvent.Unknown({ raw: lines[1]! })])
    expect(at(2)).toEqual([new AgentEvent.Unknown({ raw: "{\"type\":\"result\"}" })])
    expect(at(3)).toEqual([new AgentEvent.Unknown({ raw: "[1,2,3]" })])
  })

  it("blank lines give nothing; a trailing CR is ignored", () => {
    expect(at(4)).toEqual([])
    expect(at(9)).toEqual([new AgentEvent.Init({ sessionId: "s", model: "m", cwd: "/w", tools: ["Bash"] })])
  })

  it("error lines, mixed assistant blocks, and tool results with block content", () => {
    expect(at(5)).toEqual([new AgentEvent.ErrorEvent({ message: "boom" })])
    // thinking is dropped, an unknown block is kept raw, text is decoded (one event per block)
    expect(at(6)).toEqual([
      new AgentEvent.Unknown({ raw: "{\"type\":\"server_tool_use\",\"id\":\"x\"}" }),
      new AgentEvent.AssistantText({ text: "héllo ✓" })
    ])
    expect(at(7)).toEqual([new AgentEvent.ToolResult({ toolUseId: "t1", content: "a\n[image]", isError: false })])
  })

  it("cuts tool output and raw lines to 4 KiB at a character boundary", () => {
    const big = "é".repeat(5000) // 10000 bytes
    const [result] = ClaudeStream.decodeLine(JSON.stringify({
      type: "user",
      message: { content: [{ type: "tool_result", tool_use_id: "t", content: big, is_error: true }] }
    }))
    const content = (result as AgentEvent.ToolResult).content
    expect(Buffer.byteLength(content)).toBe(4096)
    expect(big.startsWith(content)).toBe(true)
    const [raw] = ClaudeStream.decodeLine("x" + "✓".repeat(3000))
    const cut = (raw as AgentEvent.Malformed).raw
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(4096)
    expect(cut.endsWith("\uFFFD")).toBe(false)
  })
})

describe("ClaudeStream.decodeStream", () => {
  it.effect("gives the same events as decodeLine, whatever the chunking (lines and characters split)", () =>
    Effect.gen(function*() {
      const text = twinFixture("claude-success.jsonl") + twinFixture("handmade.jsonl") +
        "{\"type\":\"error\",\"message\":\"no newline at end\"}"
      const expected = decodeAll(text)
      const bytes = new TextEncoder().encode(text)
      for (const size of [1, 7, 64, 100_000]) {
        expect(yield* collect(ClaudeStream.decodeStream(chunked(bytes, size)))).toEqual(expected)
      }
      expect(expected.at(-1)).toEqual(new AgentEvent.ErrorEvent({ message: "no newline at end" }))
    }))

  it.effect("reports a line over the limit as Malformed 'line too long' and goes on with the next line", () =>
    Effect.gen(function*() {
      const long = "{\"type\":\"assistant\",\"pad\":\"" + "x".repeat(5000) + "\"}"
      const text = `${long}\n{"type":"error","message":"after"}\n${long}`
      const events = yield* collect(
        ClaudeStream.decodeStream(chunked(new TextEncoder().encode(text), 300), { maxLineBytes: 1024 })
      )
      expect(tags(events)).toEqual(["Malformed", "Error", "Malformed"])
      const tooLong = events[0] as AgentEvent.Malformed
      expect(tooLong.reason).toBe(`line too long: ${long.length} bytes, limit 1024`)
      expect(tooLong.raw).toBe(long.slice(0, 4096))
    }))

  it.effect("with the default 10 MiB limit, an 11 MiB line is Malformed and the stream goes on", () =>
    Effect.gen(function*() {
      const chunk = new Uint8Array(64 * 1024).fill(0x61) // "aaaa..."
      const count = 11 * 16 // 11 MiB
      const bytes = Stream.range(1, count).pipe(
        Stream.map(() => chunk),
        Stream.concat(Stream.make(new TextEncoder().encode("\n{\"type\":\"error\",\"message\":\"ok\"}\n")))
      )
      const events = yield* collect(ClaudeStream.decodeStream(bytes))
      expect(tags(events)).toEqual(["Malformed", "Error"])
      expect((events[0] as AgentEvent.Malformed).reason).toBe(
        `line too long: ${count * chunk.length} bytes, limit ${AgentEvent.maxLineBytes}`
      )
      expect((events[0] as AgentEvent.Malformed).raw).toHaveLength(4096)
    }))

  it.effect("a line exactly at the limit is still decoded", () =>
    Effect.gen(function*() {
      const line = JSON.stringify({ type: "error", message: "m".repeat(100) })
      const events = yield* collect(
        ClaudeStream.decodeStream(chunked(new TextEncoder().encode(line + "\n"), 10), { maxLineBytes: line.length })
      )
      expect(events).toEqual([new AgentEvent.ErrorEvent({ message: "m".repeat(100) })])
    }))
})
