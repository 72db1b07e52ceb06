import { describe, expect, it } from "@effect/vitest"
import { applyRetryPolicy, decide, type DecisionInput } from "../src/Line/decide.js"
import { result } from "./fixtures.js"

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
