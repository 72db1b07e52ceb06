import type { Confinement } from "@switchyard/core"
import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { type AgentRunInput, staticRedactor } from "@switchyard/core"
import { Issue, IssueId, TaskPacket } from "@switchyard/domain"
import { DateTime, Effect, Ref, Schema, type Scope } from "effect"
import * as NodePath from "node:path"
import { CommandAgent, Unconfined } from "../src/index.js"
import { stationWith } from "./agentSupport.js"
import { config } from "./helpers.js"

const id = Schema.decodeSync(IssueId)("SY-7")
const now = DateTime.unsafeMake(0)

const issue = Issue.make({
  id,
  title: "Fix the answer",
  body: "The answer should be 42.",
  status: "todo",
  priority: "medium",
  labels: ["bug"],
  parent: null,
  blocked_by: [],
  reproduction: "grep -q answer=42 src/app.txt",
  validation: [],
  scope: [],
  non_goals: [],
  comments: [],
  created_at: now,
  updated_at: now
})

const packet = TaskPacket.make({
  issue_id: id,
  title: issue.title,
  intent: issue.body,
  source: { tracker: "sqlite", issue_id: id, labels: ["bug"] },
  attempt: 2,
  scope: [],
  non_goals: [],
  reproduction: issue.reproduction,
  validation: ["true"],
  no_op_rules: [],
  evidence_required: [],
  output_contract: { result_file: "$SWITCHYARD_RESULT_FILE", format: "json" }
})

/**
 * Runs the station once with `agent.command = <command>` (null: unset), in a fresh sandbox dir and run dir.
 * `script` (if given) is written to `<tmp>/agent.sh`; use `sh $AGENT` in the command to run it.
 */
const runAgent = (
  command: string | null,
  options: { readonly script?: string; readonly timeoutMs?: number; readonly before?: (runDir: string) => Effect.Effect<void, unknown, NodeContext.NodeContext> } = {}
) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const tmp = yield* fs.makeTempDirectoryScoped({ prefix: "switchyard-agent-" })
    const sandboxPath = NodePath.join(tmp, "sandbox")
    const runDir = NodePath.join(tmp, "runs", "SY-7", "2")
    yield* fs.makeDirectory(sandboxPath, { recursive: true })
    const scriptPath = NodePath.join(tmp, "agent.sh")
    if (options.script !== undefined) yield* fs.writeFileString(scriptPath, options.script)
    const ioDir = NodePath.join(tmp, "io")
    if (options.before !== undefined) yield* options.before(ioDir)
    const spawned = yield* Ref.make<ReadonlyArray<number>>([])
    const station = yield* CommandAgent.make().pipe(Effect.provide(staticRedactor([])))
    const input: AgentRunInput = {
      issue,
      packet,
      prompt: "# Task\nMake the answer 42.\n",
      attempt: 2,
      sandboxPath,
      runDir,
      ioDir,
      home: NodePath.join(tmp, "home"),
      agent: config({
        agent: { command: command?.replace("$AGENT", scriptPath) ?? null, timeout_ms: options.timeoutMs ?? 10_000 }
      }).agent,
      route: null,
      onSpawn: (pid) => Ref.update(spawned, (pids) => [...pids, pid]),
      onOutput: Effect.void,
      continuation: null
    }
    const report = yield* station.run(input)
    return { report, sandboxPath, runDir, ioDir, tmp, spawned: yield* Ref.get(spawned), kind: station.kind }
  })

const test = (name: string, body: () => Effect.Effect<void, unknown, Scope.Scope | NodeContext.NodeContext | Confinement>) =>
  it.live(name, () => body().pipe(Effect.scoped, Effect.provide(Unconfined.layer), Effect.provide(NodeContext.layer)), 30_000)

