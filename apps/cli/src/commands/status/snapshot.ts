/**
 * The data behind `switchyard status` (rendered by view/status.ts): the four layers side by side — tracker (what is eligible), orchestrator (what was picked
 * up), workers (what is happening now, from the leases' live fields, so other processes' workers show too) and
 * human (recent outcomes with a trust line, token totals, and the violations the supervisor cannot repair).
 */
import { attemptKey, checkOutcomes, EvidenceStore, Orchestrator, Tracker } from "@switchyard/core"
import { ProcessRunner, WorkflowProblems } from "@switchyard/node"
import { TrackerHealth } from "@switchyard/sqlite"
import { SqlClient } from "@effect/sql"
import { Clock, Effect, Option } from "effect"
import { MirrorTracker } from "@switchyard/trackers"
import { isEmbeddedId } from "../../layers.js"
import { statePaths } from "../../store.js"
import { workflowTracker } from "../shared.js"

/** How many of the eligible issues `status` names (the rest are counted). */
export const STATUS_NEXT = 10

/**
 * One read of the four layers for the repo at `repoRoot`. Every bundle of the violation window (the newest 100
 * terminal attempts, which include the 10 shown) has its signature checked and is compared with its attempts row
 * and `terminal.*` event; git is asked, once, where the branches of PR_READY issues in review point. The workflow
 * problems are those live runners recorded (`WorkflowProblems`): of the workflow file status reads only `tracker:`
 * (`workflowTracker`), to count eligible issues as the runner dispatches them.
 */
