/**
 * Benchmark 5: an agent that floods its stdout (threat model A17). An agent prints N MB of L-byte lines and
 * exits, read two ways:
 * - the command station (`CommandAgent`) in process: it reads everything, keeps what `agent.max_log_bytes` lets
 *   it keep in `agent.log` and `transcript.jsonl`, and reports;
 * - `switchyard run --once` (the built CLI) with the same agent: the `agent` stage of the attempt's bundle
 *   (`timings.stagesMs.agent`), the whole line's cost per output line included (lease and stall bookkeeping).
 *
 * Raw = the same bytes read by a bare Node `child_process.spawn` of the same command (a `data` listener that
 * only counts bytes): what reading the pipe costs at all. The producer alone (`… > /dev/null` in `sh`) is timed
 * too, so a slow `yes | head` is not blamed on the reader. Also reported: the bytes left in the run dir.
 */
import { NodeContext } from "@effect/platform-node"
import { AgentConfig, Issue, IssueId, TaskPacket } from "@switchyard/domain"
import { CommandAgent, EnvRedactor, Unconfined } from "@switchyard/node"
import { DateTime, Effect, Logger, LogLevel, Schema } from "effect"
import { spawn } from "node:child_process"
import { mkdirSync, readdirSync, statSync } from "node:fs"
import { join } from "node:path"
import { makeRepo, median, ms, mustRun, mustSwitchyard, now, ratio, settings, table, tempDir } from "./lib.js"

export interface FloodRow {
  readonly lineBytes: number
  readonly bytes: number
  readonly producerMs: number
  readonly rawMs: number
  readonly stationMs: number
  /** `timings.stagesMs.agent` of `switchyard run --once` with the same agent (median). */
  readonly lineMs: number
  /** Bytes in the run dir after the station run (agent.log + transcript.jsonl + prompt/task files). */
  readonly onDisk: Readonly<Record<string, number>>
  /** Bytes of `agent.log` + `transcript.jsonl` that `switchyard run` left. */
  readonly lineOnDisk: number
  readonly outputTailBytes: number
}

/** `yes <line> | head -c <bytes>`: `bytes` bytes of `lineBytes`-byte lines (the last may be cut). */
const floodCommand = (bytes: number, lineBytes: number) => `yes ${"x".repeat(Math.max(0, lineBytes - 1))} | head -c ${bytes}`

/** Spawns `sh -c command` with Node and counts the stdout bytes: the raw read. */
const rawRead = (command: string): Promise<{ readonly ms: number; readonly bytes: number }> =>
  new Promise((resolve, reject) => {
    const t0 = now()
    let bytes = 0
    const child = spawn("sh", ["-c", command], { stdio: ["ignore", "pipe", "inherit"] })
    child.stdout.on("data", (chunk: Buffer) => (bytes += chunk.length))
    child.on("error", reject)
    child.on("close", () => resolve({ ms: now() - t0, bytes }))
  })

const id = Schema.decodeSync(IssueId)("SY-1")
const at = DateTime.unsafeMake(0)
const issue = Issue.make({
  id,
  title: "flood",
  body: "",
  status: "todo",
  priority: "medium",
  labels: [],
  parent: null,
  blocked_by: [],
  reproduction: null,
  validation: [],
  scope: [],
  non_goals: [],
  comments: [],
  created_at: at,
  updated_at: at
})
const packet = TaskPacket.make({
  issue_id: id,
  title: "flood",
  intent: "",
  source: { tracker: "switchyard", issue_id: id, labels: [] },
  attempt: 1,
  scope: [],
  non_goals: [],
  reproduction: null,
  validation: [],
  no_op_rules: [],
  evidence_required: [],
  output_contract: { result_file: "", format: "" }
})

/** One station run of `command` in a fresh run dir; returns wall ms, the run dir's file sizes and the tail size. */
const stationRun = (command: string, dir: string) =>
  Effect.gen(function*() {
    const runnerEnv = { PATH: process.env.PATH, SECRET_TOKEN: "s3cr3t-token-value" }
    const runner = yield* CommandAgent.make({ runnerEnv }).pipe(Effect.provide(EnvRedactor.layer({ runnerEnv })))
    const sandboxPath = join(dir, "sandbox")
    const runDir = join(dir, "run")
    mkdirSync(sandboxPath, { recursive: true })
    const t0 = now()
    const report = yield* runner.run({
      agent: AgentConfig.make({ command, timeout_ms: 600_000 }),
      route: null,
      issue,
      packet,
      prompt: "flood",
      attempt: 1,
      sandboxPath,
      runDir,
      ioDir: join(dir, "io"),
      home: join(dir, "home"),
      onSpawn: () => Effect.void,
      onOutput: Effect.void,
      continuation: null
    })
    const wall = now() - t0
    if (report.exitCode !== 0) throw new Error(`flood bench: the agent exited ${report.exitCode}: ${report.outputTail}`)
    const onDisk = Object.fromEntries(readdirSync(runDir).map((name) => [name, statSync(join(runDir, name)).size]))
    return { wall, onDisk, outputTailBytes: Buffer.byteLength(report.outputTail) }
  }).pipe(Effect.provide(NodeContext.layer), Effect.provide(Logger.minimumLogLevel(LogLevel.Warning)))

