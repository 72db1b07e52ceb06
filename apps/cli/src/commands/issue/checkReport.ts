/**
 * What `switchyard issue check ID` concludes from the reproduction's run on the base: is the task packet ready for
 * an agent? Pure. The line's own rule decides (`Decide.beforeAgent`, which reads `proofOf`): a missing tool, an
 * environment failure and a run of no test cannot run; a pass is NO_OP. On top of it, a failure only counts as the
 * right one when a test runner that printed counts reported at least one failing test.
 */
import { Decide, proofOf } from "@switchyard/core"
import { type CommandResult, describeResult, stripAnsi, type TestCounts } from "@switchyard/domain"

/** The four answers; only the first is ready. */
export type Readiness = "fails_for_the_right_reason" | "passes_already" | "cannot_run" | "no_reproduction"

/** The verdict line's words for each answer. */
export const READINESS_WORDS: Readonly<Record<Readiness, string>> = {
  fails_for_the_right_reason: "fails for the right reason",
  passes_already: "passes already",
  cannot_run: "cannot run",
  no_reproduction: "no reproduction"
}

/** What `issue check` prints (`--json` is this object). */
export interface CheckReport {
  readonly id: string
  readonly ready: boolean
  readonly verdict: Readiness
  /** One sentence: why. */
  readonly reason: string
  /** The base commit the reproduction ran on (null when there was nothing to run). */
  readonly base: string | null
  readonly reproduction: string | null
  /** How the command ended (null when it did not run: no reproduction, or the install hook failed). */
  readonly run: {
    readonly exitCode: number | null
    readonly timedOut: boolean
    readonly durationMs: number
    readonly counts: TestCounts | null
    /** The last lines of its output, without terminal control sequences. */
    readonly tail: ReadonlyArray<string>
  } | null
}

const TAIL_LINES = 15

const countsText = (c: TestCounts) => `${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped; ${c.runner}`

/** The report for a reproduction `result` on `base` (`result` null with a reason when it could not even start). */
export const checkReport = (input: {
  readonly id: string
  readonly reproduction: string | null
  readonly base: string | null
  readonly result: CommandResult | null
  /** Why it did not run, when `result` is null (e.g. the install hook failed). */
  readonly notRun?: string | undefined
}): CheckReport => {
  const { base, id, reproduction, result } = input
  const make = (verdict: Readiness, reason: string): CheckReport => ({
    id,
    ready: verdict === "fails_for_the_right_reason",
    verdict,
    reason,
    base,
    reproduction,
    run: result === null ? null : {
      exitCode: result.exitCode,
      timedOut: result.timedOut,
      durationMs: result.durationMs,
      counts,
      tail: stripAnsi(result.outputTail).split(/\r?\n/).filter((l) => l.trim() !== "").slice(-TAIL_LINES)
    }
  })
  const proof = result === null ? null : proofOf(result)
  const counts = proof === null || proof._tag === "ToolMissing" ? null : proof.counts
  if (reproduction === null) {
    return make("no_reproduction", "the issue has no reproduction (--repro) and the workflow no verify.reproduction: nothing to check")
  }
  if (result === null) return make("cannot_run", input.notRun ?? "the reproduction did not run")
  const line = Decide.beforeAgent(reproduction, result, base ?? "")
  if (line !== null) {
    return make(line.state === "NO_OP" ? "passes_already" : "cannot_run", `${line.reasons.join(" ")} [${line.cause}]`)
  }
  if (counts !== null && counts.failed === 0) {
    return make(
      "cannot_run",
      `${describeResult(result)} on the base, but its test runner reported no failing test (${countsText(counts)}): it fails for another reason`
    )
  }
  return make(
    "fails_for_the_right_reason",
    `${describeResult(result)} on the base at ${base}${counts === null ? "" : ` (${countsText(counts)})`}, as it must before the fix`
  )
}