describe("CommandAgent", () => {
  test("reads a good claim and keeps the transcript", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const { kind, report, runDir, spawned } = yield* runAgent("sh $AGENT", {
        script: [
          "echo working on it",
          "echo 'a warning' >&2",
          "cat > \"$SWITCHYARD_RESULT_FILE\" <<'JSON'",
          "{\"claim\":\"PR_READY\",\"summary\":\"set the answer\",\"plan\":\"edit app.txt\",\"residual_risk\":\"only the happy path\"}",
          "JSON"
        ].join("\n")
      })
      assert.strictEqual(kind, "command")
      assert.strictEqual(report.kind, "command")
      assert.include(report.command, "agent.sh")
      assert.strictEqual(report.exitCode, 0)
      assert.isFalse(report.crashed)
      assert.isFalse(report.timedOut)
      assert.strictEqual(report.claim, "PR_READY")
      assert.isNull(report.claimError)
      assert.strictEqual(report.summary, "set the answer")
      assert.strictEqual(report.plan, "edit app.txt")
      assert.isNull(report.question)
      assert.strictEqual(report.residualRisk, "only the happy path")
      assert.include(report.outputTail, "working on it")
      assert.strictEqual(spawned.length, 1)
      const transcript = yield* fs.readFileString(NodePath.join(runDir, "agent.log"))
      assert.include(transcript, "working on it\n")
      assert.include(transcript, "a warning\n")
    }))

  test("gives the agent its prompt on stdin and in a file, the task packet, and its environment", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const { ioDir, report, runDir, sandboxPath } = yield* runAgent("sh $AGENT", {
        script: [
          "cat > stdin.txt",
          "pwd > cwd.txt",
          "printf '%s\\n' \"$SWITCHYARD_PROMPT_FILE\" \"$SWITCHYARD_TASK_FILE\" \"$SWITCHYARD_RESULT_FILE\" \"$SWITCHYARD_ISSUE_ID\" \"$SWITCHYARD_ATTEMPT\" > env.txt"
        ].join("\n")
      })
      assert.strictEqual(report.exitCode, 0)
      const read = (name: string) => fs.readFileString(NodePath.join(sandboxPath, name))
      assert.strictEqual(yield* read("stdin.txt"), "# Task\nMake the answer 42.\n")
      assert.strictEqual((yield* read("cwd.txt")).trim(), sandboxPath)
      const [promptFile, taskFile, resultFile, issueId, attempt] = (yield* read("env.txt")).trim().split("\n")
      // The agent's files are in its io directory; the evidence keeps copies in the run directory.
      assert.strictEqual(promptFile, NodePath.join(ioDir, "prompt.md"))
      assert.strictEqual(taskFile, NodePath.join(ioDir, "task.json"))
      assert.strictEqual(resultFile, NodePath.join(ioDir, "result.json"))
      assert.strictEqual(yield* fs.readFileString(NodePath.join(runDir, "prompt.md")), "# Task\nMake the answer 42.\n")
      assert.strictEqual(yield* fs.readFileString(NodePath.join(runDir, "task.json")), yield* fs.readFileString(taskFile!))
      assert.strictEqual(issueId, "SY-7")
      assert.strictEqual(attempt, "2")
      assert.strictEqual(yield* fs.readFileString(promptFile!), "# Task\nMake the answer 42.\n")
      const task = yield* Schema.decodeUnknown(Schema.parseJson(TaskPacket))(yield* fs.readFileString(taskFile!))
      assert.deepStrictEqual(task, packet)
      // No claim was written.
      assert.isNull(report.claim)
      assert.strictEqual(report.claimError, "no result file (the agent made no claim)")
    }))

  test("a malformed result file is no claim, with the reason", () =>
    Effect.gen(function*() {
      const notJson = yield* runAgent("echo '{not json' > \"$SWITCHYARD_RESULT_FILE\"")
      assert.isNull(notJson.report.claim)
      assert.isNull(notJson.report.summary)
      assert.include(notJson.report.claimError!, "not a valid claim")
      assert.include(notJson.report.claimError!, "JSON")

      const wrongShape = yield* runAgent("echo '{\"claim\":\"DONE\",\"summary\":\"x\"}' > \"$SWITCHYARD_RESULT_FILE\"")
      assert.isNull(wrongShape.report.claim)
      assert.include(wrongShape.report.claimError!, "claim")
      assert.include(wrongShape.report.claimError!, "DONE")
    }))

  test("a stale result file from an earlier run does not count", () =>
    Effect.gen(function*() {
      const { report } = yield* runAgent("true", {
        before: (ioDir) =>
          Effect.gen(function*() {
            const fs = yield* FileSystem.FileSystem
            yield* fs.makeDirectory(ioDir, { recursive: true })
            yield* fs.writeFileString(NodePath.join(ioDir, "result.json"), "{\"claim\":\"NO_OP\",\"summary\":\"old\"}")
          })
      })
      assert.isNull(report.claim)
      assert.strictEqual(report.claimError, "no result file (the agent made no claim)")
    }))

  test("a result file that is a symlink is not followed: the runner's own files never reach the evidence", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      // The agent points its result file at a file only the runner should read (e.g. its signing key).
      const { report, runDir, tmp } = yield* runAgent("ln -sf ../runner-secret.json \"$SWITCHYARD_RESULT_FILE\"", {
        before: (ioDir) =>
          Effect.gen(function*() {
            const fs = yield* FileSystem.FileSystem
            yield* fs.writeFileString(NodePath.join(NodePath.dirname(ioDir), "runner-secret.json"), "{\"claim\":\"PR_READY\",\"summary\":\"runner-only-secret\"}")
          })
      }).pipe(Effect.provideService(FileSystem.FileSystem, fs))
      assert.isNull(report.claim)
      assert.include(report.claimError!, "symbolic link")
      assert.isFalse(yield* fs.exists(NodePath.join(runDir, "result.json")))
      assert.isTrue(yield* fs.exists(NodePath.join(tmp, "runner-secret.json")))
    }))

  test("a non-zero exit is reported, not a crash, and a claim still counts", () =>
    Effect.gen(function*() {
      const { report } = yield* runAgent(
        "echo '{\"claim\":\"ESCALATE\",\"summary\":\"stuck\",\"question\":\"which API?\"}' > \"$SWITCHYARD_RESULT_FILE\"; echo failing; exit 4"
      )
      assert.strictEqual(report.exitCode, 4)
      assert.isFalse(report.crashed)
      assert.strictEqual(report.claim, "ESCALATE")
      assert.strictEqual(report.question, "which API?")
      assert.include(report.outputTail, "failing")
    }))

  test("a missing agent binary and a signal are crashes; a timeout is not", () =>
    Effect.gen(function*() {
      const missing = yield* runAgent("no-such-agent-binary-xyz --go")
      assert.strictEqual(missing.report.exitCode, 127)
      assert.isTrue(missing.report.crashed)

      const killed = yield* runAgent("kill -9 $$")
      assert.strictEqual(killed.report.signal, "SIGKILL")
      assert.isFalse(killed.report.timedOut)
      assert.isTrue(killed.report.crashed)

      const slow = yield* runAgent("sleep 30", { timeoutMs: 300 })
      assert.isTrue(slow.report.timedOut)
      assert.isFalse(slow.report.crashed)
      assert.isNull(slow.report.exitCode)
    }))

  test("agent.command unset is reported as a crash with the reason", () =>
    Effect.gen(function*() {
      const { report, spawned } = yield* runAgent(null)
      assert.isTrue(report.crashed)
      assert.strictEqual(report.outputTail, "agent.command is not set in WORKFLOW.md")
      assert.isNull(report.claim)
      assert.deepStrictEqual(spawned, [])
    }))
})

