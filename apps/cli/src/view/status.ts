/** `switchyard status` for the terminal: the four layers, one block each (docs/status.md). */
import type { Lease, RetryEntry } from "@switchyard/domain"
import type { StatusSnapshot } from "../commands/status/snapshot.js"

const pad = (s: string, n: number) => (s.length >= n ? s.slice(0, n - 1) + "…" : s + " ".repeat(n - s.length))

/** `12s`, `3m04s`, `1h02m`: durations for humans (input in ms). */
export const human = (ms: number): string => {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`
}

export const leaseLine = (l: Lease, now: number): string =>
  `${pad(l.issue_id, 8)} ${pad(l.stage, 10)} attempt ${l.attempt} · ${human(now - l.acquired_at)} · heartbeat ${
    human(now - l.heartbeat_at)
  } ago · pid ${l.agent_pid ?? "-"} · ${l.runner_id}`

export const retryLine = (r: RetryEntry, now: number): string =>
  `${pad(r.issue_id, 8)} attempt ${r.attempt} due in ${human(r.due_at - now)} (${r.error})`

/** The snapshot as text: TRACKER, ORCHESTRATOR, WORKERS, HUMAN and, when there are any, VIOLATIONS. */
export const renderStatus = (s: StatusSnapshot): string => {
  const now = s.generatedAt
  const counts = Object.entries(s.tracker.counts).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(" · ")
  const lines = [
    "TRACKER       " + (counts || "no issues"),
    `              eligible now: ${
      s.tracker.eligible === 0
        ? "none"
        : `${s.tracker.eligible} (next: ${s.tracker.next.join(", ")}${s.tracker.eligible > s.tracker.next.length ? ", …" : ""})`
    }${s.tracker.waiting === 0 ? "" : ` · waiting on blockers or open children: ${s.tracker.waiting}`}`
  ]
  for (const bad of s.tracker.invalid) lines.push(`              ⚠ unreadable ${bad.id}: ${bad.reason}`)
  lines.push("ORCHESTRATOR  " + (s._raw.leases.length ? `${s._raw.leases.length} lease(s)` : "no leases"))
  for (const l of s._raw.leases) lines.push("              " + leaseLine(l, now))
  for (const r of s._raw.retries) lines.push("              retry " + retryLine(r, now))
  lines.push("WORKERS       " + (s.workers.length ? `${s.workers.length} running` : "none running"))
  for (const w of s.workers) {
    lines.push(`              ${w.issue} ${w.stage} for ${human(w.elapsedMs)}${
      w.lastOutputAgeMs === null ? "" : `, last output ${human(w.lastOutputAgeMs)} ago`
    }${w.pid === null ? "" : `, pid ${w.pid}`}`)
  }
  const u = s.human.usage
  lines.push(
    "HUMAN         " + (s.human.recent.length ? "recent outcomes (newest first):" : "no outcomes yet") +
      (u.inputTokens + u.outputTokens > 0
        ? `   tokens ${u.inputTokens} in / ${u.outputTokens} out${u.costUsd === null ? "" : `, $${u.costUsd.toFixed(4)}`}`
        : "")
  )
  for (const o of s.human.recent) {
    const fence = !o.evidence || o.confinement === null
      ? ""
      : o.confinement === "bwrap"
      ? " · confined"
      : " · ⚠ agent UNCONFINED"
    lines.push(`              ${o.issue.padEnd(8)} #${o.attempt} ${(o.outcome ?? "-").padEnd(18)} ${o.trust}${fence}`)
  }
  if (s.human.violations.length > 0) {
    lines.push(`VIOLATIONS    ${s.human.violations.length} (the supervisor cannot repair these; a human must):`)
    for (const v of s.human.violations) lines.push(`              ⚠ ${v.issueId} ${v.kind}: ${v.detail}`)
  }
  return lines.join("\n")
}
