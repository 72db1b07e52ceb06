/**
 * `pnpm bench`: builds the CLI, then runs the five benchmarks and prints one compact table each, every factory
 * number next to the raw operation measured in the same run (see bench/README.md and docs/benchmarks.md).
 * Progress goes to stderr, results to stdout (Markdown, ready to paste).
 */
import { type BaseOnceResult, baseOnceTable, benchBaseOnce } from "./baseOnce.js"
import { benchConfinement, type ConfinementResult, confinementTable } from "./confinement.js"
import { type DispatchResult, benchDispatch, dispatchTable } from "./dispatch.js"
import { benchFlood, type FloodRow, floodTable } from "./flood.js"
import { cleanupTemps, load, machine, ms, settings } from "./lib.js"
import { benchLine, type LineResult, lineTable } from "./line.js"
import { benchMonorepo, type MonorepoResult, monorepoTable } from "./monorepo.js"
import { benchPostgres, type PostgresResult, postgresTable } from "./postgres.js"
import type { SeedResult } from "./seed.js"
import { benchStatus, type StatusResult, statusTable } from "./status.js"
import { benchTelemetry, type TelemetryResult, telemetryTable } from "./telemetry.js"
import { benchTick, seededFile, type TickRow, tickTable } from "./tick.js"

const cache = new Map<number, Promise<SeedResult>>()
/** One seeded (and verified) database per size, shared by the tick and status benchmarks. */
const seeded = (n: number) => {
  const hit = cache.get(n)
  if (hit !== undefined) return hit
  const made = seededFile(n)
  cache.set(n, made)
  return made
}

const main = async () => {
  const started = performance.now()
  const out: Array<string> = [
    `# Switchyard benchmarks — ${new Date().toISOString().slice(0, 10)}`,
    "",
    `machine: ${machine()}; load average ${load()} at start`,
    `${settings.runs} timed runs per measurement after one warm-up (median); ratios are against the raw operation timed in the same run`,
    ""
  ]
  // Run by default too (BENCH_ONLY unset), or by name.
  const withTelemetry = process.env.BENCH_ONLY === undefined || settings.only.has("telemetry")
  let telemetry: TelemetryResult | null = null
  let tick: Array<TickRow> | null = null
  let status: StatusResult | null = null
  let dispatch: DispatchResult | null = null
  let line: LineResult | null = null
  let confinement: ConfinementResult | null = null
  let flood: ReadonlyArray<FloodRow> | null = null
  let baseOnce: BaseOnceResult | null = null
  let monorepo: MonorepoResult | null = null
  let postgres: PostgresResult | null = null
  if (settings.only.has("tick")) {
    console.error(`tick read path at ${settings.sizes.join(", ")} issues…`)
    tick = await benchTick(seeded)
  }
  if (settings.only.has("status")) {
    console.error(`status --json at ${settings.statusSize} issues…`)
    status = await benchStatus(seeded)
  }
  if (settings.only.has("dispatch")) {
    console.error(`dispatch latency (${settings.dispatchRuns} external creates)…`)
    dispatch = await benchDispatch()
  }
  if (settings.only.has("line")) {
    console.error(`whole line, ${settings.lineIssues} NO_OP issues…`)
    line = await benchLine()
  }
  if (settings.only.has("flood")) {
    console.error(`agent output flood, ${settings.floodMb} MB per line length…`)
    flood = await benchFlood()
  }
  if (settings.only.has("confinement")) {
    console.error("confined process start vs raw spawn…")
    confinement = await benchConfinement()
  }
  if (settings.only.has("monorepo")) {
    console.error("a real pnpm workspace: one issue by hand and through the factory…")
    monorepo = await benchMonorepo()
  }
  if (settings.only.has("base")) {
    console.error("the base checked once: issues on one base with verify.base_cache on and off…")
    baseOnce = await benchBaseOnce()
  }
  if (settings.only.has("postgres")) {
    console.error("PostgreSQL store vs SQLite vs raw SKIP LOCKED…")
    postgres = await benchPostgres()
  }
  if (withTelemetry) {
    console.error("OpenTelemetry unset and exporting: spans in process, run --once as a process…")
    telemetry = await benchTelemetry()
  }
  if (tick !== null) {
    out.push("## 1. Tick read path (in process) vs raw `SELECT * FROM issues WHERE status = 'todo'`", "", tickTable(tick), "")
  }
  if (status !== null) out.push("## 2. `switchyard status --json` (whole process)", "", statusTable(status), "")
  if (dispatch !== null) out.push("## 3. Dispatch latency for an externally created issue", "", dispatchTable(dispatch), "")
  if (line !== null) out.push("## 4. Per-issue overhead through the whole line", "", lineTable(line), "")
  if (flood !== null) {
    out.push(`## 5. An agent flooding stdout: the command station vs a bare Node read (median of ${settings.floodRuns})`, "", floodTable(flood), "")
  }
  if (confinement !== null) out.push("## 6. Starting a confined process vs a raw spawn", "", confinementTable(confinement), "")
  if (monorepo !== null) out.push("## 8. A real pnpm workspace: one issue through the factory against the same work by hand", "", monorepoTable(monorepo), "")
  if (postgres !== null) out.push("## 10. PostgreSQL: claims, the ready read and dispatch, against SQLite and the raw query", "", postgresTable(postgres), "")
  if (baseOnce !== null) out.push("## 7. The base checked once: issues on one base, `verify.base_cache` on and off", "", baseOnceTable(baseOnce), "")
  if (telemetry !== null) {
    out.push("## 9. OpenTelemetry: nothing costs when `OTEL_*` is unset", "", telemetryTable(telemetry), "")
  }
  out.push(`total bench time: ${ms((performance.now() - started) / 1000)} s; load average ${load()} at the end`)
  console.log(out.join("\n"))
}

main().then(
  () => cleanupTemps(),
  (error: unknown) => {
    cleanupTemps()
    console.error(error)
    process.exitCode = 1
  }
)
