/**
 * `switchyard status`: the four layers side by side — tracker (what is eligible), orchestrator (what was
 * picked up), workers (what is happening now, from the leases' live fields) and human (recent outcomes).
 */
import { EvidenceStore, eligibleIssues, Orchestrator, Tracker } from "@switchyard/core"
import { Clock, Effect } from "effect"
import { human, leaseLine, outcomeLine, retryLine } from "./render.js"

export const statusSnapshot = Effect.gen(function*() {
  const tracker = yield* Tracker
  const orchestrator = yield* Orchestrator
  const evidence = yield* EvidenceStore
  const now = yield* Clock.currentTimeMillis
  const [counts, snapshot, leases, retries, recent] = yield* Effect.all([
    tracker.counts,
    tracker.candidates,
    orchestrator.leases,
    orchestrator.retries,
    orchestrator.recentOutcomes(10)
  ])
  const eligible = eligibleIssues(snapshot, {
    now,
    claimed: new Set(leases.map((l) => l.issue_id)),
    retryDue: new Map(retries.map((r) => [r.issue_id, r.due_at]))
  })
  const outcomes = yield* Effect.forEach(recent, (a) =>
    evidence.get(a.issue_id, a.attempt).pipe(
      Effect.map((b) => ({
        issue: a.issue_id,
        attempt: a.attempt,
        outcome: a.terminal_state,
        cause: a.cause,
        endedAt: a.ended_at,
        evidence: b._tag === "Some",
        summary: b._tag === "Some" ? b.value.summary : null
      }))
    ))
  return {
    generatedAt: now,
    tracker: {
      counts,
      eligible: eligible.map((i) => i.id),
      blocked: counts.blocked,
      invalid: snapshot.invalid
    },
    orchestrator: {
      runner: orchestrator.runnerId,
      leases: leases.map((l) => ({
        issue: l.issue_id,
        runner: l.runner_id,
        attempt: l.attempt,
        heartbeatAgeMs: now - l.heartbeat_at,
        expiresInMs: l.expires_at - now
      })),
      retries: retries.map((r) => ({ issue: r.issue_id, attempt: r.attempt, dueInMs: r.due_at - now, error: r.error }))
    },
    workers: leases.map((l) => ({
      issue: l.issue_id,
      stage: l.stage,
      elapsedMs: now - l.acquired_at,
      lastOutputAgeMs: l.last_output_at === null ? null : now - l.last_output_at,
      pid: l.agent_pid
    })),
    human: { recent: outcomes },
    _raw: { leases, retries, recent }
  }
})

export type StatusSnapshot = Effect.Effect.Success<typeof statusSnapshot>

export const renderStatus = (s: StatusSnapshot): string => {
  const now = s.generatedAt
  const counts = Object.entries(s.tracker.counts).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(" · ")
  const lines = [
    "TRACKER       " + (counts || "no issues"),
    `              eligible now: ${s.tracker.eligible.length ? s.tracker.eligible.join(", ") : "none"}`
  ]
  for (const bad of s.tracker.invalid) lines.push(`              unreadable: ${bad.id}: ${bad.reason}`)
  lines.push("ORCHESTRATOR  " + (s._raw.leases.length ? `${s._raw.leases.length} lease(s)` : "no leases"))
  for (const l of s._raw.leases) lines.push("              " + leaseLine(l, now))
  for (const r of s._raw.retries) lines.push("              retry " + retryLine(r, now))
  lines.push("WORKERS       " + (s.workers.length ? "" : "none running"))
  for (const w of s.workers) {
    lines.push(`              ${w.issue} ${w.stage} for ${human(w.elapsedMs)}${
      w.lastOutputAgeMs === null ? "" : `, last output ${human(w.lastOutputAgeMs)} ago`
    }${w.pid === null ? "" : `, pid ${w.pid}`}`)
  }
  lines.push("HUMAN         " + (s._raw.recent.length ? "recent outcomes (newest first):" : "no outcomes yet"))
  for (const [i, a] of s._raw.recent.entries()) {
    const o = s.human.recent[i]!
    lines.push(`              ${outcomeLine(a)}${o.evidence ? "" : "  ⚠ no evidence bundle"}`)
  }
  return lines.join("\n")
}
