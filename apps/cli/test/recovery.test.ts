/**
 * Recovery at exact kill points (docs/reliability.md): the built CLI, real git repos and real SIGKILLs. Each test
 * has a runner SIGKILL itself at one named point (`SWITCHYARD_KILL_AT`), then restarts the line and checks that
 * the four layers agree: one terminal state and one bundle per ended attempt, verified branches kept, nothing
 * leaked, and a resumed attempt that does not run the agent again.
 */
import Database from "better-sqlite3"
import { describe, expect, it } from "@effect/vitest"
import { readdirSync } from "node:fs"
import {
  averageRepro,
  existsSync,
  exited,
  fixerScript,
  git,
  join,
  lines,
  perTest,
  readFileSync,
  sy,
  syAsync,
  syChild,
  syJson,
  type TestRepo,
  until
} from "./harness.js"

const { repo, track } = perTest()

const config = (agent: string, extra = "") => `agent:
  command: ${JSON.stringify(agent)}
  max_attempts: 3
  retry_base_delay_ms: 50
polling:
  interval_ms: 200
orchestrator:
  heartbeat_ms: 200
  lease_ttl_ms: 2000
${extra}`

const db = (r: TestRepo) => new Database(join(r.dir, ".switchyard/switchyard.db"), { readonly: true })
const attempts = (r: TestRepo) =>
  db(r).prepare("SELECT attempt, terminal_state, cause, counted, runner_deaths FROM attempts ORDER BY issue_id, attempt").all()
const bundles = (r: TestRepo) => db(r).prepare("SELECT issue_id, attempt, outcome FROM evidence ORDER BY issue_id, attempt").all()
const worktreesLeft = (r: TestRepo) => [
  ...(existsSync(r.worktrees) ? readdirSync(r.worktrees).filter((n) => n !== ".verify" && n !== ".attempts") : []),
  ...(existsSync(join(r.worktrees, ".attempts")) ? readdirSync(join(r.worktrees, ".attempts")).map((n) => `.attempts/${n}`) : []),
  ...(existsSync(join(r.worktrees, ".verify")) ? readdirSync(join(r.worktrees, ".verify")).map((n) => `.verify/${n}`) : [])
]
const branches = (r: TestRepo) => git(r.dir, "branch", "--list", "switchyard/*", "--format=%(refname:short)").split("\n").filter(Boolean)
/** An agent that counts its runs in `<shared>/runs` and then fixes the bug. */
const countingFixer = (r: TestRepo) =>
  r.agent("counting-fixer.sh", `echo run >> ${JSON.stringify(join(r.shared, "runs"))}\n${fixerScript}`)
const runsOf = (r: TestRepo) => existsSync(join(r.shared, "runs")) ? readFileSync(join(r.shared, "runs"), "utf8").split("\n").filter(Boolean).length : 0
const killedAt = (r: TestRepo, point: string) => syAsync(r.dir, ["run", "--once"], { SWITCHYARD_KILL_AT: point })