export const statusSnapshot = (repoRoot: string) =>
  Effect.gen(function*() {
    const tracker = yield* Tracker
    const orchestrator = yield* Orchestrator
    const evidence = yield* EvidenceStore
    const now = yield* Clock.currentTimeMillis
    const [counts, leases, retries, recent, usage, workflowProblems, health, runners] = yield* Effect.all([
      tracker.counts,
      orchestrator.leases,
      orchestrator.retries,
      orchestrator.recentOutcomes(10),
      evidence.usageTotals,
      WorkflowProblems.list(statePaths(repoRoot).stateDir),
      // External trackers' health (docs/trackers.md): kept in the embedded SQLite store only; a store older than
      // migration 7, or a PostgreSQL one, has none to show.
      Effect.serviceOption(SqlClient.SqlClient).pipe(Effect.flatMap(Option.match({
        onNone: () => Effect.succeed([]),
        onSome: (sql) => TrackerHealth.read.pipe(Effect.provideService(SqlClient.SqlClient, sql), Effect.orElseSucceed(() => []))
      }))),
      orchestrator.runners ?? Effect.succeed(null)
    ])
    // Eligible = ready minus claimed minus waiting for a retry (the same rule as the tick's `eligibleRefs`), counted
    // by the tracker's index instead of reading every ready issue.
    // As the runner dispatches: the embedded kind only its own `SY-` issues, an external kind only mirrored ones, and
    // only issues with every `tracker.required_labels` label. The embedded kind without required labels and without
    // foreign rows (mirrored by an earlier run with another kind; two index range probes) is counted by the index.
    const cfg = yield* workflowTracker(repoRoot)
    const own = cfg.kind === "switchyard" ? isEmbeddedId : (id: string) => !isEmbeddedId(id)
    const foreign = cfg.kind !== "switchyard" || (yield* Effect.serviceOption(SqlClient.SqlClient).pipe(Effect.flatMap(Option.match({
      onNone: () => Effect.succeed(false),
      onSome: (sql) =>
        sql<{ id: string }>`SELECT id FROM issues WHERE id < 'SY-' UNION ALL SELECT id FROM issues WHERE id >= 'SY.' LIMIT 1`.pipe(
          Effect.map((rows) => rows.length > 0),
          Effect.orElseSucceed(() => true)
        )
    }))))
    const counted = !foreign && cfg.required_labels.length === 0
      ? tracker
      : MirrorTracker.dispatchOnly(tracker, own, cfg.required_labels)
    const ready = yield* counted.readySummary({
      exclude: [...leases.map((l) => l.issue_id), ...retries.filter((r) => r.due_at > now).map((r) => r.issue_id)],
      limit: STATUS_NEXT
    })
    // One `git for-each-ref` for all the PR_READY branches and their heads (not one git process per outcome), run
    // only if needed; as in the supervisor, a git failure skips the branch checks (no false violation).
    const branches = yield* Effect.cached(Effect.option(ProcessRunner.localBranches(repoRoot, { remotes: true })))
    const { sealed, violations } = yield* checkOutcomes(branches)
    const outcomes = yield* Effect.forEach(recent, (a) =>
      Effect.gen(function*() {
        const bundle = yield* evidence.get(a.issue_id, a.attempt)
        const b = bundle._tag === "Some" ? bundle.value : null
        const seal = sealed.get(attemptKey(a.issue_id, a.attempt))?.seal ?? null
        const flagged = violations.filter((v) => v.issueId === a.issue_id && v.attempt === a.attempt)
        const because = b === null
          ? null
          : a.terminal_state === "PR_READY"
          ? `verified in a clean checkout${b.fingerprint ? ` at tree ${b.fingerprint.tree.slice(0, 10)}` : ""}; ${
            b.validation.length
          } validation command(s) pass`
          : b.verdict.reasons[0] ?? b.verdict.cause
        const trust = flagged.length > 0
          ? `⚠ ${flagged.map((v) => v.detail).join("; ")}`
          : because === null
          ? "⚠ no evidence bundle"
          : seal?.status === "unsigned_legacy"
          ? `⚠ unsigned (stored before bundles were signed); ${because}`
          : because
        const confinement = b?.confinement?.kind ?? null
        return {
          issue: a.issue_id,
          attempt: a.attempt,
          outcome: a.terminal_state,
          cause: a.cause,
          endedAt: a.ended_at,
          evidence: b !== null,
          /** How the bundle's signature checked out (`SealStatus`), null without a bundle. */
          signature: seal?.status ?? null,
          trust,
          tokens: b === null ? null : b.usage,
          summary: b?.summary ?? null,
          /** The agent's confinement (`bwrap`, `none`), or null for a bundle that records none. */
          confinement
        }
      }))
    return {
      generatedAt: now,
      tracker: {
        counts,
        /** How many issues could start now, and the next ones in dispatch order. */
        eligible: ready.total,
        next: ready.head.map((i) => i.id),
        /** `todo` issues waiting on a blocker that is not done/cancelled, or on open children. */
        waiting: ready.waiting,
        /** Issues in status `blocked` (escalated to a human, or set by hand). */
        blocked: counts.blocked,
        invalid: ready.invalid,
        /** External trackers (`tracker.kind` github, ...): last successful read, last error, rate limit, backlog. */
        health
      },
      orchestrator: {
        runner: orchestrator.runnerId,
        /**
         * Runners (and `verify`s) whose workflow file has become invalid and that keep its last good version:
         * the file, the error (`<path>[ (<key>)]: <reason> [<kind>]`), the process and since when (epoch ms).
         */
        workflowInvalid: workflowProblems.map((p) => ({ path: p.path, error: p.message, pid: p.pid, host: p.host, since: p.since })),
        /**
         * Every runner of a shared store (PostgreSQL), on any host, with how many workers (leases) it holds; null
         * for a store that keeps no runner table (SQLite: see the leases).
         */
        runners: runners === null ? null : runners.map((r) => ({
          runner: r.runner_id,
          host: r.host,
          pid: r.pid,
          heartbeatAgeMs: now - r.heartbeat_at,
          workers: leases.filter((l) => l.runner_id === r.runner_id).length
        })),
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
        pid: l.agent_pid,
        runner: l.runner_id
      })),
      human: { recent: outcomes, violations, usage },
      _raw: { leases, retries }
    }
  })

export type StatusSnapshot = Effect.Effect.Success<ReturnType<typeof statusSnapshot>>

/** The snapshot without internal fields, for `--json`. */
export const statusJson = (s: StatusSnapshot) => {
  const { _raw, ...rest } = s
  return rest
}
