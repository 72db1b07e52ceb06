/**
 * `evidence.md`: the evidence bundle as a page a person can read in under a minute. It answers three questions
 * first: what changed, why we believe it (the verdict, its reasons and the checks behind them), and what is still
 * uncertain (residual risk, and the human's question on ESCALATE). The detail follows: reproduction, validation
 * with test counts, guards with the lines that triggered them, the agent's plan and claim, revisions, the diff,
 * integration, the fingerprint, tokens and cost, and timings. Command output is folded into `<details>` blocks;
 * the patch is shown up to {@link PATCH_PREVIEW_LINES} lines (the whole patch is in `diff.patch` beside it).
 * The page holds no terminal control sequences: colours and cursor moves in command output (test runners print
 * them) are stripped (`stripTerminalControls`), so the page reads the same in a browser, a pager or an editor.
 * Section by section: docs/evidence.md.
 */
import type { AgentReport, CommandResult, DiffReport, EvidenceBundle, GuardResult, TestCounts } from "@switchyard/domain"
import { stripTerminalControls } from "@switchyard/domain"

/** Lines of the patch shown inline before it is cut (with a note pointing to `diff.patch`). */
export const PATCH_PREVIEW_LINES = 200

/** Files listed by name under "What changed" before the rest are counted. */
const CHANGED_FILES_SHOWN = 10

/**
 * Renders a bundle as Markdown (GitHub-flavoured: tables and `<details>`). Pure and total: every field of the
 * bundle may be empty or null. Section order: title; What changed; Why we believe it; Question for the human
 * (ESCALATE); Residual risk; then Reproduction, Validation, Guards, Agent, Revisions (when any), Diff,
 * Integration (when it ran), Fingerprint, Tokens and cost, Timings.
 */
export const renderEvidenceMarkdown = (bundle: EvidenceBundle): string => {
  const out: Array<string> = []
  out.push(`# ${bundle.issueId} · ${bundle.outcome}: ${oneLine(bundle.summary) || "(no summary)"}`, "")
  out.push(
    `Task: ${oneLine(bundle.task.title)} · attempt ${bundle.attempt} · ` +
      `${formatDuration(bundle.timings.endedAt - bundle.timings.startedAt)} · ` +
      `finished ${formatTime(bundle.timings.endedAt)}`,
    ""
  )
  if (bundle.resumed !== null) {
    out.push(
      `Resumed: a runner died during this attempt (${bundle.resumed.runnerDeaths} runner death(s) on this issue); ` +
        `its successor resumed from ${bundle.resumed.fromStage} at ${formatTime(bundle.resumed.at)}: the agent's ` +
        "candidate was verified again, the agent was not run again.",
      ""
    )
  }

  out.push(...renderWhatChanged(bundle))
  out.push(...renderWhy(bundle))
  out.push(...renderConfinement(bundle))

  if (bundle.outcome === "ESCALATE") {
    out.push("## Question for the human", "")
    out.push(bundle.question === null ? "_(no question was given)_" : quote(bundle.question), "")
  }

  out.push("## Residual risk", "")
  if (bundle.residualRisk.length === 0) out.push("- (none recorded)")
  for (const risk of bundle.residualRisk) out.push(`- ${oneLine(risk)}`)
  out.push("")

  out.push(...renderReproduction(bundle.reproduction, bundle.reproductionTestCounts))
  out.push(...renderValidation(bundle.validation, bundle.testCounts))
  out.push(...renderGuards(bundle.guards))
  out.push(...renderAgent(bundle.agent, bundle.verdict.state))
  out.push(...renderRevisions(bundle.revisions))
  out.push(...renderDiff(bundle.diff))
  out.push(...renderIntegration(bundle.integration))
  out.push(...renderFingerprint(bundle.fingerprint, bundle.issueId))
  out.push(...renderUsage(bundle))

  out.push("## Timings", "")
  const stages = Object.entries(bundle.timings.stagesMs)
  if (stages.length > 0) {
    out.push("| stage | duration |", "| --- | ---: |")
    for (const [stage, ms] of stages) out.push(`| ${cell(stage)} | ${formatDuration(ms)} |`)
    out.push("")
  }
  out.push(
    `Started ${formatTime(bundle.timings.startedAt)}, ended ${formatTime(bundle.timings.endedAt)} ` +
      `(${formatDuration(bundle.timings.endedAt - bundle.timings.startedAt)} in total).`,
    ""
  )
  // Last, over the whole page: no ANSI sequence or other control character survives, whichever section quoted it.
  return stripTerminalControls(out.join("\n"))
}

