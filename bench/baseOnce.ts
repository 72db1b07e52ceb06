/**
 * Benchmark 7: the base is checked once (issue 12 item 3). A repo whose validation (`node --test`) takes about a
 * second; issues that each add a file and claim PR_READY, with `compare_test_counts` (the base's validation is
 * needed for every issue). Timed: one `run --once` per issue, in order, on the same base — with `verify.base_cache`
 * on (the default) and off, each in its own repo. Raw: the validation run once by hand in the repo (what a
 * reused base saves per issue), and four more issues at once. The base's validation runs beside the candidate's,
 * so on an idle machine a reused base saves CPU more than wall time; with issues at once it saves both.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { git, makeRepo, median, ms, mustRun, mustSwitchyard, now, ratio, table } from "./lib.js"

export interface BaseOnceResult {
  readonly cached: ReadonlyArray<number>
  readonly uncached: ReadonlyArray<number>
  /** One `run --once --concurrency 4` over four issues on a base already checked, cache on / off (ms). */
  readonly batch: { readonly cached: number; readonly uncached: number }
  readonly validation: number
}

/** Four tests of 250 ms of CPU each, run one after the other by `node --test` (about 1 s of one core). */
const SLOW_TESTS = `import { test } from "node:test"
const spin = () => { const end = Date.now() + 250; while (Date.now() < end); }
for (const name of ["a", "b", "c", "d"]) test(name, spin)
`

const ISSUES = 3

const repoWith = (prefix: string, baseCache: boolean) => {
  const repo = makeRepo(prefix)
  mkdirSync(join(repo.root, "test"), { recursive: true })
  writeFileSync(join(repo.root, "test", "slow.test.js"), SLOW_TESTS)
  git(repo.root, "add", "-A")
  git(repo.root, "commit", "-q", "-m", "slow suite")
  const agent = repo.script(
    "adder.sh",
    `echo "export const n = $$" > "src/added-$$.js"
echo '{"claim":"PR_READY","summary":"add a file"}' > "$SWITCHYARD_RESULT_FILE"`
  )
  repo.writeWorkflow(`agent:
  command: ${JSON.stringify(agent)}
  max_concurrent_agents: 1
verify:
  validation: ["node --test"]
  compare_test_counts: true
  base_cache: ${baseCache}`)
  return repo
}

const mustBeReady = async (root: string, id: string) => {
  const shown = await mustSwitchyard(root, "issue", "show", id, "--json")
  if (!shown.stdout.includes("PR_READY")) throw new Error(`base-once bench: ${id} is not PR_READY: ${shown.stdout}`)
}

/** {@link ISSUES} issues one after the other, then four at once; ms each. */
const perIssue = async (baseCache: boolean) => {
  const repo = repoWith(baseCache ? "base-once" : "base-every", baseCache)
  const times: Array<number> = []
  for (let i = 1; i <= ISSUES; i++) {
    await mustSwitchyard(repo.root, "issue", "create", "--title", `add file ${i}`)
    times.push((await mustSwitchyard(repo.root, "run", "--once", "--concurrency", "1")).wallMs)
    await mustBeReady(repo.root, `SY-${i}`)
  }
  for (let i = 1; i <= 4; i++) await mustSwitchyard(repo.root, "issue", "create", "--title", `batch ${i}`)
  const batch = (await mustSwitchyard(repo.root, "run", "--once", "--concurrency", "4")).wallMs
  for (let i = 1; i <= 4; i++) await mustBeReady(repo.root, `SY-${ISSUES + i}`)
  return { times, batch }
}

export const benchBaseOnce = async (): Promise<BaseOnceResult> => {
  const on = await perIssue(true)
  const off = await perIssue(false)
  const raw = repoWith("base-raw", true)
  const runs: Array<number> = []
  for (let i = 0; i < 3; i++) {
    const t0 = now()
    await mustRun("node", ["--test"], raw.root)
    runs.push(now() - t0)
  }
  return { cached: on.times, uncached: off.times, batch: { cached: on.batch, uncached: off.batch }, validation: median(runs) }
}

export const baseOnceTable = (r: BaseOnceResult): string =>
  table(
    ["issue on the same base", "base_cache: true (ms)", "base_cache: false (ms)", "true ÷ false"],
    [
      ...r.cached.map((t, i) => [`#${i + 1}`, ms(t), ms(r.uncached[i]!), ratio(t, r.uncached[i]!)]),
      ["4 more issues at once (`--concurrency 4`)", ms(r.batch.cached), ms(r.batch.uncached), ratio(r.batch.cached, r.batch.uncached)],
      ["raw: `node --test` once by hand", ms(r.validation), "", ""],
      [
        "saved per later issue (false − true, median of #2…)",
        ms(median(r.uncached.slice(1).map((t, i) => t - r.cached[i + 1]!))),
        "",
        ratio(median(r.uncached.slice(1).map((t, i) => t - r.cached[i + 1]!)), r.validation) + " of one validation"
      ]
    ]
  )
