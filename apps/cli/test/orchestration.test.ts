/**
 * The four-layer state contract under crashes, restarts, signals and concurrent runners (issue: Orchestrator
 * and supervisor). Real `switchyard run` child processes, real agents, real signals.
 */
import Database from "better-sqlite3"
import { describe, expect, it } from "@effect/vitest"
import { readdirSync } from "node:fs"
import {
  alive,
  averageRepro,
  existsSync,
  exited,
  fixerScript,
  git,
  join,
  perTest,
  pidsMatching,
  readFileSync,
  sandboxBlock,
  sleep,
  sy,
  syJson,
  type TestRepo,
  until
} from "./harness.js"

const { repo, start } = perTest()

const config = (agent: string, extra = "") => `agent:
  command: ${JSON.stringify(agent)}
  max_attempts: 3
  retry_base_delay_ms: 50
  max_concurrent_agents: 2
polling:
  interval_ms: 200
orchestrator:
  heartbeat_ms: 200
  lease_ttl_ms: 2000
${extra}`

/** True when `pid`'s chain of parents (read from /proc) reaches one of `ancestors`. */
const isDescendantOf = (pid: number, ancestors: ReadonlyArray<number>): boolean => {
  let current = pid
  for (let i = 0; i < 64 && current > 1; i++) {
    if (ancestors.includes(current)) return true
    const stat = existsSync(`/proc/${current}/stat`) ? readFileSync(`/proc/${current}/stat`, "utf8") : ""
    current = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1] ?? 0)
  }
  return false
}

const noop = `echo '{"claim":"NO_OP","summary":"nothing to do"}' > "$SWITCHYARD_RESULT_FILE"`
const db = (r: TestRepo) => new Database(join(r.dir, ".switchyard/switchyard.db"))
/** Sandboxes (and their per-attempt directories) left under the workspace root. */
const worktreesLeft = (r: TestRepo) => [
  ...(existsSync(r.worktrees) ? readdirSync(r.worktrees).filter((n) => n !== ".verify" && n !== ".attempts") : []),
  ...(existsSync(join(r.worktrees, ".attempts")) ? readdirSync(join(r.worktrees, ".attempts")).map((n) => `.attempts/${n}`) : [])
]

