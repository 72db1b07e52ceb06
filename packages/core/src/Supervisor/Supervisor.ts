/**
 * Supervisor: reconciles the four layers (Tracker, Orchestrator, Workers, Human) on every tick and repairs what
 * it can; every repair is an event in the log, and what it cannot repair is a violation shown to the human.
 *
 * | disagreement                              | repair                                                        |
 * |-------------------------------------------|---------------------------------------------------------------|
 * | lease whose owner is dead or expired      | kill the recorded agent group, remove the worktree, store a   |
 * |                                           | RETRYABLE_FAILURE bundle for the attempt, requeue (counted)   |
 * | … whose attempt had already ended         | keep its verdict and branch; finish it from its bundle        |
 * | issue `in_progress` with no live lease    | requeue it; its open attempt ends with a bundle (counted)     |
 * | worker fiber with no lease                | interrupt it (`lease_lost`, not counted)                      |
 * | worktree that no run owns                 | remove it once `orchestrator.worktree_retention_ms` passed    |
 * | terminal attempt with no evidence bundle  | violation                                                     |
 * | bundle not signed by the runner's key, or | violation (`evidence_signature_invalid`, `_signed_by_other_key`,|
 * | disagreeing with its attempt or event     | `_unsigned`, `evidence_disagrees_with_attempt` / `_events`)   |
 * | PR_READY issue whose branch is missing    | violation                                                     |
 * | ... or no longer at its verified commit   | violation (`pr_ready_branch_rewritten`)                       |
 */
import { boundIssue, EvidenceBundle, type IssueId, type Lease, Verdict, WorkflowConfig } from "@switchyard/domain"
import { Clock, Context, Effect, Either, Layer, Option } from "effect"
import { EvidenceStore } from "../EvidenceStore/EvidenceStore.js"
import { Orchestrator } from "../Orchestrator/Orchestrator.js"
import { branchFor, Sandbox } from "../Sandbox/Sandbox.js"
import { Tracker } from "../Tracker/Tracker.js"
import { applyRetryPolicy } from "../WorkerPool/decide.js"
import { WorkerPool } from "../WorkerPool/WorkerPool.js"
import { buildTaskPacket } from "../Workflow/packet.js"
import { Workflow } from "../Workflow/Workflow.js"
import { findViolations, type Violation } from "./violations.js"

export { checkOutcomes, findViolations, VIOLATION_WINDOW, type Violation } from "./violations.js"

/** Process-table access, so the supervisor stays platform-free. Implementation: `NodeProcessControl`. */
export interface ProcessControlShape {
  readonly hostname: string
  /** True when a process with `pid` exists on this host. */
  readonly isAlive: (pid: number) => Effect.Effect<boolean>
  /** Sends `signal` to the whole process group `pgid`; a group that is already gone is not an error. */
  readonly killGroup: (pgid: number, signal: "SIGTERM" | "SIGKILL") => Effect.Effect<void>
}
export class ProcessControl extends Context.Tag("switchyard/ProcessControl")<ProcessControl, ProcessControlShape>() {}

export interface ReconcileReport {
  readonly brokenLeases: ReadonlyArray<IssueId>
  readonly requeued: ReadonlyArray<IssueId>
  /** Issues whose pending retry was dropped because the issue left `todo` (cancelled, done, backlog, deleted). */
  readonly droppedRetries: ReadonlyArray<IssueId>
  readonly interrupted: ReadonlyArray<IssueId>
  readonly removedWorktrees: ReadonlyArray<string>
  readonly violations: ReadonlyArray<Violation>
}

export interface SupervisorShape {
  /** One reconciliation pass. Never fails: a layer it cannot read is logged and skipped until the next tick. */
  readonly reconcile: Effect.Effect<ReconcileReport>
}
export class Supervisor extends Context.Tag("switchyard/Supervisor")<Supervisor, SupervisorShape>() {}

/**
 * How long (ms) an unowned `.verify/` checkout is kept at least, whatever `orchestrator.worktree_retention_ms`
 * says: long enough for any `switchyard verify` run alongside a `run` to finish with it (1 hour).
 */
export const VERIFY_CHECKOUT_RETENTION_MS = 60 * 60 * 1000

/**
 * The issue id a sandbox path belongs to: `<root>/<ID>`, `<root>/.attempts/<ID>` (its HOME and io directory) or
 * `<root>/.verify/<ID>-<label>-<n>` (a verification checkout).
 */
export const worktreeOwner = (workspaceRoot: string, path: string): string | null => {
  if (!path.startsWith(workspaceRoot + "/")) return null
  const rest = path.slice(workspaceRoot.length + 1)
  const match = /^(?:\.verify\/|\.attempts\/)?([A-Z][A-Z0-9]{0,9}-[1-9][0-9]{0,8})(?:$|-)/.exec(rest)
  return match === null ? null : match[1]!
}

