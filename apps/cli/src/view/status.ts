/** `switchyard status` for the terminal: the four layers, one block each (docs/status.md). */
import type { Lease, RetryEntry } from "@switchyard/domain"
import type { StatusSnapshot } from "../commands/status/snapshot.js"
import { Ansi, cell, Doc, OUTCOME_STYLE, render, type RenderOptions, row, rows, styled, text, type View } from "./doc.js"

/** `12s`, `3m04s`, `1h02m`: durations for humans (input in ms). */
export const human = (ms: number): string => {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`
}

/** Width of the layer names' column (`ORCHESTRATOR` and two spaces). */
const LABEL_WIDTH = 14

/** A layer: its name in the left column, its first line next to it and the others indented under that. */
const layer = (name: string, lines: ReadonlyArray<View>, style: ReadonlyArray<Ansi.Ansi> = [Ansi.bold]): View =>
  row(cell(name, LABEL_WIDTH, ...style), Doc.nest(rows(lines), LABEL_WIDTH))

/** A line that says something is wrong (it starts with ⚠). */
const warning = (s: string): View => styled(s, Ansi.yellow)

const leaseLine = (l: Lease, now: number): View =>
  row(
    cell(l.issue_id, 8),
    " ",
    cell(l.stage, 10),
    ` attempt ${l.attempt} · ${human(now - l.acquired_at)} · heartbeat ${human(now - l.heartbeat_at)} ago · pid ${
      l.agent_pid ?? "-"
    } · ${l.runner_id}`
  )

const retryLine = (r: RetryEntry, now: number): View =>
  row("retry ", cell(r.issue_id, 8), ` attempt ${r.attempt} due in ${human(r.due_at - now)} (${r.error})`)

/** The snapshot as a {@link View}: TRACKER, ORCHESTRATOR, WORKERS, HUMAN and, when there are any, VIOLATIONS. */
export const statusView = (s: StatusSnapshot): View => {
  const now = s.generatedAt
  const counts = Object.entries(s.tracker.counts).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(" · ")
  const tracker: Array<View> = [
    text(counts || "no issues"),
    text(`eligible now: ${
      s.tracker.eligible === 0
        ? "none"
        : `${s.tracker.eligible} (next: ${s.tracker.next.join(", ")}${s.tracker.eligible > s.tracker.next.length ? ", …" : ""})`
    }${s.tracker.waiting === 0 ? "" : ` · waiting on blockers or open children: ${s.tracker.waiting}`}`)
  ]
  for (const bad of s.tracker.invalid) tracker.push(warning(`⚠ unreadable ${bad.id}: ${bad.reason}`))
  for (const h of s.tracker.health) {
    const read = h.lastOkAt === null ? "never read" : `last read ${human(Math.max(0, now - h.lastOkAt))} ago`
    const rate = h.rateLimitRemaining === null ? "" : ` · rate limit left ${h.rateLimitRemaining}`
    const backlog = h.pendingWriteBacks === 0 ? "" : ` · ${h.pendingWriteBacks} write-back(s) waiting`
    const failing = h.lastError !== null && h.lastErrorAt !== null && (h.lastOkAt === null || h.lastErrorAt > h.lastOkAt)
    tracker.push(
      failing
        ? warning(`⚠ ${h.kind}: cannot be read (${h.lastError}); ${read}; nothing new is dispatched${rate}${backlog}`)
        : text(`${h.kind}: ${read}${rate}${backlog}`)
    )
  }

  const orchestrator: Array<View> = [text(s._raw.leases.length ? `${s._raw.leases.length} lease(s)` : "no leases")]
  for (const w of s.orchestrator.workflowInvalid) {
    orchestrator.push(warning(`⚠ the workflow file is invalid (for ${human(Math.max(0, now - w.since))}); pid ${w.pid} keeps its last good version: ${w.error}`))
  }
  for (const r of s.orchestrator.runners ?? []) {
    orchestrator.push(text(`runner ${r.runner} · ${r.host} · ${r.workers} worker(s) · heartbeat ${human(r.heartbeatAgeMs)} ago`))
  }
  for (const l of s._raw.leases) orchestrator.push(leaseLine(l, now))
  for (const r of s._raw.retries) orchestrator.push(retryLine(r, now))

  const workers: Array<View> = [text(s.workers.length ? `${s.workers.length} running` : "none running")]
  for (const w of s.workers) {
    workers.push(text(`${w.issue} ${w.stage} for ${human(w.elapsedMs)}${
      w.lastOutputAgeMs === null ? "" : `, last output ${human(w.lastOutputAgeMs)} ago`
    }${w.pid === null ? "" : `, pid ${w.pid}`}`))
  }

  const u = s.human.usage
  const human_: Array<View> = [
    text(
      (s.human.recent.length ? "recent outcomes (newest first):" : "no outcomes yet") +
        (u.inputTokens + u.outputTokens > 0
          ? `   tokens ${u.inputTokens} in / ${u.outputTokens} out${u.costUsd === null ? "" : `, $${u.costUsd.toFixed(4)}`}`
          : "")
    )
  ]
  for (const o of s.human.recent) {
    const fence = !o.evidence || o.confinement === null
      ? Doc.empty
      : o.confinement === "bwrap"
      ? text(" · confined")
      : row(" · ", warning("⚠ agent UNCONFINED"))
    human_.push(
      row(
        cell(o.issue, 8),
        ` #${o.attempt} `,
        o.outcome === null ? cell("-", 18) : cell(o.outcome, 18, OUTCOME_STYLE[o.outcome]),
        " ",
        o.trust.startsWith("⚠") ? warning(o.trust) : text(o.trust),
        fence
      )
    )
  }

  const layers = [
    layer("TRACKER", tracker),
    layer("ORCHESTRATOR", orchestrator),
    layer("WORKERS", workers),
    layer("HUMAN", human_)
  ]
  if (s.human.violations.length > 0) {
    layers.push(
      layer(
        "VIOLATIONS",
        [
          text(`${s.human.violations.length} (the supervisor cannot repair these; a human must):`),
          ...s.human.violations.map((v) => styled(`⚠ ${v.issueId} ${v.kind}: ${v.detail}`, Ansi.red))
        ],
        [Ansi.bold, Ansi.red]
      )
    )
  }
  return rows(layers)
}

/** The snapshot as text (plain unless `options.color`); see {@link statusView}. */
export const renderStatus = (s: StatusSnapshot, options: RenderOptions = { color: false }): string =>
  render(statusView(s), options)
