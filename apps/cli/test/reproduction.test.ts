/**
 * A reproduction must prove something (end to end, built CLI, real git and processes): one that runs no test is
 * never NO_OP, one whose tool is missing is not the agent's failure; every verification command is shown as it
 * starts and ends; evidence.md holds no terminal control sequences.
 */
import { describe, expect, it } from "@effect/vitest"
import {
  averageRepro,
  existsSync,
  fixerScript,
  join,
  perTest,
  readFileSync,
  sy,
  syJson
} from "./harness.js"

const { repo } = perTest()

const workflow = (agentPath: string, validation = "node --test", extra = "") => `agent:
  command: ${JSON.stringify(agentPath)}
  max_attempts: 2
  retry_base_delay_ms: 50
  timeout_ms: 60000
verify:
  validation:
    - ${JSON.stringify(validation)}
polling:
  interval_ms: 200
${extra}`

describe("a reproduction must prove something", () => {
  it("a node --test reproduction whose name filter matches nothing is ESCALATE reproduction_ran_no_tests, not NO_OP, and the agent never runs", async () => {
    const r = repo()
    const marker = join(r.shared, "agent-ran")
    r.writeWorkflow(workflow(r.agent("marker.sh", `touch ${JSON.stringify(marker)}`)))
    await sy(r.dir, "issue", "create", "--title", "filter typo", "--repro", "node --test --test-name-pattern=nomatch")
    const run = await sy(r.dir, "run", "--once")
    expect(run.code, run.stderr).toBe(0)
    const issue = await syJson(r.dir, "issue", "show", "SY-1")
    expect(issue).toMatchObject({ status: "blocked", outcome: "ESCALATE", attempts: 1 })
    expect(existsSync(marker)).toBe(false)
    const evidence = await syJson(r.dir, "evidence", "SY-1")
    expect(evidence.verdict.cause).toBe("reproduction_ran_no_tests")
    expect(evidence.verdict.reasons[0]).toContain("ran no test on the base")
    expect(evidence.reproduction.before.exitCode).toBe(0)
    expect(evidence.reproductionTestCounts.before).toMatchObject({ passed: 0, failed: 0, runner: "node-test" })
    expect(evidence.agent).toBeNull()
    const md = readFileSync(join(r.dir, ".switchyard/runs/SY-1/1/evidence.md"), "utf8")
    expect(md).toContain("`reproduction_ran_no_tests`")
    expect(md).toMatch(/\| before \(base\) \| 0 \| [^|]+ \| \d+ \(0 passed, 0 failed, \d+ skipped; node-test\) \|/)
  })

  it("a reproduction whose tool is missing (exit 127) is RETRYABLE_FAILURE reproduction_tool_missing naming the tool, and the agent is not blamed", async () => {
    const r = repo()
    const marker = join(r.shared, "agent-ran")
    r.writeWorkflow(workflow(r.agent("marker.sh", `touch ${JSON.stringify(marker)}`)))
    await sy(r.dir, "issue", "create", "--title", "no install", "--repro", "no-such-runner test")
    expect((await sy(r.dir, "run", "--once")).code).toBe(0)
    expect(existsSync(marker)).toBe(false)
    const first = await syJson(r.dir, "evidence", "SY-1", "--attempt", "1")
    expect(first.outcome).toBe("RETRYABLE_FAILURE")
    expect(first.verdict.cause).toBe("reproduction_tool_missing")
    expect(first.verdict.reasons.join(" ")).toContain("`no-such-runner` was not found")
    expect(first.verdict.reasons.join(" ")).toContain("hooks.after_create")
    expect(first.agent).toBeNull()
    // After agent.max_attempts it escalates (within the one `run --once`), and the question says what to fix.
    expect(existsSync(marker)).toBe(false)
    const last = await syJson(r.dir, "evidence", "SY-1")
    expect(last.verdict.cause).toBe("retries_exhausted")
    expect(last.verdict.reasons.join(" ")).toContain("last cause: reproduction_tool_missing")
    expect(last.question).toContain("install hook")
  })

  it("validation whose test runner ran no test (on the base and the candidate) is ESCALATE validation_ran_no_tests, not PR_READY", async () => {
    const r = repo()
    r.writeWorkflow(workflow(r.agent("fixer.sh", fixerScript), "node --test --test-name-pattern=nomatch"))
    await sy(r.dir, "issue", "create", "--title", "average([]) is NaN", "--repro", averageRepro)
    expect((await sy(r.dir, "run", "--once")).code).toBe(0)
    const evidence = await syJson(r.dir, "evidence", "SY-1")
    expect(evidence.outcome).toBe("ESCALATE")
    expect(evidence.verdict.cause).toBe("validation_ran_no_tests")
    expect(evidence.verdict.reasons.join(" ")).toContain("Validation ran no test on the base")
    expect(evidence.testCounts.base).toMatchObject({ passed: 0, failed: 0 })
  })

  it("switchyard run prints each verification command as it starts and ends, with its duration and test counts", async () => {
    const r = repo()
    // verify.compare_test_counts is on by default: validation runs on the base too.
    r.writeWorkflow(workflow(r.agent("fixer.sh", fixerScript)))
    await sy(r.dir, "issue", "create", "--title", "average([]) is NaN", "--repro", averageRepro)
    const run = await sy(r.dir, "run", "--once")
    expect(run.code, run.stderr).toBe(0)
    expect(run.stdout).toContain("terminal.PR_READY")
    const lines = run.stdout.split("\n")
    const started = lines.filter((l) => l.includes("verify.command_started"))
    const done = lines.filter((l) => l.includes("verify.command_done"))
    // The candidate's checks and the base's validation run side by side: each phase in order, the two interleaved.
    expect(started.map((l) => l.replace(/^.*verify\.command_started\s+/, "")).sort()).toEqual([
      expect.stringMatching(/^reproduction on the base: `node --input-type=module .*` started$/),
      expect.stringMatching(/^reproduction on the candidate: `node .*` started$/),
      "validation #1 on the base: `node --test` started",
      "validation #1 on the candidate: `node --test` started"
    ])
    expect(done).toHaveLength(4)
    const doneOf = (phase: string) => done.find((l) => l.includes(phase))!
    expect(done[0]).toMatch(/reproduction on the base: `node .*` exited 1 after \d+(\.\d)? m?s$/)
    expect(doneOf("on the candidate: `node --test`")).toMatch(
      /validation #1 on the candidate: `node --test` exited 0 after \d+(\.\d)? m?s; 2 test\(s\): 2 passed, 0 failed, 0 skipped$/
    )
    expect(doneOf("validation #1 on the base")).toMatch(/validation #1 on the base: `node --test` exited 0 after .*; 1 test\(s\): 1 passed/)
    // Each start comes before its end.
    const candidateStarted = started.find((l) => l.includes("validation #1 on the candidate"))!
    expect(lines.indexOf(candidateStarted)).toBeLessThan(lines.indexOf(doneOf("on the candidate: `node --test`")))
  })

  it("evidence.md has no ANSI escape codes when a validation command prints colours", async () => {
    const r = repo()
    const coloured = "printf '\\033[31mred\\033[0m \\033]0;title\\007\\n' && FORCE_COLOR=1 node --test --test-reporter=spec"
    r.writeWorkflow(workflow(r.agent("fixer.sh", fixerScript), coloured))
    await sy(r.dir, "issue", "create", "--title", "average([]) is NaN", "--repro", averageRepro)
    expect((await sy(r.dir, "run", "--once")).code).toBe(0)
    const evidence = await syJson(r.dir, "evidence", "SY-1")
    expect(evidence.outcome).toBe("PR_READY")
    // The raw output (evidence.json) keeps the colours; the page a person reads does not.
    expect(evidence.validation[0].outputTail + evidence.validation[0].outputHead).toContain("\x1b[")
    const md = readFileSync(join(r.dir, ".switchyard/runs/SY-1/1/evidence.md"), "utf8")
    expect(md).toContain("red")
    expect(md).not.toContain("\x1b")
    expect(md).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/)
  })
})
