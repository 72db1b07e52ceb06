import { describe, expect, it } from "@effect/vitest"
import { TestCounts } from "@switchyard/domain"
import { afterVerification, applyRetryPolicy, beforeAgent, decide, type DecisionInput } from "../src/Line/decide.js"
import { result } from "./fixtures.js"

/** `node --test` TAP summary lines: `tests` total, `pass` passed, `skipped` skipped. */
const nodeSummary = (tests: number, pass: number, skipped: number, fail = 0) =>
  `# tests ${tests}\n# suites 0\n# pass ${pass}\n# fail ${fail}\n# cancelled 0\n# skipped ${skipped}\n# todo 0\n# duration_ms 12.5\n`
/** A vitest run whose `-t` filter matched nothing: every test skipped, exit 0. */
const vitestFiltered = "\n Test Files  1 skipped (1)\n      Tests  25 skipped (25)\n   Start at  15:20:25\n"
const counts = (total: number, passed: number, skipped: number) =>
  new TestCounts({ total, passed, failed: total - passed - skipped, skipped, runner: "node-test" })

const okAgent = { crashed: false, timedOut: false, exitCode: 0, claim: null, question: null, signal: null } as const
const passing = { reproductionAfter: result("repro", 0), validation: [result("node --test", 0)] }
const base: DecisionInput = {
  agent: okAgent,
  diffEmpty: false,
  reproduction: "repro",
  reproductionBefore: result("repro", 1),
  verification: passing,
  failedGuards: []
}

// One row per line of the decision table (brief: "The run", step 6), first match wins.
type Patch = Omit<Partial<DecisionInput>, "agent"> & { agent?: Partial<DecisionInput["agent"]> }
const table: ReadonlyArray<[string, Patch, string, string]> = [
  ["budget exceeded wins over everything", { agent: { budgetExceeded: "max_cost_usd 0.50 exceeded (0.62)", exitCode: null } }, "ESCALATE", "budget_exceeded"],
  ["agent stalled", { agent: { stalled: true, exitCode: null } }, "RETRYABLE_FAILURE", "stalled"],
  ["agent timed out", { agent: { timedOut: true, exitCode: null } }, "RETRYABLE_FAILURE", "agent_timed_out"],
  ["agent crashed", { agent: { crashed: true, exitCode: null, signal: "SIGSEGV" } }, "RETRYABLE_FAILURE", "agent_crashed"],
  ["agent exited non-zero, even claiming PR_READY", { agent: { exitCode: 2, claim: "PR_READY" } }, "RETRYABLE_FAILURE", "agent_exit_nonzero"],
  ["agent escalates", { agent: { claim: "ESCALATE", question: "which API?" } }, "ESCALATE", "agent_escalated"],
  ["empty diff + NO_OP, no reproduction", { diffEmpty: true, reproduction: null, reproductionBefore: null, verification: null, agent: { claim: "NO_OP" } }, "NO_OP", "agent_no_op"],
  ["empty diff + NO_OP while the reproduction fails", { diffEmpty: true, verification: null, agent: { claim: "NO_OP" } }, "ESCALATE", "no_op_but_reproduction_fails"],
  ["empty diff + PR_READY claim", { diffEmpty: true, verification: null, agent: { claim: "PR_READY" } }, "ESCALATE", "claimed_change_without_diff"],
  ["empty diff, no claim", { diffEmpty: true, verification: null }, "ESCALATE", "no_change_no_claim"],
  ["diff + NO_OP claim", { agent: { claim: "NO_OP" } }, "ESCALATE", "no_op_with_diff"],
  ["diff trips a guard", { failedGuards: [{ rule: "skip_or_only_added", detail: "it.skip added" }] }, "ESCALATE", "guard_failed:skip_or_only_added"],
  ["validation fails and the test count dropped: the validation failure wins (revisable)", { failedGuards: [{ rule: "test_count_dropped", detail: "1 → 0 passed" }], verification: { reproductionAfter: result("repro", 0), validation: [result("node --test", 1)] } }, "ESCALATE", "validation_failed"],
  ["everything passes but fewer tests ran", { failedGuards: [{ rule: "test_count_dropped", detail: "5 → 3 tests" }] }, "ESCALATE", "guard_failed:test_count_dropped"],
  ["validation command not found", { verification: { reproductionAfter: result("repro", 0), validation: [result("nope", 127)] } }, "RETRYABLE_FAILURE", "verification_environment_failure"],
  ["validation timed out", { verification: { reproductionAfter: result("repro", 0), validation: [result("slow", null, { timedOut: true })] } }, "RETRYABLE_FAILURE", "verification_environment_failure"],
  ["the reproduction passes on the candidate but ran no test (tests filtered away)", { verification: { reproductionAfter: result("node --test", 0, { outputTail: nodeSummary(2, 0, 2) }), validation: [result("node --test", 0)] } }, "ESCALATE", "reproduction_ran_no_tests"],
  ["validation on the base ran no test (compare_test_counts)", { verification: { ...passing, testCounts: { base: counts(3, 0, 3), candidate: counts(3, 3, 0) } } }, "ESCALATE", "validation_ran_no_tests"],
  ["validation on the candidate ran no test", { verification: { ...passing, testCounts: { base: null, candidate: counts(0, 0, 0) } } }, "ESCALATE", "validation_ran_no_tests"],
  ["the test count dropped to zero: the guard names it first", { failedGuards: [{ rule: "test_count_dropped", detail: "3 → 0 tests" }], verification: { ...passing, testCounts: { base: counts(3, 3, 0), candidate: counts(0, 0, 0) } } }, "ESCALATE", "guard_failed:test_count_dropped"],
  ["validation ran tests on both sides", { verification: { ...passing, testCounts: { base: counts(3, 3, 0), candidate: counts(4, 4, 0) } } }, "PR_READY", "verified"],
  ["reproduction still fails", { verification: { reproductionAfter: result("repro", 1), validation: [result("node --test", 0)] } }, "ESCALATE", "reproduction_still_fails"],
  ["a validation fails", { verification: { reproductionAfter: result("repro", 0), validation: [result("node --test", 1)] } }, "ESCALATE", "validation_failed"],
  ["all pass, claim PR_READY", { agent: { claim: "PR_READY" } }, "PR_READY", "verified"],
  ["all pass, no claim", {}, "PR_READY", "verified"]
]