describe("crash and restart", () => {
  it("unconfined, a SIGKILLed runner's orphaned agent is killed on restart, and the issue is requeued and finishes once", async () => {
    const r = repo()
    const pidFile = join(r.shared, "agent.pid")
    // Attempt 1 hangs (as a group: sh + sleep); attempt 2 finishes.
    r.writeWorkflow(`${sandboxBlock({ confinement: "none" })}${config(r.agent("hang-then-noop.sh", `if [ "$SWITCHYARD_ATTEMPT" = 1 ]; then echo $$ > ${JSON.stringify(pidFile)}; sleep 300; fi\n${noop}`))}`)
    await sy(r.dir, "issue", "create", "--title", "survives a crash")
    const first = start(r.dir, "run")
    await first.out.waitFor(/agent\.started/)
    await until(() => existsSync(pidFile), 10_000, "agent pid file")
    const agentPid = Number(readFileSync(pidFile, "utf8"))
    first.child.kill("SIGKILL")
    await exited(first.child)
    expect(alive(agentPid)).toBe(true) // unconfined, the orphan survives its runner…

    const restart = await sy(r.dir, "run", "--once")
    expect(restart.code, restart.stderr).toBe(0)
    expect(restart.stdout).toContain("lease.expired")
    expect(alive(agentPid)).toBe(false) // …until the next runner's supervisor kills its process group

    const issue = await syJson(r.dir, "issue", "show", "SY-1")
    expect(issue).toMatchObject({ status: "done", outcome: "NO_OP", attempts: 2 })
    const rows = db(r).prepare("SELECT attempt, terminal_state, cause FROM attempts WHERE issue_id = 'SY-1' ORDER BY attempt").all()
    expect(rows).toEqual([
      { attempt: 1, terminal_state: "RETRYABLE_FAILURE", cause: "runner_died" },
      { attempt: 2, terminal_state: "NO_OP", cause: "agent_no_op" }
    ])
    // Exactly one terminal state and one evidence bundle per attempt.
    const bundles = db(r).prepare("SELECT attempt, outcome FROM evidence WHERE issue_id = 'SY-1' ORDER BY attempt").all()
    expect(bundles).toEqual([{ attempt: 1, outcome: "RETRYABLE_FAILURE" }, { attempt: 2, outcome: "NO_OP" }])
    expect(worktreesLeft(r)).toEqual([])
    expect(git(r.dir, "worktree", "list").split("\n")).toHaveLength(1)
    expect((await sy(r.dir, "status", "--check")).code).toBe(0)
  })

  it("confined, a SIGKILLed runner takes its agent's whole tree with it (setsid included); the restart requeues and finishes", async () => {
    const r = repo()
    const started = join(r.shared, "started")
    // Attempt 1 hangs with a setsid'd helper that would outlive any process group; attempt 2 finishes.
    r.writeWorkflow(config(r.agent(
      "hang-then-noop.sh",
      `if [ "$SWITCHYARD_ATTEMPT" = 1 ]; then setsid sh -c 'sleep 300' & touch ${JSON.stringify(started)}; sleep 300; fi\n${noop}`
    )))
    await sy(r.dir, "issue", "create", "--title", "survives a crash")
    const first = start(r.dir, "run")
    await until(() => existsSync(started), 15_000, "the agent to start")
    const agentPids = pidsMatching("hang-then-noop.sh")
    expect(agentPids.length).toBeGreaterThan(0)
    first.child.kill("SIGKILL")
    await exited(first.child)
    // The runner's death ends bwrap's PID namespace: every process in it is killed by the kernel.
    await until(() => agentPids.every((pid) => !alive(pid)) && pidsMatching("sleep 300").filter((pid) => isDescendantOf(pid, agentPids)).length === 0, 5_000, "the agent's tree to die with its runner")

    const restart = await sy(r.dir, "run", "--once")
    expect(restart.code, restart.stderr).toBe(0)
    expect(restart.stdout).toContain("lease.expired")
    const issue = await syJson(r.dir, "issue", "show", "SY-1")
    expect(issue).toMatchObject({ status: "done", outcome: "NO_OP", attempts: 2 })
    expect(worktreesLeft(r)).toEqual([])
    expect((await sy(r.dir, "status", "--check")).code).toBe(0)
  })

  it("SIGTERM during a run exits 143 within 10 s, kills the agent, and returns the issue without using an attempt", async () => {
    const r = repo()
    const started = join(r.shared, "agent-started")
    const hookStarted = join(r.shared, "after_run-started")
    // after_run runs on interruption too (SPEC §5.3.4); this one hangs, so it is cut off and its process killed.
    r.writeWorkflow(config(
      r.agent("stubborn.sh", `touch ${JSON.stringify(started)}; trap '' TERM; sleep 300`),
      `hooks:\n  after_run: 'touch ${hookStarted}; sleep 300 # after-run-hook'`
    ))
    await sy(r.dir, "issue", "create", "--title", "interrupted")
    const run = start(r.dir, "run")
    await run.out.waitFor(/agent\.started/)
    await until(() => existsSync(started), 10_000, "the agent to start")
    const agentPids = pidsMatching("stubborn.sh")
    expect(agentPids.length).toBeGreaterThan(0)
    const sent = Date.now()
    run.child.kill("SIGTERM")
    const exit = await exited(run.child, sent)
    expect(exit.code).toBe(143)
    expect(exit.afterMs).toBeLessThan(10_000)
    expect(agentPids.filter(alive)).toEqual([]) // it ignored SIGTERM, and is gone
    expect(existsSync(hookStarted)).toBe(true)
    expect(pidsMatching("after-run-hook")).toEqual([])
    expect(db(r).prepare("SELECT message FROM events WHERE type = 'hook.after_run'").all()).toEqual([
      { message: "after_run cut off after 3000 ms (the run was interrupted)" }
    ])
    const issue = await syJson(r.dir, "issue", "show", "SY-1")
    expect(issue).toMatchObject({ status: "todo", attempts: 1, counted_attempts: 0 })
    expect(db(r).prepare("SELECT COUNT(*) AS n FROM leases").get()).toEqual({ n: 0 })
    // The sandbox is kept for the issue's next attempt (workspace continuity); its branch is not.
    expect(worktreesLeft(r)).toEqual(["SY-1", ".attempts/SY-1"])
    expect(git(r.dir, "branch", "--list", "switchyard/*")).toBe("")
  })

  it("SIGTERM during a slow after_create exits 143 and leaves no sandbox, no branch and no hook (threat model A28)", async () => {
    const r = repo()
    const started = join(r.shared, "after_create-started")
    r.writeWorkflow(config(
      r.agent("noop.sh", noop),
      `hooks:\n  after_create: 'touch ${started}; sleep 300 # after-create-hook'`
    ))
    await sy(r.dir, "issue", "create", "--title", "interrupted while preparing")
    const run = start(r.dir, "run")
    await until(() => existsSync(started), 10_000, "after_create to start")
    expect(git(r.dir, "branch", "--list", "switchyard/SY-1")).toContain("switchyard/SY-1")
    const sent = Date.now()
    run.child.kill("SIGTERM")
    const exit = await exited(run.child, sent)
    expect(exit.code).toBe(143)
    expect(exit.afterMs).toBeLessThan(10_000)
    expect(pidsMatching("after-create-hook")).toEqual([])
    expect(worktreesLeft(r)).toEqual([])
    expect(git(r.dir, "branch", "--list", "switchyard/*")).toBe("")
    expect(await syJson(r.dir, "issue", "show", "SY-1")).toMatchObject({ status: "todo", counted_attempts: 0 })
  })

  it("a before_remove that outlives hooks.timeout_ms is cut off at the end of the attempt, freeing its slot", async () => {
    const r = repo()
    const started = join(r.shared, "before_remove-started")
    // 20 s of hook, 500 ms allowed: before the fix the attempt's end (uninterruptible) waited for all of it.
    r.writeWorkflow(config(
      r.agent("noop.sh", noop),
      `hooks:\n  timeout_ms: 500\n  before_remove: 'touch ${started}; sleep 20 # before-remove-hook'`
    ))
    await sy(r.dir, "issue", "create", "--title", "slow cleanup")
    const begun = Date.now()
    const run = await sy(r.dir, "run", "--once")
    const tookMs = Date.now() - begun
    expect(run.code, run.stderr).toBe(0)
    expect(existsSync(started)).toBe(true)
    expect(tookMs).toBeLessThan(12_000)
    // Killed with its group: gone within moments (the kernel reaps a confined tree when its namespace's init dies).
    await until(() => pidsMatching("before-remove-hook").length === 0, 3_000, "the before_remove hook to be gone")
    expect((await syJson(r.dir, "issue", "show", "SY-1")).outcome).toBe("NO_OP")
    expect(worktreesLeft(r)).toEqual([])
  })
})

