import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Either, Exit, Fiber, Schema, Scope } from "effect"
import * as Playbook from "../src/Playbook.js"
import * as Twin from "../src/Twin.js"
import { parseSse, post } from "./support.js"

const make = Schema.decodeSync(Playbook.Playbook)

const request = (text: string, extra: Record<string, unknown> = {}) => ({
  model: "claude-test",
  tools: [{ name: "Bash" }],
  messages: [{ role: "user", content: [{ type: "text", text }] }],
  ...extra
})

/** The request Claude Code would send after `replies` assistant turns (each a tool call). */
const after = (text: string, replies: number, extra: Record<string, unknown> = {}) => ({
  ...request(text, extra),
  messages: [
    { role: "user", content: text },
    ...Array.from({ length: replies }, (_, i) => [
      { role: "assistant", content: [{ type: "tool_use", id: `t${i}`, name: "Bash", input: {} }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: `t${i}`, content: "ok" }] }
    ]).flat()
  ]
})

const playbook = make({
  entries: [
    {
      name: "fix",
      match: { contains: "ISSUE-7" },
      turns: [
        { tool: "Bash", command: "echo hello-from-the-model-twin > a.txt", description: "write the greeting file", text: "Writing." },
        { text: "Done with ISSUE-7." }
      ]
    },
    { name: "flaky", match: { regex: "flaky" }, turns: [{ error: 529, times: 2 }, { error: 429 }, { text: "finally" }] },
    { name: "stall", match: { contains: "stall" }, turns: [{ hang: true }, { text: "woke up" }] },
    { name: "slow", match: { contains: "slow" }, turns: [{ delayMs: 150 }, { text: "slowly" }] }
  ],
  default: [{ text: "default" }],
  sideReply: "A title"
})

