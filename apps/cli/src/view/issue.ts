/** `switchyard issue list|show` for the terminal. JSON output goes through the Schema encoders instead. */
import type { Attempt, Issue } from "@switchyard/domain"
import { DateTime } from "effect"
import { Ansi, cell, Doc, row, rows, text, type View } from "./doc.js"

/** One row of `issue list`: id, status and priority in columns, then the title and labels. */
const issueLine = (i: Issue): View =>
  row(
    cell(i.id, 8),
    " ",
    cell(i.status, 12),
    " ",
    cell(i.priority, 9),
    ` ${i.title}${i.labels.length > 0 ? `  [${i.labels.join(", ")}]` : ""}`
  )

/** `issue list`: a header and one row per issue, or `no issues`. */
export const issueTable = (issues: ReadonlyArray<Issue>): View =>
  issues.length === 0
    ? text("no issues")
    : rows([
      Doc.annotate(row(cell("ID", 8), " ", cell("STATUS", 12), " ", cell("PRIORITY", 9), " TITLE"), Ansi.bold),
      ...issues.map(issueLine)
    ])

/** `issue show`: the issue's fields, body, attempts and comments. */
export const issueDetail = (i: Issue, attempts: ReadonlyArray<Attempt>): View => {
  const lines = [
    `${i.id}  ${i.title}`,
    `status ${i.status} · priority ${i.priority}${i.labels.length ? ` · labels ${i.labels.join(", ")}` : ""}`,
    `created ${DateTime.formatIso(i.created_at)} · updated ${DateTime.formatIso(i.updated_at)}`
  ]
  if (i.parent) lines.push(`parent ${i.parent}`)
  if (i.blocked_by.length) lines.push(`blocked by ${i.blocked_by.join(", ")}`)
  if (i.reproduction) lines.push(`reproduction: ${i.reproduction}`)
  for (const v of i.validation) lines.push(`validation: ${v}`)
  if (i.scope.length) lines.push(`scope: ${i.scope.join(" ")}`)
  for (const n of i.non_goals) lines.push(`non-goal: ${n}`)
  if (i.body.trim()) lines.push("", i.body.trim())
  if (attempts.length) {
    lines.push("", "attempts:")
    for (const a of attempts) {
      lines.push(`  #${a.attempt} ${a.terminal_state ?? (a.ended_at === null ? "running" : "interrupted")} (${a.cause ?? "-"})${
        a.counted ? "" : " [not counted]"
      }`)
    }
  }
  if (i.comments.length) {
    lines.push("", "comments:")
    for (const c of i.comments) lines.push(`  ${c.author} at ${DateTime.formatIso(c.created_at)}:`, ...c.body.split("\n").map((l) => `    ${l}`))
  }
  return rows(lines.map(text))
}