export const make = Effect.gen(function*() {
  const tracker = yield* Tracker
  const orchestrator = yield* Orchestrator
  const sandbox = yield* Sandbox
  const processes = yield* ProcessControl
  const pool = yield* WorkerPool
  const evidence = yield* EvidenceStore
  const workflow = yield* Workflow
  const unownedSince = new Map<string, number>()
  const reported = new Set<string>()
  const services = Context.make(Orchestrator, orchestrator).pipe(
    Context.add(EvidenceStore, evidence),
    Context.add(Tracker, tracker)
  )

  /**
   * Finishes what a worker that stored `bundle` did not: moves the tracker from `from` by the bundle's outcome,
   * closes the attempt row with its verdict, and records its `terminal.*` event. Never writes a verdict.
   */
  const completeFromBundle = (bundle: EvidenceBundle, from: "in_progress" | "todo") =>
    Effect.gen(function*() {
      const to = bundle.outcome === "PR_READY"
        ? "in_review"
        : bundle.outcome === "NO_OP"
        ? "done"
        : bundle.outcome === "ESCALATE"
        ? "blocked"
        : "todo"
      if (to !== from) yield* tracker.transition(bundle.issueId, [from], to).pipe(Effect.ignoreLogged)
      yield* orchestrator.finishAttempt(bundle.issueId, bundle.attempt, {
        terminal_state: bundle.outcome,
        cause: bundle.verdict.cause,
        commit: bundle.outcome === "PR_READY" ? bundle.fingerprint?.commit ?? null : null,
        counted: true
      }).pipe(Effect.ignoreLogged)
      yield* orchestrator.record(`terminal.${bundle.outcome}`, bundle.issueId, bundle.summary, {
        attempt: bundle.attempt,
        cause: bundle.verdict.cause,
        completedBy: "supervisor"
      })
    })

  /**
   * Whether the owner of `lease` already ended its attempt: the attempt row is closed, or its evidence bundle is
   * stored (the worker stores the bundle first, then moves the tracker and closes the row). In the second case the
   * ending is completed from the bundle, as the worker would have: the tracker moved by its outcome, the row
   * closed with its verdict, the `terminal.*` event recorded. Never overwrites a verdict.
   */
  const endedByOwner = (lease: Lease) =>
    Effect.gen(function*() {
      const row = (yield* orchestrator.attempts(lease.issue_id)).find((a) => a.attempt === lease.attempt)
      if (row !== undefined && row.ended_at !== null) return true
      const stored = yield* evidence.get(lease.issue_id, lease.attempt).pipe(Effect.orElseSucceed(() => Option.none()))
      if (Option.isNone(stored)) return false
      yield* completeFromBundle(stored.value, "in_progress")
      return true
    })

  /**
   * Ends a lost attempt the way a worker would have: a RETRYABLE_FAILURE bundle (the retry policy applied, so the
   * last counted attempt escalates), the attempt row closed, the tracker moved from `from` (to `todo`, or `blocked`
   * when it escalates), and its `terminal.*` event. Used for a dead or expired lease and for an issue in progress
   * that no lease holds, so every terminal attempt has its bundle.
   */
  const closeLost = (lost: {
    readonly issueId: IssueId
    readonly attempt: number
    readonly startedAt: number
    readonly cause: "runner_died" | "lease_expired" | "no_live_lease"
    readonly reason: string
    readonly from: "in_progress" | "todo"
  }) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const cfg = Option.getOrElse(
        Option.map(yield* Effect.option(workflow.current), (d) => d.config),
        () => new WorkflowConfig({})
      )
      const counted = (yield* orchestrator.countedAttempts(lost.issueId)) + 1
      const reasons = [lost.reason, "Its agent process group was killed and its sandbox removed; the issue was requeued."]
      const verdict = applyRetryPolicy(
        Verdict.make({ state: "RETRYABLE_FAILURE", cause: lost.cause, reasons }),
        counted,
        cfg.agent.max_attempts
      )
      const issue = Either.map(yield* Effect.either(tracker.get(lost.issueId)), boundIssue)
      if (issue._tag === "Right") {
        const packet = buildTaskPacket(issue.right, cfg, lost.attempt, "")
        yield* evidence.put(EvidenceBundle.make({
          schemaVersion: 1,
          issueId: lost.issueId,
          attempt: lost.attempt,
          outcome: verdict.state,
          summary: reasons[0]!,
          task: { title: issue.right.title, body: issue.right.body, packet },
          reproduction: { command: packet.reproduction, before: null, after: null },
          agent: null,
          diff: null,
          validation: [],
          verdict,
          residualRisk: ["Whatever the lost attempt did was discarded with its sandbox."],
          question: verdict.state === "ESCALATE" ? "The runner keeps dying on this issue. Is something in it crashing the runner?" : null,
          timings: { startedAt: lost.startedAt, endedAt: now, stagesMs: {} }
        })).pipe(Effect.ignoreLogged)
      }
      yield* orchestrator.finishAttempt(lost.issueId, lost.attempt, {
        terminal_state: verdict.state,
        cause: verdict.cause,
        commit: null,
        counted: true
      }).pipe(Effect.ignoreLogged)
      yield* tracker.transition(lost.issueId, [lost.from], verdict.state === "ESCALATE" ? "blocked" : "todo")
        .pipe(Effect.ignoreLogged)
      // Like a worker's end: every terminal state has its terminal.* event, which the violation check compares.
      yield* orchestrator.record(`terminal.${verdict.state}`, lost.issueId, reasons[0]!, {
        attempt: lost.attempt,
        cause: verdict.cause
      })
    })

  /** Ends the attempt of a dead or expired lease (see `closeLost`). */
  const closeAbandoned = (lease: Lease, cause: "runner_died" | "lease_expired") =>
    closeLost({
      issueId: lease.issue_id,
      attempt: lease.attempt,
      startedAt: lease.acquired_at,
      cause,
      reason: `Runner ${lease.runner_id} ${cause === "runner_died" ? "died" : "stopped renewing its lease"} during stage ${lease.stage}.`,
      from: "in_progress"
    })

  const reconcile = Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const cfg = (yield* Effect.option(workflow.current)).pipe(Option.map((d) => d.config))
    // 1. Leases whose owner is dead (same host, pid gone) or whose heartbeat expired.
    // Read in_progress issues before leases: a claim writes its lease before it moves the issue.
    const inProgress = yield* tracker.list({ status: "in_progress" })
    const leases = yield* orchestrator.leases
    const broken: Array<IssueId> = []
    for (const lease of leases) {
      if (lease.runner_id === orchestrator.runnerId) continue
      const sameHost = lease.host === processes.hostname
      const ownerDead = sameHost && !(yield* processes.isAlive(lease.pid))
      const expired = lease.expires_at < now
      if (!ownerDead && !expired) continue
      if (sameHost && lease.agent_pgid !== null) yield* processes.killGroup(lease.agent_pgid, "SIGKILL")
      if (!(yield* orchestrator.breakLease(lease.issue_id, lease.runner_id))) continue
      broken.push(lease.issue_id)
      // The owner may have ended the attempt and died before releasing its lease (threat model C1): its verdict
      // and its branch stand; only the lease and the sandbox go.
      if (yield* endedByOwner(lease)) {
        if (lease.sandbox_path !== null) yield* sandbox.remove(lease.sandbox_path).pipe(Effect.ignoreLogged)
        yield* orchestrator.record(
          "reconcile.lease_released",
          lease.issue_id,
          `lease of ${lease.runner_id} released: attempt ${lease.attempt} had already ended; its verdict and branch are kept`,
          { owner: lease.runner_id, attempt: lease.attempt }
        )
        continue
      }
      if (lease.sandbox_path !== null) {
        yield* sandbox.remove(lease.sandbox_path, { deleteBranch: branchFor(lease.issue_id) }).pipe(Effect.ignoreLogged)
      }
      yield* closeAbandoned(lease, ownerDead ? "runner_died" : "lease_expired")
      yield* orchestrator.record(
        "lease.expired",
        lease.issue_id,
        `lease of ${lease.runner_id} ${ownerDead ? "belongs to a dead process" : "expired"}; agent group killed, issue requeued`,
        { owner: lease.runner_id, attempt: lease.attempt, stage: lease.stage }
      )
    }
    const held = new Map((yield* orchestrator.leases).map((l) => [l.issue_id as string, l]))

    // 2. Issues in progress that no lease holds (e.g. a runner that died between its lease and the tracker).
    const requeued: Array<IssueId> = []
    for (const issue of inProgress) {
      if (held.has(issue.id)) continue
      const moved = yield* tracker.transition(issue.id, ["in_progress"], "todo").pipe(Effect.orElseSucceed(() => false))
      if (!moved) continue
      // The move above is the repair's compare-and-set: one supervisor wins it. Each open attempt then gets an end
      // with its evidence (before, it was closed without a bundle: a violation the supervisor itself created).
      const open = (yield* orchestrator.attempts(issue.id)).filter((a) => a.ended_at === null)
      for (const a of open) {
        const stored = yield* evidence.get(issue.id, a.attempt).pipe(Effect.orElseSucceed(() => Option.none()))
        if (Option.isSome(stored)) {
          yield* completeFromBundle(stored.value, "todo")
          continue
        }
        yield* closeLost({
          issueId: issue.id,
          attempt: a.attempt,
          startedAt: a.started_at,
          cause: "no_live_lease",
          reason: `${issue.id} was in progress with no live lease (its runner stopped between its claim and its attempt's end).`,
          from: "todo"
        })
      }
      requeued.push(issue.id)
      yield* orchestrator.record("reconcile.requeued", issue.id, `${issue.id} was in progress with no live lease; requeued`)
    }

    // 2b. Pending retries of issues that left `todo` by a human's hand (cancelled, done, back to backlog, deleted):
    //     the tracker will never run them, so the orchestrator must not show them as due. An issue moved back to
    //     `todo` later is eligible at once; its attempts still count against max_attempts.
    const droppedRetries: Array<IssueId> = []
    const retries = yield* orchestrator.retries
    const retryStatuses = retries.length === 0
      ? new Map<string, string>()
      : yield* tracker.statuses(retries.map((r) => r.issue_id))
    for (const retry of retries) {
      const status = retryStatuses.get(retry.issue_id)
      if (status === "todo" || status === "in_progress") continue
      yield* orchestrator.clearRetry(retry.issue_id)
      droppedRetries.push(retry.issue_id)
      yield* orchestrator.record(
        "reconcile.retry_dropped",
        retry.issue_id,
        `${retry.issue_id} is ${status ?? "gone"}; its pending retry (attempt ${retry.attempt}) is dropped`,
        { status: status ?? null, attempt: retry.attempt }
      )
    }

    // 3. Workers of this process whose lease is gone (broken by another runner after an expiry).
    const interrupted: Array<IssueId> = []
    for (const w of yield* pool.workers) {
      const lease = held.get(w.issueId)
      if (lease !== undefined && lease.runner_id === orchestrator.runnerId) continue
      yield* orchestrator.record("reconcile.lease_lost", w.issueId, `${w.issueId} runs here without a lease; interrupting`)
      yield* pool.interrupt(w.issueId, "lease_lost")
      interrupted.push(w.issueId)
    }

    // 4. Worktrees no run owns, after the retention period. A `.verify/` checkout of an issue without a lease
    //    belongs to a `switchyard verify` in another shell (which removes it itself when done): only a leftover
    //    of a crashed verify is removed, after VERIFY_CHECKOUT_RETENTION_MS.
    const retention = Option.match(cfg, { onNone: () => 0, onSome: (c) => c.orchestrator.worktree_retention_ms })
    const verifyRoot = `${sandbox.workspaceRoot}/.verify/`
    const removed: Array<string> = []
    const seen = new Set<string>()
    for (const tree of yield* sandbox.list) {
      const owner = worktreeOwner(sandbox.workspaceRoot, tree.path)
      if (owner !== null && held.has(owner)) continue
      seen.add(tree.path)
      const since = unownedSince.get(tree.path) ?? now
      unownedSince.set(tree.path, since)
      const keep = tree.path.startsWith(verifyRoot) ? Math.max(retention, VERIFY_CHECKOUT_RETENTION_MS) : retention
      if (now - since < keep) continue
      yield* sandbox.remove(tree.path)
      unownedSince.delete(tree.path)
      removed.push(tree.path)
      yield* orchestrator.record("reconcile.worktree_removed", owner as IssueId | null, `removed worktree ${tree.path} that no run owns`)
    }
    for (const path of [...unownedSince.keys()]) if (!seen.has(path)) unownedSince.delete(path)

    // 5. What cannot be repaired: shown to the human, recorded once per runner.
    // One `git for-each-ref` per tick for all the PR_READY branches and their heads, only when there is one to
    // check; a git failure skips the branch checks (no false violation).
    const branches = yield* Effect.cached(sandbox.branches.pipe(Effect.option))
    const violations = yield* findViolations(branches).pipe(Effect.provide(services))
    for (const v of violations) {
      const key = `${v.kind}:${v.issueId}:${v.attempt}`
      if (reported.has(key)) continue
      reported.add(key)
      yield* orchestrator.record("reconcile.violation", v.issueId as IssueId, v.detail, { kind: v.kind, attempt: v.attempt })
    }
    return { brokenLeases: broken, requeued, droppedRetries, interrupted, removedWorktrees: removed, violations }
  }).pipe(
    Effect.catchAll((e) =>
      Effect.logWarning(`reconcile skipped: ${e.message}`).pipe(
        Effect.as({ brokenLeases: [], requeued: [], droppedRetries: [], interrupted: [], removedWorktrees: [], violations: [] })
      )
    )
  )
  return Supervisor.of({ reconcile })
})

export const layer = Layer.effect(Supervisor, make)
