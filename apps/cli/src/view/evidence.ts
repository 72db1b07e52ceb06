/**
 * `switchyard evidence ID`: the evidence bundle for the terminal, compact and in the order a reviewer reads it —
 * outcome and summary, the verdict's reasons, the human's question, reproduction before and after, validation,
 * test counts, failed guards, a diff stat with its files, residual risk, integration, and where the files are.
 * `--md` prints the full evidence.md and `--json` the bundle; docs/evidence.md explains every part.
 */
import { diffTotals, formatDuration, shortSha, stageDetail, stageName, type StoredStage } from "@switchyard/core"
import type { CommandResult, EvidenceBundle } from "@switchyard/domain"
import { Ansi, Doc, OUTCOME_STYLE, render, row, rows, styled, text, type View } from "./doc.js"

/** Secondary text (titles, durations, file lists): grey. */
const dim = Ansi.blackBright

/** Files listed under the diff stat before the rest are counted. */
const FILES_SHOWN = 15

export interface EvidenceViewOptions {
  /** Emit ANSI colour codes (the command passes `colorEnabled`: a TTY and no `NO_COLOR`). Without it the text has no escape codes. */
  readonly color: boolean
  /** Where the bundle's files are; default `.switchyard/runs/<id>/<attempt>/` (relative to the repo). */
  readonly runDir?: string | undefined
}

/**
 * Renders a bundle for the terminal. Pure and total (every field may be empty or null). Lines are plain text when
 * `options.color` is false; with it, the outcome, pass/fail marks and the diff stat's `+`/`-` are coloured.
 */
export const renderEvidenceTerminal = (bundle: EvidenceBundle, options: EvidenceViewOptions): string =>
  render(evidenceView(bundle, options), options)

/** The bundle as a {@link View} (see {@link renderEvidenceTerminal}). */
export const evidenceView = (bundle: EvidenceBundle, options: Pick<EvidenceViewOptions, "runDir"> = {}): View => {
  const ok = (passed: boolean) => (passed ? styled("✓", Ansi.green) : styled("✗", Ansi.red))
  const heading = (s: string) => styled(s, Ansi.bold)
  const out: Array<View> = []
  const blank = () => out.push(Doc.empty)

  out.push(
    row(heading(bundle.issueId), " · ", styled(bundle.outcome, Ansi.bold, OUTCOME_STYLE[bundle.outcome]), `  ${oneLine(bundle.summary)}`)
  )
  out.push(
    styled(
      `${oneLine(bundle.task.title)} · attempt ${bundle.attempt} · ${
        formatDuration(bundle.timings.endedAt - bundle.timings.startedAt)
      } · ${iso(bundle.timings.endedAt)}`,
      dim
    )
  )
  blank()

  out.push(row(heading("verdict"), ` ${bundle.verdict.cause}`))
  for (const reason of bundle.verdict.reasons) out.push(text(`  - ${oneLine(reason)}`))
  if (bundle.question !== null) {
    blank()
    out.push(row(styled("question", Ansi.bold, Ansi.yellow), ` ${oneLine(bundle.question)}`))
  }

  const { command, before, after } = bundle.reproduction
  if (command !== null) {
    blank()
    out.push(row(heading("reproduction"), ` ${command}`))
    // On the base the reproduction is expected to FAIL, on the candidate to pass.
    if (before !== null) {
      const good = !before.passed && !before.environmentFailure
      const what = before.environmentFailure ? "could not run" : before.passed ? "passes (already fixed?)" : "fails, as it must"
      out.push(row("  ", ok(good), ` base:      ${what} (${resultText(before)})`))
    }
    if (after !== null) {
      const what = after.environmentFailure ? "could not run" : after.passed ? "passes" : "still fails"
      out.push(row("  ", ok(after.passed), ` candidate: ${what} (${resultText(after)})`))
    }
    if (before === null && after === null) out.push(text("  (not run)"))
  }

  if (bundle.validation.length > 0) {
    blank()
    out.push(heading("validation"))
    for (const r of bundle.validation) out.push(row("  ", ok(r.passed), ` ${oneLine(r.command)}  `, styled(resultText(r), dim)))
  }
  const { base, candidate } = bundle.testCounts
  if (base !== null || candidate !== null) {
    const counts = (c: typeof base) => (c === null ? "no counts" : `${c.total} ${c.total === 1 ? "test" : "tests"}, ${c.passed} passed`)
    out.push(text(`  tests: base ${counts(base)} → candidate ${counts(candidate)}`))
  }

  if (bundle.guards.length > 0) {
    const failed = bundle.guards.filter((g) => !g.passed)
    blank()
    out.push(
      row(
        heading("guards"),
        " ",
        failed.length === 0
          ? styled(`all ${bundle.guards.length} passed`, Ansi.green)
          : styled(`${failed.length} of ${bundle.guards.length} failed`, Ansi.red)
      )
    )
    for (const g of failed) {
      out.push(row("  ", ok(false), " ", heading(g.rule), `: ${oneLine(g.detail)}`))
      for (const l of g.lines.slice(0, 5)) out.push(styled(`      ${l.file}: ${l.line}`, dim))
      if (g.lines.length > 5) out.push(styled(`      … ${g.lines.length - 5} more`, dim))
    }
  }

  const diff = bundle.diff
  if (diff !== null) {
    blank()
    out.push(
      row(
        heading("diff"),
        ` ${diff.branch}${diff.commit === null ? "" : ` @ ${shortSha(diff.commit)}`} from ${shortSha(diff.baseCommit)}`
      )
    )
    const statLines = diff.stat.split("\n").filter((l) => l.trim() !== "")
    const fileLines = statLines.filter((l) => l.includes("|"))
    if (fileLines.length > 0) {
      for (const l of fileLines.slice(0, FILES_SHOWN)) out.push(row("  ", statLine(l.trim())))
      if (fileLines.length > FILES_SHOWN) out.push(text(`  … ${fileLines.length - FILES_SHOWN} more files`))
    } else {
      for (const f of diff.files.slice(0, FILES_SHOWN)) out.push(text(`  ${f}`))
      if (diff.files.length > FILES_SHOWN) out.push(text(`  … ${diff.files.length - FILES_SHOWN} more files`))
    }
    const totals = diffTotals(diff.stat)
    if (totals !== null) {
      out.push(
        row(
          `  ${totals.files} ${totals.files === 1 ? "file" : "files"} changed, `,
          styled(`+${totals.insertions}`, Ansi.green),
          " ",
          styled(`-${totals.deletions}`, Ansi.red)
        )
      )
    }
  }

  if (bundle.residualRisk.length > 0) {
    blank()
    out.push(heading("residual risk"))
    for (const r of bundle.residualRisk) out.push(text(`  - ${oneLine(r)}`))
  }

  const integration = bundle.integration
  if (integration !== null) {
    const parts: Array<View> = []
    if (integration.pushed !== null) {
      parts.push(
        integration.pushed
          ? styled("pushed", Ansi.green)
          : styled(`push failed: ${oneLine(integration.pushError ?? "")}`, Ansi.red)
      )
    }
    if (integration.prUrl !== null) parts.push(text(`PR ${integration.prUrl}`))
    if (integration.prError !== null) parts.push(styled(`PR failed: ${oneLine(integration.prError)}`, Ansi.red))
    if (parts.length > 0) {
      blank()
      out.push(row(heading("integration"), " ", Doc.concatWith(parts, (l, r) => row(l, " · ", r))))
    }
  }

  if (bundle.fingerprint !== null) {
    blank()
    out.push(
      row(
        heading("fingerprint"),
        ` tree ${shortSha(bundle.fingerprint.tree)} · commit ${shortSha(bundle.fingerprint.commit)} · base ${
          shortSha(bundle.fingerprint.baseCommit)
        }  `,
        styled(`(switchyard verify ${bundle.issueId})`, dim)
      )
    )
  }

  const dir = options.runDir ?? `.switchyard/runs/${bundle.issueId}/${bundle.attempt}/`
  blank()
  out.push(
    row(
      heading("files"),
      ` ${dir}  `,
      styled(`evidence.md · evidence.json${diff !== null && diff.patch !== "" ? " · diff.patch" : ""}`, dim)
    )
  )
  return rows(out)
}

