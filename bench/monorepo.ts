/**
 * Benchmark 8: a real pnpm workspace (fixtures/shop: six TypeScript packages, vitest from the npm registry, a real
 * bug and its fix), issue 12's goal. Timed in the same run:
 * - **by hand**: one worktree of the base, one `pnpm install --frozen-lockfile --prefer-offline`, the reproduction
 *   on the base (fails), `git apply` of the fix, the reproduction again (passes), `pnpm test` once;
 * - **the factory**: one issue through `switchyard run --once` with the same fix as a command agent (sandbox,
 *   install, reproduction on base and candidate, validation on the candidate and the base for the test counts,
 *   packaging), then a **second issue on the same base** (the base's runs and the install are reused);
 * - **four issues at once** (`--concurrency 4`), and the peak memory (RSS summed over the runner's process tree,
 *   sampled every 50 ms) for one issue and for four.
 * The package store is warm (the fixture's packages are in it) for both sides.
 */
import { execFileSync } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { bin, git, makeRepo, median, ms, mustRun, now, projectRoot, ratio, runProcess, table } from "./lib.js"

const shop = join(projectRoot, "fixtures", "shop")
const patch = join(shop, "oracle", "money-negative.patch")
const REPRO = "pnpm exec vitest run -c vitest.repro.config.ts repro/money-negative.test.ts"
const INSTALL = "pnpm install --frozen-lockfile --prefer-offline"

export interface MonorepoResult {
  readonly byHand: number
  readonly first: number
  readonly second: number
  readonly four: number
  readonly peakOneMb: number
  readonly peakFourMb: number
}

/** A temp git repo holding the shop fixture and a WORKFLOW.md whose agent applies the fix. */
const shopRepo = (prefix: string) => {
  const repo = makeRepo(prefix)
  const { root, tmp } = repo
  git(root, "rm", "-q", "-r", ".")
  execFileSync("sh", ["-c", `tar --exclude=node_modules -cf - . | (cd ${JSON.stringify(root)} && tar xf -)`], { cwd: shop })
  const agent = repo.script("fix.sh", `set -e\ngit apply ${patch}\necho '{"claim":"PR_READY","summary":"sign first"}' > "$SWITCHYARD_RESULT_FILE"`)
  // The fix lives in this checkout (readable: only /tmp is private); the agent script is made readable by makeRepo.
  repo.writeWorkflow(`agent:
  command: ${JSON.stringify(agent)}
  max_attempts: 1
  max_concurrent_agents: 4
hooks:
  after_create: ${JSON.stringify(INSTALL)}
  timeout_ms: 300000
verify:
  validation:
    - pnpm test
  compare_test_counts: true`)
  git(root, "add", "-A")
  git(root, "commit", "-q", "-m", "shop")
  return { tmp, root }
}

/** The same work as one issue, by hand: one worktree, one install, the fix, the reproduction twice, validation once. */
const byHand = async () => {
  const { tmp, root } = shopRepo("hand")
  const wt = join(tmp, "by-hand")
  const t0 = now()
  await mustRun("git", ["worktree", "add", "-q", "--detach", wt], root)
  await mustRun("sh", ["-c", INSTALL], wt)
  const before = await runProcess("sh", ["-c", REPRO], wt)
  if (before.code === 0) throw new Error("monorepo bench: the reproduction passes on the base")
  await mustRun("git", ["apply", patch], wt)
  await mustRun("sh", ["-c", REPRO], wt)
  await mustRun("sh", ["-c", "pnpm test"], wt)
  return now() - t0
}

/** Sum of RSS (kB) over `pid` and its descendants, read from /proc. */
const treeRssKb = (pid: number): number => {
  const children = new Map<number, Array<number>>()
  const rss = new Map<number, number>()
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue
    const stat = (() => {
      try {
        return readFileSync(`/proc/${name}/stat`, "utf8")
      } catch {
        return null
      }
    })()
    if (stat === null) continue
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    const ppid = Number(fields[1])
    children.set(ppid, [...(children.get(ppid) ?? []), Number(name)])
    rss.set(Number(name), Number(fields[21]) * 4)
  }
  let total = 0
  const stack = [pid]
  while (stack.length > 0) {
    const p = stack.pop()!
    total += rss.get(p) ?? 0
    stack.push(...(children.get(p) ?? []))
  }
  return total
}

/** `switchyard run --once` over the issues filed so far: wall ms and peak tree RSS (MB). */
const runMeasured = async (root: string, concurrency: number) => {
  const { spawn } = await import("node:child_process")
  const t0 = now()
  const child = spawn(process.execPath, [bin, "run", "--once", "--concurrency", String(concurrency)], {
    cwd: root,
    env: { ...process.env, SWITCHYARD_LOG: "warning", NO_COLOR: "1" },
    stdio: ["ignore", "ignore", "pipe"]
  })
  let stderr = ""
  child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c))
  let peak = 0
  const timer = setInterval(() => (peak = Math.max(peak, treeRssKb(child.pid!))), 50)
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve))
  clearInterval(timer)
  if (code !== 0) throw new Error(`monorepo bench: run exited ${code}: ${stderr}`)
  return { wallMs: now() - t0, peakMb: peak / 1024 }
}

const fileIssues = async (root: string, n: number, from: number) => {
  for (let i = 0; i < n; i++) {
    await mustRun(process.execPath, [bin, "issue", "create", "--title", `refunds print as $-1.-50 (${from + i})`, "--repro", REPRO], root)
  }
}

const mustBeReady = (root: string, ids: ReadonlyArray<string>) => {
  for (const id of ids) {
    const shown = execFileSync(process.execPath, [bin, "issue", "show", id, "--json"], { cwd: root, encoding: "utf8" })
    if (!shown.includes("PR_READY")) throw new Error(`monorepo bench: ${id} is not PR_READY: ${shown}`)
  }
}

export const benchMonorepo = async (): Promise<MonorepoResult> => {
  // Warm-up (store, page cache), not timed.
  await byHand()
  const hands: Array<number> = []
  for (let i = 0; i < 3; i++) hands.push(await byHand())
  const { root } = shopRepo("factory")
  await fileIssues(root, 1, 1)
  const first = await runMeasured(root, 1)
  await fileIssues(root, 1, 2)
  const second = await runMeasured(root, 1)
  mustBeReady(root, ["SY-1", "SY-2"])
  const batch = shopRepo("factory-four")
  await fileIssues(batch.root, 4, 1)
  const four = await runMeasured(batch.root, 4)
  mustBeReady(batch.root, ["SY-1", "SY-2", "SY-3", "SY-4"])
  return {
    byHand: median(hands),
    first: first.wallMs,
    second: second.wallMs,
    four: four.wallMs,
    peakOneMb: first.peakMb,
    peakFourMb: four.peakMb
  }
}

export const monorepoTable = (r: MonorepoResult): string =>
  table(
    ["fixtures/shop (6 packages, vitest, warm store)", "ms", "÷ by hand", "peak RSS (MB)"],
    [
      ["by hand: worktree, install, repro ×2, fix, `pnpm test` (median of 3)", ms(r.byHand), "1.0×", ""],
      ["factory: first issue on the base", ms(r.first), ratio(r.first, r.byHand), r.peakOneMb.toFixed(0)],
      ["factory: second issue on the same base", ms(r.second), ratio(r.second, r.byHand), ""],
      ["factory: four issues at once (`--concurrency 4`)", ms(r.four), ratio(r.four, 4 * r.byHand) + " of 4 by hand", r.peakFourMb.toFixed(0)]
    ]
  )