// --- the three questions ---------------------------------------------------------------------------------

const renderWhatChanged = (bundle: EvidenceBundle): Array<string> => {
  const out = ["## What changed", ""]
  const diff = bundle.diff
  if (diff === null || diff.files.length === 0) {
    out.push("Nothing: the attempt produced no candidate change.")
  } else {
    const totals = diffTotals(diff.stat)
    out.push(
      `${diff.files.length} ${diff.files.length === 1 ? "file" : "files"}` +
        (totals === null ? "" : ` (+${totals.insertions} −${totals.deletions})`) +
        ` on ${code(diff.branch)}` +
        (diff.commit === null ? "" : ` at ${code(shortSha(diff.commit))}`) +
        `, from base ${code(shortSha(diff.baseCommit))}: ` +
        diff.files.slice(0, CHANGED_FILES_SHOWN).map((f) => code(f)).join(", ") +
        (diff.files.length > CHANGED_FILES_SHOWN ? ` and ${diff.files.length - CHANGED_FILES_SHOWN} more` : "") +
        "."
    )
  }
  if (bundle.agent?.summary) out.push("", `The agent says: ${oneLine(bundle.agent.summary)}`)
  out.push("")
  return out
}

const renderWhy = (bundle: EvidenceBundle): Array<string> => {
  const out = ["## Why we believe it", ""]
  out.push(`Verdict ${code(bundle.verdict.state)} (cause ${code(bundle.verdict.cause)}).`, "")
  if (bundle.verdict.reasons.length === 0) out.push("- (the verdict gives no reasons)")
  for (const reason of bundle.verdict.reasons) out.push(`- ${oneLine(reason)}`)
  out.push("")
  const checks = checkLines(bundle)
  if (checks.length > 0) {
    out.push("Checks Switchyard ran itself, in clean checkouts:", "")
    for (const line of checks) out.push(`- ${line}`)
    out.push("")
  }
  return out
}

/** One line per kind of check that ran: reproduction, validation, guards, test counts, fingerprint. */
const checkLines = (bundle: EvidenceBundle): Array<string> => {
  const lines: Array<string> = []
  const { before, after, command } = bundle.reproduction
  if (command !== null && (before !== null || after !== null)) {
    const part = (label: string, r: CommandResult | null) =>
      r === null ? `not run on the ${label}` : `${r.passed ? "passes" : "fails"} on the ${label} (${exitText(r)})`
    lines.push(`Reproduction ${code(command)} ${part("base", before)}, ${part("candidate", after)}.`)
  }
  if (bundle.validation.length > 0) {
    const passed = bundle.validation.filter((r) => r.passed).length
    lines.push(`Validation: ${passed} of ${bundle.validation.length} ${plural(bundle.validation.length, "command")} passed.`)
  }
  if (bundle.guards.length > 0) {
    const failed = bundle.guards.filter((g) => !g.passed)
    lines.push(
      failed.length === 0
        ? `Guards: all ${bundle.guards.length} passed.`
        : `Guards: ${failed.length} of ${bundle.guards.length} failed (${failed.map((g) => code(g.rule)).join(", ")}).`
    )
  }
  const { base, candidate } = bundle.testCounts
  if (base !== null || candidate !== null) {
    lines.push(`Tests: ${countsText(base)} on the base, ${countsText(candidate)} on the candidate.`)
  }
  if (bundle.baseReusedAt !== null && base !== null) {
    lines.push(
      `The base's counts are from its run at ${new Date(bundle.baseReusedAt).toISOString()} on the same commit and inputs ` +
        "(`verify.base_cache`), not run again for this candidate."
    )
  }
  if (bundle.fingerprint !== null) {
    lines.push(
      `Bound to tree ${code(shortSha(bundle.fingerprint.tree))} (commit ${code(shortSha(bundle.fingerprint.commit))}); ` +
        "`switchyard verify` re-checks it."
    )
  }
  return lines
}