/** One `switchyard run --once` of a fresh issue with the flooding agent: the agent stage (ms) and its files' bytes. */
const lineRun = async (command: string) => {
  const repo = makeRepo("flood-line")
  repo.writeWorkflow(`agent:
  command: ${JSON.stringify(`${command}; echo '{"claim":"NO_OP","summary":"flooded"}' > "$SWITCHYARD_RESULT_FILE"`)}
  max_concurrent_agents: 1
  timeout_ms: 600000`)
  await mustSwitchyard(repo.root, "issue", "create", "--title", "flood")
  await mustSwitchyard(repo.root, "run", "--once", "--concurrency", "1")
  const bundle = JSON.parse((await mustSwitchyard(repo.root, "evidence", "SY-1", "--json")).stdout) as {
    outcome: string
    agent: { exitCode: number | null }
    timings: { stagesMs: Record<string, number> }
  }
  if (bundle.outcome !== "NO_OP" || bundle.agent.exitCode !== 0) {
    throw new Error(`flood bench: switchyard run ended ${bundle.outcome}, agent exit ${bundle.agent.exitCode}`)
  }
  const runDir = join(repo.stateDir, "runs", "SY-1", "1")
  const files = ["agent.log", "transcript.jsonl"].map((name) => statSync(join(runDir, name)).size)
  return { ms: bundle.timings.stagesMs.agent!, bytes: files.reduce((a, b) => a + b, 0) }
}

export const benchFlood = async (): Promise<ReadonlyArray<FloodRow>> => {
  const rows: Array<FloodRow> = []
  for (const lineBytes of settings.floodLineBytes) {
    const bytes = settings.floodMb * 1024 * 1024
    const command = floodCommand(bytes, lineBytes)
    const producer: Array<number> = []
    const raw: Array<number> = []
    const station: Array<number> = []
    const line: Array<number> = []
    let last: { onDisk: Record<string, number>; outputTailBytes: number } | null = null
    let lineOnDisk = 0
    for (let i = 0; i <= settings.floodRuns; i++) {
      const p0 = now()
      await mustRun("sh", ["-c", `${command} > /dev/null`], tempDir("flood-producer"))
      const p = now() - p0
      const r = await rawRead(command)
      if (r.bytes !== bytes) throw new Error(`flood bench: the raw read saw ${r.bytes} bytes, expected ${bytes}`)
      // The station in process, unconfined: what reading costs (confinement only adds a start-up, bench 6).
      const s = await Effect.runPromise(stationRun(command, tempDir("flood")).pipe(Effect.provide(Unconfined.layer)))
      const l = await lineRun(command)
      last = s
      lineOnDisk = l.bytes
      if (i === 0) continue // warm-up
      producer.push(p)
      raw.push(r.ms)
      station.push(s.wall)
      line.push(l.ms)
    }
    console.error(`  flood: ${settings.floodMb} MB of ${lineBytes}-byte lines done`)
    rows.push({
      lineBytes,
      bytes,
      producerMs: median(producer),
      rawMs: median(raw),
      stationMs: median(station),
      lineMs: median(line),
      onDisk: last!.onDisk,
      lineOnDisk,
      outputTailBytes: last!.outputTailBytes
    })
  }
  return rows
}

const mbps = (bytes: number, wallMs: number) => (bytes / 1024 / 1024 / (wallMs / 1000)).toFixed(1)
const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(2)

export const floodTable = (rows: ReadonlyArray<FloodRow>): string =>
  table(
    [
      "flood",
      "producer only ms",
      "raw Node read ms (MB/s)",
      "command station ms (MB/s)",
      "× raw",
      "switchyard run, agent stage ms (MB/s)",
      "× raw",
      "agent.log + transcript.jsonl MiB"
    ],
    rows.map((r) => [
      `${mib(r.bytes)} MiB, ${r.lineBytes}-byte lines`,
      ms(r.producerMs),
      `${ms(r.rawMs)} (${mbps(r.bytes, r.rawMs)})`,
      `${ms(r.stationMs)} (${mbps(r.bytes, r.stationMs)})`,
      ratio(r.stationMs, r.rawMs),
      `${ms(r.lineMs)} (${mbps(r.bytes, r.lineMs)})`,
      ratio(r.lineMs, r.rawMs),
      `${mib((r.onDisk["agent.log"] ?? 0) + (r.onDisk["transcript.jsonl"] ?? 0))} (run: ${mib(r.lineOnDisk)})`
    ])
  )
