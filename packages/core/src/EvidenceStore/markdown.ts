/**
 * `evidence.md`: the evidence bundle as a page a person can read in under a minute. The verdict and its reasons
 * come first; command output is folded into `<details>` blocks; the patch is shown up to
 * {@link PATCH_PREVIEW_LINES} lines (the whole patch is in `diff.patch` beside it).
 */
import type { AgentReport, CommandResult, DiffReport, EvidenceBundle } from "@switchyard/domain"

/** Lines of the patch shown inline before it is cut (with a note pointing to `diff.patch`). */
export const PATCH_PREVIEW_LINES = 200

/**
 * Renders a bundle as Markdown (GitHub-flavoured: tables and `<details>`). Pure and total: every field of the
 * bundle may be empty or null. Sections: title (issue, attempt, outcome, summary), "Why we believe it" (verdict
 * cause and reasons), question (ESCALATE), reproduction, validation, agent, diff, residual risk, timings.
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

  out.push("## Why we believe it", "")
  out.push(`Verdict ${code(bundle.verdict.state)} (cause ${code(bundle.verdict.cause)}).`, "")
  if (bundle.verdict.reasons.length === 0) out.push("- (the verdict gives no reasons)")
  for (const reason of bundle.verdict.reasons) out.push(`- ${oneLine(reason)}`)
  out.push("")

  if (bundle.outcome === "ESCALATE") {
    out.push("## Question for the human", "")
    out.push(bundle.question === null ? "_(no question was given)_" : quote(bundle.question), "")
  }

  out.push(...renderReproduction(bundle.reproduction))
  out.push(...renderValidation(bundle.validation))
  out.push(...renderAgent(bundle.agent, bundle.verdict.state))
  out.push(...renderDiff(bundle.diff))

  out.push("## Residual risk", "")
  if (bundle.residualRisk.length === 0) out.push("- (none recorded)")
  for (const risk of bundle.residualRisk) out.push(`- ${oneLine(risk)}`)
  out.push("")

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
  return out.join("\n")
}

const renderReproduction = (reproduction: EvidenceBundle["reproduction"]): Array<string> => {
  const out = ["## Reproduction", ""]
  if (reproduction.command === null) {
    out.push("_The issue has no reproduction command._", "")
    return out
  }
  out.push(`Command: ${code(reproduction.command)}`, "")
  const runs: Array<readonly [string, CommandResult]> = []
  if (reproduction.before !== null) runs.push(["before (base)", reproduction.before])
  if (reproduction.after !== null) runs.push(["after (candidate)", reproduction.after])
  if (runs.length === 0) {
    out.push("_The reproduction was not run._", "")
    return out
  }
  out.push("| run | exit | duration |", "| --- | --- | ---: |")
  for (const [label, result] of runs) out.push(`| ${label} | ${exitText(result)} | ${formatDuration(result.durationMs)} |`)
  out.push("")
  for (const [label, result] of runs) out.push(...details(`${label}: output tail`, result.outputTail))
  return out
}

const renderValidation = (validation: ReadonlyArray<CommandResult>): Array<string> => {
  const out = ["## Validation", ""]
  if (validation.length === 0) {
    out.push("_No validation commands ran._", "")
    return out
  }
  out.push("| command | exit | duration | result |", "| --- | --- | ---: | --- |")
  for (const result of validation) {
    out.push(
      `| ${code(result.command, true)} | ${exitText(result)} | ${formatDuration(result.durationMs)} | ` +
        `${result.passed ? "passed" : result.environmentFailure ? "could not run" : "failed"} |`
    )
  }
  out.push("")
  for (const result of validation) out.push(...details(`${oneLine(result.command)}: output tail`, result.outputTail))
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
  const claim = agent.claim ?? "no claim"
  out.push(
    `- Claim ${agent.claim === null ? "_none_" : code(claim)} vs verdict ${code(verdict)}` +
      (agent.claim !== null && agent.claim !== verdict ? " (the verdict overrides the claim)" : "")
  )
  if (agent.claimError !== null) out.push(`- Result file not counted: ${oneLine(agent.claimError)}`)
  if (agent.summary !== null) out.push(`- Summary: ${oneLine(agent.summary)}`)
  if (agent.plan !== null) out.push(`- Plan: ${oneLine(agent.plan)}`)
  if (agent.residualRisk !== null) out.push(`- Agent's residual risk: ${oneLine(agent.residualRisk)}`)
  out.push("")
  out.push(...details("agent output tail", agent.outputTail))
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

const shortSha = (sha: string): string => (/^[0-9a-f]{40}$/.test(sha) ? sha.slice(0, 12) : sha)

/** `exit 0`, `timed out`, `killed by SIGTERM`, `could not run`. */
const exitText = (result: CommandResult): string =>
  result.timedOut
    ? "timed out"
    : result.exitCode !== null
    ? String(result.exitCode)
    : result.signal !== null
    ? `killed by ${result.signal}`
    : "could not run"

/** `850 ms`, `12.3 s`, `2 min 5 s`, `1 h 3 min`. */
const formatDuration = (ms: number): string => {
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
