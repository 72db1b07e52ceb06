/** `switchyard verify` for the terminal: freshness first, then each check, then the result. */
import { shortSha } from "@switchyard/core"
import type { CommandResult, TestCounts } from "@switchyard/domain"
import { describe, type VerifyReport } from "../commands/verify/report.js"
import { Ansi, Doc, render, type RenderOptions, row, rows, styled, text, type View } from "./doc.js"

/** The report as a {@link View}: freshness first, then each check, then the result. */
export const verifyView = (r: VerifyReport): View => {
  const mark = (ok: boolean) => (ok ? styled("✓", Ansi.green) : styled("✗", Ansi.red))
  const word = (ok: boolean, yes: string, no: string) => (ok ? styled(yes, Ansi.bold, Ansi.green) : styled(no, Ansi.bold, Ansi.red))
  const out: Array<View> = []
  out.push(
    row(
      styled(r.id, Ansi.bold),
      ` · evidence of attempt ${r.attempt} · `,
      word(r.fresh, "FRESH", "STALE"),
      " · re-verification ",
      word(r.passed, "PASSED", "FAILED")
    )
  )
  out.push(
    text(`fingerprint: tree ${shortSha(r.fingerprint.tree)} · commit ${shortSha(r.fingerprint.commit)} · base ${
      shortSha(r.fingerprint.baseCommit)
    } · ${r.fingerprint.branch}`)
  )
  out.push(
    r.signature === "signed"
      ? row("signature: ", mark(true), " signed by this runner's key")
      : row("signature: ", styled("⚠ unsigned: stored before bundles were signed, so nothing proves the runner wrote it", Ansi.yellow))
  )
  for (const reason of r.stale) out.push(text(`  stale: ${reason}`))
  for (const note of r.notes ?? []) out.push(text(`  fresh: ${note}`))
  const v = r.verification
  if (v !== null) {
    out.push(Doc.empty, text(`re-verified ${shortSha(v.commit)} against the base ${shortSha(r.fingerprint.baseCommit)} in clean checkouts:`))
    const line = (ok: boolean, label: string, res: CommandResult) =>
      row("  ", mark(ok), ` ${label}${describe(res)} (${Math.round(res.durationMs)} ms)`)
    if (v.reproductionBefore !== null) {
      // On the base the reproduction must fail, and for a reason of its own (not because it could not run).
      const before = v.reproductionBefore
      out.push(line(!before.passed && !before.environmentFailure, "reproduction on the base: ", before))
    }
    if (v.reproductionAfter !== null) {
      out.push(line(v.reproductionAfter.passed, "reproduction on the head: ", v.reproductionAfter))
    }
    for (const res of v.validation) out.push(line(res.passed, "validation: ", res))
    const failed = v.guards.filter((g) => !g.passed)
    out.push(row("  ", mark(failed.length === 0), ` guards: ${v.guards.length - failed.length} of ${v.guards.length} passed`))
    for (const g of failed) {
      out.push(text(`      ${g.rule}: ${g.detail}`))
      for (const l of g.lines.slice(0, 5)) out.push(text(`        ${l.file}: ${l.line}`))
    }
    const counts = (c: TestCounts | null) =>
      c === null ? "no counts" : `${c.total} ${c.total === 1 ? "test" : "tests"}, ${c.passed} passed`
    if (v.testCounts.base !== null || v.testCounts.candidate !== null) {
      out.push(text(`    tests: base ${counts(v.testCounts.base)} → head ${counts(v.testCounts.candidate)}`))
    }
  }
  out.push(Doc.empty)
  for (const f of r.failures) out.push(row(styled("failed:", Ansi.red), ` ${f}`))
  out.push(
    text(
      r.fresh && r.passed
        ? "The evidence is fresh and the change still verifies."
        : r.fresh
        ? "The evidence is fresh, but the change no longer verifies."
        : r.passed
        ? "The change still verifies, but the evidence is stale: it describes another commit or base."
        : "The evidence is stale and the change does not verify."
    )
  )
  return rows(out)
}

/** The report as text (plain unless `options.color`); see {@link verifyView}. */
export const renderVerifyReport = (r: VerifyReport, options: RenderOptions = { color: false }): string =>
  render(verifyView(r), options)
