/** The Responses API side of the twin (for Codex): reading a conversation, building replies, serving them. */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as Playbook from "../src/Playbook.js"
import * as Responses from "../src/Responses.js"
import * as Twin from "../src/Twin.js"
import { parseSse, post } from "./support.js"

const decode = Schema.decodeUnknownSync(Responses.ResponsesRequest)

/** A request shaped like codex-cli 0.169's: instructions, tools in `additional_tools`, context, then the prompt. */
const codexRequest = (prompt: string, history: ReadonlyArray<Record<string, unknown>> = [], extra: Record<string, unknown> = {}) => ({
  model: "gpt-test",
  stream: true,
  input: [
    {
      type: "additional_tools",
      role: "developer",
      tools: [{ type: "namespace", name: "functions", tools: [{ type: "custom", name: "exec" }, { type: "function", name: "wait" }] }]
    },
    { type: "message", role: "developer", content: [{ type: "input_text", text: "You are Codex." }] },
    { type: "message", role: "user", content: [{ type: "input_text", text: "<environment_context>\n  <cwd>/w</cwd>\n</environment_context>" }] },
    { type: "message", role: "user", content: [{ type: "input_text", text: prompt }] },
    ...history
  ],
  ...extra
})

const reply = (text: string | undefined, command?: string): Playbook.Reply => ({
  _tag: "Reply",
  text,
  tool: command === undefined ? undefined : { name: "Bash", input: { command } },
  usage: Playbook.defaultUsage
})
const ids: Responses.ReplyIds = { responseId: "resp_1", messageId: "msg_1", callId: "call_1", toolItemId: "fc_1" }

describe("Responses: reading a Codex request", () => {
  it("the prompt skips context blocks; the instructions are the developer messages; tools are flattened", () => {
    const request = decode(codexRequest("ISSUE-9: fix it"))
    expect(Responses.promptText(request)).toBe("ISSUE-9: fix it")
    expect(Responses.systemText(request)).toBe("You are Codex.")
    expect(Responses.toolNames(request)).toEqual([{ name: "exec", type: "custom" }, { name: "wait", type: "function" }])
    expect(Responses.isMainConversation(request)).toBe(true)
    expect(Responses.isMainConversation(decode({ model: "m", input: "title this" }))).toBe(false)
  })

  it("counts replies by the twin's slot ids: narration and a tool call of one reply count once", () => {
    const history = [
      { type: "message", role: "assistant", id: "msg_twin_ab12_0", content: [{ type: "output_text", text: "Looking." }] },
      { type: "custom_tool_call", id: "fc_twin_ab12_0", call_id: "call_twin_ab12_0", name: "exec", input: "..." },
      { type: "custom_tool_call_output", call_id: "call_twin_ab12_0", output: "ok" },
      { type: "function_call", id: "fc_twin_ab12_1", call_id: "c2", name: "exec_command", arguments: "{}" },
      { type: "function_call_output", call_id: "c2", output: "ok" },
      { type: "message", role: "assistant", content: [{ type: "output_text", text: "someone else's reply" }] }
    ]
    expect(Responses.replyCount(decode(codexRequest("x", history)))).toBe(3)
    expect(Responses.replyCount(decode(codexRequest("x")))).toBe(0)
  })
})

describe("Responses: replies", () => {
  it("a Bash turn becomes what the request offers: code-mode exec, shell, or exec_command", () => {
    const codeMode = Responses.outputItems(reply("Fixing.", "echo hi > a.txt"), decode(codexRequest("x")), ids)
    expect(codeMode).toEqual([
      { type: "message", id: "msg_1", role: "assistant", status: "completed", content: [{ type: "output_text", text: "Fixing.", annotations: [] }] },
      { type: "custom_tool_call", id: "fc_1", call_id: "call_1", name: "exec", input: Responses.execSource("echo hi > a.txt"), status: "completed" }
    ])
    expect(Responses.execSource("echo \"q\"")).toContain("tools.exec_command({ cmd: \"echo \\\"q\\\"\"")
    const shell = Responses.outputItems(reply(undefined, "ls"), decode({ model: "m", input: "x", tools: [{ type: "function", name: "shell" }] }), ids)
    expect(shell).toEqual([
      { type: "function_call", id: "fc_1", call_id: "call_1", name: "shell", arguments: "{\"command\":[\"bash\",\"-lc\",\"ls\"]}", status: "completed" }
    ])
    const exec = Responses.outputItems(reply(undefined, "ls"), decode({ model: "m", input: "x", tools: [{ type: "function", name: "exec_command" }] }), ids)
    expect(exec[0]).toMatchObject({ type: "function_call", name: "exec_command", arguments: "{\"cmd\":\"ls\"}" })
  })

  it("streams in Responses API order and ends with usage", () => {
    const frames = Responses.sseFrames(reply("Done."), decode(codexRequest("x")), ids)
    expect(frames.map((f) => f.event)).toEqual([
      "response.created",
      "response.output_item.added",
      "response.output_text.delta",
      "response.output_item.done",
      "response.completed"
    ])
    expect(frames.at(-1)!.data).toMatchObject({
      response: { id: "resp_1", status: "completed", usage: { input_tokens: 100, output_tokens: 50, total_tokens: 150 } }
    })
  })
})

describe("Twin HTTP: the Responses API", () => {
  const playbook = Schema.decodeSync(Playbook.Playbook)({
    entries: [
      { name: "fix", match: { contains: "ISSUE-9" }, turns: [{ tool: "Bash", command: "echo hi" }, { text: "Done." }] },
      { name: "busy", match: { contains: "busy" }, turns: [{ error: 529 }, { error: 429 }, { text: "ok" }] }
    ]
  })

  it.live("serves the script turn by turn, records the api, and answers scripted errors with OpenAI bodies", () =>
    Effect.gen(function*() {
      const twin = yield* Twin.make(playbook)
      const first = yield* post(`${twin.url}/v1/responses`, codexRequest("ISSUE-9: fix it"))
      expect(first.status).toBe(200)
      expect(first.contentType).toContain("text/event-stream")
      const done = parseSse(first.text).find((f) => f.event === "response.output_item.done")!
      expect(done.data.item).toMatchObject({ type: "custom_tool_call", name: "exec" })
      const history = [done.data.item, { type: "custom_tool_call_output", call_id: done.data.item.call_id, output: "hi" }]
      const second = yield* post(`${twin.url}/v1/responses`, codexRequest("ISSUE-9: fix it", history, { stream: false }))
      expect(JSON.parse(second.text)).toMatchObject({ output: [{ type: "message", content: [{ text: "Done." }] }] })

      const overloaded = yield* post(`${twin.url}/responses`, codexRequest("busy"))
      expect(overloaded.status).toBe(503)
      expect(JSON.parse(overloaded.text)).toMatchObject({ error: { type: "server_error" } })
      expect((yield* post(`${twin.url}/v1/responses`, codexRequest("busy"))).status).toBe(429)

      const requests = yield* twin.requests
      expect(requests.map((r) => [r.api, r.slot, r.served])).toEqual([
        ["responses", 0, "reply"],
        ["responses", 1, "reply"],
        ["responses", 0, "error"],
        ["responses", 1, "error"]
      ])
    }).pipe(Effect.scoped))
})