describe("recovery at kill points", () => {
  it("killed between its verdict stored and its lease released: the verdict and the verified branch survive", async () => {
    const r = repo()
    r.writeWorkflow(config(countingFixer(r)))
    await sy(r.dir, "issue", "create", "--title", "average of an empty list", "--repro", averageRepro)
    const killed = await killedAt(r, "bundle.stored")
    expect(killed.code, killed.stderr).toBeNull()
    expect(bundles(r)).toEqual([{ issue_id: "SY-1", attempt: 1, outcome: "PR_READY" }])
    expect(attempts(r)).toMatchObject([{ attempt: 1, terminal_state: null }])

    const restart = await sy(r.dir, "run", "--once")
    expect(restart.code, restart.stderr).toBe(0)
    expect(attempts(r)).toMatchObject([{ attempt: 1, terminal_state: "PR_READY", cause: "verified", counted: 1 }])
    expect(bundles(r)).toEqual([{ issue_id: "SY-1", attempt: 1, outcome: "PR_READY" }])
    expect(runsOf(r)).toBe(1)
    const bundle = await syJson(r.dir, "evidence", "SY-1")
    expect(branches(r)).toEqual(["switchyard/SY-1"])
    expect(git(r.dir, "rev-parse", "switchyard/SY-1")).toBe(bundle.fingerprint.commit)
    expect((await syJson(r.dir, "issue", "show", "SY-1")).status).toBe("in_review")
    expect(worktreesLeft(r)).toEqual([])
    expect((await sy(r.dir, "status", "--check")).code).toBe(0)
  })

  it("killed during verification: the successor verifies the same candidate, and the agent is not run again", async () => {
    const r = repo()
    r.writeWorkflow(config(countingFixer(r)))
    await sy(r.dir, "issue", "create", "--title", "average of an empty list", "--repro", averageRepro)
    const killed = await killedAt(r, "verify.started")
    expect(killed.code, killed.stderr).toBeNull()
    expect(runsOf(r)).toBe(1)
    const candidate = git(r.dir, "rev-parse", "switchyard/SY-1")
    // Before anyone finishes it, `evidence` shows what the dead runner's stages completed.
    const running = await sy(r.dir, "evidence", "SY-1")
    expect(running.code, running.stderr).toBe(0)
    expect(running.stdout).toContain("RUNNING")
    for (const stage of ["prepare", "reproduce on base", "agent turn", "candidate commit"]) expect(running.stdout).toContain(stage)
    expect(running.stdout).not.toContain("verify candidate")
    const stages = await syJson(r.dir, "evidence", "SY-1")
    expect(stages).toMatchObject({ issueId: "SY-1", attempt: 1, running: true })
    expect(stages.stages.map((s: any) => s.artifact._tag)).toEqual(["Opened", "Reproduced", "Prepared", "AgentTurn", "CandidateMade"])

    const restart = await sy(r.dir, "run", "--once")
    expect(restart.code, restart.stderr).toBe(0)
    expect(restart.stdout).toContain("attempt.resumed")
    expect(runsOf(r)).toBe(1) // no second model bill
    expect(attempts(r)).toMatchObject([{ attempt: 1, terminal_state: "PR_READY", counted: 1, runner_deaths: 1 }])
    const bundle = await syJson(r.dir, "evidence", "SY-1")
    expect(bundle.resumed).toMatchObject({ fromStage: "verify candidate", runnerDeaths: 1 })
    // The verdict is bound to the candidate the dead runner committed (amended with the evidence trailer).
    expect(git(r.dir, "rev-parse", `${bundle.fingerprint.commit}^{tree}`)).toBe(git(r.dir, "rev-parse", `${candidate}^{tree}`))
    const markdown = readFileSync(join(r.dir, ".switchyard/runs/SY-1/1/evidence.md"), "utf8")
    expect(markdown).toContain("resumed from verify candidate")
    expect(worktreesLeft(r)).toEqual([])
    expect((await sy(r.dir, "status", "--check")).code).toBe(0)
  })

  it("killed right after creating its sandbox: the restart removes the sandbox and the branch", async () => {
    const r = repo()
    r.writeWorkflow(config(countingFixer(r)))
    await sy(r.dir, "issue", "create", "--title", "average of an empty list", "--repro", averageRepro)
    const killed = await killedAt(r, "sandbox.created")
    expect(killed.code, killed.stderr).toBeNull()
    expect(branches(r)).toEqual(["switchyard/SY-1"])
    expect(worktreesLeft(r)).toContain("SY-1")
    // A human cancels the issue meanwhile, so the restart only repairs (it does not run the issue again).
    expect((await sy(r.dir, "issue", "update", "SY-1", "--status", "cancelled")).code).toBe(0)

    const restart = await sy(r.dir, "run", "--once")
    expect(restart.code, restart.stderr).toBe(0)
    expect(branches(r)).toEqual([])
    expect(worktreesLeft(r)).toEqual([])
    expect(attempts(r)).toMatchObject([{ attempt: 1, terminal_state: "RETRYABLE_FAILURE", cause: "runner_died", counted: 0 }])
    expect(bundles(r)).toEqual([{ issue_id: "SY-1", attempt: 1, outcome: "RETRYABLE_FAILURE" }])
    expect((await syJson(r.dir, "issue", "show", "SY-1")).status).toBe("cancelled")
    expect(runsOf(r)).toBe(0)
    expect((await sy(r.dir, "status", "--check")).code).toBe(0)
  })

  it("a supervisor killed in the middle of a repair: the next one finishes it, and no attempt is left without a bundle", async () => {
    const r = repo()
    const started = join(r.shared, "started")
    const noop = `echo '{"claim":"NO_OP","summary":"nothing to do"}' > "$SWITCHYARD_RESULT_FILE"`
    r.writeWorkflow(config(r.agent("hang-then-noop.sh", `if [ "$SWITCHYARD_ATTEMPT" = 1 ]; then touch ${JSON.stringify(started)}; sleep 300; fi\n${noop}`)))
    await sy(r.dir, "issue", "create", "--title", "survives two crashes")
    const first = track(syChild(r.dir, "run"))
    lines(first)
    await until(() => existsSync(started), 15_000, "the agent to start")
    first.kill("SIGKILL")
    await exited(first)

    // The second runner takes the dead runner's lease over, then dies before it repairs anything.
    const repairer = await killedAt(r, "repair.taken_over")
    expect(repairer.code, repairer.stderr).toBeNull()
    expect(bundles(r)).toEqual([])

    const third = await sy(r.dir, "run", "--once")
    expect(third.code, third.stderr).toBe(0)
    expect(attempts(r)).toMatchObject([
      { attempt: 1, terminal_state: "RETRYABLE_FAILURE", cause: "runner_died", counted: 0, runner_deaths: 1 },
      { attempt: 2, terminal_state: "NO_OP", counted: 1 }
    ])
    expect(bundles(r)).toEqual([
      { issue_id: "SY-1", attempt: 1, outcome: "RETRYABLE_FAILURE" },
      { issue_id: "SY-1", attempt: 2, outcome: "NO_OP" }
    ])
    expect(worktreesLeft(r)).toEqual([])
    expect(branches(r)).toEqual([])
    expect((await sy(r.dir, "status", "--check")).code).toBe(0)
  })
})
