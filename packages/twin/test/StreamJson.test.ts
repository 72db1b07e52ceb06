import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Option, Stream } from "effect"
import { readFileSync } from "node:fs"
import * as StreamJson from "../src/StreamJson.js"
import { fixturePath } from "./support.js"

const fixture = (name: string) => readFileSync(fixturePath(name), "utf8")
const decodeAll = (text: string) => text.split("\n").flatMap(StreamJson.decodeLine)
const tags = (events: ReadonlyArray<StreamJson.AgentEvent>) => events.map((e) => e._tag)

/** Split bytes into chunks of `size` (so lines and multi-byte characters straddle chunks). */
const chunked = (bytes: Uint8Array, size: number): Stream.Stream<Uint8Array> => {
  const parts: Array<Uint8Array> = []
  for (let i = 0; i < bytes.length; i += size) parts.push(bytes.subarray(i, i + size))
  return Stream.fromIterable(parts)
}
const collect = <E>(stream: Stream.Stream<StreamJson.AgentEvent, E>) =>
  stream.pipe(Stream.runCollect, Effect.map(Chunk.toReadonlyArray))

describe("StreamJson.decodeLine on recorded claude 2.1.330 output", () => {
  it("a Bash + Read + final text run", () => {
    const events = decodeAll(fixture("claude-success.jsonl"))
    expect(tags(events)).toEqual([
      "Unknown", // system/ui_invalidate
      "Init",
      "AssistantText",
      "ToolUse",
      "ToolResult",
      "ToolUse",
      "Unknown", // system/permission_denied
      "ToolResult",
      "AssistantText",
      "Result"
    ])
    const init = events[1] as StreamJson.Init
    expect(init.tools).toEqual(["Bash", "Edit", "Read"])
    expect(init.model).toBe("claude-opus-5-5")
    const bash = events[3] as StreamJson.ToolUse
    expect(bash.name).toBe("Bash")
    expect(bash.input).toEqual({ command: "echo hi > out.txt && cat out.txt", description: "write the file" })
    expect(events[4]).toEqual(new StreamJson.ToolResult({ toolUseId: bash.id, content: "hi", isError: false }))
    const denied = events[7] as StreamJson.ToolResult
    expect(denied.isError).toBe(true)
    const result = Option.getOrThrow(StreamJson.lastResult(events))
    expect(result).toMatchObject({
      subtype: "success",
      isError: false,
      numTurns: 3,
      result: "All done: wrote out.txt.",
      sessionId: init.sessionId,
      usage: { inputTokens: 300, outputTokens: 150, cacheReadInputTokens: 0, cacheCreationInputTokens: 0 },
      apiErrorStatus: null
    })
    expect(result.totalCostUsd).toBeGreaterThan(0)
  })

  it("a run that gave up on 529s: retries, an API error message, an error result", () => {
    const events = decodeAll(fixture("claude-overload-529.jsonl"))
    expect(tags(events)).toEqual(["Unknown", "Init", "ApiRetry", "ApiRetry", "Error", "Result"])
    expect(events[2]).toEqual(
      new StreamJson.ApiRetry({ attempt: 1, maxRetries: 10, retryDelayMs: 544, errorStatus: 529, error: "overloaded" })
    )
    expect((events[4] as StreamJson.ErrorEvent).message).toContain("Repeated 529 Overloaded errors")
    expect(events[5]).toMatchObject({ subtype: "success", isError: true, apiErrorStatus: 529, numTurns: 1 })
  })

  it("a resumed run keeps the session id", () => {
    const first = decodeAll(fixture("claude-success.jsonl"))
    const resumed = decodeAll(fixture("claude-resume.jsonl"))
    expect(tags(resumed)).toEqual(["Init", "AssistantText", "Result"])
    expect(Option.getOrThrow(StreamJson.lastResult(resumed)).sessionId).toBe(
      Option.getOrThrow(StreamJson.lastResult(first)).sessionId
    )
  })
})

