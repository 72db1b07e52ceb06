/**
 * The decision table: one pure function from what the factory observed to the terminal state of an attempt.
 * The agent's claim is an input, never the verdict. Table-tested in test/decide.test.ts; the rows are listed
 * in docs/architecture.md ("Deciding").
 */
import { type AgentReport, type CommandResult, Verdict } from "@switchyard/domain"

/** The test-count guard's rule id (see Verifier/testCounts.ts). */
const TEST_COUNT_RULE = "test_count_dropped"

export interface DecisionInput {
  readonly agent: Pick<AgentReport, "crashed" | "timedOut" | "exitCode" | "claim" | "question" | "signal"> & {
    /** The end of the agent's output, quoted when it fails (e.g. "API Error: Repeated 529 Overloaded errors"). */
    readonly outputTail?: string | undefined
    readonly stalled?: boolean | undefined
    readonly budgetExceeded?: string | null | undefined
  }
  /** True when the candidate has no changed files. */
  readonly diffEmpty: boolean
  /** The reproduction command, or null when the issue has none. */
  readonly reproduction: string | null
  /** The reproduction on the base (it failed, or we would have stopped with NO_OP before the agent). */
  readonly reproductionBefore: CommandResult | null
  /** Verification of the candidate; null when it was not run (empty diff or a failed agent). */
  readonly verification: {
    readonly reproductionAfter: CommandResult | null
    readonly validation: ReadonlyArray<CommandResult>
  } | null
  /** Failed anti-cheat guards, as `rule: detail` sentences. */
  readonly failedGuards: ReadonlyArray<{ readonly rule: string; readonly detail: string }>
}

const verdict = (state: Verdict["state"], cause: string, ...reasons: Array<string>) =>
  Verdict.make({ state, cause, reasons })

/** The last non-empty line of `text`, cut to 200 characters. */
const lastLine = (text: string): string => {
  const line = text.split("\n").map((l) => l.trim()).filter((l) => l.length > 0).at(-1) ?? ""
  return line.length > 200 ? `${line.slice(0, 199)}…` : line
}

const describe = (r: CommandResult): string =>
  r.timedOut
    ? `\`${r.command}\` timed out`
    : r.exitCode === null
    ? `\`${r.command}\` was killed (${r.signal ?? "no exit code"})`
    : `\`${r.command}\` exited ${r.exitCode}`

/**
 * Decides the terminal state of one attempt. Rows, first match wins:
 * 0. agent stopped for exceeding its token/cost budget → ESCALATE (`budget_exceeded`); stalled → RETRYABLE_FAILURE
 * 1. agent crashed, timed out, or exited non-zero → RETRYABLE_FAILURE
 * 2. agent claims ESCALATE → ESCALATE
 * 3. empty diff: claim NO_OP → NO_OP, unless a reproduction still fails → ESCALATE;
 *    claim PR_READY → ESCALATE ("claimed a change, changed nothing"); no claim → ESCALATE
 * 4. a diff with claim NO_OP → ESCALATE
 * 5. a diff that trips an anti-cheat guard on the diff → ESCALATE (rule named)
 * 6. a verification command that could not run (not found, signal, timeout) → RETRYABLE_FAILURE
 * 7. reproduction still fails, or a validation fails → ESCALATE (revisable)
 * 7b. everything passes but fewer tests ran or passed than on the base → ESCALATE (`guard_failed:test_count_dropped`)
 * 8. otherwise (claim PR_READY or none) → PR_READY
 */
