import type { Confinement } from "@switchyard/core"
/**
 * The claude-code station: its command line and environment from the config (pure), and real runs of a fake
 * `claude` (a child process replaying recorded stream-json) for decoding, reports, budgets, transcripts and
 * revisions. The real binary against the model twin is exercised end to end in apps/cli/test/claude.e2e.test.ts.
 */
import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Ref, Schedule, type Scope } from "effect"
import * as NodePath from "node:path"
import { ClaudeCodeAgent, Unconfined } from "../src/index.js"
import {
  agentConfig,
  fakeCli,
  runInput,
  stationWith,
  testEnv,
  transcriptOf,
  twinFixturePath,
  workspace
} from "./agentSupport.js"
import { liveInGroup } from "./helpers.js"

const live = (name: string, body: () => Effect.Effect<void, unknown, Scope.Scope | NodeContext.NodeContext | Confinement>) =>
  it.live(name, () => body().pipe(Effect.scoped, Effect.provide(Unconfined.layer), Effect.provide(NodeContext.layer)), 30_000)

const SECRET = "sk-live-runner-secret-123456"

describe("ClaudeCodeAgent.args", () => {
  it("passes every configured flag, in order, with the defaults", () => {
    expect(ClaudeCodeAgent.args(agentConfig({ kind: "claude-code" }), null)).toEqual([
      "-p",
      "--output-format",
      "stream-json",
      "--verbose",
      "--permission-mode",
      "acceptEdits",
      "--allowedTools",
      "Bash",
      "--max-turns",
      "20"
    ])
    const full = agentConfig({
      kind: "claude-code",
      model: "claude-sonnet-5",
      permission_mode: "dontAsk",
      allowed_tools: ["Bash(git *)", "Edit"],
      disallowed_tools: ["WebFetch"],
      max_turns: 7,
      append_system_prompt: "Write the claim to $SWITCHYARD_RESULT_FILE.",
      max_cost_usd: 1.5,
      extra_args: ["--bare", "--fallback-model", "claude-haiku-5"]
    })
    expect(ClaudeCodeAgent.args(full, "sess-1")).toEqual([
      "-p",
      "--output-format",
      "stream-json",
      "--verbose",
      "--model",
      "claude-sonnet-5",
      "--permission-mode",
      "dontAsk",
      "--allowedTools",
      "Bash(git *)",
      "Edit",
      "--disallowedTools",
      "WebFetch",
      "--max-turns",
      "7",
      "--append-system-prompt",
      "Write the claim to $SWITCHYARD_RESULT_FILE.",
      "--max-budget-usd",
      "1.5",
      "--resume",
      "sess-1",
      "--bare",
      "--fallback-model",
      "claude-haiku-5"
    ])
    // an empty permission mode and no allowed tools: the flags are left out (null would mean the default)
    const bare = ClaudeCodeAgent.args(agentConfig({ kind: "claude-code", permission_mode: "", allowed_tools: [] }), null)
    expect(bare).not.toContain("--permission-mode")
    expect(bare).not.toContain("--allowedTools")
  })
})

