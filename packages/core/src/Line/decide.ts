/**
 * The decision table: pure functions from what the factory observed to the verdict of an attempt. Every verdict
 * of the line comes from here: before the agent (`beforeAgent`), the "should we verify?" gate (`afterAgent`),
 * after verification (`afterVerification`), the retry and runner-death budgets (`retry`, `runnerDeath`) and
 * infrastructure failures (`infrastructure`). The agent's claim is an input, never the verdict. Table-tested in
 * test/decide.test.ts; the rows are listed in docs/architecture.md ("Deciding").
 */
import {
  type AgentReport,
  type CommandResult,
  describeResult,
  type GuardRuleId,
  type HookName,
  type PlainVerdictCause,
  TEST_COUNT_RULE,
  type TestCounts,
  Verdict,
  type VerdictCause
} from "@switchyard/domain"
import { Data } from "effect"
import type { Escape } from "../Sandbox/integrity.js"
import { proofOf } from "../Verifier/proof.js"
import { ranNoTests } from "../Verifier/testCounts.js"

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
    /** Validation test counts on the base (`verify.compare_test_counts`) and the candidate; absent = none. */
    readonly testCounts?: { readonly base: TestCounts | null; readonly candidate: TestCounts | null } | undefined
  } | null
  /** Failed anti-cheat guards, as `rule: detail` sentences. */
  readonly failedGuards: ReadonlyArray<{ readonly rule: GuardRuleId; readonly detail: string }>
}

const verdict = (state: Verdict["state"], cause: VerdictCause, ...reasons: Array<string>) =>
  Verdict.make({ state, cause, reasons })

/** The last non-empty line of `text`, cut to 200 characters. */
const lastLine = (text: string): string => {
  const line = text.split("\n").map((l) => l.trim()).filter((l) => l.length > 0).at(-1) ?? ""
  return line.length > 200 ? `${line.slice(0, 199)}…` : line
}

/** What the gate decided after an agent turn: a final verdict, or verify the candidate. */
export type AfterAgent = Data.TaggedEnum<{
  Final: { readonly verdict: Verdict }
  Verify: {}
}>
export const AfterAgent = Data.taggedEnum<AfterAgent>()

/** Where a missing tool most often comes from, for the reasons of `reproduction_tool_missing`. */
const INSTALL_HINT =
  "Verification runs in a fresh checkout of the committed files: if the tool is a dependency, the workflow may be " +
  "missing an install hook (`hooks.after_create`, e.g. `pnpm install --frozen-lockfile`), which runs in every " +
  "verification checkout."

/**
 * Before the agent: the reproduction on the base decides the attempt, first match wins:
 * - its tool is missing (exit 127, `sh: vitest: not found`, npx unable to fetch it; `proofOf`) → RETRYABLE_FAILURE
 *   `reproduction_tool_missing`, naming the tool and the install hook that may be missing;
 * - it could not run (126, a signal, a timeout) → RETRYABLE_FAILURE `reproduction_environment_failure`;
 * - a test runner reported that it ran no test (a filter that matches nothing), whatever its exit →
 *   ESCALATE `reproduction_ran_no_tests`: it proves nothing, so it is never NO_OP and never worth an agent;
 * - it passes → NO_OP `not_reproducible` (nothing to fix, the agent is not started).
 * Null when the agent must run (no reproduction, or it fails as the issue says).
 */
export const beforeAgent = (
  reproduction: string | null,
  before: CommandResult | null,
  base: string
): Verdict | null => {
  if (reproduction === null || before === null) return null
  const proof = proofOf(before)
  if (proof._tag === "ToolMissing") {
    return verdict(
      "RETRYABLE_FAILURE",
      "reproduction_tool_missing",
      `The reproduction \`${reproduction}\` could not run its tool on the base: ${
        proof.tool === null ? "a command" : `\`${proof.tool}\``
      } was not found (${proof.evidence}).`,
      INSTALL_HINT
    )
  }
  if (before.environmentFailure) {
    return verdict(
      "RETRYABLE_FAILURE",
      "reproduction_environment_failure",
      `The reproduction could not run on the base (exit ${before.exitCode}, timed out: ${before.timedOut}).`
    )
  }
  if (proof._tag === "RanNoTests") {
    return verdict(
      "ESCALATE",
      "reproduction_ran_no_tests",
      `The reproduction \`${reproduction}\` ran no test on the base at ${base} (${proof.evidence}; ${
        describeResult(before)
      }), so it proves nothing: check its test name filter or file path.`
    )
  }
  if (before.passed) {
    return verdict(
      "NO_OP",
      "not_reproducible",
      `The reproduction \`${reproduction}\` exits 0 on the base at ${base}, so there is nothing to fix.`
    )
  }
  return null
}