describe("StreamJson.decodeLine on hand-made lines", () => {
  const lines = fixture("handmade.jsonl").split("\n")
  const at = (i: number) => StreamJson.decodeLine(lines[i]!)

  it("non-JSON and truncated JSON are Malformed, with the raw line and a reason", () => {
    const [bad] = at(0)
    expect(bad).toBeInstanceOf(StreamJson.Malformed)
    expect(bad).toMatchObject({ raw: "not json at all" })
    expect((bad as StreamJson.Malformed).reason).toMatch(/^not JSON/)
    expect(tags(at(8))).toEqual(["Malformed"])
  })

  it("unknown types, undecodable known types and non-objects are Unknown with the raw line", () => {
    expect(at(1)).toEqual([new StreamJson.Unknown({ raw: lines[1]! })])
    expect(at(2)).toEqual([new StreamJson.Unknown({ raw: "{\"type\":\"result\"}" })])
    expect(at(3)).toEqual([new StreamJson.Unknown({ raw: "[1,2,3]" })])
  })

  it("blank lines give nothing; a trailing CR is ignored", () => {
    expect(at(4)).toEqual([])
    expect(at(9)).toEqual([new StreamJson.Init({ sessionId: "s", model: "m", cwd: "/w", tools: ["Bash"] })])
  })

  it("error lines, mixed assistant blocks, and tool results with block content", () => {
    expect(at(5)).toEqual([new StreamJson.ErrorEvent({ message: "boom" })])
    // thinking is dropped, an unknown block is kept raw, text is decoded (one event per block)
    expect(at(6)).toEqual([
      new StreamJson.Unknown({ raw: "{\"type\":\"server_tool_use\",\"id\":\"x\"}" }),
      new StreamJson.AssistantText({ text: "héllo ✓" })
    ])
    expect(at(7)).toEqual([new StreamJson.ToolResult({ toolUseId: "t1", content: "a\n[image]", isError: false })])
  })

  it("cuts tool output and raw lines to 4 KiB at a character boundary", () => {
    const big = "é".repeat(5000) // 10000 bytes
    const [result] = StreamJson.decodeLine(JSON.stringify({
      type: "user",
      message: { content: [{ type: "tool_result", tool_use_id: "t", content: big, is_error: true }] }
    }))
    const content = (result as StreamJson.ToolResult).content
    expect(Buffer.byteLength(content)).toBe(4096)
    expect(big.startsWith(content)).toBe(true)
    const [raw] = StreamJson.decodeLine("x" + "✓".repeat(3000))
    const cut = (raw as StreamJson.Malformed).raw
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(4096)
    expect(cut.endsWith("\uFFFD")).toBe(false)
  })
})

describe("StreamJson.decodeStream", () => {
  it.effect("gives the same events as decodeLine, whatever the chunking (lines and characters split)", () =>
    Effect.gen(function*() {
      const text = fixture("claude-success.jsonl") + fixture("handmade.jsonl") + "{\"type\":\"error\",\"message\":\"no newline at end\"}"
      const expected = decodeAll(text)
      const bytes = new TextEncoder().encode(text)
      for (const size of [1, 7, 64, 100_000]) {
        expect(yield* collect(StreamJson.decodeStream(chunked(bytes, size)))).toEqual(expected)
      }
      expect(expected.at(-1)).toEqual(new StreamJson.ErrorEvent({ message: "no newline at end" }))
    }))

  it.effect("reports a line over the limit as Malformed 'line too long' and goes on with the next line", () =>
    Effect.gen(function*() {
      const long = "{\"type\":\"assistant\",\"pad\":\"" + "x".repeat(5000) + "\"}"
      const text = `${long}\n{"type":"error","message":"after"}\n${long}`
      const events = yield* collect(
        StreamJson.decodeStream(chunked(new TextEncoder().encode(text), 300), { maxLineBytes: 1024 })
      )
      expect(tags(events)).toEqual(["Malformed", "Error", "Malformed"])
      const tooLong = events[0] as StreamJson.Malformed
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
      const events = yield* collect(StreamJson.decodeStream(bytes))
      expect(tags(events)).toEqual(["Malformed", "Error"])
      expect((events[0] as StreamJson.Malformed).reason).toBe(
        `line too long: ${count * chunk.length} bytes, limit ${StreamJson.maxLineBytes}`
      )
      expect((events[0] as StreamJson.Malformed).raw).toHaveLength(4096)
    }))

  it.effect("a line exactly at the limit is still decoded", () =>
    Effect.gen(function*() {
      const line = JSON.stringify({ type: "error", message: "m".repeat(100) })
      const events = yield* collect(
        StreamJson.decodeStream(chunked(new TextEncoder().encode(line + "\n"), 10), { maxLineBytes: line.length })
      )
      expect(events).toEqual([new StreamJson.ErrorEvent({ message: "m".repeat(100) })])
    }))
})
