/**
 * The random-kill soak (docs/reliability.md): one or two real `switchyard run` processes on one repo, SIGKILLed 20
 * times at seeded random moments while they work through 10 issues, then a last `run --once` drains the line.
 * Afterwards the four layers must agree: `status --check` clean, no issue lost (every one terminal), no issue with
 * more counted attempts than `agent.max_attempts`, exactly one bundle per terminal attempt, no sandbox of a done or cancelled issue, and no
 * checkout or branch left that no kept result needs. The seed is printed, so a failure can be replayed.
 */
import Database from "better-sqlite3"
import { afterEach, describe, expect, it } from "@effect/vitest"
import { readdirSync } from "node:fs"
import { averageRepro, exited, existsSync, git, join, makeRepo, sleep, sy, syChild, type TestRepo } from "./harness.js"

/** mulberry32: a tiny seeded PRNG, so a run can be replayed from its seed. */
const prng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const SEED = Number(process.env.SWITCHYARD_SOAK_SEED ?? 20261202)
const KILLS = 20
const ISSUES = 10

let repos: Array<TestRepo> = []
afterEach(() => {
  for (const r of repos) r.cleanup()
  repos = []
})

describe("random-kill soak", () => {
  it(`${KILLS} SIGKILLs of one or two runners over ${ISSUES} issues (seed ${SEED}) leave the four layers agreeing`, async () => {
    const r = makeRepo()
    repos.push(r)
    const random = prng(SEED)
    // Agents that take a while (so kills land mid-attempt): fixers reach PR_READY, the others NO_OP or ESCALATE.
    const agent = r.agent("soak.sh", `sleep 0.$((RANDOM % 8 + 2))
case $(( \${SWITCHYARD_ISSUE_ID#SY-} % 3 )) in
  1) cat > src/average.js <<'JS'
export const average = (xs) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length)
JS
    echo '{"claim":"PR_READY","summary":"guard the empty list"}' > "$SWITCHYARD_RESULT_FILE" ;;
  0) echo '{"claim":"ESCALATE","summary":"unclear","question":"which average?"}' > "$SWITCHYARD_RESULT_FILE" ;;
  *) echo '{"claim":"NO_OP","summary":"nothing to do"}' > "$SWITCHYARD_RESULT_FILE" ;;
esac`)
    r.writeWorkflow(`agent:
  command: ${JSON.stringify(agent)}
  max_attempts: 3
  retry_base_delay_ms: 50
  max_concurrent_agents: 3
polling:
  interval_ms: 200
orchestrator:
  heartbeat_ms: 200
  lease_ttl_ms: 1500
  max_runner_deaths: 5
`)
    for (let i = 1; i <= ISSUES; i++) {
      const kind = i % 3 === 0 ? "ask" : i % 3 === 1 ? "fix" : "look"
      const args = ["issue", "create", "--title", `${kind} ${i}`]
      if (kind === "fix") args.push("--repro", averageRepro)
      expect((await sy(r.dir, ...args)).code).toBe(0)
    }

    let kills = 0
    while (kills < KILLS) {
      const two = random() < 0.5
      const runners = [syChild(r.dir, "run"), ...(two ? [syChild(r.dir, "run")] : [])]
      for (const c of runners) c.stdout?.resume(), c.stderr?.resume()
      await sleep(300 + Math.floor(random() * 1_500))
      const victims = two && random() < 0.5 ? runners : [runners[Math.floor(random() * runners.length)]!]
      for (const c of victims) c.kill("SIGKILL")
      kills += victims.length
      for (const c of runners) if (!victims.includes(c)) c.kill("SIGTERM")
      await Promise.all(runners.map((c) => exited(c)))
    }

    const drain = await sy(r.dir, "run", "--once")
    expect(drain.code, drain.stderr).toBe(0)

    const db = new Database(join(r.dir, ".switchyard/switchyard.db"), { readonly: true })
    const statuses = db.prepare("SELECT id, status FROM issues ORDER BY id").all() as Array<{ id: string; status: string }>
    const lost = statuses.filter((s) => s.status === "todo" || s.status === "in_progress")
    const over = db.prepare(`SELECT issue_id, COUNT(*) AS n FROM attempts WHERE counted = 1 AND ended_at IS NOT NULL
                              GROUP BY issue_id HAVING n > 3`).all()
    const withoutBundle = db.prepare(`SELECT a.issue_id, a.attempt FROM attempts a LEFT JOIN evidence e
                              ON e.issue_id = a.issue_id AND e.attempt = a.attempt
                              WHERE a.terminal_state IS NOT NULL AND e.issue_id IS NULL`).all()
    const open = db.prepare("SELECT issue_id, attempt FROM attempts WHERE ended_at IS NULL").all()
    const figures = db.prepare(`SELECT
        (SELECT COUNT(*) FROM attempts) AS attempts,
        (SELECT COALESCE(SUM(runner_deaths), 0) FROM attempts) AS runnerDeaths,
        (SELECT COUNT(*) FROM events WHERE type = 'attempt.resumed') AS resumed,
        (SELECT COUNT(*) FROM attempts WHERE cause = 'runner_deaths_exhausted') AS poisonPills`).get()
    const outcomes = db.prepare("SELECT status, COUNT(*) AS n FROM issues GROUP BY status ORDER BY status").all()
    const causes = db.prepare(`SELECT cause, COUNT(*) AS n FROM attempts GROUP BY cause ORDER BY n DESC`).all()
    db.close()
    // The figures docs/reliability.md quotes.
    console.log(JSON.stringify({ seed: SEED, kills, ...(figures as object), outcomes, causes }))

    expect(lost).toEqual([])
    expect(over).toEqual([])
    expect(withoutBundle).toEqual([])
    expect(open).toEqual([])
    // Sandboxes only where the issue may run again (kept for its next attempt), none of a done or cancelled one.
    const mayRunAgain = new Set(statuses.filter((s) => s.status !== "done" && s.status !== "cancelled").map((s) => s.id))
    const left = existsSync(r.worktrees) ? readdirSync(r.worktrees).filter((n) => n !== ".verify" && n !== ".attempts" && n !== ".installs") : []
    expect(left.filter((n) => !mayRunAgain.has(n))).toEqual([])
    expect(existsSync(join(r.worktrees, ".verify")) ? readdirSync(join(r.worktrees, ".verify")) : []).toEqual([])
    // Branches only where a kept result needs them: PR_READY, or ESCALATE with a diff.
    const kept = new Set(statuses.filter((s) => s.status === "in_review" || s.status === "blocked").map((s) => `switchyard/${s.id}`))
    const branches = git(r.dir, "branch", "--list", "switchyard/*", "--format=%(refname:short)").split("\n").filter(Boolean)
    expect(branches.filter((b) => !kept.has(b))).toEqual([])
    const check = await sy(r.dir, "status", "--check")
    expect(check.code, check.stdout + check.stderr).toBe(0)
  }, 300_000)
})