/** A `git diff --stat` file line with its `+` run green and its `-` run red (`src/a.ts | 3 ++-`). */
const statLine = (line: string): View => {
  const m = /^(.*\|\s*\d+\s)(\+*)(-*)$/.exec(line)
  return m === null ? text(line) : row(m[1]!, styled(m[2]!, Ansi.green), styled(m[3]!, Ansi.red))
}

const resultText = (r: CommandResult): string => {
  const exit = r.timedOut
    ? "timed out"
    : r.exitCode !== null
    ? `exit ${r.exitCode}`
    : r.signal !== null
    ? `killed by ${r.signal}`
    : "could not run"
  return `${exit}, ${formatDuration(r.durationMs)}`
}

const oneLine = (text: string): string => text.replace(/\s*\r?\n\s*/g, " ").trim()

const iso = (ms: number): string => {
  const date = new Date(ms)
  return Number.isNaN(date.getTime()) ? "?" : date.toISOString()
}

/**
 * A running attempt (or one a dead runner left open) as far as its stored stage artifacts go: one line per
 * completed stage with when it completed and what it found. There is no verdict yet.
 */
export const runningView = (issueId: string, attempt: number, stages: ReadonlyArray<StoredStage>): View =>
  rows([
    row(styled(issueId, Ansi.bold), " · ", styled("RUNNING", Ansi.bold, Ansi.yellow), `  attempt ${attempt}: no evidence bundle yet`),
    Doc.empty,
    styled("Completed stages:", Ansi.bold),
    ...stages.map((s) =>
      row(
        styled(`  ${new Date(s.at).toISOString().slice(11, 19)}  `, dim),
        styled(stageName(s.artifact).padEnd(20), Ansi.bold),
        ` ${oneLine(stageDetail(s.artifact))}`
      )
    )
  ])