describe("CommandAgent: environment, redaction, revisions", () => {
  const SECRET = "very-secret-runner-token-42"

  test("the agent gets the allow-list, not the runner's secrets; output is redacted in agent.log and the transcript", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const tmp = yield* fs.makeTempDirectoryScoped({ prefix: "switchyard-agent-env-" })
      const sandboxPath = NodePath.join(tmp, "sandbox")
      const runDir = NodePath.join(tmp, "run")
      yield* fs.makeDirectory(sandboxPath)
      const runner = yield* stationWith(
        CommandAgent.make,
        { PATH: process.env.PATH ?? "/usr/bin:/bin", SERVICE_TOKEN: SECRET, PASSED_NAME: "passed-value" }
      )
      const report = yield* runner.run(
        {
          agent: config({
            agent: {
              command: `env > env.txt; echo "leak: ${SECRET}"; echo "err: ${SECRET}" >&2; echo '{"claim":"NO_OP","summary":"saw ${SECRET}"}' > "$SWITCHYARD_RESULT_FILE"`,
              env: ["PASSED_NAME"],
              timeout_ms: 10_000
            }
          }).agent,
          route: null,
          issue,
          packet,
          prompt: "p",
          attempt: 1,
          sandboxPath,
          runDir,
          ioDir: NodePath.join(tmp, "io"),
          home: NodePath.join(tmp, "home"),
          onSpawn: () => Effect.void,
          onOutput: Effect.void,
          continuation: null
        }
      )
      const env = yield* fs.readFileString(NodePath.join(sandboxPath, "env.txt"))
      assert.include(env, "PASSED_NAME=passed-value")
      assert.include(env, "SWITCHYARD_ISSUE_ID=SY-7")
      assert.notInclude(env, "SERVICE_TOKEN")
      // the command line itself holds the secret: redacted in the report, the log and the transcript
      assert.notInclude(report.command, SECRET)
      assert.include(report.outputTail, "leak: [REDACTED]")
      assert.strictEqual(report.summary, "saw [REDACTED]")
      const log = yield* fs.readFileString(NodePath.join(runDir, "agent.log"))
      assert.include(log, "leak: [REDACTED]\n")
      assert.include(log, "err: [REDACTED]\n")
      const transcript = yield* fs.readFileString(NodePath.join(runDir, "transcript.jsonl"))
      assert.notInclude(transcript + log, SECRET)
      assert.strictEqual(report.transcript, NodePath.join(runDir, "transcript.jsonl"))
      const lines = transcript.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>)
      assert.deepInclude(lines.map((l) => [l.type, l.text]), ["stderr", "err: [REDACTED]"])
    }))

  test("a hostile agent's secret value (raw and JSON-quoted) and token-format strings are masked everywhere it writes", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const tmp = yield* fs.makeTempDirectoryScoped({ prefix: "switchyard-agent-hostile-" })
      const sandboxPath = NodePath.join(tmp, "sandbox")
      const runDir = NodePath.join(tmp, "run")
      yield* fs.makeDirectory(sandboxPath)
      // Token formats built by the agent's shell at run time: this file holds no key-like literal.
      const github = "ghp_$(printf 'a1B2c3D4e5%.0s' 1 2 3)abcdef"
      const anthropic = "sk-ant-api03-$(printf 'Zx9Yw8Vu7T%.0s' 1 2 3)"
      const quoted = 'q"uoted-secret-value-88'
      yield* fs.writeFileString(NodePath.join(sandboxPath, "hostile.sh"), [
        `G="${github}"; A="${anthropic}"`,
        "echo \"env: $DEPLOY_TOKEN and $DB_PASSWORD\"",
        "echo \"tokens: $G $A\" >&2",
        "printf '%s' \"$G $A\" > tokens.txt",
        "printf '{\"claim\":\"NO_OP\",\"summary\":\"%s %s\",\"plan\":\"%s\"}' \"$DEPLOY_TOKEN\" \"$G\" \"$A\" > \"$SWITCHYARD_RESULT_FILE\""
      ].join("\n"))
      const runner = yield* stationWith(CommandAgent.make, { PATH: process.env.PATH ?? "/usr/bin:/bin", DEPLOY_TOKEN: SECRET, DB_PASSWORD: quoted })
      const report = yield* runner.run({
        agent: config({ agent: { command: "sh ./hostile.sh", env: ["DEPLOY_TOKEN", "DB_PASSWORD"], timeout_ms: 10_000 } }).agent,
        route: null,
        issue,
        packet,
        prompt: "p",
        attempt: 1,
        sandboxPath,
        runDir,
        ioDir: NodePath.join(tmp, "io"),
        home: NodePath.join(tmp, "home"),
        onSpawn: () => Effect.void,
        onOutput: Effect.void,
        continuation: null
      })
      const [github40, anthropicKey] = (yield* fs.readFileString(NodePath.join(sandboxPath, "tokens.txt"))).split(" ")
      assert.strictEqual(github40!.length, 40)
      const log = yield* fs.readFileString(NodePath.join(runDir, "agent.log"))
      const transcript = yield* fs.readFileString(NodePath.join(runDir, "transcript.jsonl"))
      for (const [where, text] of Object.entries({ log, transcript, report: JSON.stringify(report) })) {
        for (const leaked of [SECRET, quoted, JSON.stringify(quoted).slice(1, -1), github40!, anthropicKey!]) {
          assert.notInclude(text, leaked, `${where} holds ${leaked}`)
        }
      }
      assert.include(log, "env: [REDACTED] and [REDACTED]\n")
      assert.include(log, "tokens: ghp_… sk-a…\n")
      assert.include(transcript, "tokens: ghp_… sk-a…")
      assert.strictEqual(report.summary, "[REDACTED] ghp_…")
      assert.strictEqual(report.plan, "sk-a…")
      assert.include(report.outputTail, "env: [REDACTED] and [REDACTED]")
    }))

  test("a revision re-runs with prompt + feedback on stdin, SWITCHYARD_FEEDBACK and SWITCHYARD_REVISION", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const tmp = yield* fs.makeTempDirectoryScoped({ prefix: "switchyard-agent-rev-" })
      const sandboxPath = NodePath.join(tmp, "sandbox")
      const runDir = NodePath.join(tmp, "run")
      yield* fs.makeDirectory(sandboxPath)
      const runner = yield* stationWith(CommandAgent.make, { PATH: process.env.PATH ?? "/usr/bin:/bin" })
      const agent = config({
        agent: {
          command: "cat > \"stdin-$SWITCHYARD_REVISION.txt\"; printf '%s' \"$SWITCHYARD_FEEDBACK\" > feedback.txt; " +
            "test -n \"$SWITCHYARD_REVISION\" || echo '{\"claim\":\"PR_READY\",\"summary\":\"first\"}' > \"$SWITCHYARD_RESULT_FILE\""
        }
      }).agent
      const base = {
        issue,
        packet,
        prompt: "the prompt",
        attempt: 1,
        sandboxPath,
        runDir,
        ioDir: NodePath.join(tmp, "io"),
        home: NodePath.join(tmp, "home"),
        agent,
        route: null,
        onSpawn: () => Effect.void,
        onOutput: Effect.void
      }
      yield* runner.run({ ...base, continuation: null })
      const revised = yield* runner.run({
        ...base,
        continuation: { sessionId: null, feedback: "Validation failed: `node --test` exited 1.", turn: 1 }
      })
      const read = (name: string) => fs.readFileString(NodePath.join(sandboxPath, name))
      assert.strictEqual(yield* read("stdin-.txt"), "the prompt")
      assert.strictEqual(yield* read("stdin-1.txt"), "the prompt\n\nValidation failed: `node --test` exited 1.")
      assert.strictEqual(yield* read("feedback.txt"), "Validation failed: `node --test` exited 1.")
      assert.strictEqual(yield* fs.readFileString(NodePath.join(runDir, "prompt.md")), "the prompt\n\nValidation failed: `node --test` exited 1.")
      // the first turn's claim stands: a revision keeps the result file
      assert.strictEqual(revised.claim, "PR_READY")
      const turns = (yield* fs.readFileString(NodePath.join(runDir, "transcript.jsonl"))).trim().split("\n")
        .map((l) => JSON.parse(l) as { type: string; turn: number })
        .filter((l) => l.type === "run.started")
        .map((l) => l.turn)
      assert.deepStrictEqual(turns, [0, 1])
    }))
})

