/**
 * Support for the agent station tests: an issue and task packet, a run input in a fresh sandbox and run
 * directory, and a fake agent CLI (fixtures/fake-cli.mjs) that records how it was started and replays a script.
 */
import { FileSystem } from "@effect/platform"
import type { AgentRunInput, AgentStationShape } from "@switchyard/core"
import { AgentConfig, Issue, IssueId, TaskPacket } from "@switchyard/domain"
import { DateTime, Effect, Ref, Schema } from "effect"
import { readFileSync } from "node:fs"
import * as NodePath from "node:path"
import { fileURLToPath } from "node:url"
import { EnvRedactor } from "../src/index.js"

const id = Schema.decodeSync(IssueId)("SY-7")
const now = DateTime.unsafeMake(0)

export const issueWith = (labels: ReadonlyArray<string>) =>
  Issue.make({
    id,
    title: "Fix the answer",
    body: "The answer should be 42.",
    status: "todo",
    priority: "medium",
    labels: [...labels],
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

export const packet = TaskPacket.make({
  issue_id: id,
  title: "Fix the answer",
  intent: "The answer should be 42.",
  source: { tracker: "sqlite", issue_id: id, labels: ["bug"] },
  attempt: 2,
  scope: [],
  non_goals: [],
  reproduction: "grep -q answer=42 src/app.txt",
  validation: ["true"],
  no_op_rules: [],
  evidence_required: [],
  output_contract: { result_file: "$SWITCHYARD_RESULT_FILE", format: "json" }
})

/** An agent config as the loader decodes it (defaults applied, but a 20 s `timeout_ms` unless given). */
export const agentConfig = (input: Record<string, unknown>): AgentConfig =>
  Schema.decodeUnknownSync(AgentConfig)({ timeout_ms: 20_000, ...input })

/**
 * A station built as the CLI builds one: `make` (a station module's) with `runnerEnv`, and the `Redactor` from the
 * same environment (EnvRedactor), so the runner's secret values are redacted from what it writes.
 */
export const stationWith = <R>(
  make: (options: { readonly runnerEnv: Readonly<Record<string, string | undefined>> }) => Effect.Effect<AgentStationShape, never, R>,
  runnerEnv: Readonly<Record<string, string | undefined>>
) => make({ runnerEnv }).pipe(Effect.provide(EnvRedactor.layer({ runnerEnv })))

/** A fresh temp dir with `sandbox/` and the run dir `runs/SY-7/2`, removed with the scope. */
export const workspace = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const tmp = yield* fs.makeTempDirectoryScoped({ prefix: "switchyard-station-" })
  const sandboxPath = NodePath.join(tmp, "sandbox")
  yield* fs.makeDirectory(sandboxPath, { recursive: true })
  return { tmp, sandboxPath, runDir: NodePath.join(tmp, "runs", "SY-7", "2") }
})

/**
 * A run input (agent: a default `command` config with a 20 s timeout); `spawned` collects the pids `onSpawn` saw,
 * `outputs` counts `onOutput` calls.
 */
export const runInput = (
  where: { readonly sandboxPath: string; readonly runDir: string; readonly ioDir?: string; readonly home?: string },
  overrides: Partial<AgentRunInput> = {}
) =>
  Effect.gen(function*() {
    const spawned = yield* Ref.make<ReadonlyArray<number>>([])
    const outputs = yield* Ref.make(0)
    const input: AgentRunInput = {
      issue: issueWith(["bug"]),
      packet,
      prompt: "# Task\nMake the answer 42.\n",
      attempt: 2,
      sandboxPath: where.sandboxPath,
      runDir: where.runDir,
      ioDir: where.ioDir ?? NodePath.join(NodePath.dirname(where.sandboxPath), "io"),
      home: where.home ?? NodePath.join(NodePath.dirname(where.sandboxPath), "home"),
      agent: agentConfig({ timeout_ms: 20_000 }),
      route: null,
      onSpawn: (pid) => Ref.update(spawned, (pids) => [...pids, pid]),
      onOutput: Ref.update(outputs, (n) => n + 1),
      continuation: null,
      ...overrides
    }
    return { input, spawned, outputs }
  })

/** One step of a fake CLI call (see fixtures/fake-cli.mjs). */
export type FakeStep =
  | { readonly stdout: string }
  | { readonly json: unknown }
  | { readonly file: string }
  | { readonly stderr: string }
  | { readonly sleepMs: number }
  | { readonly result: unknown }
  | { readonly bigLineBytes: number }

/** How the fake was started, one entry per call. */
export interface FakeCall {
  readonly args: ReadonlyArray<string>
  readonly env: Readonly<Record<string, string>>
  readonly stdin: string
  readonly cwd: string
}

export const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))
export const twinFixturePath = (name: string) =>
  fileURLToPath(new URL(`../../twin/test/fixtures/${name}`, import.meta.url))

/**
 * Writes a fake CLI under `dir`: an executable `fake-<name>` (the `agent.command`) that runs fixtures/fake-cli.mjs
 * with `calls` (the n-th call plays `calls[n]`). `calls()` reads how it was started so far.
 */
export const fakeCli = (dir: string, name: string, calls: ReadonlyArray<{ readonly steps: ReadonlyArray<FakeStep>; readonly exitCode?: number }>) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const spec = NodePath.join(dir, `${name}.spec.json`)
    const record = NodePath.join(dir, `${name}.calls.jsonl`)
    const bin = NodePath.join(dir, `fake-${name}`)
    yield* fs.writeFileString(spec, JSON.stringify({ record, calls }))
    yield* fs.writeFileString(bin, `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(fixture("fake-cli.mjs"))} ${JSON.stringify(spec)} "$@"\n`)
    yield* fs.chmod(bin, 0o755)
    return {
      bin,
      calls: (): ReadonlyArray<FakeCall> =>
        readFileSync(record, "utf8").split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as FakeCall)
    }
  })

/** The transcript lines of a run dir, parsed. */
export const transcriptOf = (runDir: string): ReadonlyArray<Record<string, any>> =>
  readFileSync(NodePath.join(runDir, "transcript.jsonl"), "utf8").split("\n").filter((l) => l !== "").map((l) => JSON.parse(l))

/** A runner environment for tests: the real PATH and HOME plus `extra`. */
export const testEnv = (extra: Record<string, string> = {}): Record<string, string> => ({
  PATH: process.env.PATH ?? "/usr/bin:/bin",
  HOME: process.env.HOME ?? "/tmp",
  ...extra
})
