/**
 * `switchyard evidence ID`: the evidence bundle for the terminal, compact and in the order a reviewer reads it —
 * outcome and summary, the verdict's reasons, the human's question, reproduction before and after, validation,
 * test counts, failed guards, a diff stat with its files, residual risk, integration, and where the files are.
 * `--md` prints the full evidence.md and `--json` the bundle; docs/evidence.md explains every part.
 */
import { diffTotals, formatDuration, shortSha } from "@switchyard/core"
import type { CommandResult, EvidenceBundle, TerminalState } from "@switchyard/domain"

/** ANSI SGR colours used by the view. */
const SGR = {
  bold: "1",
  dim: "2",
  red: "31",
  green: "32",
  yellow: "33",
  magenta: "35",
  cyan: "36"
} as const
type Style = keyof typeof SGR

/** Colour of each terminal state: green PR_READY, yellow NO_OP, red ESCALATE, magenta RETRYABLE_FAILURE. */
export const OUTCOME_STYLE: Record<TerminalState, Style> = {
  PR_READY: "green",
  NO_OP: "yellow",
  ESCALATE: "red",
  RETRYABLE_FAILURE: "magenta"
}

/** Files listed under the diff stat before the rest are counted. */
const FILES_SHOWN = 15

export interface EvidenceViewOptions {
  /** Emit ANSI colour codes (callers pass `isTTY && !NO_COLOR`). Without it the text has no escape codes. */
  readonly color: boolean
  /** Where the bundle's files are; default `.switchyard/runs/<id>/<attempt>/` (relative to the repo). */
  readonly runDir?: string | undefined
}

/**
 * Renders a bundle for the terminal. Pure and total (every field may be empty or null). Lines are plain text when
 * `options.color` is false; with it, the outcome, pass/fail marks and the diff stat's `+`/`-` are coloured.
 */
