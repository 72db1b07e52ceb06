/**
 * Benchmark 5: the cost of starting a confined process. Each round starts `sh -c true` and waits for it:
 * - raw: `child_process.spawn` of `sh -c true` (the raw operation);
 * - ProcessRunner: Switchyard's spawn helper, unconfined (process group, output capture, group reaping);
 * - confined: the same helper through `BwrapConfinement` (bubblewrap namespaces, the sandbox's bind mounts);
 * - confined + model egress: an agent CLI's start, with the in-sandbox bridge (a node process) and the
 *   unix-socket proxy outside, until the program has run.
 * Ratios are against the raw spawn timed in the same run. One confined start is paid per agent run, hook and
 * verification command, so the difference is per command, not per byte of work.
 */
import { NodeContext } from "@effect/platform-node"
import { BwrapConfinement, ProcessRunner } from "@switchyard/node"
import { Schema, Effect } from "effect"
import { WorkflowConfig } from "@switchyard/domain"
import { spawn } from "node:child_process"
import { mkdirSync } from "node:fs"
import { join } from "node:path"
import { makeRepo, median, ms, now, range, ratio, settings, table } from "./lib.js"

export interface ConfinementResult {
  readonly raw: ReadonlyArray<number>
  readonly runner: ReadonlyArray<number>
  readonly confined: ReadonlyArray<number>
  readonly egress: ReadonlyArray<number>
}

const rawSpawn = () =>
  new Promise<void>((resolve, reject) => {
    const child = spawn("sh", ["-c", "true"], { stdio: "ignore" })
    child.on("error", reject)
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`sh exited ${code}`))))
  })

/** Times `round` `settings.runs * 4` times after one warm-up (ms each). */
const time = async (round: () => Promise<void>): Promise<Array<number>> => {
  await round()
  const out: Array<number> = []
  for (let i = 0; i < settings.runs * 4; i++) {
    const t = now()
    await round()
    out.push(now() - t)
  }
  return out
}

export const benchConfinement = async (): Promise<ConfinementResult> => {
  const repo = makeRepo("confinement")
  const workspace = join(repo.root, "..", "ws")
  const box = join(workspace, "SY-1")
  const home = join(workspace, ".attempts", "SY-1", "home")
  mkdirSync(box, { recursive: true })
  mkdirSync(home, { recursive: true })
  const confinement = await Effect.runPromise(
    BwrapConfinement.make({ repoRoot: repo.root, workspaceRoot: workspace, sandbox: Schema.decodeUnknownSync(WorkflowConfig)({}).sandbox })
      .pipe(Effect.provide(NodeContext.layer))
  )
  const env = { PATH: process.env.PATH ?? "/usr/bin:/bin" }
  const spec = { cwd: box, writable: [box], home, network: "none" as const }
  const run = (options: ProcessRunner.ShellOptions) => async () => {
    const result = await Effect.runPromise(ProcessRunner.runShell(options).pipe(Effect.provide(NodeContext.layer)))
    if (result.exitCode !== 0) throw new Error(`${options.command} exited ${result.exitCode}: ${result.outputTail}`)
  }
  const raw = await time(rawSpawn)
  const runner = await time(run({ command: "true", cwd: box, timeoutMs: 10_000, env, inheritEnv: false }))
  const confined = await time(run({ command: "true", cwd: box, timeoutMs: 10_000, env, confine: { confinement, spec } }))
  const egress = await time(run({
    command: "true",
    cwd: box,
    timeoutMs: 10_000,
    env,
    confine: { confinement, spec: { ...spec, network: { modelEndpoint: "http://127.0.0.1:9/v1" } } }
  }))
  return { raw, runner, confined, egress }
}

export const confinementTable = (r: ConfinementResult): string => {
  const base = median(r.raw)
  const row = (label: string, xs: ReadonlyArray<number>) => [label, ms(median(xs)), range(xs), ratio(median(xs), base)]
  return table(["one `sh -c true`, started and waited for", "median ms", "range", "vs raw"], [
    row("raw: child_process.spawn", r.raw),
    row("ProcessRunner.runShell, unconfined", r.runner),
    row("confined by bubblewrap (network none)", r.confined),
    row("confined + model egress (bridge and proxy)", r.egress)
  ])
}