describe("decide", () => {
  for (const [name, patch, state, cause] of table) {
    it(name, () => {
      const v = decide({ ...base, ...patch, agent: { ...okAgent, ...patch.agent } })
      expect([v.state, v.cause]).toEqual([state, cause])
      expect(v.reasons.length).toBeGreaterThan(0)
    })
  }

  it("quotes the agent's last words when it exits non-zero", () => {
    const v = decide({ ...base, agent: { ...okAgent, exitCode: 1, outputTail: "thinking...\nAPI Error: Repeated 529 Overloaded errors\n\n" } })
    expect(v.reasons).toEqual(["The agent exited 1: API Error: Repeated 529 Overloaded errors"])
  })

  it("names the failing validation command in the reasons", () => {
    const v = decide({ ...base, verification: { reproductionAfter: result("repro", 0), validation: [result("pnpm lint", 0), result("pnpm test", 1)] } })
    expect(v.reasons.join(" ")).toContain("`pnpm test` exited 1")
    expect(v.reasons.join(" ")).not.toContain("pnpm lint")
  })
})

// The reproduction on the base, before any agent: [name, result, state or null (the agent runs), cause].
const before: ReadonlyArray<[string, ReturnType<typeof result>, string | null, string | null]> = [
  ["fails as the issue says: the agent runs", result("node -e 'process.exit(1)'", 1), null, null],
  ["a plain shell check that passes: NO_OP", result("node -e 'process.exit(0)'", 0), "NO_OP", "not_reproducible"],
  ["a test run that passes: NO_OP", result("node --test", 0, { outputTail: nodeSummary(2, 2, 0) }), "NO_OP", "not_reproducible"],
  ["a test run that fails: the agent runs", result("node --test", 1, { outputTail: nodeSummary(2, 1, 0, 1) }), null, null],
  ["node --test with a name filter that matches nothing (node 20: all skipped)", result("node --test --test-name-pattern=nomatch", 0, { outputTail: nodeSummary(2, 0, 2) }), "ESCALATE", "reproduction_ran_no_tests"],
  ["node --test with a name filter that matches nothing (node 22: # tests 0)", result("node --test --test-name-pattern=nomatch", 0, { outputTail: nodeSummary(0, 0, 0) }), "ESCALATE", "reproduction_ran_no_tests"],
  ["vitest -t typo: everything skipped, exit 0", result("npx vitest run -t typo", 0, { outputTail: vitestFiltered }), "ESCALATE", "reproduction_ran_no_tests"],
  ["vitest finds no test file (exit 1): ran no tests, not a failure to fix", result("npx vitest run test/nope.test.ts", 1, { outputTail: "No test files found, exiting with code 1\n" }), "ESCALATE", "reproduction_ran_no_tests"],
  ["the tool is not installed (exit 127)", result("no-such-runner test", 127, { outputTail: "sh: 1: no-such-runner: not found\n" }), "RETRYABLE_FAILURE", "reproduction_tool_missing"],
  ["npm test whose script's tool is missing (bash wording)", result("npm test", 1, { outputTail: "> vitest run\n\nsh: vitest: command not found\n" }), "RETRYABLE_FAILURE", "reproduction_tool_missing"],
  ["pnpm exec of a missing binary", result("pnpm exec vitest run", 1, { outputTail: " ERR_PNPM_RECURSIVE_EXEC_FIRST_FAIL  Command \"vitest\" not found\n" }), "RETRYABLE_FAILURE", "reproduction_tool_missing"],
  ["npx cannot fetch the package offline", result("npx vitest run", 1, { outputTail: "npm error code EAI_AGAIN\nnpm error errno EAI_AGAIN\n" }), "RETRYABLE_FAILURE", "reproduction_tool_missing"],
  ["a timeout stays an environment failure", result("node --test", null, { timedOut: true }), "RETRYABLE_FAILURE", "reproduction_environment_failure"],
  ["a test that prints 'not found' while failing its assertions still fails", result("node --test", 1, { outputTail: "sh: 1: x: not found\n" + nodeSummary(1, 0, 0, 1) }), null, null]
]