/**
 * The gate after an agent turn, rows 0–4 of the table (first match wins); `Verify` when the candidate must be
 * verified. An escape from the sandbox (docs/security.md) comes first: nothing of the attempt is verified.
 * 0. agent stopped for exceeding its token/cost budget → ESCALATE (`budget_exceeded`); stalled → RETRYABLE_FAILURE
 * 1. agent crashed, timed out, or exited non-zero → RETRYABLE_FAILURE
 * 2. agent claims ESCALATE → ESCALATE
 * 3. empty diff: claim NO_OP → NO_OP, unless a reproduction still fails → ESCALATE;
 *    claim PR_READY → ESCALATE ("claimed a change, changed nothing"); no claim → ESCALATE
 * 4. a diff with claim NO_OP → ESCALATE
 */
export const afterAgent = (input: {
  readonly agent: DecisionInput["agent"]
  readonly diffEmpty: boolean
  readonly reproduction: string | null
  readonly reproductionBefore: CommandResult | null
  readonly escapes?: ReadonlyArray<Escape> | undefined
  readonly restored?: ReadonlyArray<string> | undefined
}): AfterAgent => {
  const final = (v: Verdict) => AfterAgent.Final({ verdict: v })
  const { agent } = input
  if (input.escapes !== undefined && input.escapes.length > 0) {
    return final(escapeVerdict(input.escapes, input.restored ?? []))
  }
  if (agent.budgetExceeded) {
    return final(verdict("ESCALATE", "budget_exceeded", `The agent was stopped: ${agent.budgetExceeded}`))
  }
  if (agent.stalled) {
    return final(
      verdict("RETRYABLE_FAILURE", "stalled", "The agent produced no output for agent.stall_timeout_ms and was killed.")
    )
  }
  if (agent.timedOut) {
    return final(verdict("RETRYABLE_FAILURE", "agent_timed_out", "The agent ran past agent.timeout_ms and was killed."))
  }
  if (agent.crashed) {
    return final(verdict("RETRYABLE_FAILURE", "agent_crashed", `The agent crashed (${agent.signal ?? "could not start"}).`))
  }
  if (agent.exitCode !== 0) {
    const last = lastLine(agent.outputTail ?? "")
    return final(
      verdict("RETRYABLE_FAILURE", "agent_exit_nonzero", `The agent exited ${agent.exitCode}${last ? `: ${last}` : "."}`)
    )
  }
  if (agent.claim === "ESCALATE") {
    return final(
      verdict("ESCALATE", "agent_escalated", `The agent asked for a human: ${agent.question ?? "(no question given)"}`)
    )
  }
  if (input.diffEmpty) {
    if (agent.claim === "NO_OP") {
      if (input.reproduction !== null && input.reproductionBefore !== null && !input.reproductionBefore.passed) {
        return final(verdict(
          "ESCALATE",
          "no_op_but_reproduction_fails",
          "The agent says nothing needs to change, but the reproduction fails on the base.",
          `Reproduction: ${describeResult(input.reproductionBefore)}.`
        ))
      }
      return final(verdict("NO_OP", "agent_no_op", "The agent changed nothing and says nothing needs to change."))
    }
    if (agent.claim === "PR_READY") {
      return final(verdict("ESCALATE", "claimed_change_without_diff", "The agent claimed a change, but changed nothing."))
    }
    return final(verdict("ESCALATE", "no_change_no_claim", "The agent changed nothing and made no claim."))
  }
  if (agent.claim === "NO_OP") {
    return final(verdict("ESCALATE", "no_op_with_diff", "The agent claims nothing needed to change, but it changed files."))
  }
  return AfterAgent.Verify()
}

