/**
 * What the API answers, read from the store: the state (the same read as `switchyard status`, statusSnapshot, in the
 * API's shape), one issue with its attempts, and one attempt's evidence. Pure reads: nothing here writes.
 */
import { FileSystem } from "@effect/platform"
import { type AgentTurn, EvidenceStore, Orchestrator, stageName, Tracker } from "@switchyard/core"
import type { IssueId, Lease, RetryEntry } from "@switchyard/domain"
import { Clock, Effect, Option } from "effect"
import * as NodePath from "node:path"
import { statusSnapshot } from "../commands/status/snapshot.js"
import type { EvidenceResponse, IssueResponse, OutcomesResponse, StateResponse } from "./api.js"

/** How much of an attempt's transcript.jsonl the evidence endpoint returns: its last 256 KiB. */
export const TRANSCRIPT_TAIL_BYTES = 256 * 1024

/** How many of an issue's events `GET /api/v1/issues/:id` returns (the newest). */
export const ISSUE_EVENTS = 50

const iso = (ms: number) => new Date(ms).toISOString()

/** Tokens and cost of the agent turns of one attempt stored so far (null before the first turn). */
const turnUsage = (issueId: IssueId, attempt: number) =>
  Effect.gen(function*() {
    const stages = yield* (yield* EvidenceStore).stages(issueId, attempt)
    const turns = stages.map((s) => s.artifact).filter((a): a is AgentTurn => a._tag === "AgentTurn")
    if (turns.length === 0) return null
    let input = 0
    let output = 0
    let cost: number | null = null
    for (const t of turns) {
      input += t.report.usage?.inputTokens ?? 0
      output += t.report.usage?.outputTokens ?? 0
      if (t.report.costUsd !== null) cost = (cost ?? 0) + t.report.costUsd
    }
    return { input_tokens: input, output_tokens: output, cost_usd: cost }
  })

const runningOf = (l: Lease, now: number) =>
  turnUsage(l.issue_id, l.attempt).pipe(
    Effect.orElseSucceed(() => null),
    Effect.map((tokens) => ({
      issue_id: l.issue_id,
      attempt: l.attempt,
      stage: l.stage,
      runner: l.runner_id,
      pid: l.agent_pid,
      started_at: iso(l.acquired_at),
      elapsed_ms: now - l.acquired_at,
      last_output_at: l.last_output_at === null ? null : iso(l.last_output_at),
      tokens
    }))
  )

const retryingOf = (r: RetryEntry, now: number) => ({
  issue_id: r.issue_id,
  attempt: r.attempt,
  due_at: iso(r.due_at),
  due_in_ms: r.due_at - now,
  error: r.error
})

/** `GET /api/v1/state`: the four layers of the repo at `repoRoot` (statusSnapshot) in the API's shape. */
export const readState = (repoRoot: string) =>
  Effect.gen(function*() {
    const s = yield* statusSnapshot(repoRoot)
    const now = s.generatedAt
    const running = yield* Effect.forEach(s._raw.leases, (l) => runningOf(l, now))
    return {
      generated_at: iso(now),
      counts: {
        running: s._raw.leases.length,
        retrying: s._raw.retries.length,
        eligible: s.tracker.eligible,
        waiting: s.tracker.waiting,
        blocked: s.tracker.blocked,
        violations: s.human.violations.length
      },
      tracker: { statuses: s.tracker.counts, eligible: s.tracker.eligible, next: s.tracker.next, invalid: s.tracker.invalid },
      orchestrator: {
        runner: s.orchestrator.runner,
        leases: s.orchestrator.leases.map((l) => ({
          issue_id: l.issue,
          runner: l.runner,
          attempt: l.attempt,
          heartbeat_age_ms: l.heartbeatAgeMs,
          expires_in_ms: l.expiresInMs
        })),
        workflow_invalid: s.orchestrator.workflowInvalid.map((w) => ({ path: w.path, error: w.error, pid: w.pid, since: iso(w.since) }))
      },
      running,
      retrying: s._raw.retries.map((r) => retryingOf(r, now)),
      recent: s.human.recent.map((o) => ({
        issue_id: o.issue,
        attempt: o.attempt,
        outcome: o.outcome,
        cause: o.cause,
        ended_at: o.endedAt === null ? null : iso(o.endedAt),
        evidence: o.evidence,
        signature: o.signature,
        trust: o.trust,
        summary: o.summary,
        usage: o.tokens === null
          ? null
          : { input_tokens: o.tokens.inputTokens, output_tokens: o.tokens.outputTokens, cost_usd: o.tokens.costUsd },
        confinement: o.confinement
      })),
      violations: s.human.violations,
      usage: {
        bundles: s.human.usage.bundles,
        input_tokens: s.human.usage.inputTokens,
        output_tokens: s.human.usage.outputTokens,
        cost_usd: s.human.usage.costUsd
      }
    } satisfies StateResponse
  })

/**
 * The newest `limit` events of one issue, oldest first. The log is read forward in pages of 500 (the Orchestrator
 * reads forward only), keeping the last `limit`.
 */
const newestEvents = (issueId: IssueId, limit: number) =>
  Effect.gen(function*() {
    const orchestrator = yield* Orchestrator
    let after = 0
    let kept: Array<import("@switchyard/domain").FactoryEvent> = []
    while (true) {
      const page = yield* orchestrator.events({ issueId, afterSeq: after, limit: 500 })
      if (page.length === 0) break
      kept = [...kept, ...page].slice(-limit)
      after = page[page.length - 1]!.seq
      if (page.length < 500) break
    }
    return kept
  })

