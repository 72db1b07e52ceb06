import { describe, expect, it } from "@effect/vitest"
import { AgentReport, Verdict } from "@switchyard/domain"
import { totalUsage } from "../src/Line/runAttempt.js"
import { ciFeedback, isRevisable, revisionFeedback } from "../src/Line/revision.js"
import { result } from "./fixtures.js"

const rejected = Verdict.make({ state: "ESCALATE", cause: "validation_failed", reasons: ["Validation failed"] })

describe("CI revisions", () => {
  it("the feedback names the failed step, how it ended and the last 40 lines of its log", () => {
    const log = Array.from({ length: 60 }, (_, i) => `log ${i + 1}`).join("\n")
    const text = ciFeedback(result("pnpm ci", 2, { outputTail: log }), 1, 2)
    expect(text).toContain("its CI check failed (ci_failed; CI revision 1 of 2)")
    expect(text).toContain("- Failed step: `pnpm ci` exited 2.")
    expect(text).toContain("log 60")
    expect(text).toContain("log 21")
    expect(text).not.toContain("log 20\n")
    expect(ciFeedback(result("pnpm ci", null, { timedOut: true }), 2, 2)).toContain("`pnpm ci` timed out.")
    expect(isRevisable(Verdict.make({ state: "ESCALATE", cause: "ci_failed", reasons: [] }))).toBe(false)
  })
})

describe("revisions", () => {
  it("only a verifier rejection of a diff is revisable", () => {
    expect(isRevisable(rejected)).toBe(true)
    expect(isRevisable(Verdict.make({ state: "ESCALATE", cause: "reproduction_still_fails", reasons: [] }))).toBe(true)
    for (const cause of ["guard_failed:skip_or_only_added", "agent_escalated", "claimed_change_without_diff", "no_op_with_diff"] as const) {
      expect(isRevisable(Verdict.make({ state: "ESCALATE", cause, reasons: [] })), cause).toBe(false)
    }
    expect(isRevisable(Verdict.make({ state: "PR_READY", cause: "verified", reasons: [] }))).toBe(false)
  })

  it("the feedback names only the failing commands, with the end of their output", () => {
    const long = Array.from({ length: 40 }, (_, i) => `line ${i + 1}`).join("\n")
    const text = revisionFeedback(
      rejected,
      {
        reproductionAfter: result("repro.sh", 0),
        validation: [result("pnpm lint", 0), result("node --test", 1, { outputTail: `${long}\nnot ok 3 - empty list\n` })],
        guards: [],
        testCounts: { base: null, candidate: null }
      },
      1,
      2
    )
    expect(text).toContain("revision 1 of 2")
    expect(text).toContain("`node --test` exited 1")
    expect(text).toContain("not ok 3 - empty list")
    expect(text).not.toContain("pnpm lint")
    expect(text).not.toContain("repro.sh")
    expect(text).not.toContain("line 20\n") // only the last 15 lines of output
    expect(text).toContain("$SWITCHYARD_RESULT_FILE")
  })
})

describe("totalUsage", () => {
  const run = (usage: { inputTokens: number; outputTokens: number } | null, costUsd: number | null) =>
    new AgentReport({
      kind: "claude-code", command: "claude", exitCode: 0, signal: null, timedOut: false, crashed: false, durationMs: 1,
      outputTail: "", claim: null, claimError: null, summary: null, plan: null, question: null, residualRisk: null,
      usage: usage === null ? null : { ...usage, cacheReadInputTokens: 0, cacheCreationInputTokens: 0 },
      costUsd
    })
  it("sums tokens and cost over the first turn and its revisions", () => {
    expect(totalUsage([run({ inputTokens: 100, outputTokens: 20 }, 0.01), run({ inputTokens: 50, outputTokens: 5 }, 0.002)]))
      .toEqual({ inputTokens: 150, outputTokens: 25, costUsd: 0.012 })
  })
  it("reports no cost when no run reported one", () => {
    expect(totalUsage([run(null, null)])).toEqual({ inputTokens: 0, outputTokens: 0, costUsd: null })
  })
})