/**
 * After verification of a candidate the gate let through, rows 5–8 (first match wins):
 * 5. a diff that trips an anti-cheat guard on the diff → ESCALATE (rule named)
 * 6. a verification command that could not run (not found, signal, timeout) → RETRYABLE_FAILURE
 * 7. reproduction still fails, or a validation fails → ESCALATE (revisable)
 * 7a. the reproduction passes on the candidate but its test runner ran no test → ESCALATE
 *     (`reproduction_ran_no_tests`: the tests it ran on the base are gone or filtered out)
 * 7b. everything passes but fewer tests ran or passed than on the base → ESCALATE (`guard_failed:test_count_dropped`)
 * 7c. validation reported test counts but ran no test, on the base (`verify.compare_test_counts`) or on the
 *     candidate → ESCALATE (`validation_ran_no_tests`: a comparison with nothing proves nothing)
 * 8. otherwise (claim PR_READY or none) → PR_READY
 */
export const afterVerification = (input: {
  readonly verification: NonNullable<DecisionInput["verification"]>
  readonly failedGuards: DecisionInput["failedGuards"]
}): Verdict => {
  // Diff guards come first; the test-count guard only once the commands themselves pass (failing tests also
  // lower the passed count, and a plain validation failure deserves a revision turn, a guard failure does not).
  const diffGuards = input.failedGuards.filter((g) => g.rule !== TEST_COUNT_RULE)
  const guardVerdict = (failed: DecisionInput["failedGuards"]) =>
    verdict(
      "ESCALATE",
      `guard_failed:${failed[0]!.rule}`,
      ...failed.map((g) => `Guard ${g.rule} failed: ${g.detail}`)
    )
  if (diffGuards.length > 0) return guardVerdict(input.failedGuards)
  const v = input.verification
  const all = [...(v.reproductionAfter === null ? [] : [v.reproductionAfter]), ...v.validation]
  const broken = all.filter((r) => r.environmentFailure)
  if (broken.length > 0) {
    return verdict(
      "RETRYABLE_FAILURE",
      "verification_environment_failure",
      ...broken.map((r) => `Could not run ${describeResult(r)}; an environment failure is never a pass.`)
    )
  }
  if (v.reproductionAfter !== null && !v.reproductionAfter.passed) {
    return verdict(
      "ESCALATE",
      "reproduction_still_fails",
      `The reproduction still fails on the candidate: ${describeResult(v.reproductionAfter)}.`
    )
  }
  const failed = v.validation.filter((r) => !r.passed)
  if (failed.length > 0) {
    return verdict("ESCALATE", "validation_failed", ...failed.map((r) => `Validation failed: ${describeResult(r)}.`))
  }
  const afterProof = v.reproductionAfter === null ? null : proofOf(v.reproductionAfter)
  if (afterProof !== null && afterProof._tag === "RanNoTests") {
    return verdict(
      "ESCALATE",
      "reproduction_ran_no_tests",
      `The reproduction \`${v.reproductionAfter!.command}\` exits 0 on the candidate but ran no test (${afterProof.evidence}): the tests it ran on the base are gone or filtered out.`
    )
  }
  if (input.failedGuards.length > 0) return guardVerdict(input.failedGuards)
  const counts = v.testCounts ?? { base: null, candidate: null }
  const empty = ([["base", counts.base], ["candidate", counts.candidate]] as const).filter(
    ([, c]) => c !== null && ranNoTests(c)
  )
  if (empty.length > 0) {
    return verdict(
      "ESCALATE",
      "validation_ran_no_tests",
      ...empty.map(([label, c]) =>
        `Validation ran no test on the ${label} (${c!.runner} reported ${c!.total} test(s), ${c!.skipped} skipped, none passed or failed), so it proves nothing: check verify.validation and its filters.`
      )
    )
  }
  const reasons = [
    ...(v.reproductionAfter === null
      ? []
      : [`The reproduction failed on the base and passes on the candidate (\`${v.reproductionAfter.command}\`).`]),
    `${v.validation.length} validation command(s) pass in a clean checkout of the candidate.`
  ]
  return verdict("PR_READY", "verified", ...reasons)
}

/**
 * The whole table for one agent turn: the gate, then the verification rows. A candidate the gate lets through
 * with no verification result is an environment failure (RETRYABLE_FAILURE), never a pass.
 */