/** `GET /api/v1/issues/:id`: fails `IssueNotFound` (the Tracker's) for an unknown id. */
export const readIssue = (id: IssueId) =>
  Effect.gen(function*() {
    const issue = yield* (yield* Tracker).get(id)
    const orchestrator = yield* Orchestrator
    const store = yield* EvidenceStore
    const now = yield* Clock.currentTimeMillis
    const [rows, leases, retries, events] = yield* Effect.all([
      orchestrator.attempts(issue.id),
      orchestrator.leases,
      orchestrator.retries,
      newestEvents(issue.id, ISSUE_EVENTS)
    ])
    const bundles = new Set((yield* store.list(issue.id)).map((e) => e.attempt))
    const lease = leases.find((l) => l.issue_id === issue.id)
    const retry = retries.find((r) => r.issue_id === issue.id)
    return {
      issue_id: issue.id,
      title: issue.title,
      status: issue.status,
      labels: issue.labels,
      priority: issue.priority,
      attempts: rows.map((a) => ({
        attempt: a.attempt,
        runner: a.runner_id,
        started_at: iso(a.started_at),
        ended_at: a.ended_at === null ? null : iso(a.ended_at),
        terminal_state: a.terminal_state,
        cause: a.cause,
        counted: a.counted,
        branch: a.branch,
        commit: a.commit,
        evidence: bundles.has(a.attempt)
      })),
      running: lease === undefined ? null : yield* runningOf(lease, now),
      retry: retry === undefined ? null : retryingOf(retry, now),
      recent_events: events.map((e) => ({ seq: e.seq, at: iso(e.at), event: e.type, message: e.message }))
    } satisfies IssueResponse
  })

/**
 * `GET /api/v1/issues/:id/evidence[/:attempt]`: the newest attempt unless `attempt` is given. `Option.none()` when
 * the attempt has neither a bundle nor a stored stage (no attempt yet, or an attempt number it never had); fails
 * `IssueNotFound` for an unknown id.
 */
export const readEvidence = (id: IssueId, attempt: Option.Option<number>) =>
  Effect.gen(function*() {
    const issue = yield* (yield* Tracker).get(id)
    const store = yield* EvidenceStore
    const rows = yield* (yield* Orchestrator).attempts(issue.id)
    const n = Option.getOrElse(attempt, () => rows.at(-1)?.attempt ?? 0)
    if (n === 0) return Option.none<EvidenceResponse>()
    const [bundle, stages, sealed] = yield* Effect.all([
      store.get(issue.id, n),
      store.stages(issue.id, n),
      store.sealedFile(issue.id, n)
    ])
    if (Option.isNone(bundle) && stages.length === 0) return Option.none<EvidenceResponse>()
    const transcript = yield* transcriptTail(issue.id, n)
    return Option.some({
      issue_id: issue.id,
      attempt: n,
      running: Option.isNone(bundle),
      bundle: Option.getOrNull(bundle),
      signature: Option.match(sealed, { onNone: () => null, onSome: (s) => s.seal?.status ?? null }),
      stages: stages.map((s) => ({ seq: s.seq, at: iso(s.at), stage: stageName(s.artifact), artifact: s.artifact })),
      transcript
    } satisfies EvidenceResponse)
  })

/** The last TRANSCRIPT_TAIL_BYTES of the attempt's transcript.jsonl, or null when it has none. */
const transcriptTail = (issueId: IssueId, attempt: number) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const dir = (yield* (yield* EvidenceStore).location(issueId, attempt)).dir
    const file = NodePath.join(dir, "transcript.jsonl")
    if (!(yield* fs.exists(file))) return null
    const text = yield* fs.readFileString(file)
    return text.length > TRANSCRIPT_TAIL_BYTES ? text.slice(-TRANSCRIPT_TAIL_BYTES) : text
  }).pipe(Effect.orElseSucceed(() => null))

/** The most outcomes `GET /api/v1/outcomes` returns, and how many without `?limit`. */
export const OUTCOMES_MAX = 1000
export const OUTCOMES_DEFAULT = 200

/**
 * `GET /api/v1/outcomes`: the newest `limit` ended attempts, newest first, each with its station, route, labels and
 * usage from its bundle (zero tokens and no station without one) and the issue's current labels (none when the
 * issue cannot be read). One bundle and one issue read per outcome.
 */
export const readOutcomes = (limit: number) =>
  Effect.gen(function*() {
    const rows = (yield* (yield* Orchestrator).recentOutcomes(limit)).filter((a) => a.ended_at !== null)
    const store = yield* EvidenceStore
    const tracker = yield* Tracker
    const labels = new Map<string, ReadonlyArray<string>>()
    const outcomes = yield* Effect.forEach(rows, (a) =>
      Effect.gen(function*() {
        const bundle = Option.getOrNull(yield* store.get(a.issue_id, a.attempt).pipe(Effect.orElseSucceed(() => Option.none())))
        if (!labels.has(a.issue_id)) {
          labels.set(a.issue_id, yield* tracker.get(a.issue_id).pipe(Effect.map((i) => i.labels), Effect.orElseSucceed(() => [])))
        }
        return {
          issue_id: a.issue_id,
          attempt: a.attempt,
          outcome: a.terminal_state,
          cause: a.cause,
          started_at: iso(a.started_at),
          ended_at: iso(a.ended_at!),
          duration_ms: a.ended_at! - a.started_at,
          station: bundle?.agent?.kind ?? null,
          route: bundle?.agent?.route ?? null,
          labels: labels.get(a.issue_id) ?? [],
          input_tokens: bundle?.usage.inputTokens ?? 0,
          output_tokens: bundle?.usage.outputTokens ?? 0,
          cost_usd: bundle?.usage.costUsd ?? null
        }
      }))
    return { outcomes } satisfies OutcomesResponse
  })
