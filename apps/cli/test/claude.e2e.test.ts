/**
 * End to end with the REAL Claude Code binary (the devDependency of @switchyard/twin) and a model twin started
 * in this process: the built CLI runs `switchyard run --once` in a temp repo with `agent.kind: claude-code`,
 * `agent.base_url` pointing at the twin, and a dummy `ANTHROPIC_API_KEY` passed through `agent.env`. Only the model
 * is scripted: Claude Code's Bash tool edits the sandbox for real, and Switchyard verifies the result itself.
 * The last block does the same with the real Codex binary against the twin's Responses API, routed by label.
 */
import { NodeContext } from "@effect/platform-node"
import { afterEach, describe, expect, it } from "@effect/vitest"
import { Playbook, Twin } from "@switchyard/twin"
import { Effect, type Scope } from "effect"
import { mkdirSync } from "node:fs"
import * as Net from "node:net"
import {
  averageRepro,
  claudeBin,
  codexBin,
  existsSync,
  fixerScript,
  join,
  makeRepo,
  readFileSync,
  sy,
  syAsync,
  syJson,
  type TestRepo,
  writeFileSync
} from "./harness.js"

let repos: Array<TestRepo> = []
afterEach(() => {
  for (const r of repos) r.cleanup()
  repos = []
})

const live = (name: string, body: () => Effect.Effect<void, unknown, Scope.Scope | NodeContext.NodeContext>) =>
  it.live(name, () => body().pipe(Effect.scoped, Effect.provide(NodeContext.layer)), 120_000)

/** The prompt: the issue and the whole task packet (so a test can see it reached the model). */
const prompt = `Fix {{ issue.id }}: {{ issue.title }}

{{ issue.body }}

Write your claim as JSON to $SWITCHYARD_RESULT_FILE. The task packet:
{{ packet | json }}
`

const workflow = (twinUrl: string, agentExtra = "") => `agent:
  kind: claude-code
  command: ${JSON.stringify(claudeBin)}
  base_url: ${JSON.stringify(twinUrl)}
  env: [ANTHROPIC_API_KEY]
  extra_args: [--bare]
  max_turns: 10
  max_attempts: 2
  retry_base_delay_ms: 50
  timeout_ms: 60000
${agentExtra}verify:
  validation:
    - node --test
polling:
  interval_ms: 200
`

/**
 * A temp repo with WORKFLOW.md for the twin (`agentExtra`: more `agent:` lines), a private HOME for Claude Code,
 * and the twin's playbook.
 */
const setup = (entries: Playbook.PlaybookInput["entries"], agentExtra = "") =>
  Effect.gen(function*() {
    const twin = yield* Twin.make(yield* Playbook.decode({ entries, default: [{ text: "nothing scripted" }] }))
    const r = makeRepo()
    repos.push(r)
    r.writeWorkflow(workflow(twin.url, agentExtra), prompt)
    const home = join(r.tmp, "home")
    mkdirSync(home)
    const run = (...args: Array<string>) =>
      Effect.promise(() => syAsync(r.dir, args, { HOME: home, ANTHROPIC_API_KEY: "sk-test", OPENAI_API_KEY: "sk-test" }))
    return { twin, r, run }
  })

const claimCommand = (claim: Record<string, string>) => `echo '${JSON.stringify(claim)}' > "$SWITCHYARD_RESULT_FILE"`