export const decide = (input: DecisionInput): Verdict => {
  const gate = afterAgent(input)
  if (gate._tag === "Final") return gate.verdict
  if (input.verification === null) {
    return verdict("RETRYABLE_FAILURE", "verification_environment_failure", "The change could not be verified.")
  }
  return afterVerification({ verification: input.verification, failedGuards: input.failedGuards })
}

/**
 * Turns a RETRYABLE_FAILURE into ESCALATE `retries_exhausted` once the counted try `attempt` reached
 * `maxAttempts` (`agent.max_attempts`; Symphony SPEC §8.4 retries with backoff, then a human decides).
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

/** {@link applyRetryPolicy} under the name the line uses. */
export const retry = applyRetryPolicy

/**
 * The verdict of an attempt its runner did not finish (`cause`: the runner died, its lease expired, or the issue
 * was in progress with no lease): RETRYABLE_FAILURE, not charged to the agent; ESCALATE
 * `runner_deaths_exhausted` (a poison pill) once `deaths` reached `maxDeaths` (`orchestrator.max_runner_deaths`).
 */
export const runnerDeath = (
  cause: "runner_died" | "lease_expired" | "no_live_lease",
  reason: string,
  deaths: number,
  maxDeaths: number
): Verdict =>
  deaths >= maxDeaths
    ? verdict(
      "ESCALATE",
      "runner_deaths_exhausted",
      reason,
      `Runners died ${deaths} time(s) on this issue (orchestrator.max_runner_deaths = ${maxDeaths}): something in it may be crashing the runner.`
    )
    : verdict("RETRYABLE_FAILURE", cause, reason, "Whatever the lost run did was discarded; the issue was requeued.")

/** The errors the line can fail with before a verdict, by tag (a closed union: `infrastructure` is total). */
export type LineFailure =
  | { readonly _tag: "HookFailed"; readonly hook: HookName; readonly message: string }
  | { readonly _tag: "DirtyBase"; readonly message: string }
  | { readonly _tag: "PromptRenderError"; readonly message: string }
  | { readonly _tag: "WorkflowError"; readonly message: string }
  | { readonly _tag: "SandboxError"; readonly message: string }
  | { readonly _tag: "NotAGitRepo"; readonly message: string }
  | { readonly _tag: "EvidenceError"; readonly message: string }
  | { readonly _tag: "OrchestratorError"; readonly message: string }
  | { readonly _tag: "TrackerError"; readonly message: string }
  | { readonly _tag: "IssueNotFound"; readonly message: string }

/** The cause an infrastructure failure gives its RETRYABLE_FAILURE verdict. Total over {@link LineFailure}. */
export const infrastructureCause = (e: LineFailure): VerdictCause => {
  switch (e._tag) {
    case "HookFailed":
      return `hook_failed:${e.hook}`
    case "DirtyBase":
      return "dirty_base"
    case "PromptRenderError":
      return "template_render_error"
    case "WorkflowError":
      return "workflow_invalid"
    case "SandboxError":
    case "NotAGitRepo":
      return "sandbox_failed"
    case "EvidenceError":
    case "OrchestratorError":
    case "TrackerError":
    case "IssueNotFound":
      return "store_failed"
  }
}

/** The RETRYABLE_FAILURE verdict of a line that failed before a verdict (`defect` for a bug). */
export const infrastructure = (e: LineFailure | null, message: string): Verdict =>
  verdict(
    "RETRYABLE_FAILURE",
    e === null ? ("defect" satisfies PlainVerdictCause) : infrastructureCause(e),
    `The line failed before a verdict: ${message}`
  )

/**
 * The verdict of an attempt whose agent changed something outside its sandbox: ESCALATE with cause
 * `sandbox_escape:<target of the first escape>` (docs/security.md). Pure.
 */
export const escapeVerdict = (escapes: ReadonlyArray<Escape>, restored: ReadonlyArray<string>): Verdict =>
  Verdict.make({
    state: "ESCALATE",
    cause: `sandbox_escape:${escapes[0]!.target}`,
    reasons: [
      `While the agent ran, the main repository changed where the agent could have changed it: ${escapes.map((e) => e.detail).join("; ")}.`,
      ...(restored.length > 0 ? [`Switchyard put back: ${restored.join(", ")}.`] : []),
      "Nothing of this attempt was verified. Check the repository before trusting anything it produced."
    ]
  })