describe("signals", () => {
  it("a second SIGTERM exits at once, without waiting for the agent's grace period", async () => {
    const r = repo()
    const started = join(r.shared, "agent-started")
    r.writeWorkflow(config(r.agent("stubborn.sh", `touch ${JSON.stringify(started)}; trap '' TERM; sleep 300`)))
    await sy(r.dir, "issue", "create", "--title", "impatient human")
    const run = start(r.dir, "run")
    await run.out.waitFor(/agent\.started/)
    await until(() => existsSync(started), 10_000, "the agent to start")
    run.child.kill("SIGTERM")
    await sleep(100)
    const sent = Date.now()
    run.child.kill("SIGTERM")
    const exit = await exited(run.child, sent)
    expect(exit.code).toBe(143)
    // The graceful path waits up to 2 s for the TERM-ignoring agent before SIGKILL; the second signal does not.
    expect(exit.afterMs).toBeLessThan(1_500)
  })
})

describe("concurrent runners", () => {
  it("two runners on one repo never run the same issue, finish all 20, and both do work", async () => {
    const r = repo()
    const log = join(r.shared, "ran.log")
    // Each agent takes 1 s, so one runner alone needs ~10 s: longer than any start-up skew between the two.
    r.writeWorkflow(config(r.agent("slow-noop.sh", `echo "$SWITCHYARD_ISSUE_ID" >> ${JSON.stringify(log)}; sleep 1\n${noop}`)))
    for (let i = 1; i <= 20; i++) (await sy(r.dir, "issue", "create", "--title", `issue ${i}`))
    const a = start(r.dir, "run", "--once", "--concurrency", "2")
    const b = start(r.dir, "run", "--once", "--concurrency", "2")
    const [ea, eb] = await Promise.all([exited(a.child), exited(b.child)])
    expect([ea.code, eb.code]).toEqual([0, 0])
    const ran = readFileSync(log, "utf8").trim().split("\n")
    expect(ran).toHaveLength(20)
    expect(new Set(ran).size).toBe(20)
    const attempts = db(r).prepare("SELECT issue_id, runner_id, terminal_state FROM attempts").all() as Array<any>
    expect(attempts).toHaveLength(20)
    expect(attempts.every((x) => x.terminal_state === "NO_OP")).toBe(true)
    expect(new Set(attempts.map((x) => x.runner_id)).size).toBe(2)
  })
})