/**
 * The confinement the agent ran under, and the integrity check around it (docs/security.md). An unconfined run,
 * or a bundle from before confinement existed, says so in capitals: the rest of the evidence is then only as
 * good as the agent's good will.
 */
const renderConfinement = (bundle: EvidenceBundle): Array<string> => {
  const out = ["## Confinement", ""]
  const c = bundle.confinement
  if (c === null) {
    out.push(
      bundle.agent === null
        ? "No confinement is recorded: no agent ran in this bundle (the supervisor closed a lost attempt)."
        : "**No confinement is recorded: this bundle was written before Switchyard confined agents; read it as UNCONFINED.**"
    )
  }
  else if (c.kind === "none") out.push(`**${oneLine(c.detail)}.**`)
  else out.push(`${oneLine(c.detail)}.`)
  out.push("")
  const { escapes, noted, restored } = bundle.integrity
  if (escapes.length > 0) {
    out.push("Changed outside the sandbox while the agent ran (the attempt was escalated):", "")
    for (const e of escapes) out.push(`- ${code(e.target)}: ${oneLine(e.detail)}`)
    for (const r of restored) out.push(`- put back: ${oneLine(r)}`)
    out.push("")
  } else if (bundle.agent !== null) {
    out.push("Integrity check: the main repository's refs, hooks, config and attributes were unchanged by the agent.", "")
  }
  for (const n of noted) out.push(`- Noted: ${oneLine(n)}`)
  if (noted.length > 0) out.push("")
  return out
}

// --- detail sections -------------------------------------------------------------------------------------

const renderReproduction = (
  reproduction: EvidenceBundle["reproduction"],
  counts: EvidenceBundle["reproductionTestCounts"]
): Array<string> => {
  const out = ["## Reproduction", ""]
  if (reproduction.command === null) {
    out.push("_The issue has no reproduction command._", "")
    return out
  }
  out.push(`Command: ${code(reproduction.command)}`, "")
  const runs: Array<readonly [string, CommandResult, TestCounts | null]> = []
  if (reproduction.before !== null) runs.push(["before (base)", reproduction.before, counts.before])
  if (reproduction.after !== null) runs.push(["after (candidate)", reproduction.after, counts.after])
  if (runs.length === 0) {
    out.push("_The reproduction was not run._", "")
    return out
  }
  out.push("| run | exit | duration | tests |", "| --- | --- | ---: | --- |")
  for (const [label, result, c] of runs) {
    out.push(`| ${label} | ${exitText(result)} | ${formatDuration(result.durationMs)} | ${testsCell(c)} |`)
  }
  out.push("")
  for (const [label, result] of runs) out.push(...details(`${label}: output tail`, result.outputTail))
  return out
}

const renderValidation = (
  validation: ReadonlyArray<CommandResult>,
  counts: EvidenceBundle["testCounts"]
): Array<string> => {
  const out = ["## Validation", ""]
  if (validation.length === 0) {
    out.push("_No validation commands ran._", "")
  } else {
    out.push("| command | exit | duration | result |", "| --- | --- | ---: | --- |")
    for (const result of validation) {
      out.push(
        `| ${code(result.command, true)} | ${exitText(result)} | ${formatDuration(result.durationMs)} | ` +
          `${result.passed ? "passed" : result.environmentFailure ? "could not run" : "failed"} |`
      )
    }
    out.push("")
  }
  if (counts.base !== null || counts.candidate !== null) {
    out.push("Test counts from the validation output:", "")
    out.push("| run | total | passed | failed | skipped | runner |", "| --- | ---: | ---: | ---: | ---: | --- |")
    for (const [label, c] of [["base", counts.base], ["candidate", counts.candidate]] as const) {
      out.push(
        c === null
          ? `| ${label} | – | – | – | – | not reported |`
          : `| ${label} | ${c.total} | ${c.passed} | ${c.failed} | ${c.skipped} | ${c.runner} |`
      )
    }
    out.push("")
  }
  for (const result of validation) out.push(...details(`${oneLine(result.command)}: output tail`, result.outputTail))
  return out
}

