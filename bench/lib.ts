/**
 * Shared helpers for the benchmarks: settings from the environment, timing and medians, child processes with
 * wall times, throwaway git repos shaped like the CLI's end-to-end tests, better-sqlite3 loaded from apps/cli,
 * and a compact table printer.
 *
 * This is a benchmark script, not factory code: it may throw, use Promises and print with console.log.
 */
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from "node:child_process"
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { cpus, loadavg, tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { performance } from "node:perf_hooks"
import { fileURLToPath } from "node:url"

/** The root of this repository (bench/.. ). */
export const projectRoot = fileURLToPath(new URL("../", import.meta.url))
/** The built CLI entry point the end-to-end tests use (`pnpm bench` builds it first). */
export const bin = join(projectRoot, "apps/cli/bin/switchyard.mjs")

// --- settings -------------------------------------------------------------------------------------------------

const intList = (name: string, fallback: ReadonlyArray<number>): ReadonlyArray<number> => {
  const raw = process.env[name]
  if (raw === undefined || raw.trim() === "") return fallback
  const values = raw.split(",").map((s) => Number(s.trim().replace(/_/g, "")))
  if (values.some((n) => !Number.isInteger(n) || n < 0)) throw new Error(`${name} must be a comma-separated list of integers, got ${raw}`)
  return values
}
const int = (name: string, fallback: number): number => {
  const values = intList(name, [fallback])
  if (values.length !== 1 || values[0]! < 1) throw new Error(`${name} must be one positive integer`)
  return values[0]!
}

/** What to run and how big; every knob is an environment variable (see bench/README.md). */
export const settings = {
  /** Tracker sizes (issues) for the tick benchmark. */
  sizes: intList("BENCH_SIZES", [1_000, 10_000, 100_000]),
  /** Tracker size (issues) for `status --json`. */
  statusSize: int("BENCH_STATUS_SIZE", 100_000),
  /** Timed repetitions per measurement (after one warm-up); the median is reported. */
  runs: int("BENCH_RUNS", 5),
  /** External `issue create` → `claim.acquired` repetitions. */
  dispatchRuns: int("BENCH_DISPATCH_RUNS", 5),
  /** Issues pushed through the whole line with an agent that exits at once. */
  lineIssues: int("BENCH_LINE_ISSUES", 20),
  /** Tracker size for the steady-state per-issue measure of a long-running `run` (0: skip it). */
  lineBacklog: intList("BENCH_LINE_BACKLOG", [100_000])[0] ?? 0,
  /** Issues timed in that steady state. */
  lineBacklogIssues: int("BENCH_LINE_BACKLOG_ISSUES", 5),
  /** MB (MiB) of output the flooding agent prints. */
  floodMb: int("BENCH_FLOOD_MB", 50),
  /** Line lengths (bytes, newline included) of the flood, one row each. */
  floodLineBytes: intList("BENCH_FLOOD_LINE_BYTES", [100, 4096]),
  /** Timed flood runs per row (after one warm-up). */
  floodRuns: int("BENCH_FLOOD_RUNS", 3),
  /** Which benchmarks to run. */
  only: new Set(
    (process.env.BENCH_ONLY ?? "tick,status,dispatch,line,flood,confinement,base,monorepo,postgres").split(",").map((s) => s.trim()).filter((s) => s !== "")
  ),
  /** Keep the temp directories (for poking at the seeded databases afterwards). */
  keep: process.env.BENCH_KEEP === "1"
}

export const machine = () => {
  const cpu = cpus()
  return `${cpu.length} cores (${cpu[0]?.model.trim() ?? "unknown cpu"}), node ${process.version}, ${process.platform}`
}

/** The 1-minute load average: other work on the machine slows every number, factory and raw alike. */
export const load = () => loadavg()[0]!.toFixed(1)

// --- numbers --------------------------------------------------------------------------------------------------

export const now = () => performance.now()

export const median = (xs: ReadonlyArray<number>): number => {
  if (xs.length === 0) return Number.NaN
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

export const ms = (x: number): string =>
  Number.isNaN(x) ? "-" : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2)
export const ratio = (x: number, base: number): string => (base > 0 ? `${(x / base).toFixed(1)}×` : "-")
export const range = (xs: ReadonlyArray<number>): string =>
  xs.length === 0 ? "-" : `${ms(Math.min(...xs))}–${ms(Math.max(...xs))}`

/** A compact Markdown table (pads columns so it also reads well in a terminal). */
export const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`
  return [line(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.map(line)].join("\n")
}

// --- better-sqlite3 -------------------------------------------------------------------------------------------

/** The part of better-sqlite3's API the benchmarks use (the package and its types live in apps/cli). */
export interface Statement {
  run(...params: ReadonlyArray<unknown>): { changes: number }
  all(...params: ReadonlyArray<unknown>): Array<Record<string, unknown>>
  get(...params: ReadonlyArray<unknown>): Record<string, unknown> | undefined
}
export interface Database {
  prepare(sql: string): Statement
  exec(sql: string): void
  pragma(sql: string): unknown
  transaction<A extends ReadonlyArray<unknown>>(f: (...args: A) => void): (...args: A) => void
  close(): void
}
type DatabaseConstructor = new(filename: string, options?: { readonly readonly?: boolean }) => Database

const cliRequire = createRequire(join(projectRoot, "apps/cli/package.json"))
/** Absolute path of better-sqlite3's entry, for `node -e` scripts that must load the same copy. */
export const betterSqlitePath: string = cliRequire.resolve("better-sqlite3")
export const openDatabase = (filename: string, options?: { readonly readonly?: boolean }): Database =>
  new (cliRequire("better-sqlite3") as DatabaseConstructor)(filename, options)

// --- processes ------------------------------------------------------------------------------------------------

export interface Exited {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  /** Spawn to exit, ms. */
  readonly wallMs: number
  /** `performance.now()` at the exit event. */
  readonly exitAt: number
}

const childEnv = () => ({ ...process.env, SWITCHYARD_LOG: "warning", NO_COLOR: "1" })

/** Runs a process to completion and reports its wall time (spawn → exit). */
export const runProcess = (command: string, args: ReadonlyArray<string>, cwd: string): Promise<Exited> =>
  new Promise((resolve, reject) => {
    const t0 = now()
    const child = spawn(command, args, { cwd, env: childEnv(), stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    let exit: { code: number | null; signal: NodeJS.Signals | null; at: number } | null = null
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c))
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c))
    child.on("error", reject)
    child.on("exit", (code, signal) => (exit = { code, signal, at: now() }))
    child.on("close", () => {
      const e = exit!
      resolve({ code: e.code, signal: e.signal, stdout, stderr, wallMs: e.at - t0, exitAt: e.at })
    })
  })

/** Runs the built `switchyard` CLI in `cwd` (as the end-to-end tests do: `node apps/cli/bin/switchyard.mjs`). */
export const switchyard = (cwd: string, ...args: ReadonlyArray<string>) => runProcess(process.execPath, [bin, ...args], cwd)

/** Like {@link runProcess} but fails the benchmark when the exit code is not 0. */
export const mustRun = async (command: string, args: ReadonlyArray<string>, cwd: string): Promise<Exited> => {
  const r = await runProcess(command, args, cwd)
  if (r.code !== 0) throw new Error(`${command} ${args.join(" ")} exited ${r.code ?? r.signal}: ${r.stderr}${r.stdout}`)
  return r
}
export const mustSwitchyard = (cwd: string, ...args: ReadonlyArray<string>) => mustRun(process.execPath, [bin, ...args], cwd)

export interface Line {
  readonly line: string
  /** `performance.now()` when the chunk holding the line arrived. */
  readonly at: number
}

/** A child's stdout as timestamped lines: everything seen so far, and a way to wait for a line. */
export const watchLines = (child: ChildProcessWithoutNullStreams) => {
  const seen: Array<Line> = []
  const waiters: Array<{ test: (line: string) => boolean; resolve: (hit: Line) => void }> = []
  let buffer = ""
  let stderr = ""
  child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c))
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    const at = now()
    buffer += chunk
    const parts = buffer.split("\n")
    buffer = parts.pop() ?? ""
    for (const line of parts) {
      const hit = { line, at }
      seen.push(hit)
      for (const w of [...waiters]) {
        if (w.test(line)) {
          waiters.splice(waiters.indexOf(w), 1)
          w.resolve(hit)
        }
      }
    }
  })
  return {
    seen,
    /** Resolves with the first line (already seen or next) matching `re`; rejects after `timeoutMs`. */
    waitFor: (re: RegExp | ((line: string) => boolean), timeoutMs = 30_000) =>
      new Promise<Line>((resolve, reject) => {
        const test = typeof re === "function" ? re : (line: string) => re.test(line)
        const hit = seen.find((s) => test(s.line))
        if (hit !== undefined) return resolve(hit)
        const timer = setTimeout(
          () => reject(new Error(`no line matching ${re} in ${timeoutMs} ms:\n${seen.map((s) => s.line).join("\n")}\n${stderr}`)),
          timeoutMs
        )
        waiters.push({ test, resolve: (h) => (clearTimeout(timer), resolve(h)) })
      })
  }
}

/** Starts the built CLI in the background (e.g. `run` without --once) with its stdout watched line by line. */
export const startSwitchyard = (cwd: string, ...args: ReadonlyArray<string>) => {
  const child = spawn(process.execPath, [bin, ...args], { cwd, env: childEnv() })
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal }))
  )
  return { child, out: watchLines(child), exit }
}

export const git = (cwd: string, ...args: ReadonlyArray<string>): string => {
  const r = spawnSync("git", args, { cwd, encoding: "utf8" })
  if (r.status !== 0) throw new Error(`git ${args.join(" ")} exited ${r.status}: ${r.stderr}`)
  return r.stdout.trim()
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

// --- temp repos -----------------------------------------------------------------------------------------------

const temps: Array<string> = []
/** A temp directory removed at the end of the run (unless BENCH_KEEP=1). */
export const tempDir = (prefix: string): string => {
  const dir = mkdtempSync(join(tmpdir(), `sy-bench-${prefix}-`))
  temps.push(dir)
  return dir
}
export const cleanupTemps = () => {
  if (settings.keep) {
    for (const d of temps) console.log(`kept ${d}`)
    return
  }
  for (const d of temps) rmSync(d, { recursive: true, force: true })
}

export interface BenchRepo {
  readonly root: string
  readonly tmp: string
  readonly worktrees: string
  readonly database: string
  readonly stateDir: string
  /** Writes an executable shell script outside the repo and returns its path. */
  readonly script: (name: string, body: string) => string
  readonly writeWorkflow: (frontMatter: string) => void
}

/** A git repo with one commit (like apps/cli/test/harness.ts `makeRepo`), its worktrees kept outside it. */
export const makeRepo = (prefix: string): BenchRepo => {
  const tmp = tempDir(prefix)
  const root = join(tmp, "repo")
  const worktrees = join(tmp, "worktrees")
  const files: Record<string, string> = {
    "package.json": JSON.stringify({ name: "bench", private: true, type: "module" }) + "\n",
    "src/index.js": "export const answer = 42\n"
  }
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, name)), { recursive: true })
    writeFileSync(join(root, name), text)
  }
  git(root, "init", "-q", "-b", "main")
  git(root, "config", "user.name", "Bench Human")
  git(root, "config", "user.email", "bench@example.com")
  git(root, "add", "-A")
  git(root, "commit", "-q", "-m", "initial")
  const scripts = join(tmp, "scripts")
  mkdirSync(scripts)
  const stateDir = join(root, ".switchyard")
  return {
    root,
    tmp,
    worktrees,
    stateDir,
    database: join(stateDir, "switchyard.db"),
    script: (name, body) => {
      const path = join(scripts, name)
      writeFileSync(path, `#!/bin/sh\n${body}\n`)
      chmodSync(path, 0o755)
      return path
    },
    writeWorkflow: (frontMatter) =>
      writeFileSync(
        join(root, "WORKFLOW.md"),
        // The scripts live under /tmp, which is private to a confined agent: they are made readable.
        `---\nworkspace:\n  root: ${JSON.stringify(worktrees)}\n${
          /^sandbox:/m.test(frontMatter) ? "" : `sandbox:\n  readable: [${JSON.stringify(scripts)}]\n`
        }${frontMatter}\n---\nFix {{ issue.id }}: {{ issue.title }}\n`
      )
  }
}

/** The agent of benchmarks 3 and 4: writes a NO_OP claim and exits at once. */
export const noopAgent = `echo '{"claim":"NO_OP","summary":"x"}' > "$SWITCHYARD_RESULT_FILE"`
