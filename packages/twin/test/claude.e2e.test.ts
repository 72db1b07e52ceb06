/**
 * End to end: the REAL claude binary (devDependency, 2.1.330) against the twin, in a temp git repo, with a
 * temp HOME so nothing from the machine's ~/.claude leaks in.
 */
import { type CommandExecutor, FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Array as Arr, Effect, Option, Schema, type Scope } from "effect"
import * as Playbook from "../src/Playbook.js"
import { AgentEvent } from "@switchyard/node"
import * as Twin from "../src/Twin.js"
import { runClaude, tempRepo } from "./support.js"

const make = Schema.decodeSync(Playbook.Playbook)

const live = (name: string, body: () => Effect.Effect<void, unknown, FileSystem.FileSystem | CommandExecutor.CommandExecutor | Scope.Scope>) =>
  it.live(name, () => body().pipe(Effect.scoped, Effect.provide(NodeContext.layer)), 30_000)

const setup = (playbook: Playbook.Playbook) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const twin = yield* Twin.make(playbook)
    const cwd = yield* tempRepo
    const home = yield* fs.makeTempDirectoryScoped({ prefix: "twin-home-" })
    return { fs, twin, cwd, home }
  })

const playbook = make({
  entries: [
    {
      name: "ISSUE-1",
      match: { contains: "ISSUE-1:" },
      turns: [
        { tool: "Bash", command: "printf 'fixed\\n' > fix.txt && cat fix.txt", description: "write the fix", text: "Fixing." },
        { text: "Wrote fix.txt." },
        // the revision turn, reached through --resume
        { tool: "Bash", command: "printf 'revised\\n' >> fix.txt", description: "revise the fix" },
        { text: "Revised fix.txt." }
      ]
    },
    { name: "overloaded", match: { contains: "ISSUE-529:" }, turns: [{ error: 529, times: 10 }, { text: "too late" }] },
    { name: "blip", match: { contains: "ISSUE-BLIP:" }, turns: [{ error: 529, times: 2 }, { text: "recovered" }] },
    { name: "hang", match: { contains: "ISSUE-HANG:" }, turns: [{ hang: true }, { text: "after the hang" }] },
    { name: "rate", match: { contains: "ISSUE-429:" }, turns: [{ error: 429, times: 10 }, { text: "too late" }] }
  ]
})

const result = (events: ReadonlyArray<AgentEvent.AgentEvent>) => Option.getOrThrow(Arr.findLast(events, (e): e is AgentEvent.Result => e._tag === "Result"))