export const decide = (input: DecisionInput): Verdict => {
  const { agent } = input
  if (agent.budgetExceeded) {
    return verdict("ESCALATE", "budget_exceeded", `The agent was stopped: ${agent.budgetExceeded}`)
  }
  if (agent.stalled) {
    return verdict("RETRYABLE_FAILURE", "stalled", "The agent produced no output for agent.stall_timeout_ms and was killed.")
  }
  if (agent.timedOut) return verdict("RETRYABLE_FAILURE", "agent_timed_out", "The agent ran past agent.timeout_ms and was killed.")
  if (agent.crashed) {
    return verdict("RETRYABLE_FAILURE", "agent_crashed", `The agent crashed (${agent.signal ?? "could not start"}).`)
  }
  if (agent.exitCode !== 0) {
    const last = lastLine(agent.outputTail ?? "")
    return verdict("RETRYABLE_FAILURE", "agent_exit_nonzero", `The agent exited ${agent.exitCode}${last ? `: ${last}` : "."}`)
  }
  if (agent.claim === "ESCALATE") {
    return verdict("ESCALATE", "agent_escalated", `The agent asked for a human: ${agent.question ?? "(no question given)"}`)
  }
  if (input.diffEmpty) {
    if (agent.claim === "NO_OP") {
      if (input.reproduction !== null && input.reproductionBefore !== null && !input.reproductionBefore.passed) {
        return verdict(
          "ESCALATE",
          "no_op_but_reproduction_fails",
          "The agent says nothing needs to change, but the reproduction fails on the base.",
          `Reproduction: ${describe(input.reproductionBefore)}.`
        )
      }
      return verdict("NO_OP", "agent_no_op", "The agent changed nothing and says nothing needs to change.")
    }
    if (agent.claim === "PR_READY") {
      return verdict("ESCALATE", "claimed_change_without_diff", "The agent claimed a change, but changed nothing.")
    }
    return verdict("ESCALATE", "no_change_no_claim", "The agent changed nothing and made no claim.")
  }
  if (agent.claim === "NO_OP") {
    return verdict("ESCALATE", "no_op_with_diff", "The agent claims nothing needed to change, but it changed files.")
  }
  // Diff guards come first; the test-count guard only once the commands themselves pass (failing tests also
  // lower the passed count, and a plain validation failure deserves a revision turn, a guard failure does not).
  const diffGuards = input.failedGuards.filter((g) => g.rule !== TEST_COUNT_RULE)
  const guardVerdict = (failed: ReadonlyArray<{ readonly rule: string; readonly detail: string }>) =>
    verdict(
      "ESCALATE",
      `guard_failed:${failed[0]!.rule}`,
      ...failed.map((g) => `Guard ${g.rule} failed: ${g.detail}`)
    )
  if (diffGuards.length > 0) return guardVerdict(input.failedGuards)
  const v = input.verification
  if (v === null) return verdict("RETRYABLE_FAILURE", "not_verified", "The change was not verified.")
  const all = [...(v.reproductionAfter === null ? [] : [v.reproductionAfter]), ...v.validation]
  const broken = all.filter((r) => r.environmentFailure)
  if (broken.length > 0) {
    return verdict(
      "RETRYABLE_FAILURE",
      "verification_environment_failure",
      ...broken.map((r) => `Could not run ${describe(r)}; an environment failure is never a pass.`)
    )
  }
  if (v.reproductionAfter !== null && !v.reproductionAfter.passed) {
    return verdict(
      "ESCALATE",
      "reproduction_still_fails",
      `The reproduction still fails on the candidate: ${describe(v.reproductionAfter)}.`
    )
  }
  const failed = v.validation.filter((r) => !r.passed)
  if (failed.length > 0) {
    return verdict("ESCALATE", "validation_failed", ...failed.map((r) => `Validation failed: ${describe(r)}.`))
  }
  if (input.failedGuards.length > 0) return guardVerdict(input.failedGuards)
  const reasons = [
    ...(v.reproductionAfter === null
      ? []
      : [`The reproduction failed on the base and passes on the candidate (\`${v.reproductionAfter.command}\`).`]),
    `${v.validation.length} validation command(s) pass in a clean checkout of the candidate.`
  ]
  return verdict("PR_READY", "verified", ...reasons)
}

/**
 * Turns a RETRYABLE_FAILURE into ESCALATE once `attempt` reached `maxAttempts` (the brief's retry rule).
 * Other verdicts pass through unchanged.
 */
export const applyRetryPolicy = (v: Verdict, attempt: number, maxAttempts: number): Verdict =>
  v.state === "RETRYABLE_FAILURE" && attempt >= maxAttempts
    ? Verdict.make({
      state: "ESCALATE",
      cause: "retries_exhausted",
      reasons: [...v.reasons, `Gave up after ${attempt} attempt(s) (agent.max_attempts = ${maxAttempts}); last cause: ${v.cause}.`]
    })
    : v