describe("CommandAgent: a flooding agent (threat model A17)", () => {
  const SECRET = "flood-secret-runner-token-99"
  const MAX = 256 * 1024
  const LINES = 500_000

  /** Runs `command` with `agent.max_log_bytes: MAX`; the runner has SERVICE_TOKEN = SECRET. */
  const flood = (command: string, timeoutMs = 20_000) =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const tmp = yield* fs.makeTempDirectoryScoped({ prefix: "switchyard-agent-flood-" })
      const sandboxPath = NodePath.join(tmp, "sandbox")
      const runDir = NodePath.join(tmp, "run")
      yield* fs.makeDirectory(sandboxPath)
      const runner = yield* stationWith(CommandAgent.make, { PATH: process.env.PATH ?? "/usr/bin:/bin", SERVICE_TOKEN: SECRET })
      const report = yield* runner.run({
        agent: config({ agent: { command, max_log_bytes: MAX, timeout_ms: timeoutMs } }).agent,
        route: null,
        issue,
        packet,
        prompt: "p",
        attempt: 1,
        sandboxPath,
        runDir,
        ioDir: NodePath.join(tmp, "io"),
        home: NodePath.join(tmp, "home"),
        onSpawn: () => Effect.void,
        onOutput: Effect.void,
        continuation: null
      })
      const log = yield* fs.readFileString(NodePath.join(runDir, "agent.log"))
      const transcript = yield* fs.readFileString(NodePath.join(runDir, "transcript.jsonl"))
      return { report, log, transcript }
    })

  /** The numbers of consecutive `seq` lines in `lines`, checking they are consecutive. */
  const run = (lines: ReadonlyArray<string>): { readonly first: number; readonly last: number } => {
    const numbers = lines.map(Number)
    numbers.forEach((n, i) => assert.strictEqual(n, numbers[0]! + i, `line ${i} of a run is ${lines[i]}`))
    return { first: numbers[0]!, last: numbers[numbers.length - 1]! }
  }
  /** Output bytes of the seq lines from..to, newlines included. */
  const seqBytes = (from: number, to: number) => {
    let bytes = 0
    for (let n = from; n <= to; n++) bytes += String(n).length + 1
    return bytes
  }

  test("keeps the head, one cut marker and the tail of each file, within agent.max_log_bytes; the claim and the last lines count", () =>
    Effect.gen(function*() {
      const { log, report, transcript } = yield* flood(
        `echo "head ${SECRET}"; seq 1 ${LINES}; echo "tail ${SECRET}"; echo '{"claim":"NO_OP","summary":"flooded"}' > "$SWITCHYARD_RESULT_FILE"`
      )
      assert.strictEqual(report.exitCode, 0)
      assert.strictEqual(report.claim, "NO_OP")
      assert.isTrue(report.outputTail.endsWith(`${LINES}\ntail [REDACTED]\n`))
      assert.notInclude(log + transcript + report.outputTail, SECRET)

      // agent.log: the head as written, one marker, the tail; nothing lost in between but what the marker counts.
      const logLines = log.split("\n").slice(0, -1)
      const markers = logLines.flatMap((line, i) => line.startsWith("[switchyard: ") ? [i] : [])
      assert.strictEqual(markers.length, 1)
      const at = markers[0]!
      assert.strictEqual(logLines[0], "head [REDACTED]")
      assert.strictEqual(logLines[logLines.length - 1], "tail [REDACTED]")
      const head = run(logLines.slice(1, at))
      const tail = run(logLines.slice(at + 1, -1))
      assert.strictEqual(head.first, 1)
      assert.strictEqual(tail.last, LINES)
      const cutLines = tail.first - head.last - 1
      assert.strictEqual(
        logLines[at],
        `[switchyard: ${cutLines} lines (${seqBytes(head.last + 1, tail.first - 1)} bytes) of output cut here; agent.max_log_bytes keeps the first ${MAX / 2} and the last ${MAX / 2} bytes of each run]`
      )
      assert.isAtMost(Buffer.byteLength(log) - Buffer.byteLength(logLines[at]!) - 1, MAX)
      assert.isAbove(Buffer.byteLength(log), MAX * 0.5)

      // transcript.jsonl: every line is JSON; the cut marker is one; run.started first and run.ended last.
      const entries = transcript.trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>)
      assert.strictEqual(entries[0]!.type, "run.started")
      assert.deepInclude(entries[entries.length - 1], { type: "run.ended", exitCode: 0, timedOut: false })
      const cuts = entries.filter((e) => e.type === "cut")
      assert.strictEqual(cuts.length, 1)
      const texts = entries.filter((e) => e.type === "stdout").map((e) => String(e.text))
      assert.strictEqual(texts[0], "head [REDACTED]")
      assert.strictEqual(texts[texts.length - 1], "tail [REDACTED]")
      const cutAt = entries.indexOf(cuts[0]!)
      const before = entries.slice(1, cutAt).map((e) => String(e.text))
      const after = entries.slice(cutAt + 1, -1).map((e) => String(e.text))
      const tHead = run(before.slice(1))
      const tTail = run(after.slice(0, -1))
      assert.strictEqual(tHead.first, 1)
      assert.strictEqual(tTail.last, LINES)
      assert.strictEqual(cuts[0]!.lines, tTail.first - tHead.last - 1)
      assert.strictEqual(cuts[0]!.bytes, seqBytes(tHead.last + 1, tTail.first - 1))
      const ended = Buffer.byteLength(JSON.stringify(entries[entries.length - 1]) + "\n")
      const started = Buffer.byteLength(JSON.stringify(entries[0]) + "\n")
      const marker = Buffer.byteLength(JSON.stringify(cuts[0]) + "\n")
      assert.isAtMost(Buffer.byteLength(transcript) - started - ended - marker, MAX)
    }))

  test("an agent that floods, then hangs until its timeout still leaves its tail and run.ended", () =>
    Effect.gen(function*() {
      const { log, report, transcript } = yield* flood(`seq 1 ${LINES / 5}; sleep 30`, 3_000)
      assert.isTrue(report.timedOut)
      assert.isTrue(report.outputTail.endsWith(`\n${LINES / 5}\n`))
      assert.isTrue(log.endsWith(`\n${LINES / 5}\n`))
      assert.strictEqual(log.split("\n").filter((line) => line.startsWith("[switchyard: ")).length, 1)
      const entries = transcript.trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>)
      assert.deepInclude(entries[entries.length - 1], { type: "run.ended", timedOut: true })
      assert.deepInclude(entries[entries.length - 2], { type: "stdout", text: String(LINES / 5) })
      assert.strictEqual(entries.filter((e) => e.type === "cut").length, 1)
      assert.isAtMost(Buffer.byteLength(transcript), MAX + 1024)
    }))
})