const transcriptLines = (r: TestRepo, id: string, attempt: number): Array<Record<string, any>> =>
  readFileSync(join(r.dir, ".switchyard/runs", id, String(attempt), "transcript.jsonl"), "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l))

/** The text of a recorded request's messages. */
const messagesText = (body: unknown): string => JSON.stringify((body as { messages: unknown }).messages)

describe("claude-code station: the real claude binary against a model twin", () => {
  it("the binary is installed (devDependency of @switchyard/twin)", () => {
    expect(existsSync(claudeBin)).toBe(true)
  })

  live("(a) a correct fix reaches PR_READY, with tokens, cost, session and transcript in the evidence", () =>
    Effect.gen(function*() {
      const { r, run, twin } = yield* setup([{
        name: "fixer",
        match: { contains: "average([]) is NaN" },
        turns: [
          { tool: "Bash", command: fixerScript, description: "fix average and add a test", text: "Fixing it." },
          { text: "Guarded the empty list." }
        ]
      }])
      const id = (yield* Effect.promise(() => sy(r.dir, "issue", "create", "--title", "average([]) is NaN", "--repro", averageRepro))).stdout.trim()
      const result = yield* run("run", "--once")
      expect(result.code, result.stderr).toBe(0)
      expect(result.stdout).toContain("terminal.PR_READY")
      // Per-run and per-issue accounting, besides the per-attempt numbers in the evidence.
      expect(result.stdout).toMatch(/this run: 1 attempt\(s\), [1-9]\d* input \+ [1-9]\d* output tokens, \$0\.\d{4}/)
      const shown = yield* Effect.promise(() => syJson(r.dir, "issue", "show", id))
      expect(shown.usage.inputTokens).toBeGreaterThan(0)
      expect(shown.usage.costUsd).toBeGreaterThan(0)

      const evidence = yield* Effect.promise(() => syJson(r.dir, "evidence", id))
      expect(evidence.outcome).toBe("PR_READY")
      expect(evidence.diff.files).toEqual(["src/average.js", "test/average.test.js"])
      expect(evidence.agent).toMatchObject({
        kind: "claude-code",
        exitCode: 0,
        claim: "PR_READY",
        summary: "Guarded the empty list.",
        numTurns: 2,
        route: "default (claude-code)",
        budgetExceeded: null
      })
      // the twin's default usage: 100 input and 50 output tokens per reply
      expect(evidence.agent.usage).toMatchObject({ inputTokens: 200, outputTokens: 100 })
      expect(evidence.agent.costUsd).toBeGreaterThan(0)
      expect(evidence.agent.sessionId).toMatch(/^[0-9a-f-]{36}$/)
      expect(evidence.agent.command).toContain("--output-format stream-json --verbose")

      const lines = transcriptLines(r, id, 1)
      expect(lines[0]).toMatchObject({ type: "run.started", station: "claude-code", turn: 0 })
      const tags = lines.filter((l) => l.type === "event").map((l) => l.event._tag)
      expect(tags).toEqual(expect.arrayContaining(["Init", "ToolUse", "ToolResult", "AssistantText", "Result"]))
      expect(lines.at(-1)).toMatchObject({ type: "run.ended", exitCode: 0 })

      // what the model was actually sent: the task packet is in the prompt, the tool output came back
      const main = (yield* twin.requests).filter((q) => q.kind === "main")
      expect(main).toHaveLength(2)
      const first = messagesText(main[0]!.body)
      expect(first).toContain(`Fix ${id}: average([]) is NaN`)
      expect(first).toContain("output_contract")
      expect(first).toContain("result.json")
      expect(messagesText(main[1]!.body)).toContain("tool_result")
    }))

  live("(e) confined, Claude Code reaches the twin and nothing else; the fix still reaches PR_READY", () =>
    Effect.gen(function*() {
      const other = yield* Effect.acquireRelease(
        Effect.async<{ server: Net.Server; port: number; hits: () => number }>((resume) => {
          let hits = 0
          const server = Net.createServer((socket) => {
            hits++
            socket.end()
          }).listen(0, "127.0.0.1", () => resume(Effect.succeed({ server, port: (server.address() as Net.AddressInfo).port, hits: () => hits })))
        }),
        ({ server }) => Effect.sync(() => server.close())
      )
      const { r, twin } = yield* setup([{
        name: "prober",
        match: { contains: "average([]) is NaN" },
        turns: [
          {
            tool: "Bash",
            // A prompt-injected model: phone home to another local port, read the repo, then do the work.
            command: `node -e 'const s=require("net").connect(${other.port},"127.0.0.1",()=>{console.log("connected");s.destroy()});s.on("error",e=>console.log(e.code))' > "$PROBE" 2>&1; ls "$REPO" >> "$PROBE" 2>&1; ${fixerScript}`,
            description: "probe, then fix",
            text: "Probing."
          },
          { text: "Guarded the empty list." }
        ]
      }])
      const probe = join(r.shared, "probe.txt")
      const workflowFile = join(r.dir, "WORKFLOW.md")
      // The probe's paths reach the model's command through the environment, as a real injected prompt would name them.
      writeFileSync(workflowFile, readFileSync(workflowFile, "utf8").replace("  env: [ANTHROPIC_API_KEY]", "  env: [ANTHROPIC_API_KEY, PROBE, REPO]"))
      const id = (yield* Effect.promise(() => sy(r.dir, "issue", "create", "--title", "average([]) is NaN", "--repro", averageRepro))).stdout.trim()
      const result = yield* Effect.promise(() =>
        syAsync(r.dir, ["run", "--once"], { HOME: join(r.tmp, "home"), ANTHROPIC_API_KEY: "sk-test", PROBE: probe, REPO: r.dir })
      )
      expect(result.code, result.stderr).toBe(0)
      const evidence = yield* Effect.promise(() => syJson(r.dir, "evidence", id))
      expect(evidence.outcome).toBe("PR_READY")
      expect(evidence.agent.confinement).toMatchObject({ kind: "bwrap", network: "model_endpoint", egress: new URL(twin.url).host })
      const seen = readFileSync(probe, "utf8").trim().split("\n")
      expect(seen[0]).toBe("ECONNREFUSED")
      expect(seen.slice(1)).toEqual([]) // the repository's directory is empty from inside
      expect(other.hits()).toBe(0)
    }))

  live("(b) a claim of a fix without a diff is not PR_READY", () =>
    Effect.gen(function*() {
      const { r, run } = yield* setup([{
        name: "liar",
        match: { contains: "pretend" },
        turns: [
          { tool: "Bash", command: claimCommand({ claim: "PR_READY", summary: "fixed it" }), description: "claim" },
          { text: "Fixed it." }
        ]
      }])
      const id = (yield* Effect.promise(() => sy(r.dir, "issue", "create", "--title", "pretend to fix average", "--repro", averageRepro))).stdout.trim()
      const result = yield* run("run", "--once")
      expect(result.code, result.stderr).toBe(0)
      const evidence = yield* Effect.promise(() => syJson(r.dir, "evidence", id))
      expect(evidence.outcome).toBe("ESCALATE")
      expect(evidence.verdict.cause).toBe("claimed_change_without_diff")
      expect(evidence.agent.claim).toBe("PR_READY")
      expect(evidence.diff).toBeNull()
    }))

  live("(c) an overloaded model (529 until Claude Code gives up) is RETRYABLE_FAILURE; the retry reaches PR_READY", () =>
    Effect.gen(function*() {
      // The prompt holds the task packet, whose attempt number differs, so each attempt is its own conversation.
      const { r, run, twin } = yield* setup([
        { name: "attempt 1: overloaded", match: { regex: "overloaded average[\\s\\S]*\"attempt\":1\\b" }, turns: [{ error: 529, times: 3 }] },
        {
          name: "attempt 2: fine",
          match: { contains: "overloaded average" },
          turns: [{ tool: "Bash", command: fixerScript, description: "fix" }, { text: "Fixed after the overload." }]
        }
      ])
      const id = (yield* Effect.promise(() => sy(r.dir, "issue", "create", "--title", "overloaded average", "--repro", averageRepro))).stdout.trim()
      const result = yield* run("run", "--once")
      expect(result.code, result.stderr).toBe(0)
      const attempts = readFileSync(join(r.dir, ".switchyard/runs", id, "1", "evidence.json"), "utf8")
      const first = JSON.parse(attempts)
      expect(first.outcome).toBe("RETRYABLE_FAILURE")
      expect(first.verdict.cause).toBe("agent_exit_nonzero")
      expect(first.agent.exitCode).toBe(1)
      expect(first.agent.outputTail).toContain("API status 529")
      const second = yield* Effect.promise(() => syJson(r.dir, "evidence", id))
      expect(second.attempt).toBe(2)
      expect(second.outcome).toBe("PR_READY")
      expect(second.agent.summary).toBe("Fixed after the overload.")
      expect((yield* twin.requests).filter((q) => q.kind === "main").map((q) => q.served)).toEqual([
        "error",
        "error",
        "error",
        "reply",
        "reply"
      ])
    }))

  live("max_tokens: a run over its token budget is stopped and escalated with cause budget_exceeded", () =>
    Effect.gen(function*() {
      const big = { inputTokens: 100_000, outputTokens: 10 }
      const { r, run } = yield* setup([{
        name: "spender",
        match: { contains: "expensive average" },
        turns: [
          { tool: "Bash", command: "echo thinking hard", usage: big },
          { tool: "Bash", command: "echo still thinking", usage: big },
          { tool: "Bash", command: fixerScript, usage: big },
          { text: "Done, expensively." }
        ]
      }], "  max_tokens: 150000\n") // a per-run budget under two replies
      const id = (yield* Effect.promise(() => sy(r.dir, "issue", "create", "--title", "expensive average", "--repro", averageRepro))).stdout.trim()
      const result = yield* run("run", "--once")
      expect(result.code, result.stderr).toBe(0)
      const evidence = yield* Effect.promise(() => syJson(r.dir, "evidence", id))
      expect(evidence.outcome).toBe("ESCALATE")
      expect(evidence.verdict.cause).toBe("budget_exceeded")
      expect(evidence.agent.budgetExceeded).toMatch(/^the run used \d+ tokens \(input \+ output \+ cache writes\), over agent.max_tokens = 150000$/)
      expect(evidence.agent.exitCode).toBeNull()
      // stopped before the fix ran
      expect(evidence.diff).toBeNull()
    }))

  live("(d) a verifier rejection gets one revision turn (resumed session, feedback sent) and then PR_READY", () =>
    Effect.gen(function*() {
      const wrongFix = `cat > src/average.js <<'JS'
export const average = (xs) => (xs.length === 0 ? 0 : 1)
JS
${claimCommand({ claim: "PR_READY", summary: "guarded the empty list" })}`
      const { r, run, twin } = yield* setup([{
        name: "reviser",
        match: { contains: "revise average" },
        turns: [
          { tool: "Bash", command: wrongFix, description: "a wrong fix" },
          { text: "Done (wrongly)." },
          // the revision turn, reached through --resume with the verifier's feedback
          { tool: "Bash", command: fixerScript, description: "the right fix" },
          { text: "Fixed properly this time." }
        ]
      }])
      const id = (yield* Effect.promise(() => sy(r.dir, "issue", "create", "--title", "revise average", "--repro", averageRepro))).stdout.trim()
      const result = yield* run("run", "--once")
      expect(result.code, result.stderr).toBe(0)
      const evidence = yield* Effect.promise(() => syJson(r.dir, "evidence", id))
      expect(evidence.attempt).toBe(1)
      expect(evidence.outcome).toBe("PR_READY")
      expect(evidence.revisions).toHaveLength(1)
      expect(evidence.revisions[0].turn).toBe(1)
      expect(evidence.agent.summary).toBe("Fixed properly this time.")

      // both turns are in one transcript, the second resumed the first one's session
      const starts = transcriptLines(r, id, 1).filter((l) => l.type === "run.started")
      expect(starts.map((l) => l.turn)).toEqual([0, 1])
      expect(starts[1]!.resume).toBe(evidence.agent.sessionId)

      // the continuation carried the verifier's failure summary as the last user message
      const main = (yield* twin.requests).filter((q) => q.kind === "main")
      expect(main.map((q) => q.slot)).toEqual([0, 1, 2, 3])
      const resumed = (main[2]!.body as { messages: ReadonlyArray<{ role: string }> }).messages
      expect(JSON.stringify(resumed.at(-1))).toContain(JSON.stringify(evidence.revisions[0].feedback).slice(1, 40))
    }))
})

describe("codex station: the real codex binary against the twin's Responses API", () => {
  live("routed by label, a correct fix reaches PR_READY with Codex's usage in the evidence", () =>
    Effect.gen(function*() {
      const { r, run, twin } = yield* setup([{
        name: "codex fixer",
        match: { contains: "average([]) is NaN (codex)" },
        turns: [
          { tool: "Bash", command: fixerScript, description: "fix average and add a test" },
          { text: "Guarded the empty list, from Codex." }
        ]
      }])
      // agent: stays claude-code (the default); the `codex` label routes to a codex station
      const wf = readFileSync(join(r.dir, "WORKFLOW.md"), "utf8")
      writeFileSync(
        join(r.dir, "WORKFLOW.md"),
        wf.replace(
          "verify:\n",
          `agents:\n  codex:\n    kind: codex\n    command: ${JSON.stringify(codexBin)}\n    base_url: ${JSON.stringify(`${twin.url}/v1`)}\n    env: [OPENAI_API_KEY]\n    extra_args: []\nroutes:\n  - label: codex\n    agent: codex\nverify:\n`
        )
      )
      const id = (yield* Effect.promise(() =>
        sy(r.dir, "issue", "create", "--title", "average([]) is NaN (codex)", "--label", "codex", "--repro", averageRepro)
      )).stdout.trim()
      const result = yield* run("run", "--once")
      expect(result.code, result.stderr).toBe(0)
      const evidence = yield* Effect.promise(() => syJson(r.dir, "evidence", id))
      expect(evidence.outcome).toBe("PR_READY")
      expect(evidence.agent).toMatchObject({
        kind: "codex",
        exitCode: 0,
        claim: "PR_READY",
        summary: "Guarded the empty list, from Codex.",
        route: "label codex → codex (codex)",
        numTurns: 1,
        costUsd: null,
        usage: { inputTokens: 200, outputTokens: 100, cacheReadInputTokens: 0, cacheCreationInputTokens: 0 }
      })
      expect(evidence.agent.sessionId).toMatch(/^[0-9a-f-]{36}$/)
      expect(evidence.diff.files).toEqual(["src/average.js", "test/average.test.js"])
      const tags = transcriptLines(r, id, 1).filter((l) => l.type === "event").map((l) => l.event._tag)
      expect(tags).toEqual(["Init", "TurnStarted", "ToolUse", "ToolResult", "AssistantText", "TurnCompleted"])
      expect((yield* twin.requests).filter((q) => q.kind === "main").map((q) => q.api)).toEqual(["responses", "responses"])
    }))
})
