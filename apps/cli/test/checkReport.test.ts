/** `checkReport` (pure): the four verdicts of `issue check` from a reproduction's run on the base. */
import { describe, expect, it } from "@effect/vitest"
import { CommandResult } from "@switchyard/domain"
import { checkReport } from "../src/commands/issue/checkReport.js"

const run = (exitCode: number | null, output: string, extra: Partial<{ timedOut: boolean; environmentFailure: boolean }> = {}) =>
  new CommandResult({
    command: "pnpm vitest run -t average",
    exitCode,
    signal: null,
    timedOut: extra.timedOut ?? false,
    environmentFailure: extra.environmentFailure ?? false,
    durationMs: 10,
    outputHead: output,
    outputTail: output
  })

const report = (result: CommandResult) => checkReport({ id: "SY-1", reproduction: result.command, base: "abc", result })

describe("checkReport", () => {
  it("a non-zero exit with a failing test is ready", () => {
    expect(report(run(1, " Tests  1 failed | 3 passed (4)\n"))).toMatchObject({ ready: true, verdict: "fails_for_the_right_reason" })
  })

  it("a non-zero exit whose runner reported no failing test fails for another reason: cannot run", () => {
    const r = report(run(1, " Tests  4 passed (4)\n"))
    expect(r).toMatchObject({ ready: false, verdict: "cannot_run" })
    expect(r.reason).toContain("reported no failing test")
  })

  it("a run of no test is not ready, whatever its exit", () => {
    expect(report(run(0, "No test files found, exiting with code 0\n"))).toMatchObject({ ready: false, verdict: "cannot_run" })
  })

  it("a timeout cannot run; a pass passes already; no reproduction is no reproduction", () => {
    expect(report(run(null, "", { timedOut: true, environmentFailure: true })).verdict).toBe("cannot_run")
    expect(report(run(0, " Tests  4 passed (4)\n")).verdict).toBe("passes_already")
    expect(checkReport({ id: "SY-1", reproduction: null, base: null, result: null })).toMatchObject({ ready: false, verdict: "no_reproduction", run: null })
  })
})
