/**
 * Revisions: when the Verifier rejects a diff (the reproduction still fails, or a validation fails), the agent
 * gets one continuation turn with the shortest useful failure summary, up to `agent.max_revisions` times,
 * before the verdict is final. Guard failures and agent claims are not revisable: they are a human's call.
 */
import type { CommandResult, Verdict } from "@switchyard/domain"
import type { Verification } from "../Verifier/Verifier.js"

/** Verdict causes that earn a revision turn. */
export const REVISABLE_CAUSES: ReadonlySet<string> = new Set(["validation_failed", "reproduction_still_fails"])

export const isRevisable = (v: Verdict): boolean => v.state === "ESCALATE" && REVISABLE_CAUSES.has(v.cause)

/** The last `n` non-empty lines of a command's output (its tail already is the end of the output). */
const lastLines = (r: CommandResult, n: number): string =>
  r.outputTail.split("\n").map((l) => l.trimEnd()).filter((l) => l.length > 0).slice(-n).join("\n")

/**
 * The continuation prompt for revision `turn` of `maxTurns`: which checks failed, with the last lines of each
 * failing command's output (at most `linesPerCommand`, default 15), and what the agent must not do.
 * Kept short on purpose: it is sent as the next user turn of a live session.
 */
export const revisionFeedback = (
  verdict: Verdict,
  verification: Verification,
  turn: number,
  maxTurns: number,
  linesPerCommand = 15
): string => {
  const failed = [
    ...(verification.reproductionAfter !== null && !verification.reproductionAfter.passed
      ? [{ label: "The reproduction still fails", result: verification.reproductionAfter }]
      : []),
    ...verification.validation.filter((r) => !r.passed).map((result) => ({ label: "Validation failed", result }))
  ]
  const sections = failed.map(({ label, result }) => {
    const tail = lastLines(result, linesPerCommand)
    return `- ${label}: \`${result.command}\` exited ${result.exitCode}.${tail ? `\n\`\`\`\n${tail}\n\`\`\`` : ""}`
  })
  return [
    `Switchyard verified your change in a clean checkout and rejected it (${verdict.cause}; revision ${turn} of ${maxTurns}).`,
    ...sections,
    "Fix the change in place. Do not delete, skip or weaken tests, and do not edit the validation setup.",
    "When done, write your claim to $SWITCHYARD_RESULT_FILE again."
  ].join("\n")
}

/** The cause a failing CI check records on its revision and, once the turns are spent, on the verdict. */
export const CI_CAUSE = "ci_failed" as const

/** How a command ended, in words: `exited 1`, `timed out`, `was killed by SIGKILL`. */
const ending = (r: CommandResult): string =>
  r.timedOut ? "timed out" : r.exitCode === null ? `was killed${r.signal === null ? "" : ` by ${r.signal}`}` : `exited ${r.exitCode}`

/**
 * The continuation prompt after the CI check (`integration.ci_command`) failed on a candidate that verified: the
 * failed step, how it ended and the last `linesOfLog` lines (default 40) of its log (already redacted by the
 * Verifier; the caller redacts again), as revision `turn` of `maxTurns` (`agent.max_ci_revisions`). Pure.
 */
export const ciFeedback = (result: CommandResult, turn: number, maxTurns: number, linesOfLog = 40): string => {
  const tail = lastLines(result, linesOfLog)
  return [
    `Switchyard verified your change, then its CI check failed (${CI_CAUSE}; CI revision ${turn} of ${maxTurns}).`,
    `- Failed step: \`${result.command}\` ${ending(result)}.${tail ? `\n\`\`\`\n${tail}\n\`\`\`` : ""}`,
    "Fix the change in place so the check passes. Do not delete, skip or weaken tests, and do not edit the CI setup.",
    "When done, write your claim to $SWITCHYARD_RESULT_FILE again."
  ].join("\n")
}

/** The hosted CI failure a revision turn is about (`HostedCiResult`'s `Failed`). */
export interface HostedCiFailure {
  readonly step: string
  readonly conclusion: string
  readonly log: string
  readonly url: string | null
}

/**
 * The continuation prompt after hosted CI (GitHub check runs or statuses, `integration.ci: github`) failed on a
 * candidate that verified: the failed step, its conclusion, the last `linesOfLog` lines (default 40) of its output
 * (the caller redacts) and the run's URL, as CI revision `turn` of `maxTurns` (`agent.max_ci_revisions`). Pure.
 */
export const hostedCiFeedback = (failure: HostedCiFailure, turn: number, maxTurns: number, linesOfLog = 40): string => {
  const tail = failure.log.split("\n").map((l) => l.trimEnd()).filter((l) => l.length > 0).slice(-linesOfLog).join("\n")
  return [
    `Switchyard verified your change, then its CI on GitHub failed (${CI_CAUSE}; CI revision ${turn} of ${maxTurns}).`,
    `- Failed step: \`${failure.step}\` (${failure.conclusion}).${tail ? `\n\`\`\`\n${tail}\n\`\`\`` : ""}`,
    ...(failure.url === null ? [] : [`- Run: ${failure.url}`]),
    "Fix the change in place so the check passes. Do not delete, skip or weaken tests, and do not edit the CI setup.",
    "When done, write your claim to $SWITCHYARD_RESULT_FILE again."
  ].join("\n")
}
