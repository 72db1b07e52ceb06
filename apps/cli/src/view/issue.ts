/** `switchyard issue list|show` for the terminal. JSON output goes through the Schema encoders instead. */
import type { Attempt, Issue } from "@switchyard/domain"
import { DateTime } from "effect"

const pad = (s: string, n: number) => (s.length >= n ? s.slice(0, n - 1) + "…" : s + " ".repeat(n - s.length))

export const issueLine = (i: Issue): string =>
  `${pad(i.id, 8)} ${pad(i.status, 12)} ${pad(i.priority, 9)} ${i.title}${
    i.labels.length > 0 ? `  [${i.labels.join(", ")}]` : ""
  }`

export const issueTable = (issues: ReadonlyArray<Issue>): string =>
  issues.length === 0
    ? "no issues"
    : [`${pad("ID", 8)} ${pad("STATUS", 12)} ${pad("PRIORITY", 9)} TITLE`, ...issues.map(issueLine)].join("\n")

export const issueDetail = (i: Issue, attempts: ReadonlyArray<Attempt>): string => {
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
  return lines.join("\n")
}