describe("ClaudeCodeAgent.env", () => {
  const runner = {
    PATH: "/usr/bin",
    HOME: "/home/r",
    LANG: "C.UTF-8",
    GITHUB_TOKEN: "ghp_runnerSecretValue000000000000000000",
    ANTHROPIC_API_KEY: "sk-ant-real-key-0000000000",
    ANTHROPIC_MODEL: "x",
    AWS_SECRET_ACCESS_KEY: "aws-secret-value",
    GIT_DIR: "/elsewhere/.git",
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "0"
  }

  it("passes the base names only (the skeleton adds SWITCHYARD_*): the runner's secrets stay out", () => {
    const env = ClaudeCodeAgent.env(agentConfig({ kind: "claude-code" }), runner)
    expect(env).toEqual({
      PATH: "/usr/bin",
      HOME: "/home/r",
      LANG: "C.UTF-8",
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1"
    })
  })

  it("adds listed names, never git location variables; base_url becomes ANTHROPIC_BASE_URL", () => {
    const config = agentConfig({
      kind: "claude-code",
      env: ["ANTHROPIC_API_KEY", "GIT_DIR", "UNSET_NAME", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"],
      base_url: "http://127.0.0.1:9"
    })
    const env = ClaudeCodeAgent.env(config, runner)
    expect(env.ANTHROPIC_API_KEY).toBe(runner.ANTHROPIC_API_KEY)
    expect(env.ANTHROPIC_BASE_URL).toBe("http://127.0.0.1:9")
    // a listed value wins over the station default
    expect(env.CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC).toBe("0")
    expect(env).not.toHaveProperty("GIT_DIR")
    expect(env).not.toHaveProperty("UNSET_NAME")
    expect(env).not.toHaveProperty("GITHUB_TOKEN")
    expect(env).not.toHaveProperty("ANTHROPIC_MODEL")
  })
})

const successLines = { file: twinFixturePath("claude-success.jsonl") }

describe("ClaudeCodeAgent runs (fake claude replaying recorded stream-json)", () => {
  live("a successful run: prompt on stdin, claim from the result file, usage, cost, session, transcript", () =>
    Effect.gen(function*() {
      const where = yield* workspace
      const fake = yield* fakeCli(where.tmp, "claude", [{
        steps: [
          successLines,
          { result: { claim: "PR_READY", summary: "wrote out.txt", plan: "echo", residual_risk: "none" } }
        ]
      }])
      const runner = yield* stationWith(ClaudeCodeAgent.make, testEnv({ MY_SERVICE_TOKEN: SECRET }))
      const { input, outputs, spawned } = yield* runInput(where)
      const report = yield* runner.run({ ...input, agent: agentConfig({ kind: "claude-code", command: fake.bin, model: "m1" }) })

      expect(report).toMatchObject({
        kind: "claude-code",
        exitCode: 0,
        crashed: false,
        timedOut: false,
        claim: "PR_READY",
        claimError: null,
        summary: "All done: wrote out.txt.",
        plan: "echo",
        residualRisk: "none",
        sessionId: "0b1ade9f-29f1-4627-806b-b3b73baa90e7",
        usage: { inputTokens: 300, outputTokens: 150, cacheReadInputTokens: 0, cacheCreationInputTokens: 0 },
        costUsd: 0.0042,
        numTurns: 3,
        budgetExceeded: null,
        transcript: NodePath.join(where.runDir, "transcript.jsonl")
      })
      expect(report.command).toContain(`${fake.bin} -p --output-format stream-json --verbose --model m1`)
      expect(report.outputTail).toContain("tool Bash: echo hi > out.txt && cat out.txt")
      expect(report.outputTail).toContain("result (success): All done: wrote out.txt.")
      expect((yield* Ref.get(spawned)).length).toBe(1)
      expect(yield* Ref.get(outputs)).toBeGreaterThanOrEqual(10)

      const [call] = fake.calls()
      expect(call!.stdin).toBe(input.prompt)
      expect(call!.cwd).toBe(where.sandboxPath)
      expect(call!.args).toEqual(["-p", "--output-format", "stream-json", "--verbose", "--model", "m1", "--permission-mode", "acceptEdits", "--allowedTools", "Bash", "--max-turns", "20"])
      expect(call!.env.SWITCHYARD_RESULT_FILE).toBe(NodePath.join(NodePath.dirname(where.sandboxPath), "io", "result.json"))
      expect(call!.env.SWITCHYARD_ISSUE_ID).toBe("SY-7")
      expect(call!.env.CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC).toBe("1")
      expect(call!.env).not.toHaveProperty("MY_SERVICE_TOKEN")
      expect(JSON.stringify(call!.env)).not.toContain(SECRET)

      const lines = transcriptOf(where.runDir)
      expect(lines[0]).toMatchObject({ type: "run.started", station: "claude-code", turn: 0, resume: null })
      const events = lines.filter((l) => l.type === "event").map((l) => l.event._tag)
      expect(events).toContain("Init")
      expect(events).toContain("ToolUse")
      expect(events.at(-1)).toBe("Result")
      expect(lines.at(-1)).toMatchObject({ type: "run.ended", exitCode: 0, stopped: null })
    }))

  live("an error result (529s after retries) makes the run fail even if the process exits 0", () =>
    Effect.gen(function*() {
      const where = yield* workspace
      const fake = yield* fakeCli(where.tmp, "claude", [{ steps: [{ file: twinFixturePath("claude-overload-529.jsonl") }], exitCode: 0 }])
      const runner = yield* stationWith(ClaudeCodeAgent.make, testEnv())
      const { input } = yield* runInput(where)
      const report = yield* runner.run({ ...input, agent: agentConfig({ kind: "claude-code", command: fake.bin }) })
      expect(report.exitCode).toBe(1)
      expect(report.crashed).toBe(false)
      expect(report.claim).toBeNull()
      expect(report.summary).toContain("Repeated 529 Overloaded errors")
      expect(report.outputTail).toContain("the agent reported an error (API status 529)")
      expect(report.outputTail).toContain("api retry 2/10 after 529")
    }))

  live("malformed, huge and unknown lines are recorded and never crash the run", () =>
    Effect.gen(function*() {
      const where = yield* workspace
      const fake = yield* fakeCli(where.tmp, "claude", [{
        steps: [
          { stdout: "garbage {" },
          { json: { type: "brand_new_event", detail: 1 } },
          { bigLineBytes: 11 * 1024 * 1024 },
          { stderr: "a warning on stderr" },
          successLines
        ]
      }])
      const runner = yield* stationWith(ClaudeCodeAgent.make, testEnv())
      const { input } = yield* runInput(where)
      const report = yield* runner.run({ ...input, agent: agentConfig({ kind: "claude-code", command: fake.bin }) })
      expect(report).toMatchObject({ exitCode: 0, crashed: false, numTurns: 3, summary: "All done: wrote out.txt." })
      const lines = transcriptOf(where.runDir)
      const events = lines.filter((l) => l.type === "event").map((l) => l.event)
      expect(events[0]).toMatchObject({ _tag: "Malformed", raw: "garbage {" })
      expect(events[1]).toMatchObject({ _tag: "Unknown", raw: "{\"type\":\"brand_new_event\",\"detail\":1}" })
      expect(events[2]._tag).toBe("Malformed")
      expect(events[2].reason).toBe(`line too long: ${11 * 1024 * 1024} bytes, limit ${10 * 1024 * 1024}`)
      expect(lines.find((l) => l.type === "stderr")).toMatchObject({ text: "a warning on stderr" })
      expect(report.outputTail).toContain("stderr: a warning on stderr")
    }))

  live("a flood of events keeps the transcript within agent.max_log_bytes (head, cut line, tail); the result still counts", () =>
    Effect.gen(function*() {
      const where = yield* workspace
      const fs = yield* FileSystem.FileSystem
      // 20,000 tool calls (about 4 MB of stream-json), then the recorded successful run with its result.
      const flood = NodePath.join(where.tmp, "flood.jsonl")
      yield* fs.writeFileString(
        flood,
        Array.from({ length: 20_000 }, (_, i) =>
          JSON.stringify({
            type: "assistant",
            message: { id: `m${i}`, content: [{ type: "tool_use", id: `t${i}`, name: "Bash", input: { command: `echo ${i} ${"x".repeat(100)}` } }] }
          }) + "\n").join("")
      )
      const fake = yield* fakeCli(where.tmp, "claude", [{ steps: [{ file: flood }, successLines] }])
      const runner = yield* stationWith(ClaudeCodeAgent.make, testEnv())
      const { input } = yield* runInput(where)
      const max = 256 * 1024
      const report = yield* runner.run({ ...input, agent: agentConfig({ kind: "claude-code", command: fake.bin, max_log_bytes: max }) })
      expect(report).toMatchObject({ exitCode: 0, crashed: false, numTurns: 3, summary: "All done: wrote out.txt." })
      expect(report.usage).toMatchObject({ inputTokens: 300, outputTokens: 150 })
      expect(report.outputTail).toContain("result (success): All done: wrote out.txt.")

      const text = yield* fs.readFileString(NodePath.join(where.runDir, "transcript.jsonl"))
      const lines = transcriptOf(where.runDir)
      expect(lines[0]).toMatchObject({ type: "run.started" })
      expect(lines.at(-1)).toMatchObject({ type: "run.ended", exitCode: 0 })
      const cuts = lines.filter((l) => l.type === "cut")
      expect(cuts).toHaveLength(1)
      const at = lines.indexOf(cuts[0]!)
      const ids = (part: ReadonlyArray<Record<string, any>>) =>
        part.filter((l) => l.event?._tag === "ToolUse" && /^t\d+$/.test(l.event.id)).map((l) => Number(l.event.id.slice(1)))
      const head = ids(lines.slice(0, at))
      const tail = ids(lines.slice(at + 1))
      expect(head[0]).toBe(0)
      expect(head).toEqual(head.map((_, i) => i))
      expect(tail.at(-1)).toBe(19_999)
      expect(tail).toEqual(tail.map((_, i) => tail[0]! + i))
      expect(cuts[0]!.lines).toBe(tail[0]! - head.at(-1)! - 1)
      expect(cuts[0]!.bytes).toBeGreaterThan(0)
      // The recorded run's own events (Init ... Result) are the last ones kept.
      expect(lines.filter((l) => l.type === "event").at(-1)!.event._tag).toBe("Result")
      expect(Buffer.byteLength(text)).toBeLessThanOrEqual(max + 2048)
    }))

  live("max_tokens: the run is stopped once the streamed usage passes it, and the report says why", () =>
    Effect.gen(function*() {
      const where = yield* workspace
      const assistant = (id: string, input_tokens: number) => ({
        json: {
          type: "assistant",
          message: {
            id,
            content: [{ type: "tool_use", id: `t_${id}`, name: "Bash", input: { command: "true" } }],
            usage: { input_tokens, output_tokens: 1, cache_read_input_tokens: 90_000, cache_creation_input_tokens: 0 }
          }
        }
      })
      const fake = yield* fakeCli(where.tmp, "claude", [{
        steps: [
          { json: { type: "system", subtype: "init", session_id: "s-budget", model: "m", cwd: "/w", tools: ["Bash"] } },
          assistant("m1", 60_000),
          assistant("m1", 60_000), // the same message again: counted once
          assistant("m2", 60_000),
          { sleepMs: 30_000 }, // would hang; the station must stop it
          successLines
        ]
      }])
      const runner = yield* stationWith(ClaudeCodeAgent.make, testEnv())
      const { input } = yield* runInput(where)
      const report = yield* runner.run({ ...input, agent: agentConfig({ kind: "claude-code", command: fake.bin, max_tokens: 100_000 }) })
      expect(report.budgetExceeded).toBe(
        "the run used 120002 tokens (input + output + cache writes), over agent.max_tokens = 100000"
      )
      expect(report.exitCode).toBeNull()
      expect(report.signal).toBe("SIGTERM")
      expect(report.crashed).toBe(false)
      expect(report.timedOut).toBe(false)
      expect(report.durationMs).toBeLessThan(20_000)
      expect(report.sessionId).toBe("s-budget")
      expect(report.usage).toEqual({ inputTokens: 120_000, outputTokens: 2, cacheReadInputTokens: 180_000, cacheCreationInputTokens: 0 })
      expect(report.costUsd).toBeNull()
      expect(transcriptOf(where.runDir).at(-1)).toMatchObject({ type: "run.ended", stopped: report.budgetExceeded })
    }))

  live("max_cost_usd: passed as --max-budget-usd, and Claude Code's own budget stop is reported", () =>
    Effect.gen(function*() {
      const where = yield* workspace
      const fake = yield* fakeCli(where.tmp, "claude", [{
        steps: [{
          json: {
            type: "result",
            subtype: "error_max_budget_usd",
            is_error: true,
            num_turns: 2,
            result: null,
            session_id: "s-cost",
            total_cost_usd: 0.84,
            usage: { input_tokens: 200000, output_tokens: 2 },
            errors: ["Reached maximum budget ($0.5)"]
          }
        }],
        exitCode: 1
      }])
      const runner = yield* stationWith(ClaudeCodeAgent.make, testEnv())
      const { input } = yield* runInput(where)
      const report = yield* runner.run({ ...input, agent: agentConfig({ kind: "claude-code", command: fake.bin, max_cost_usd: 0.5 }) })
      expect(fake.calls()[0]!.args).toContain("--max-budget-usd")
      expect(report.budgetExceeded).toBe(
        "the run cost $0.8400, over agent.max_cost_usd = $0.5 (the agent stopped: Reached maximum budget ($0.5))"
      )
      expect(report).toMatchObject({ exitCode: 1, costUsd: 0.84, numTurns: 2, sessionId: "s-cost" })
    }))

  live("secrets of the runner are redacted from the transcript, the tail and the summary", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const where = yield* workspace
      const leaky = `cat ~/.env says TOKEN="${SECRET}"`
      const fake = yield* fakeCli(where.tmp, "claude", [{
        steps: [
          { json: { type: "assistant", message: { id: "m", content: [{ type: "text", text: leaky }] } } },
          { stderr: `debug: ${SECRET}` },
          {
            json: {
              type: "result",
              subtype: "success",
              is_error: false,
              result: `done with ${SECRET}`,
              session_id: "s"
            }
          }
        ]
      }])
      const runner = yield* stationWith(ClaudeCodeAgent.make, testEnv({ DEPLOY_API_KEY: SECRET }))
      const { input } = yield* runInput(where)
      const report = yield* runner.run({ ...input, agent: agentConfig({ kind: "claude-code", command: fake.bin }) })
      const transcript = yield* fs.readFileString(NodePath.join(where.runDir, "transcript.jsonl"))
      expect(transcript).not.toContain(SECRET)
      expect(transcript).toContain("[REDACTED]")
      expect(report.outputTail).not.toContain(SECRET)
      expect(report.summary).toBe("done with [REDACTED]")
    }))

  live("a revision resumes the session with only the feedback, and both turns land in one transcript", () =>
    Effect.gen(function*() {
      const where = yield* workspace
      const fake = yield* fakeCli(where.tmp, "claude", [
        { steps: [successLines, { result: { claim: "PR_READY", summary: "first" } }] },
        { steps: [{ file: twinFixturePath("claude-resume.jsonl") }] }
      ])
      const runner = yield* stationWith(ClaudeCodeAgent.make, testEnv())
      const config = agentConfig({ kind: "claude-code", command: fake.bin })
      const first = yield* runner.run({ ...(yield* runInput(where)).input, agent: config })
      const feedback = "Validation failed: `node --test` exited 1 (1 failing test: average of no numbers)."
      const { input } = yield* runInput(where, {
        continuation: { sessionId: first.sessionId, feedback, turn: 1 }
      })
      const second = yield* runner.run({ ...input, agent: config })

      const calls = fake.calls()
      expect(calls[1]!.args.slice(-2)).toEqual(["--resume", "0b1ade9f-29f1-4627-806b-b3b73baa90e7"])
      expect(calls[1]!.stdin).toBe(feedback)
      expect(calls[1]!.env.SWITCHYARD_REVISION).toBe("1")
      expect(calls[1]!.env.SWITCHYARD_FEEDBACK).toBe(feedback)
      expect(second.sessionId).toBe(first.sessionId)
      // the claim of the first turn stands when the revision writes none
      expect(second.claim).toBe("PR_READY")
      expect(second.summary).toBe("(model twin) The script is exhausted.")
      const lines = transcriptOf(where.runDir)
      expect(lines.filter((l) => l.type === "run.started").map((l) => [l.turn, l.resume])).toEqual([
        [0, null],
        [1, first.sessionId]
      ])
    }))

  live("a revision without a session re-runs with the prompt and the feedback", () =>
    Effect.gen(function*() {
      const where = yield* workspace
      const fake = yield* fakeCli(where.tmp, "claude", [{ steps: [successLines] }])
      const runner = yield* stationWith(ClaudeCodeAgent.make, testEnv())
      const { input } = yield* runInput(where, { continuation: { sessionId: null, feedback: "try again", turn: 2 } })
      yield* runner.run({ ...input, agent: agentConfig({ kind: "claude-code", command: fake.bin }) })
      const [call] = fake.calls()
      expect(call!.args).not.toContain("--resume")
      expect(call!.stdin).toBe(`${input.prompt}\n\ntry again`)
    }))

  live("a timeout kills the process group; so does interrupting the run (e.g. the stall watchdog)", () =>
    Effect.gen(function*() {
      const where = yield* workspace
      const fake = yield* fakeCli(where.tmp, "claude", [{
        steps: [{ json: { type: "system", subtype: "init", session_id: "s-slow", model: "m", cwd: "/w", tools: [] } }, { sleepMs: 30_000 }]
      }])
      const runner = yield* stationWith(ClaudeCodeAgent.make, testEnv())
      const config = agentConfig({ kind: "claude-code", command: fake.bin })

      const slow = yield* runInput(where)
      const timedOut = yield* runner.run({ ...slow.input, agent: { ...config, timeout_ms: 500 } })
      expect(timedOut).toMatchObject({ timedOut: true, crashed: false, exitCode: null, sessionId: "s-slow" })
      const [pid] = yield* Ref.get(slow.spawned)
      expect(liveInGroup(pid!)).toEqual([])

      const interrupted = yield* runInput(where)
      const fiber = yield* Effect.fork(runner.run({ ...interrupted.input, agent: config }))
      // wait until the fake has started and printed its first line
      yield* Effect.repeat(Ref.get(interrupted.outputs), { until: (n) => n > 0, schedule: Schedule.spaced("20 millis") })
      yield* Fiber.interrupt(fiber)
      const [pid2] = yield* Ref.get(interrupted.spawned)
      expect(liveInGroup(pid2!)).toEqual([])
      // the transcript kept what was seen before the interruption
      expect(transcriptOf(where.runDir).some((l) => l.type === "event" && l.event.sessionId === "s-slow")).toBe(true)
    }))

  live("a missing binary is a crash with the reason", () =>
    Effect.gen(function*() {
      const where = yield* workspace
      const runner = yield* stationWith(ClaudeCodeAgent.make, testEnv())
      const { input, spawned } = yield* runInput(where)
      const report = yield* runner.run({ ...input, agent: agentConfig({ kind: "claude-code", command: "/nonexistent/claude" }) })
      expect(report.crashed).toBe(true)
      expect(report.exitCode).toBeNull()
      expect(report.outputTail).toContain("cannot start /nonexistent/claude")
      expect(yield* Ref.get(spawned)).toEqual([])
    }))
})
