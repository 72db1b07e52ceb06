/**
 * The texts of an ending: the one-line summary, the question for a human, the residual risks and the commit
 * message of a PR_READY candidate. Pure.
 */
import type { Issue, Verdict } from "@switchyard/domain"
import { branchFor } from "../Sandbox/Sandbox.js"
import { lastReport, type Progress } from "./progress.js"

/** The question an ESCALATE puts to a human (the agent's own, when it asked one); null for other states. */
export const questionFor = (v: Verdict, issue: Issue, agentQuestion: string | null): string | null => {
  if (v.state !== "ESCALATE") return null
  if (agentQuestion !== null) return agentQuestion
  switch (v.cause) {
    case "validation_failed":
    case "reproduction_still_fails":
      return `The agent's change on ${branchFor(issue.id)} does not pass verification. Clarify the issue and move it back to todo, or finish the change by hand?`
    case "claimed_change_without_diff":
    case "no_change_no_claim":
      return "The agent produced no change. Is the issue clear enough to act on, or is it already done?"
    case "no_op_with_diff":
    case "no_op_but_reproduction_fails":
      return "The agent and the evidence disagree about whether anything must change. Which is right?"
    case "reproduction_ran_no_tests":
      return "The reproduction ran no test, so it cannot show whether the bug is there. Fix its test name filter or test path, then move the issue back to todo."
    case "validation_ran_no_tests":
      return "Validation ran no test, so it proves nothing. Fix verify.validation (or the issue's validation commands and their filters), then move the issue back to todo."
    case "retries_exhausted":
      if (v.reasons.some((r) => r.includes("last cause: reproduction_tool_missing"))) {
        return "The reproduction's tool was not found in the verification checkout on every attempt. Add an install hook (hooks.after_create, e.g. `pnpm install --frozen-lockfile`) or fix the command, then move the issue back to todo."
      }
      return "The attempts kept failing for environmental reasons. Check the agent command and the hooks, then move the issue back to todo."
    case "runner_deaths_exhausted":
      return "The runner keeps dying on this issue. Is something in it crashing the runner (memory, a fork bomb, a hung hook)?"
    case "guard_failed:secret_in_diff":
      return `The agent's change contained a secret, so ${branchFor(issue.id)} was deleted (the evidence holds the scrubbed diff). Rotate the secret if it is real, then move the issue back to todo.`
    default:
      return v.cause.startsWith("guard_failed")
        ? "The change broke a rule the agent must not break. Review the branch, or allow the exception in the issue."
        : "What should happen next with this issue?"
  }
}

/** The one-line summary of an ending; `retryAt` (epoch ms) is when a RETRYABLE_FAILURE runs again, if known. */
export const summaryFor = (v: Verdict, issue: Issue, p: Progress, attempt: number, retryAt: number | null): string => {
  switch (v.state) {
    case "PR_READY": {
      const files = p.candidate?.files.length ?? 0
      return `${issue.id} is ready for review: ${files} file(s) changed on ${branchFor(issue.id)}, verified in a clean checkout.`
    }
    case "NO_OP":
      return v.cause === "not_reproducible"
        ? `The reproduction passed on the base at ${(p.prepared ?? p.opened)?.base.slice(0, 10) ?? "?"}: already fixed? The agent was not started.`
        : `${issue.id} needs no change: ${v.reasons[0] ?? ""}`
    case "ESCALATE":
      return `${issue.id} needs a human: ${v.reasons[0] ?? v.cause}`
    case "RETRYABLE_FAILURE":
      return `Attempt ${attempt} of ${issue.id} failed (${v.cause}); retrying ${
        retryAt === null ? "now" : `at ${new Date(retryAt).toISOString()}`
      }.`
  }
}

/** What a human should still worry about, given the verdict and what the line saw. */
export const residualRisk = (v: Verdict, p: Progress): ReadonlyArray<string> => {
  const risks: Array<string> = []
  const agent = lastReport(p)
  if (agent?.confinement?.kind === "none" || (agent !== null && agent.confinement === null)) {
    risks.push("The agent ran UNCONFINED (sandbox.confinement: none): it could read and write anything the runner can.")
  }
  if (v.state === "PR_READY") {
    const n = p.verification?.validation.length ?? 0
    risks.push(
      n === 0
        ? "No validation commands are configured: only the reproduction vouches for this change."
        : `Only the reproduction and ${n} validation command(s) were run; behaviour they do not exercise is unchecked.`
    )
  }
  if (agent === null && p.turns.length === 0 && v.state === "RETRYABLE_FAILURE") {
    risks.push("Whatever the lost attempt did was discarded with its sandbox.")
  }
  if (agent?.residualRisk) risks.push(`The agent says: ${agent.residualRisk}`)
  if (agent?.claimError && agent.exitCode === 0) risks.push(`The agent made no usable claim: ${agent.claimError}`)
  return risks
}

/** Where the evidence of an attempt is, relative to the repository root (named in commits and comments). */
export const evidenceRef = (issueId: string, attempt: number): string => `.switchyard/runs/${issueId}/${attempt}/evidence.md`

/** The commit message of a PR_READY candidate: title, summary, the verdict's reasons and trailers. */
export const commitMessage = (issue: Issue, attempt: number, summary: string, v: Verdict): string =>
  `${issue.id}: ${issue.title}\n\n${summary}\n\n${v.reasons.map((r) => `- ${r}`).join("\n")}\n\nSwitchyard-Issue: ${issue.id}\nEvidence: ${
    evidenceRef(issue.id, attempt)
  }`