const renderGuards = (guards: ReadonlyArray<GuardResult>): Array<string> => {
  const out = ["## Guards", ""]
  if (guards.length === 0) {
    out.push("_No guards ran (nothing was verified)._", "")
    return out
  }
  out.push("| rule | result | detail |", "| --- | --- | --- |")
  for (const g of guards) out.push(`| ${code(g.rule, true)} | ${g.passed ? "passed" : "**FAILED**"} | ${cell(g.detail)} |`)
  out.push("")
  for (const g of guards.filter((x) => !x.passed && x.lines.length > 0)) {
    out.push(`Lines that triggered ${code(g.rule)}:`, "")
    for (const l of g.lines) out.push(`- ${code(l.file)}: ${code(l.line)}`)
    out.push("")
  }
  const allowed = guards.filter((x) => x.passed && x.lines.length > 0)
  for (const g of allowed) {
    out.push(`Allowed by an exception (${code(g.rule)}):`, "")
    for (const l of g.lines) out.push(`- ${code(l.file)}: ${code(l.line)}`)
    out.push("")
  }
  return out
}

const renderAgent = (agent: AgentReport | null, verdict: string): Array<string> => {
  const out = ["## Agent", ""]
  if (agent === null) {
    out.push("_No agent ran._", "")
    return out
  }
  const exit = agent.timedOut
    ? "timed out"
    : agent.crashed
    ? "crashed"
    : agent.exitCode !== null
    ? `exit ${agent.exitCode}`
    : agent.signal !== null
    ? `killed by ${agent.signal}`
    : "no exit code"
  out.push(`- ${code(agent.kind)} agent: ${code(agent.command)}, ${exit}, ${formatDuration(agent.durationMs)}`)
  if (agent.route !== null) out.push(`- Route: ${oneLine(agent.route)}`)
  const claim = agent.claim ?? "no claim"
  out.push(
    `- Claim ${agent.claim === null ? "_none_" : code(claim)} vs verdict ${code(verdict)}` +
      (agent.claim !== null && agent.claim !== verdict ? " (the verdict overrides the claim)" : "")
  )
  if (agent.claimError !== null) out.push(`- Result file not counted: ${oneLine(agent.claimError)}`)
  if (agent.summary !== null) out.push(`- Summary: ${oneLine(agent.summary)}`)
  if (agent.plan !== null) out.push(`- Plan: ${oneLine(agent.plan)}`)
  if (agent.residualRisk !== null) out.push(`- Agent's residual risk: ${oneLine(agent.residualRisk)}`)
  if (agent.stalled) out.push("- Stopped for silence (agent.stall_timeout_ms).")
  if (agent.budgetExceeded !== null) out.push(`- Stopped over budget: ${oneLine(agent.budgetExceeded)}`)
  if (agent.transcript !== null) out.push(`- Transcript: ${code(agent.transcript)}`)
  out.push("")
  out.push(...details("agent output tail", agent.outputTail))
  return out
}

const renderRevisions = (revisions: EvidenceBundle["revisions"]): Array<string> => {
  if (revisions.length === 0) return []
  const out = ["## Revisions", ""]
  out.push(`The verifier sent the agent back ${revisions.length} ${plural(revisions.length, "time")}:`, "")
  for (const r of revisions) out.push(`- turn ${r.turn}: ${code(r.cause)}`)
  out.push("")
  for (const r of revisions) out.push(...details(`turn ${r.turn}: feedback to the agent`, r.feedback))
  return out
}