describe("Twin HTTP", () => {
  it.live("streams a tool call as SSE frames in Messages API order, then the final text", () =>
    Effect.gen(function*() {
      const twin = yield* Twin.make(playbook)
      expect(twin.url).toBe(`http://127.0.0.1:${twin.port}`)
      const first = yield* post(`${twin.url}/v1/messages?beta=true`, request("fix ISSUE-7", { stream: true }))
      expect(first.status).toBe(200)
      expect(first.contentType).toContain("text/event-stream")
      const frames = parseSse(first.text)
      expect(frames.map((f) => f.event)).toEqual([
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop"
      ])
      for (const f of frames) expect(f.data.type).toBe(f.event)
      expect(frames[0]!.data.message).toMatchObject({ role: "assistant", model: "claude-test", content: [] })
      expect(frames[2]!.data.delta).toEqual({ type: "text_delta", text: "Writing." })
      expect(frames[4]!.data.content_block).toMatchObject({ type: "tool_use", name: "Bash", input: {} })
      const json = frames.filter((f) => f.data.delta?.type === "input_json_delta").map((f) => f.data.delta.partial_json)
      expect(JSON.parse(json.join(""))).toEqual({ command: "echo hello-from-the-model-twin > a.txt", description: "write the greeting file" })
      expect(frames[8]!.data).toEqual({
        type: "message_delta",
        delta: { stop_reason: "tool_use", stop_sequence: null },
        usage: { output_tokens: 50 }
      })

      const second = yield* post(`${twin.url}/v1/messages`, after("fix ISSUE-7", 1, { stream: true }))
      const frames2 = parseSse(second.text)
      expect(frames2.find((f) => f.event === "content_block_delta")!.data.delta.text).toBe("Done with ISSUE-7.")
      expect(frames2.find((f) => f.event === "message_delta")!.data.delta.stop_reason).toBe("end_turn")

      const third = yield* post(`${twin.url}/v1/messages`, after("fix ISSUE-7", 2))
      expect(JSON.parse(third.text).content).toEqual([{ type: "text", text: playbook.exhaustedReply }])

      const recorded = yield* twin.requests
      expect(recorded.map((r) => [r.path, r.kind, r.script, r.slot, r.served])).toEqual([
        ["/v1/messages?beta=true", "main", "fix", 0, "reply"],
        ["/v1/messages", "main", "fix", 1, "reply"],
        ["/v1/messages", "main", "fix", 2, "exhausted"]
      ])
      expect(recorded[0]!.body).toMatchObject({ messages: [{ content: [{ text: "fix ISSUE-7" }] }] })
      // A plain-string first message (as after --resume) is the same conversation.
      expect(recorded[1]!.conversation).toBe(recorded[0]!.conversation)
    }).pipe(Effect.scoped))

  it.live("answers non-streaming requests with a full message JSON and usage", () =>
    Effect.gen(function*() {
      const twin = yield* Twin.make(playbook)
      const res = yield* post(`${twin.url}/v1/messages`, request("fix ISSUE-7"))
      expect(res.status).toBe(200)
      expect(JSON.parse(res.text)).toMatchObject({
        type: "message",
        role: "assistant",
        stop_reason: "tool_use",
        content: [
          { type: "text", text: "Writing." },
          { type: "tool_use", name: "Bash", input: { command: "echo hello-from-the-model-twin > a.txt", description: "write the greeting file" } }
        ],
        usage: { input_tokens: 100, output_tokens: 50 }
      })
    }).pipe(Effect.scoped))

  it.live("serves scripted errors `times` times per conversation, then moves on; other conversations are independent", () =>
    Effect.gen(function*() {
      const twin = yield* Twin.make(playbook)
      const statuses: Array<number> = []
      for (let i = 0; i < 4; i++) statuses.push((yield* post(`${twin.url}/v1/messages`, request("a flaky one"))).status)
      expect(statuses).toEqual([529, 529, 429, 200])
      const err = yield* post(`${twin.url}/v1/messages`, request("another flaky one"))
      expect(err.status).toBe(529)
      expect(JSON.parse(err.text)).toEqual({
        type: "error",
        error: { type: "overloaded_error", message: "Overloaded (model twin)" }
      })
      const recorded = yield* twin.requests
      expect(recorded.map((r) => r.slot)).toEqual([0, 1, 2, 3, 0])
      expect(new Set(recorded.map((r) => r.conversation)).size).toBe(2)
    }).pipe(Effect.scoped))

  it.live("side requests (no tools) get the side reply and use no script turn", () =>
    Effect.gen(function*() {
      const twin = yield* Twin.make(playbook)
      const side = yield* post(`${twin.url}/v1/messages`, {
        model: "claude-haiku",
        system: "Write a 5-word title",
        messages: [{ role: "user", content: "fix ISSUE-7" }],
        stream: true
      })
      const text = parseSse(side.text).find((f) => f.event === "content_block_delta")!.data.delta.text
      expect(text).toBe("A title")
      const main = yield* post(`${twin.url}/v1/messages`, request("fix ISSUE-7"))
      expect(JSON.parse(main.text).content[0].text).toBe("Writing.")
      expect((yield* twin.requests).map((r) => r.kind)).toEqual(["side", "main"])
    }).pipe(Effect.scoped))

  it.live("HEAD /, count_tokens, 404 and invalid bodies", () =>
    Effect.gen(function*() {
      const twin = yield* Twin.make(playbook)
      const head = yield* Effect.promise(() => fetch(`${twin.url}/`, { method: "HEAD" }))
      expect(head.status).toBe(200)
      const count = yield* post(`${twin.url}/v1/messages/count_tokens?beta=true`, request("12345678"))
      expect(count.status).toBe(200)
      const body = JSON.stringify(request("12345678"))
      expect(JSON.parse(count.text)).toEqual({ input_tokens: Math.ceil(body.length / 4) })
      const missing = yield* post(`${twin.url}/v2/other`, {})
      expect(missing.status).toBe(404)
      expect(JSON.parse(missing.text).error.type).toBe("not_found_error")
      const invalid = yield* post(`${twin.url}/v1/messages`, "not json")
      expect(invalid.status).toBe(400)
      expect(JSON.parse(invalid.text).error.type).toBe("invalid_request_error")
      expect((yield* twin.requests).map((r) => r.kind)).toEqual(["probe", "count_tokens", "not_found", "invalid"])
    }).pipe(Effect.scoped))

  it.live("a hang never answers, the retry gets the next turn, and closing the scope does not wait for it", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const twin = yield* Twin.make(playbook).pipe(Scope.extend(scope))
      const hung = yield* post(`${twin.url}/v1/messages`, request("stall")).pipe(Effect.either, Effect.fork)
      const waited = yield* Fiber.await(hung).pipe(Effect.timeout(Duration.millis(300)), Effect.option)
      expect(waited._tag).toBe("None")
      const retry = yield* post(`${twin.url}/v1/messages`, request("stall"))
      expect(JSON.parse(retry.text).content[0].text).toBe("woke up")
      yield* Scope.close(scope, Exit.void)
      // The hung request is cut off when the twin stops (a network error, not an answer).
      const outcome = yield* Fiber.join(hung)
      expect(Either.isLeft(outcome)).toBe(true)
    }))

  it.live("a delay turn holds the reply", () =>
    Effect.gen(function*() {
      const twin = yield* Twin.make(playbook)
      const fiber = yield* post(`${twin.url}/v1/messages`, request("slow")).pipe(Effect.fork)
      const early = yield* Fiber.await(fiber).pipe(Effect.timeout(Duration.millis(50)), Effect.option)
      expect(early._tag).toBe("None")
      const res = yield* Fiber.join(fiber)
      expect(JSON.parse(res.text).content[0].text).toBe("slowly")
    }).pipe(Effect.scoped))

  it.live("the layer form provides the Twin service", () =>
    Effect.gen(function*() {
      const twin = yield* Twin.Twin
      const res = yield* post(`${twin.url}/v1/messages`, request("unmatched"))
      expect(JSON.parse(res.text).content[0].text).toBe("default")
      expect(Twin.claudeEnv(twin)).toEqual({
        ANTHROPIC_BASE_URL: twin.url,
        ANTHROPIC_API_KEY: "sk-test",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1"
      })
    }).pipe(Effect.provide(Twin.layer(playbook))))
})