describe("reconciliation", () => {
  it("an issue cancelled mid-run is interrupted within one tick and the attempt is not counted", async () => {
    const r = repo()
    const started = join(r.shared, "agent-started")
    // polling.interval_ms is long: only the push from the other process's write can make this fast.
    const afterRunFile = join(r.shared, "after_run.log")
    r.writeWorkflow(
      config(
        r.agent("hang.sh", `touch ${JSON.stringify(started)}; sleep 300`),
        `hooks:\n  after_run: 'echo "$SWITCHYARD_ISSUE_ID" >> ${afterRunFile}'`
      ).replace("interval_ms: 200", "interval_ms: 60000")
    )
    await sy(r.dir, "issue", "create", "--title", "to be cancelled")
    const run = start(r.dir, "run", "--once")
    await run.out.waitFor(/agent\.started/)
    await until(() => existsSync(started), 10_000, "the agent to start")
    const agentPids = pidsMatching("hang.sh")
    expect(agentPids.length).toBeGreaterThan(0)
    const cancelled = Date.now()
    expect((await sy(r.dir, "issue", "update", "SY-1", "--status", "cancelled")).code).toBe(0)
    await run.out.waitFor(/reconcile\.canceled/, 5_000)
    const exit = await exited(run.child)
    expect(exit.code).toBe(0)
    expect(Date.now() - cancelled).toBeLessThan(5_000)
    expect(agentPids.filter(alive)).toEqual([])
    expect((await syJson(r.dir, "issue", "show", "SY-1"))).toMatchObject({ status: "cancelled", attempts: 1, counted_attempts: 0 })
    expect(db(r).prepare("SELECT cause, counted FROM attempts").get()).toEqual({ cause: "canceled_by_reconciliation", counted: 0 })
    expect(readFileSync(afterRunFile, "utf8")).toBe("SY-1\n") // after_run ran for the cancelled run
    expect(worktreesLeft(r)).toEqual([])
  })

  it("poison issues (a failing hook, a row edited to garbage) do not stop the others", async () => {
    const r = repo()
    r.writeWorkflow(config(r.agent("noop.sh", noop), `hooks:\n  before_run: 'case "$PWD" in */SY-2) echo "hook exploded" >&2; exit 1;; esac'`).replace("max_attempts: 3", "max_attempts: 1"))
    for (const t of ["fine", "hook explodes", "garbage row", "also fine"]) (await sy(r.dir, "issue", "create", "--title", t))
    db(r).prepare("UPDATE issues SET labels = 'not json' WHERE id = 'SY-3'").run()
    const run = await sy(r.dir, "run", "--once")
    expect(run.code, run.stderr).toBe(0)
    expect(run.stdout).toContain("issue.invalid")
    expect((await syJson(r.dir, "issue", "show", "SY-1")).outcome).toBe("NO_OP")
    expect((await syJson(r.dir, "issue", "show", "SY-4")).outcome).toBe("NO_OP")
    const poisoned = await syJson(r.dir, "evidence", "SY-2")
    expect(poisoned.outcome).toBe("ESCALATE")
    expect(poisoned.verdict.reasons.join(" ")).toContain("before_run")
    const status = await syJson(r.dir, "status")
    expect(status.tracker.invalid.map((i: any) => i.id)).toEqual(["SY-3"])
  })

  it("a failing after_create hook is an event and fails only its own issue", async () => {
    const r = repo()
    r.writeWorkflow(config(
      r.agent("noop.sh", noop),
      `hooks:\n  after_create: 'case "$SWITCHYARD_ISSUE_ID" in SY-1) echo "npm ci failed" >&2; exit 1;; esac'`
    ).replace("max_attempts: 3", "max_attempts: 1"))
    for (const t of ["cannot prepare", "prepares fine"]) await sy(r.dir, "issue", "create", "--title", t)
    const run = await sy(r.dir, "run", "--once")
    expect(run.code, run.stderr).toBe(0)
    const hookEvents = db(r).prepare("SELECT issue_id, message FROM events WHERE type = 'hook.after_create' ORDER BY issue_id").all()
    expect(hookEvents).toEqual([
      { issue_id: "SY-1", message: expect.stringContaining("npm ci failed") },
      { issue_id: "SY-2", message: "after_create passed" }
    ])
    const failed = await syJson(r.dir, "evidence", "SY-1")
    expect(failed.verdict.reasons.join(" ")).toContain("after_create")
    expect((await syJson(r.dir, "issue", "show", "SY-2")).outcome).toBe("NO_OP")
    expect(worktreesLeft(r)).toEqual([])
  })

  it("an agent that goes silent is stopped as stalled and retried", async () => {
    const r = repo()
    const started = join(r.shared, "agent-started")
    r.writeWorkflow(config(r.agent("silent.sh", `if [ "$SWITCHYARD_ATTEMPT" = 1 ]; then touch ${JSON.stringify(started)}; echo starting; sleep 300; fi\n${noop}`)).replace("agent:\n", "agent:\n  stall_timeout_ms: 1000\n"))
    await sy(r.dir, "issue", "create", "--title", "goes quiet")
    const run = await sy(r.dir, "run", "--once")
    expect(run.code, run.stderr).toBe(0)
    expect(run.stdout).toContain("agent.stalled")
    expect(existsSync(started)).toBe(true)
    expect(pidsMatching("silent.sh")).toEqual([])
    const first = await syJson(r.dir, "evidence", "SY-1", "--attempt", "1")
    expect(first.verdict.cause).toBe("stalled")
    expect(first.agent.stalled).toBe(true)
    expect((await syJson(r.dir, "issue", "show", "SY-1"))).toMatchObject({ outcome: "NO_OP", attempts: 2 })
  })
})