const renderDiff = (diff: DiffReport | null): Array<string> => {
  const out = ["## Diff", ""]
  if (diff === null) {
    out.push("_No diff: the attempt produced no candidate change._", "")
    return out
  }
  out.push(
    `Branch ${code(diff.branch)} from ${code(shortSha(diff.baseCommit))}` +
      (diff.commit === null ? ", no candidate commit." : `, candidate ${code(shortSha(diff.commit))}.`),
    ""
  )
  if (diff.files.length === 0) {
    out.push("_No files changed._", "")
  } else {
    out.push(`Files (${diff.files.length}):`, "")
    for (const file of diff.files) out.push(`- ${code(file)}`)
    out.push("")
  }
  if (diff.stat.trim() !== "") out.push(...fence("text", diff.stat.trimEnd()), "")
  if (diff.patch !== "") {
    const lines = diff.patch.replace(/\n$/, "").split("\n")
    const shown = lines.slice(0, PATCH_PREVIEW_LINES)
    out.push(...fence("diff", shown.join("\n")), "")
    if (lines.length > PATCH_PREVIEW_LINES) {
      out.push(`_Showing ${PATCH_PREVIEW_LINES} of ${lines.length} lines; the whole patch is in \`diff.patch\`._`, "")
    }
  }
  if (diff.patchTruncated) out.push("_The stored patch itself was cut at its size limit._", "")
  return out
}

const renderIntegration = (integration: EvidenceBundle["integration"]): Array<string> => {
  if (integration === null) return []
  const out = ["## Integration", ""]
  out.push(
    integration.pushed === null
      ? "- Push: not configured."
      : integration.pushed
      ? "- Push: the branch was pushed."
      : `- Push: **failed**: ${oneLine(integration.pushError ?? "(no message)")}`
  )
  if (integration.prUrl !== null) out.push(`- Pull request: ${integration.prUrl}`)
  if (integration.prError !== null) out.push(`- Pull request: **failed**: ${oneLine(integration.prError)}`)
  if (integration.prUrl === null && integration.prError === null) out.push("- Pull request: no URL was reported.")
  out.push("", "_A failure here does not lose the verified change: the branch and this evidence are kept._", "")
  return out
}

const renderFingerprint = (fingerprint: EvidenceBundle["fingerprint"], issueId: string): Array<string> => {
  const out = ["## Fingerprint", ""]
  if (fingerprint === null) {
    out.push("_None: only a verified candidate (PR_READY) is bound to a tree._", "")
    return out
  }
  out.push(
    "| | |",
    "| --- | --- |",
    `| tree | ${code(fingerprint.tree)} |`,
    `| commit | ${code(fingerprint.commit)} |`,
    `| base | ${code(fingerprint.baseCommit)} |`,
    `| branch | ${code(fingerprint.branch)} |`,
    "",
    `${code(`switchyard verify ${issueId}`)} reports this evidence stale when the branch head, its tree or the base ` +
      "changed, and re-runs the verification.",
    ""
  )
  return out
}

