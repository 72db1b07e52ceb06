import type { Confinement } from "@switchyard/core"
/**
 * The codex station: `codex exec --json` decoding (handwritten JSONL in the shapes of openai/codex
 * `codex-rs/exec/src/exec_events.rs`, since the Codex binary is not installed here; docs/agents.md), the command
 * line from the config, and runs of a fake `codex` child process.
 */
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, type Scope } from "effect"
import { readFileSync } from "node:fs"
import { AgentEvent, CodexAgent, CodexStream, Unconfined } from "../src/index.js"
import { agentConfig, fakeCli, fixture, runInput, stationWith, testEnv, transcriptOf, workspace } from "./agentSupport.js"

const live = (name: string, body: () => Effect.Effect<void, unknown, Scope.Scope | NodeContext.NodeContext | Confinement>) =>
  it.live(name, () => body().pipe(Effect.scoped, Effect.provide(Unconfined.layer), Effect.provide(NodeContext.layer)), 30_000)

const decodeFile = (name: string) => readFileSync(fixture(name), "utf8").split("\n").flatMap(CodexStream.decodeLine)

describe("CodexStream.decodeLine", () => {
  it("a fixing run: thread, reasoning, commands, file changes, final message, usage", () => {
    const events = decodeFile("codex-fix.jsonl")
    expect(events.map((e) => e._tag)).toEqual([
      "Init",
      "TurnStarted",
      "Reasoning",
      "ToolUse",
      "ToolResult",
      // todo_list started and updated: no events
      "ToolUse",
      "ToolResult",
      "ToolUse",
      "ToolResult",
      "AssistantText",
      "TurnCompleted"
    ])
    expect(events[0]).toEqual(
      new AgentEvent.Init({ sessionId: "0199a213-81c0-7800-8aa1-bbab2a035a53", model: null, cwd: null, tools: [] })
    )
    expect(events[3]).toEqual(
      new AgentEvent.ToolUse({ id: "item_1", name: "command_execution", input: { command: "bash -lc 'cat src/average.js'" } })
    )
    expect(events[4]).toMatchObject({ toolUseId: "item_1", isError: false })
    expect(events[5]).toEqual(
      new AgentEvent.ToolUse({
        id: "item_3",
        name: "file_change",
        input: { changes: [{ path: "src/average.js", kind: "update" }, { path: "test/empty.test.js", kind: "add" }] }
      })
    )
    expect(events[6]).toEqual(
      new AgentEvent.ToolResult({ toolUseId: "item_3", content: "update src/average.js\nadd test/empty.test.js", isError: false })
    )
    // a failed command is an error result
    expect(events[8]).toEqual(new AgentEvent.ToolResult({ toolUseId: "item_4", content: "# fail 1\n", isError: true }))
    expect(events[9]).toEqual(new AgentEvent.AssistantText({ text: "Guarded the empty list; average([]) is 0 now." }))
    // input_tokens include the cached ones: 24763 = 315 uncached + 24448 cached
    expect(events[10]).toEqual(
      new AgentEvent.TurnCompleted({
        usage: { inputTokens: 315, outputTokens: 122, cacheReadInputTokens: 24448, cacheCreationInputTokens: 0 }
      })
    )
  })

  it("a failed turn: error events and turn.failed", () => {
    const events = decodeFile("codex-failed.jsonl")
    expect(events.map((e) => e._tag)).toEqual(["Init", "TurnStarted", "Error", "TurnFailed"])
    expect(events[3]).toEqual(new AgentEvent.TurnFailed({ message: "exceeded retry limit, last status: 429 Too Many Requests" }))
  })

  it("MCP calls, web searches and error items are decoded; unknown types, bad shapes and non-JSON are kept", () => {
    const lines = readFileSync(fixture("codex-other.jsonl"), "utf8").split("\n")
    const events = lines.flatMap(CodexStream.decodeLine)
    expect(events.map((e) => e._tag)).toEqual([
      "ToolUse",
      "ToolResult",
      "ToolUse",
      "Error",
      "Unknown", // collab_tool_call
      "Unknown", // item.plan.delta
      "Unknown", // agent_message without text
      "TurnCompleted",
      "Malformed"
    ])
    expect(events[0]).toEqual(new AgentEvent.ToolUse({ id: "item_6", name: "mcp:docs/search", input: { q: "effect" } }))
    expect(events[1]).toEqual(new AgentEvent.ToolResult({ toolUseId: "item_6", content: "server gone", isError: true }))
    expect(events[2]).toEqual(new AgentEvent.ToolUse({ id: "item_7", name: "web_search", input: { query: "effect schema optionalWith" } }))
    expect(events[3]).toEqual(new AgentEvent.ErrorEvent({ message: "command timed out" }))
    expect(events[4]).toEqual(new AgentEvent.Unknown({ raw: lines[4]! }))
    // nonsense counts are clamped: never negative, cached never more than input
    expect(events[7]).toEqual(
      new AgentEvent.TurnCompleted({ usage: { inputTokens: 0, outputTokens: 0, cacheReadInputTokens: 10, cacheCreationInputTokens: 0 } })
    )
  })
})