describe("beforeAgent", () => {
  for (const [name, run, state, cause] of before) {
    it(name, () => {
      const v = beforeAgent(run.command, run, "abc123")
      expect(v === null ? [null, null] : [v.state, v.cause]).toEqual([state, cause])
    })
  }

  it("names the missing tool and the install hook that may be missing", () => {
    const v = beforeAgent("no-such-runner test", result("no-such-runner test", 127, { outputTail: "sh: 1: no-such-runner: not found\n" }), "abc")
    expect(v?.reasons.join(" ")).toContain("`no-such-runner` was not found")
    expect(v?.reasons.join(" ")).toContain("hooks.after_create")
  })

  it("names the package npx could not fetch", () => {
    const v = beforeAgent("npx --yes vitest run", result("npx --yes vitest run", 1, { outputTail: "npm error code ENOTFOUND\n" }), "abc")
    expect(v?.reasons[0]).toContain("`vitest` was not found")
  })

  it("says why a zero-test reproduction proves nothing", () => {
    const run = result("node --test --test-name-pattern=nomatch", 0, { outputTail: nodeSummary(2, 0, 2) })
    expect(beforeAgent(run.command, run, "abc")?.reasons[0]).toContain("ran no test on the base")
  })

  it("without a reproduction nothing is decided", () => {
    expect(beforeAgent(null, null, "abc")).toBeNull()
  })
})

describe("afterVerification without test counts keeps today's rows", () => {
  it("a passing verification with no counts is PR_READY", () => {
    expect(afterVerification({ verification: passing, failedGuards: [] }).cause).toBe("verified")
  })
})

describe("applyRetryPolicy", () => {
  const retry = decide({ ...base, agent: { ...okAgent, exitCode: 1 } })
  it("keeps retrying below max_attempts", () => {
    expect(applyRetryPolicy(retry, 2, 3).state).toBe("RETRYABLE_FAILURE")
  })
  it("escalates once max_attempts is reached, keeping the last cause", () => {
    const v = applyRetryPolicy(retry, 3, 3)
    expect(v.state).toBe("ESCALATE")
    expect(v.cause).toBe("retries_exhausted")
    expect(v.reasons.join(" ")).toContain("agent_exit_nonzero")
  })
  it("leaves other verdicts alone", () => {
    expect(applyRetryPolicy(decide(base), 9, 3).state).toBe("PR_READY")
  })
})