const renderUsage = (bundle: EvidenceBundle): Array<string> => {
  const out = ["## Tokens and cost", ""]
  const u = bundle.usage
  const agent = bundle.agent
  const hasTotal = u.inputTokens > 0 || u.outputTokens > 0 || u.costUsd !== null
  const hasAgent = agent !== null && (agent.usage !== null || agent.costUsd !== null || agent.numTurns !== null)
  if (!hasTotal && !hasAgent) {
    out.push("_No token usage or cost was reported by the agent._", "")
    return out
  }
  out.push("| | input tokens | output tokens | cache read | cache write | cost | turns |")
  out.push("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
  if (hasAgent) {
    const au = agent!.usage
    out.push(
      `| last agent run | ${au === null ? "–" : num(au.inputTokens)} | ${au === null ? "–" : num(au.outputTokens)} | ` +
        `${au === null ? "–" : num(au.cacheReadInputTokens)} | ${au === null ? "–" : num(au.cacheCreationInputTokens)} | ` +
        `${usd(agent!.costUsd)} | ${agent!.numTurns ?? "–"} |`
    )
  }
  if (hasTotal) {
    out.push(`| attempt total | ${num(u.inputTokens)} | ${num(u.outputTokens)} | – | – | ${usd(u.costUsd)} | – |`)
  }
  out.push("")
  return out
}

// --- helpers ---------------------------------------------------------------------------------------------

/**
 * Totals from the last line of `git diff --stat` (`3 files changed, 10 insertions(+), 2 deletions(-)`), or null
 * when the stat has no such line. Missing parts count 0.
 */
export const diffTotals = (
  stat: string
): { readonly files: number; readonly insertions: number; readonly deletions: number } | null => {
  const last = stat.trimEnd().split("\n").at(-1) ?? ""
  const files = /(\d+) files? changed/.exec(last)
  if (files === null) return null
  return {
    files: Number(files[1]),
    insertions: Number(/(\d+) insertions?\(\+\)/.exec(last)?.[1] ?? 0),
    deletions: Number(/(\d+) deletions?\(-\)/.exec(last)?.[1] ?? 0)
  }
}

/** A table cell for a run's test counts: `3 (2 passed, 1 failed, 0 skipped; node-test)`, or `not reported`. */
const testsCell = (c: TestCounts | null): string =>
  c === null ? "not reported" : `${c.total} (${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped; ${c.runner})`

const countsText = (c: TestCounts | null): string =>
  c === null ? "no counts" : `${c.total} ${plural(c.total, "test")} (${c.passed} passed)`

const plural = (n: number, word: string): string => (n === 1 ? word : `${word}s`)

const num = (n: number): string => n.toLocaleString("en-US")

const usd = (n: number | null): string => (n === null ? "–" : `$${n.toFixed(n < 1 ? 4 : 2)}`)

/** A collapsible block holding `text` in a code fence; nothing when the text is empty. */
const details = (summary: string, text: string): Array<string> =>
  text.trim() === ""
    ? []
    : ["<details>", `<summary>${escapeHtml(summary)}</summary>`, "", ...fence("text", text.trimEnd()), "", "</details>", ""]

/** A fenced block whose fence is longer than any backtick run inside `text`. */
const fence = (lang: string, text: string): Array<string> => {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length))
  const marks = "`".repeat(Math.max(3, longest + 1))
  return [`${marks}${lang}`, text, marks]
}

/** An inline code span that survives backticks inside (and `|` when it sits in a table cell). */
const code = (text: string, inTable = false): string => {
  const flat = inTable ? oneLine(text).replace(/\|/g, "\\|") : oneLine(text)
  const longest = Math.max(0, ...(flat.match(/`+/g) ?? []).map((run) => run.length))
  const marks = "`".repeat(longest + 1)
  return longest > 0 ? `${marks} ${flat} ${marks}` : `${marks}${flat}${marks}`
}

const cell = (text: string): string => oneLine(text).replace(/\|/g, "\\|")

const oneLine = (text: string): string => text.replace(/\s*\r?\n\s*/g, " ").trim()

const quote = (text: string): string =>
  text.trim().split(/\r?\n/).map((line) => `> ${line}`).join("\n")

const escapeHtml = (text: string): string =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")

/** The first 12 characters of a 40-hex sha; anything else unchanged. */
export const shortSha = (sha: string): string => (/^[0-9a-f]{40}$/.test(sha) ? sha.slice(0, 12) : sha)

/** `exit 0`, `timed out`, `killed by SIGTERM`, `could not run`. */
const exitText = (result: CommandResult): string =>
  result.timedOut
    ? "timed out"
    : result.exitCode !== null
    ? String(result.exitCode)
    : result.signal !== null
    ? `killed by ${result.signal}`
    : "could not run"

/** A duration in ms as `850 ms`, `12.3 s`, `2 min 5 s` or `1 h 3 min`; `?` when not a finite, non-negative number. */
export const formatDuration = (ms: number): string => {
  if (!Number.isFinite(ms) || ms < 0) return "?"
  if (ms < 1_000) return `${Math.round(ms)} ms`
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)} s`
  const totalSeconds = Math.round(ms / 1_000)
  const hours = Math.floor(totalSeconds / 3_600)
  const minutes = Math.floor((totalSeconds % 3_600) / 60)
  const seconds = totalSeconds % 60
  return hours > 0 ? `${hours} h ${minutes} min` : `${minutes} min ${seconds} s`
}

/** Epoch ms as ISO-8601 UTC, or `?` when it is not a valid time. */
const formatTime = (ms: number): string => {
  const date = new Date(ms)
  return Number.isNaN(date.getTime()) ? "?" : date.toISOString()
}