describe("status during a run", () => {
  it("shows the four layers side by side: tracker, leases and retries, live workers, outcomes", async () => {
    const r = repo()
    // SY-1 and SY-4 work (and print), SY-2 crashes once (a retry due in a minute), SY-3 waits for SY-1.
    r.writeWorkflow(config(r.agent(
      "mixed.sh",
      `case "$SWITCHYARD_ISSUE_ID" in SY-2) echo "boom" >&2; exit 1;; esac\necho "working on $SWITCHYARD_ISSUE_ID"; sleep 300`
    )).replace("retry_base_delay_ms: 50", "retry_base_delay_ms: 60000"))
    await sy(r.dir, "issue", "create", "--title", "long one", "--priority", "high")
    await sy(r.dir, "issue", "create", "--title", "crashes", "--priority", "high")
    await sy(r.dir, "issue", "create", "--title", "after SY-1", "--blocked-by", "SY-1")
    await sy(r.dir, "issue", "create", "--title", "another long one")
    const run = start(r.dir, "run")
    await run.out.waitFor(/SY-2\s+terminal\.RETRYABLE_FAILURE/)
    await run.out.waitFor(/SY-4\s+agent\.started/)
    // Both agents have printed (the lease records the last output time).
    let s = await syJson(r.dir, "status")
    for (let i = 0; i < 50 && !s.workers.every((w: any) => w.lastOutputAgeMs !== null); i++) {
      await sleep(200)
      s = await syJson(r.dir, "status")
    }
    expect(s.tracker.counts).toMatchObject({ in_progress: 2, todo: 2 })
    expect(s.tracker).toMatchObject({ eligible: 0, next: [], waiting: 1, blocked: 0 }) // SY-3 waits on SY-1
    const runner = s.orchestrator.leases[0].runner
    expect(runner).toMatch(/^.+:\d+:\d+$/) // host:pid:start
    expect(s.orchestrator.leases.map((l: any) => [l.issue, l.attempt, l.runner])).toEqual([["SY-1", 1, runner], ["SY-4", 1, runner]])
    for (const l of s.orchestrator.leases) expect(l.heartbeatAgeMs).toBeLessThan(2_000)
    expect(s.orchestrator.retries).toHaveLength(1)
    expect(s.orchestrator.retries[0]).toMatchObject({ issue: "SY-2", attempt: 2, error: "agent_exit_nonzero" })
    expect(s.orchestrator.retries[0].dueInMs).toBeGreaterThan(30_000)
    expect(s.workers.map((w: any) => [w.issue, w.stage])).toEqual([["SY-1", "agent"], ["SY-4", "agent"]])
    for (const w of s.workers) expect(alive(w.pid)).toBe(true)
    expect(s.human.recent.map((o: any) => [o.issue, o.outcome, o.evidence])).toEqual([["SY-2", "RETRYABLE_FAILURE", true]])
    expect(s.human.violations).toEqual([])

    const text = (await sy(r.dir, "status")).stdout
    expect(text).toContain("eligible now: none · waiting on blockers or open children: 1")
    expect(text).toContain("ORCHESTRATOR  2 lease(s)")
    expect(text).toMatch(/retry SY-2/)
    expect(text).toContain("WORKERS       2 running")
    expect(text).toMatch(new RegExp(`SY-1 agent for \\d+s, last output \\d+s ago, pid ${s.workers[0].pid}`))
    expect(text).toMatch(/SY-2 +#1 RETRYABLE_FAILURE/)

    run.child.kill("SIGTERM")
    expect((await exited(run.child)).code).toBe(143)
  })
})

describe("what the supervisor repairs and what it cannot", () => {
  it("an issue left in_progress with no lease is requeued (attempt counted) and finishes", async () => {
    const r = repo()
    r.writeWorkflow(config(r.agent("noop.sh", noop)))
    await sy(r.dir, "issue", "create", "--title", "orphaned")
    // As if a runner died between moving the issue and anything else: in_progress, no lease, no worker.
    expect((await sy(r.dir, "issue", "update", "SY-1", "--status", "in_progress")).code).toBe(0)
    const run = await sy(r.dir, "run", "--once")
    expect(run.code, run.stderr).toBe(0)
    expect(run.stdout).toContain("reconcile.requeued")
    expect(await syJson(r.dir, "issue", "show", "SY-1")).toMatchObject({ status: "done", outcome: "NO_OP" })
  })

  it("a PR_READY branch that disappears is a violation: shown by status, and status --check exits 3", async () => {
    const r = repo()
    r.writeWorkflow(config(r.agent("fixer.sh", fixerScript)))
    await sy(r.dir, "issue", "create", "--title", "average([]) is NaN", "--repro", averageRepro)
    expect((await sy(r.dir, "run", "--once")).code).toBe(0)
    expect((await sy(r.dir, "status", "--check")).code).toBe(0)
    git(r.dir, "branch", "-D", "switchyard/SY-1")
    const check = await sy(r.dir, "status", "--check")
    expect(check.code).toBe(3)
    expect(check.stderr).toContain("1 violation(s)")
    const status = await syJson(r.dir, "status")
    expect(status.human.violations).toEqual([
      expect.objectContaining({ kind: "pr_ready_branch_missing", issueId: "SY-1", attempt: 1 })
    ])
    expect((await sy(r.dir, "status")).stdout).toContain("VIOLATIONS")
  })
})

describe("push, not only pull", () => {
  it("an issue created by another process is dispatched in under 1 s with polling.interval_ms 60000", async () => {
    const r = repo()
    r.writeWorkflow(config(r.agent("noop.sh", noop)).replace("interval_ms: 200", "interval_ms: 60000"))
    const run = start(r.dir, "run")
    await run.out.waitFor(/runner\.started/)
    await sleep(300)
    const created = await sy(r.dir, "issue", "create", "--title", "pushed")
    const createdAt = Date.now()
    expect(created.code).toBe(0)
    await run.out.waitFor(/claim\.acquired/, 5_000)
    const claimedAt = run.out.seen.find((s) => /claim\.acquired/.test(s.line))!.at
    expect(claimedAt - createdAt).toBeLessThan(1_000)
    run.child.kill("SIGTERM")
    expect((await exited(run.child)).code).toBe(143)
  })
})
