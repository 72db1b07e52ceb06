/**
 * Benchmark 4: per-issue overhead through the whole line. N issues (no reproduction, no validation) go through
 * `switchyard run --once --concurrency 1` with an agent that writes a NO_OP claim and exits at once.
 * Factory per issue = wall time / N. Raw per issue = a raw `git worktree add <dir> HEAD` + a raw spawn of
 * `sh -c true` + `git worktree remove --force <dir>`, the minimum any worktree-per-issue runner pays (Switchyard's
 * sandboxes are private repositories borrowing the repo's objects, and every process in them is confined: more
 * work than a worktree, compared with the cheapest by-hand equivalent on purpose).
 * The factory's own cost per job = factory per issue − raw per issue.
 *
 * With BENCH_LINE_BACKLOG (default 100000), the same agent once more, but in a long-running `run` over a
 * tracker that big (mixed statuses, no reproductions): the steady-state time between consecutive terminal
 * states, which shows what the tracker's size adds to every issue (each tick re-reads the whole candidate set).
 */
import { join } from "node:path"
import {
  type BenchRepo,
  makeRepo,
  median,
  ms,
  mustRun,
  mustSwitchyard,
  noopAgent,
  now,
  openDatabase,
  range,
  ratio,
  settings,
  startSwitchyard,
  table
} from "./lib.js"
import { migrate, seed } from "./seed.js"

export interface LineResult {
  readonly issues: number
  readonly total: number
  readonly empty: number
  readonly rawPerIssue: number
  readonly outcomes: Readonly<Record<string, number>>
  /** Steady-state ms between consecutive terminal states in a `run` over a big tracker, or null (skipped). */
  readonly backlog: { readonly issues: number; readonly gaps: ReadonlyArray<number>; readonly exit: number | null } | null
}

const workflow = (repo: BenchRepo) =>
  repo.writeWorkflow(`agent:
  command: ${JSON.stringify(repo.script("noop.sh", noopAgent))}
  max_concurrent_agents: 1`)

export const benchLine = async (): Promise<LineResult> => {
  const n = settings.lineIssues

  // Fixed cost of a run that finds nothing (startup, preflight, one tick, drain), in its own repo.
  const idle = makeRepo("line-empty")
  workflow(idle)
  await migrate(idle.database)
  await mustSwitchyard(idle.root, "run", "--once", "--concurrency", "1")
  const empty = (await mustSwitchyard(idle.root, "run", "--once", "--concurrency", "1")).wallMs

  const repo = makeRepo("line")
  workflow(repo)
  await seed(repo.database, { issues: n, mixed: false })
  const run = await mustSwitchyard(repo.root, "run", "--once", "--concurrency", "1")
  const db = openDatabase(repo.database, { readonly: true })
  const outcomes = Object.fromEntries(
    db.prepare("SELECT terminal_state AS s, COUNT(*) AS n FROM attempts GROUP BY terminal_state").all().map((r) => [
      String(r.s),
      Number(r.n)
    ])
  )
  db.close()
  if (outcomes.NO_OP !== n) throw new Error(`line bench: expected ${n} NO_OP attempts, got ${JSON.stringify(outcomes)}`)

  // Raw: the same number of worktree-add + spawn + worktree-remove rounds, in the same repo.
  const t0 = now()
  for (let i = 1; i <= n; i++) {
    const dir = join(repo.tmp, "raw", `SY-${i}`)
    await mustRun("git", ["worktree", "add", "-q", dir, "HEAD"], repo.root)
    await mustRun("sh", ["-c", "true"], dir)
    await mustRun("git", ["worktree", "remove", "--force", dir], repo.root)
  }
  const rawPerIssue = (now() - t0) / n
  console.error(`  line: ${n} issues done`)
  const backlog = settings.lineBacklog > 0 ? await steadyState(settings.lineBacklog, settings.lineBacklogIssues) : null
  return { issues: n, total: run.wallMs, empty, rawPerIssue, outcomes, backlog }
}

/** ms between consecutive `terminal.*` lines of `switchyard run --concurrency 1` over `size` issues. */
const steadyState = async (size: number, k: number) => {
  const repo = makeRepo("line-backlog")
  workflow(repo)
  await seed(repo.database, { issues: size, reproductions: false })
  const { child, out, exit } = startSwitchyard(repo.root, "run", "--concurrency", "1")
  const terminals: Array<number> = []
  const finished = new Set<string>()
  try {
    for (let i = 0; i <= k; i++) {
      const hit = await out.waitFor((line) => {
        const m = /\s(\S+)\s+terminal\./.exec(line)
        return m !== null && !finished.has(m[1]!)
      }, 120_000)
      finished.add(/\s(\S+)\s+terminal\./.exec(hit.line)![1]!)
      terminals.push(hit.at)
    }
  } finally {
    child.kill("SIGTERM")
  }
  const code = (await exit).code
  console.error(`  line: ${k} issues at a ${size}-issue tracker done`)
  return { issues: size, gaps: terminals.slice(1).map((t, i) => t - terminals[i]!), exit: code }
}

export const lineTable = (r: LineResult): string => {
  const perIssue = r.total / r.issues
  const marginal = (r.total - r.empty) / r.issues
  const backlog = r.backlog === null ? [] : [[
    `steady state per issue, \`run\` over ${r.backlog.issues} issues (median, min–max ${range(r.backlog.gaps)})`,
    ms(median(r.backlog.gaps)),
    ratio(median(r.backlog.gaps), r.rawPerIssue)
  ]]
  return table(
    ["measure (ms)", "value", "× raw"],
    [
      [`run --once --concurrency 1, ${r.issues} NO_OP issues (total)`, ms(r.total), ""],
      ["run --once with nothing to do (fixed cost)", ms(r.empty), ""],
      ["factory per issue (total / N)", ms(perIssue), ratio(perIssue, r.rawPerIssue)],
      ["factory per issue without the fixed cost", ms(marginal), ratio(marginal, r.rawPerIssue)],
      ["raw per issue: worktree add + spawn sh + worktree remove", ms(r.rawPerIssue), "1.0×"],
      ["factory's own cost per job (per issue − raw)", ms(perIssue - r.rawPerIssue), ""],
      ...backlog
    ]
  )
}