describe("real claude against the twin", () => {
  live("(a, b) runs a scripted Bash command for real, then ends with the scripted text", () =>
    Effect.gen(function*() {
      const { cwd, fs, home, twin } = yield* setup(playbook)
      const prompt = "ISSUE-1: create fix.txt containing the word fixed"
      const run = yield* runClaude({ twinUrl: twin.url, cwd, home, prompt })
      expect(run.exitCode, run.stderr).toBe(0)
      // (a) the tool ran for real in the sandbox
      expect(yield* fs.readFileString(`${cwd}/fix.txt`)).toBe("fixed\n")
      const init = run.events.find((e): e is AgentEvent.Init => e._tag === "Init")
      expect(init?.cwd).toBe(yield* fs.realPath(cwd))
      expect(init?.tools).toContain("Bash")
      const toolUse = run.events.find((e): e is AgentEvent.ToolUse => e._tag === "ToolUse")
      expect(toolUse?.name).toBe("Bash")
      const toolResult = run.events.find((e): e is AgentEvent.ToolResult => e._tag === "ToolResult")
      expect(toolResult).toEqual(new AgentEvent.ToolResult({ toolUseId: toolUse!.id, content: "fixed", isError: false }))
      const res = result(run.events)
      expect(res.isError).toBe(false)
      expect(res.subtype).toBe("success")
      expect(res.result).toBe("Wrote fix.txt.")
      expect(res.numTurns).toBeGreaterThanOrEqual(2)
      expect(res.usage.inputTokens).toBeGreaterThan(0)
      expect(res.usage.outputTokens).toBeGreaterThan(0)
      expect(res.sessionId).toBe(init?.sessionId)
      expect(run.events.filter((e) => e._tag === "Malformed")).toEqual([])

      // (b) the twin recorded the prompt in the first request
      const requests = yield* twin.requests
      const main = requests.filter((r) => r.kind === "main")
      expect(main.map((r) => r.slot)).toEqual([0, 1])
      expect(main[0]!.path).toMatch(/^\/v1\/messages/)
      expect(JSON.stringify((main[0]!.body as any).messages[0])).toContain(prompt)
      expect((main[0]!.body as any).stream).toBe(true)
      // the second request carries the real tool output back
      expect(JSON.stringify((main[1]!.body as any).messages)).toContain("\"tool_result\"")
      expect(requests.filter((r) => r.kind === "side")).toEqual([])
    }))

  live("(c) a 529 served more often than claude retries: 3 attempts, then an error result and exit 1", () =>
    Effect.gen(function*() {
      const { cwd, home, twin } = yield* setup(playbook)
      const run = yield* runClaude({ twinUrl: twin.url, cwd, home, prompt: "ISSUE-529: anything" })
      expect(run.exitCode).toBe(1)
      const retries = run.events.filter((e): e is AgentEvent.ApiRetry => e._tag === "ApiRetry")
      expect(retries.map((r) => [r.attempt, r.errorStatus])).toEqual([[1, 529], [2, 529]])
      const res = result(run.events)
      expect(res).toMatchObject({ isError: true, apiErrorStatus: 529 })
      expect(res.result).toContain("529")
      expect(run.events.some((e) => e._tag === "Error")).toBe(true)
      const main = (yield* twin.requests).filter((r) => r.kind === "main")
      expect(main.map((r) => r.served)).toEqual(["error", "error", "error"])
    }))

  live("(c) two 529s are retried through: the run succeeds", () =>
    Effect.gen(function*() {
      const { cwd, home, twin } = yield* setup(playbook)
      const run = yield* runClaude({ twinUrl: twin.url, cwd, home, prompt: "ISSUE-BLIP: anything" })
      expect(run.exitCode).toBe(0)
      expect(result(run.events)).toMatchObject({ isError: false, result: "recovered" })
      expect((yield* twin.requests).map((r) => r.served)).toEqual(["error", "error", "reply"])
    }))

  live("(c) a 429 with CLAUDE_CODE_MAX_RETRIES=1: 2 attempts, then an error result and exit 1", () =>
    Effect.gen(function*() {
      const { cwd, home, twin } = yield* setup(playbook)
      const run = yield* runClaude({
        twinUrl: twin.url,
        cwd,
        home,
        prompt: "ISSUE-429: anything",
        extraEnv: { CLAUDE_CODE_MAX_RETRIES: "1" }
      })
      expect(run.exitCode).toBe(1)
      expect(result(run.events)).toMatchObject({ isError: true, apiErrorStatus: 429 })
      const retries = run.events.filter((e): e is AgentEvent.ApiRetry => e._tag === "ApiRetry")
      expect(retries.map((r) => [r.maxRetries, r.errorStatus])).toEqual([[1, 429]])
      expect((yield* twin.requests).map((r) => r.served)).toEqual(["error", "error"])
    }))

  live("a hang: with API_TIMEOUT_MS claude gives up on the request, retries, and gets the next turn", () =>
    Effect.gen(function*() {
      const { cwd, home, twin } = yield* setup(playbook)
      const run = yield* runClaude({
        twinUrl: twin.url,
        cwd,
        home,
        prompt: "ISSUE-HANG: anything",
        extraEnv: { API_TIMEOUT_MS: "1500" }
      })
      expect(run.exitCode, run.stderr).toBe(0)
      const retries = run.events.filter((e): e is AgentEvent.ApiRetry => e._tag === "ApiRetry")
      expect(retries.map((r) => r.errorStatus)).toEqual([null])
      expect(result(run.events)).toMatchObject({ isError: false, result: "after the hang" })
      expect((yield* twin.requests).map((r) => r.served)).toEqual(["hang", "reply"])
    }))

  live("(d) --resume sends the earlier conversation plus the new prompt, in the same session", () =>
    Effect.gen(function*() {
      const { cwd, fs, home, twin } = yield* setup(playbook)
      const prompt = "ISSUE-1: create fix.txt containing the word fixed"
      const first = yield* runClaude({ twinUrl: twin.url, cwd, home, prompt })
      expect(first.exitCode, first.stderr).toBe(0)
      const sessionId = result(first.events).sessionId
      const revision = "Review feedback: also append the word revised."
      const second = yield* runClaude({
        twinUrl: twin.url,
        cwd,
        home,
        prompt: revision,
        extraArgs: ["--resume", sessionId]
      })
      expect(second.exitCode, second.stderr).toBe(0)
      expect(yield* fs.readFileString(`${cwd}/fix.txt`)).toBe("fixed\nrevised\n")
      const res = result(second.events)
      expect(res).toMatchObject({ isError: false, result: "Revised fix.txt.", sessionId })

      const main = (yield* twin.requests).filter((r) => r.kind === "main")
      expect(main.map((r) => r.slot)).toEqual([0, 1, 2, 3])
      expect(new Set(main.map((r) => r.conversation)).size).toBe(1)
      const resumed = (main[2]!.body as any).messages as ReadonlyArray<{ role: string; content: unknown }>
      const text = JSON.stringify(resumed)
      // the earlier conversation: first prompt, the tool call and its real output, the final text ...
      expect(text).toContain(prompt)
      expect(text).toContain("\"tool_result\"")
      expect(text).toContain("Wrote fix.txt.")
      // ... then the new user text, last
      expect(JSON.stringify(resumed.at(-1))).toContain(revision)
      expect(resumed.at(-1)!.role).toBe("user")
    }))
})