export const renderEvidenceTerminal = (bundle: EvidenceBundle, options: EvidenceViewOptions): string => {
  const paint = (style: Style, text: string) => (options.color ? `\x1b[${SGR[style]}m${text}\x1b[0m` : text)
  const ok = (passed: boolean) => (passed ? paint("green", "✓") : paint("red", "✗"))
  const heading = (text: string) => paint("bold", text)
  const out: Array<string> = []

  out.push(
    `${paint("bold", bundle.issueId)} · ${paint(OUTCOME_STYLE[bundle.outcome], paint("bold", bundle.outcome))}  ${oneLine(bundle.summary)}`
  )
  out.push(
    paint(
      "dim",
      `${oneLine(bundle.task.title)} · attempt ${bundle.attempt} · ${
        formatDuration(bundle.timings.endedAt - bundle.timings.startedAt)
      } · ${iso(bundle.timings.endedAt)}`
    )
  )
  out.push("")

  out.push(`${heading("verdict")} ${bundle.verdict.cause}`)
  for (const reason of bundle.verdict.reasons) out.push(`  - ${oneLine(reason)}`)
  if (bundle.question !== null) {
    out.push("", `${paint("yellow", heading("question"))} ${oneLine(bundle.question)}`)
  }

  const { command, before, after } = bundle.reproduction
  if (command !== null) {
    out.push("", `${heading("reproduction")} ${command}`)
    // On the base the reproduction is expected to FAIL, on the candidate to pass.
    if (before !== null) {
      const good = !before.passed && !before.environmentFailure
      const what = before.environmentFailure ? "could not run" : before.passed ? "passes (already fixed?)" : "fails, as it must"
      out.push(`  ${ok(good)} base:      ${what} (${resultText(before)})`)
    }
    if (after !== null) {
      const what = after.environmentFailure ? "could not run" : after.passed ? "passes" : "still fails"
      out.push(`  ${ok(after.passed)} candidate: ${what} (${resultText(after)})`)
    }
    if (before === null && after === null) out.push("  (not run)")
  }

  if (bundle.validation.length > 0) {
    out.push("", heading("validation"))
    for (const r of bundle.validation) out.push(`  ${ok(r.passed)} ${oneLine(r.command)}  ${paint("dim", resultText(r))}`)
  }
  const { base, candidate } = bundle.testCounts
  if (base !== null || candidate !== null) {
    const counts = (c: typeof base) => (c === null ? "no counts" : `${c.total} ${c.total === 1 ? "test" : "tests"}, ${c.passed} passed`)
    out.push(`  tests: base ${counts(base)} → candidate ${counts(candidate)}`)
  }

  if (bundle.guards.length > 0) {
    const failed = bundle.guards.filter((g) => !g.passed)
    out.push(
      "",
      `${heading("guards")} ${
        failed.length === 0
          ? paint("green", `all ${bundle.guards.length} passed`)
          : paint("red", `${failed.length} of ${bundle.guards.length} failed`)
      }`
    )
    for (const g of failed) {
      out.push(`  ${ok(false)} ${paint("bold", g.rule)}: ${oneLine(g.detail)}`)
      for (const l of g.lines.slice(0, 5)) out.push(paint("dim", `      ${l.file}: ${l.line}`))
      if (g.lines.length > 5) out.push(paint("dim", `      … ${g.lines.length - 5} more`))
    }
  }

  const diff = bundle.diff
  if (diff !== null) {
    out.push(
      "",
      `${heading("diff")} ${diff.branch}${diff.commit === null ? "" : ` @ ${shortSha(diff.commit)}`} from ${
        shortSha(diff.baseCommit)
      }`
    )
    const statLines = diff.stat.split("\n").filter((l) => l.trim() !== "")
    const fileLines = statLines.filter((l) => l.includes("|"))
    if (fileLines.length > 0) {
      for (const l of fileLines.slice(0, FILES_SHOWN)) out.push(`  ${colourStat(l.trim(), paint)}`)
      if (fileLines.length > FILES_SHOWN) out.push(`  … ${fileLines.length - FILES_SHOWN} more files`)
    } else {
      for (const f of diff.files.slice(0, FILES_SHOWN)) out.push(`  ${f}`)
      if (diff.files.length > FILES_SHOWN) out.push(`  … ${diff.files.length - FILES_SHOWN} more files`)
    }
    const totals = diffTotals(diff.stat)
    if (totals !== null) {
      out.push(
        `  ${totals.files} ${totals.files === 1 ? "file" : "files"} changed, ${
          paint("green", `+${totals.insertions}`)
        } ${paint("red", `-${totals.deletions}`)}`
      )
    }
  }

  if (bundle.residualRisk.length > 0) {
    out.push("", heading("residual risk"))
    for (const r of bundle.residualRisk) out.push(`  - ${oneLine(r)}`)
  }

  const integration = bundle.integration
  if (integration !== null) {
    const parts: Array<string> = []
    if (integration.pushed !== null) {
      parts.push(integration.pushed ? paint("green", "pushed") : paint("red", `push failed: ${oneLine(integration.pushError ?? "")}`))
    }
    if (integration.prUrl !== null) parts.push(`PR ${integration.prUrl}`)
    if (integration.prError !== null) parts.push(paint("red", `PR failed: ${oneLine(integration.prError)}`))
    if (parts.length > 0) out.push("", `${heading("integration")} ${parts.join(" · ")}`)
  }

  if (bundle.fingerprint !== null) {
    out.push(
      "",
      `${heading("fingerprint")} tree ${shortSha(bundle.fingerprint.tree)} · commit ${
        shortSha(bundle.fingerprint.commit)
      } · base ${shortSha(bundle.fingerprint.baseCommit)}  ${paint("dim", `(switchyard verify ${bundle.issueId})`)}`
    )
  }

  const dir = options.runDir ?? `.switchyard/runs/${bundle.issueId}/${bundle.attempt}/`
  out.push(
    "",
    `${heading("files")} ${dir}  ${paint("dim", `evidence.md · evidence.json${diff !== null && diff.patch !== "" ? " · diff.patch" : ""}`)}`
  )
  return out.join("\n")
}

/** A `git diff --stat` file line with its `+` run green and its `-` run red (`src/a.ts | 3 ++-`). */
const colourStat = (line: string, paint: (style: Style, text: string) => string): string => {
  const m = /^(.*\|\s*\d+\s)(\+*)(-*)$/.exec(line)
  return m === null ? line : `${m[1]}${paint("green", m[2]!)}${paint("red", m[3]!)}`
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
