/**
 * Benchmark 2: `switchyard status --json` at 100k issues as a whole process (target: under 0.3 s), against a
 * raw `node -e` process that opens the same database with better-sqlite3 and counts issues by status.
 *
 * Extra rows split the wall time: a bare `node -e 0` (Node startup), `switchyard --version` (Node + loading the
 * bundled CLI), and `status --json` on an empty tracker (+ opening the store and git); the rest is the data.
 */
import { copyFileSync, cpSync, mkdirSync } from "node:fs"
import { dirname, join } from "node:path"
import {
  betterSqlitePath,
  type Exited,
  makeRepo,
  median,
  ms,
  mustRun,
  mustSwitchyard,
  ratio,
  settings,
  table
} from "./lib.js"
import { migrate, type SeedResult } from "./seed.js"

/** Status --json wall-time target (ms), from the issue. */
export const STATUS_TARGET_MS = 300

export interface StatusRow {
  readonly what: string
  readonly ms: number
  readonly note: string
}

export interface StatusResult {
  readonly issues: number
  readonly rows: ReadonlyArray<StatusRow>
  readonly status: number
  readonly raw: number
  readonly met: boolean
}

export const benchStatus = async (seeded: (n: number) => Promise<SeedResult>): Promise<StatusResult> => {
  const s = await seeded(settings.statusSize)
  const full = makeRepo("status")
  mkdirSync(full.stateDir, { recursive: true })
  copyFileSync(s.filename, full.database)
  // The runner's key goes with its database: the seeded bundles are signed with it, and status checks them.
  cpSync(join(dirname(s.filename), "keys"), join(full.stateDir, "keys"), { recursive: true })
  const empty = makeRepo("status-empty")
  await migrate(empty.database)

  const check = await mustSwitchyard(full.root, "status", "--json")
  const parsed = JSON.parse(check.stdout) as {
    tracker: { counts: Record<string, number> }
    human: { recent: Array<{ signature: string | null }>; violations: Array<unknown> }
  }
  const total = Object.values(parsed.tracker.counts).reduce((a, b) => a + b, 0)
  if (total !== s.issues) throw new Error(`status bench: status --json counted ${total} issues, seeded ${s.issues}`)
  // Every signature status checked must be the runner's, else the bench would time a failure path.
  if (parsed.human.violations.length > 0 || parsed.human.recent.some((o) => o.signature !== "signed")) {
    throw new Error(`status bench: the seeded bundles do not check as signed: ${JSON.stringify(parsed.human).slice(0, 500)}`)
  }

  const rawScript = `const D = require(${JSON.stringify(betterSqlitePath)}); const db = new D(${
    JSON.stringify(full.database)
  }, { readonly: true }); const rows = db.prepare("SELECT status, COUNT(*) AS n FROM issues GROUP BY status").all(); process.stdout.write(JSON.stringify(rows))`
  // Round-robin: each round runs every command once, so load drifting during the run hits them all alike.
  const commands: Record<string, () => Promise<Exited>> = {
    node: () => mustRun(process.execPath, ["-e", "0"], full.root),
    raw: () => mustRun(process.execPath, ["-e", rawScript], full.root),
    version: () => mustSwitchyard(full.root, "--version"),
    empty: () => mustSwitchyard(empty.root, "status", "--json"),
    status: () => mustSwitchyard(full.root, "status", "--json")
  }
  const samples: Record<string, Array<number>> = {}
  for (let round = 0; round <= settings.runs; round++) {
    for (const [name, run] of Object.entries(commands)) {
      const wall = (await run()).wallMs
      if (round > 0) (samples[name] ??= []).push(wall) // round 0 warms the page cache
    }
  }
  const [node, raw, version, emptyStatus, status] = ["node", "raw", "version", "empty", "status"].map((k) => median(samples[k]!)) as [
    number,
    number,
    number,
    number,
    number
  ]
  console.error(`  status: done`)
  return {
    issues: s.issues,
    status,
    raw,
    met: status < STATUS_TARGET_MS,
    rows: [
      { what: "node -e 0", ms: node, note: "Node startup" },
      { what: "raw: node -e better-sqlite3 GROUP BY status", ms: raw, note: "the baseline" },
      { what: "switchyard --version", ms: version, note: "Node + the full CLI bundle (code cache)" },
      { what: "switchyard status --json (0 issues)", ms: emptyStatus, note: "+ the status bundle, store open, reads" },
      {
        what: `switchyard status --json (${s.issues} issues, ${s.bundles} bundles)`,
        ms: status,
        note: "+ the data (counts, ready index, outcomes, violations)"
      }
    ]
  }
}

export const statusTable = (r: StatusResult): string =>
  [
    table(
      ["process (median wall time)", "ms", "× raw", "what it adds"],
      r.rows.map((row) => [row.what, ms(row.ms), ratio(row.ms, r.raw), row.note])
    ),
    "",
    `status --json at ${r.issues} issues: ${ms(r.status)} ms, ${ratio(r.status, r.raw)} the raw process; ` +
    `target < ${STATUS_TARGET_MS} ms: ${r.met ? "MET" : "NOT MET"}`
  ].join("\n")
