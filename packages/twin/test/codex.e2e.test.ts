/**
 * End to end: the REAL codex binary (devDependency `@openai/codex` 0.169.0) against the twin's Responses API, in a
 * temp git repo, with a temp HOME. Codex's own sandbox (`workspace-write`) runs the scripted command for real.
 */
import { type CommandExecutor, FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema, type Scope } from "effect"
import * as Playbook from "../src/Playbook.js"
import * as Twin from "../src/Twin.js"
import { codexBin, runCodex, tempRepo } from "./support.js"

const live = (name: string, body: () => Effect.Effect<void, unknown, FileSystem.FileSystem | CommandExecutor.CommandExecutor | Scope.Scope>) =>
  it.live(name, () => body().pipe(Effect.scoped, Effect.provide(NodeContext.layer)), 30_000)

const playbook = Schema.decodeSync(Playbook.Playbook)({
  entries: [
    {
      name: "ISSUE-1",
      match: { contains: "ISSUE-1:" },
      turns: [
        { tool: "Bash", command: "printf 'fixed\\n' > fix.txt && cat fix.txt", text: "Fixing." },
        { text: "Wrote fix.txt." },
        { tool: "Bash", command: "printf 'revised\\n' >> fix.txt" },
        { text: "Revised fix.txt." }
      ]
    },
    { name: "rate", match: { contains: "ISSUE-429:" }, turns: [{ error: 429, times: 10 }, { text: "too late" }] }
  ]
})

const setup = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const twin = yield* Twin.make(playbook)
  const cwd = yield* tempRepo
  const home = yield* fs.makeTempDirectoryScoped({ prefix: "twin-codex-home-" })
  return { fs, twin, cwd, home }
})

describe("real codex against the twin", () => {
  live("the binary is installed (devDependency @openai/codex of @switchyard/twin)", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      expect(yield* fs.exists(codexBin), `missing ${codexBin}: add "@openai/codex": "0.169.0" to packages/twin devDependencies`).toBe(true)
    }))

  live("runs a scripted command for real and reports it as JSONL events, with usage", () =>
    Effect.gen(function*() {
      const { cwd, fs, home, twin } = yield* setup
      const prompt = "ISSUE-1: create fix.txt containing the word fixed"
      const run = yield* runCodex({ twinUrl: twin.url, cwd, home, prompt })
      expect(run.exitCode, run.stderr).toBe(0)
      expect(yield* fs.readFileString(`${cwd}/fix.txt`)).toBe("fixed\n")
      expect(run.events.map((e) => e.type)).toEqual([
        "thread.started",
        "turn.started",
        "item.completed", // the narration
        "item.started",
        "item.completed",
        "item.completed",
        "turn.completed"
      ])
      expect(run.events[4]!.item).toMatchObject({ type: "command_execution", aggregated_output: "fixed\n", exit_code: 0, status: "completed" })
      expect(run.events[5]!.item).toMatchObject({ type: "agent_message", text: "Wrote fix.txt." })
      // two replies of 100 input and 50 output tokens each (the twin's default), as thread totals
      expect(run.events[6]!.usage).toMatchObject({ input_tokens: 200, output_tokens: 100 })

      const main = (yield* twin.requests).filter((r) => r.kind === "main")
      expect(main.map((r) => [r.api, r.slot])).toEqual([["responses", 0], ["responses", 1]])
      expect(JSON.stringify((main[0]!.body as any).input)).toContain(prompt)
      expect(JSON.stringify((main[1]!.body as any).input)).toContain("custom_tool_call_output")
    }))

  live("exec resume <thread> replays the thread and sends the new prompt", () =>
    Effect.gen(function*() {
      const { cwd, fs, home, twin } = yield* setup
      const first = yield* runCodex({ twinUrl: twin.url, cwd, home, prompt: "ISSUE-1: create fix.txt" })
      expect(first.exitCode, first.stderr).toBe(0)
      const thread = first.events[0]!.thread_id as string
      const second = yield* runCodex({ twinUrl: twin.url, cwd, home, prompt: "Review: also append revised.", extraArgs: ["resume", thread] })
      expect(second.exitCode, second.stderr).toBe(0)
      expect(second.events[0]).toEqual({ type: "thread.started", thread_id: thread })
      expect(yield* fs.readFileString(`${cwd}/fix.txt`)).toBe("fixed\nrevised\n")
      expect(second.events.at(-1)!.usage).toMatchObject({ input_tokens: 400, output_tokens: 200 })
      const main = (yield* twin.requests).filter((r) => r.kind === "main")
      expect(main.map((r) => r.slot)).toEqual([0, 1, 2, 3])
      expect(JSON.stringify((main[2]!.body as any).input)).toContain("Review: also append revised.")
    }))

  live("a 429 after Codex's retries: turn.failed and exit 1", () =>
    Effect.gen(function*() {
      const { cwd, home, twin } = yield* setup
      const run = yield* runCodex({
        twinUrl: twin.url,
        cwd,
        home,
        prompt: "ISSUE-429: anything",
        extraArgs: ["-c", "model_providers.switchyard.request_max_retries=1", "-c", "model_providers.switchyard.stream_max_retries=1"]
      })
      expect(run.exitCode).toBe(1)
      expect(run.events.at(-1)).toMatchObject({ type: "turn.failed", error: { message: expect.stringContaining("429") } })
    }))
})