describe("CodexAgent.args", () => {
  it("Codex's own sandbox is off inside Switchyard's bubblewrap (which replaces it), and workspace-write without it", () => {
    expect(CodexAgent.args(agentConfig({ kind: "codex" }), null, false, "bwrap").slice(2, 4)).toEqual(["--sandbox", "danger-full-access"])
    expect(CodexAgent.args(agentConfig({ kind: "codex" }), null, false, "none").slice(2, 4)).toEqual(["--sandbox", "workspace-write"])
  })

  it("exec --json in a workspace-write sandbox when unconfined, the prompt from stdin", () => {
    expect(CodexAgent.args(agentConfig({ kind: "codex" }), null, false, "none")).toEqual([
      "exec",
      "--json",
      "--sandbox",
      "workspace-write",
      "--skip-git-repo-check",
      "-"
    ])
  })

  it("a model, a base URL as a `switchyard` provider, extra args, and resume", () => {
    const config = agentConfig({ kind: "codex", model: "gpt-5-codex", base_url: "http://127.0.0.1:8/v1", extra_args: ["--ephemeral"] })
    expect(CodexAgent.args(config, "thread-1", true, "none")).toEqual([
      "exec",
      "--json",
      "--sandbox",
      "workspace-write",
      "--skip-git-repo-check",
      "-m",
      "gpt-5-codex",
      "-c",
      "model_provider=\"switchyard\"",
      "-c",
      "model_providers.switchyard.name=\"switchyard\"",
      "-c",
      "model_providers.switchyard.base_url=\"http://127.0.0.1:8/v1\"",
      "-c",
      "model_providers.switchyard.wire_api=\"responses\"",
      "-c",
      "model_providers.switchyard.env_key=\"OPENAI_API_KEY\"",
      "--ephemeral",
      "resume",
      "thread-1",
      "-"
    ])
  })
})

describe("CodexAgent runs (fake codex replaying JSONL)", () => {
  live("a fixing run: summary from the last message, usage, turns, thread id; the API key only when listed", () =>
    Effect.gen(function*() {
      const where = yield* workspace
      const fake = yield* fakeCli(where.tmp, "codex", [{
        steps: [{ file: fixture("codex-fix.jsonl") }, { result: { claim: "PR_READY", summary: "guarded" } }]
      }])
      const runner = yield* stationWith(CodexAgent.make, testEnv({ OPENAI_API_KEY: "sk-openai-test-key-1234", GH_TOKEN: "x" }))
      const { input } = yield* runInput(where)
      const report = yield* runner.run({ ...input, agent: agentConfig({ kind: "codex", command: fake.bin, base_url: "http://127.0.0.1:9/v1", env: ["OPENAI_API_KEY"] }) })
      expect(report).toMatchObject({
        kind: "codex",
        exitCode: 0,
        crashed: false,
        claim: "PR_READY",
        summary: "Guarded the empty list; average([]) is 0 now.",
        sessionId: "0199a213-81c0-7800-8aa1-bbab2a035a53",
        usage: { inputTokens: 315, outputTokens: 122, cacheReadInputTokens: 24448, cacheCreationInputTokens: 0 },
        costUsd: null,
        numTurns: 1
      })
      const [call] = fake.calls()
      expect(call!.stdin).toBe(input.prompt)
      expect(call!.args).toContain("model_providers.switchyard.env_key=\"OPENAI_API_KEY\"")
      expect(call!.env.OPENAI_API_KEY).toBe("sk-openai-test-key-1234")
      expect(call!.env).not.toHaveProperty("GH_TOKEN")
      expect(report.outputTail).toContain("tool file_change")
      // the key is a secret of the runner: redacted wherever the station writes
      expect(JSON.stringify(transcriptOf(where.runDir))).not.toContain("sk-openai-test-key-1234")
    }))

  live("turn.failed makes the run fail even if the process exits 0", () =>
    Effect.gen(function*() {
      const where = yield* workspace
      const fake = yield* fakeCli(where.tmp, "codex", [{ steps: [{ file: fixture("codex-failed.jsonl") }], exitCode: 0 }])
      const runner = yield* stationWith(CodexAgent.make, testEnv())
      const { input } = yield* runInput(where)
      const report = yield* runner.run({ ...input, agent: agentConfig({ kind: "codex", command: fake.bin }) })
      expect(report.exitCode).toBe(1)
      expect(report.outputTail).toContain("the turn failed: exceeded retry limit")
      expect(fake.calls()[0]!.args).not.toContain("model_providers.switchyard.env_key=\"OPENAI_API_KEY\"")
    }))

  live("a revision resumes the thread with the feedback; usage counts only the new turn", () =>
    Effect.gen(function*() {
      const where = yield* workspace
      const thread = "0199a213-81c0-7800-8aa1-bbab2a035a53"
      const fake = yield* fakeCli(where.tmp, "codex", [
        { steps: [{ file: fixture("codex-fix.jsonl") }] },
        {
          steps: [
            { json: { type: "thread.started", thread_id: thread } },
            { json: { type: "item.completed", item: { id: "item_9", type: "agent_message", text: "Fixed the test too." } } },
            // thread totals: the first turn's plus 1000 input (100 cached) and 30 output
            { json: { type: "turn.completed", usage: { input_tokens: 25763, cached_input_tokens: 24548, output_tokens: 152 } } }
          ]
        }
      ])
      const runner = yield* stationWith(CodexAgent.make, testEnv())
      const config = agentConfig({ kind: "codex", command: fake.bin, max_tokens: 2000 })
      const first = yield* runner.run({ ...(yield* runInput(where)).input, agent: config })
      expect(first.budgetExceeded).toBeNull()
      const { input } = yield* runInput(where, { continuation: { sessionId: first.sessionId, feedback: "tests fail", turn: 1 } })
      const second = yield* runner.run({ ...input, agent: config })
      const calls = fake.calls()
      expect(calls[1]!.args.slice(-3)).toEqual(["resume", thread, "-"])
      expect(calls[1]!.stdin).toBe("tests fail")
      expect(second.usage).toEqual({ inputTokens: 900, outputTokens: 30, cacheReadInputTokens: 100, cacheCreationInputTokens: 0 })
      expect(second.budgetExceeded).toBeNull()
      expect(second.summary).toBe("Fixed the test too.")
    }))
})
