/**
 * Supervisor: reconciles the four layers (Tracker, Orchestrator, Workers, Human) on every tick and repairs what
 * it can; every repair is an event in the log, and what it cannot repair is a violation shown to the human.
 * Every repair of an attempt first takes its lease (a compare-and-set on the owner's epoch, or a fresh claim),
 * so of two supervisors only one acts, and every ending goes through `settle` (docs/reliability.md).
 *
 * | disagreement                              | repair                                                        |
 * |-------------------------------------------|---------------------------------------------------------------|
 * | lease whose owner is dead or expired      | take the lease over, kill the recorded agent group, remove    |
 * |                                           | the sandbox and the owner's verify checkouts, then:           |
 * | … whose attempt had already ended         | keep its verdict and branch; release the lease                |
 * | … whose bundle is stored, row still open  | finish the ending from the bundle (tracker, row, event)       |
 * | … with a candidate commit on record       | leave the attempt open for a successor to resume (it verifies |
 * |                                           | the candidate; the agent is not run again); requeue           |
 * | … otherwise                               | end it RETRYABLE_FAILURE `runner_died`/`lease_expired` with a |
 * |                                           | bundle from its stage artifacts; not counted, a runner death  |
 * | issue `in_progress` with no live lease    | claim it, then the same as above with cause `no_live_lease`   |
 * | runner deaths reach max_runner_deaths     | ESCALATE `runner_deaths_exhausted` (a poison pill)            |
 * | pending retry of an issue that left todo  | drop the retry                                                |
 * | worker fiber with no lease                | interrupt it (`lease_lost`, not counted)                      |
 * | sandbox of an issue done/cancelled/deleted | remove it (`before_remove` first) after the retention below  |
 * | worktree that no run owns                 | remove it once `orchestrator.worktree_retention_ms` passed    |
 * |                                           | (a sandbox of an issue that may run again is kept)            |
 * | branch of an ended attempt with no kept   | delete it                                                     |
 * | diff (not PR_READY, not ESCALATE w/ diff) |                                                               |
 * | terminal attempt with no evidence bundle  | violation                                                     |
 * | bundle not signed by the runner's key, or | violation (`evidence_signature_invalid`, `_signed_by_other_key`,|
 * | disagreeing with its attempt or event     | `_unsigned`, `evidence_disagrees_with_attempt` / `_events`)   |
 * | PR_READY issue whose branch is missing    | violation                                                     |
 * | ... or no longer at its verified commit   | violation (`pr_ready_branch_rewritten`)                       |
 */
import {
  type Attempt,
  boundIssue,
  ConfinementRecord,
  type EvidenceBundle,
  type HooksConfig,
  type IssueId,
  type IssueStatus,
  type Lease,
  RUNNER_DEATH_CAUSES,
  RetryEntry,
  WorkflowConfig
} from "@switchyard/domain"
import { Clock, Context, Effect, Layer, Option } from "effect"
import { Confinement } from "../Confinement/Confinement.js"
import { bundleOf, keepsBranch, type Outcome } from "../EvidenceStore/bundle.js"
import { EvidenceStore } from "../EvidenceStore/EvidenceStore.js"
import { resumePoint } from "../Line/artifacts.js"
import * as Decide from "../Line/decide.js"
import { progressOf } from "../Line/progress.js"
import { endingOf, settle } from "../Line/settle.js"
import { retryDelayMs } from "../Orchestrator/backoff.js"
import * as KillPoints from "../KillPoints/KillPoints.js"
import { Orchestrator } from "../Orchestrator/Orchestrator.js"
import { branchFor, keepsSandbox, Sandbox } from "../Sandbox/Sandbox.js"
import { Tracker } from "../Tracker/Tracker.js"
import { WorkerPool } from "../WorkerPool/WorkerPool.js"
import { buildTaskPacket } from "../Workflow/packet.js"
import { Workflow } from "../Workflow/Workflow.js"
import { ProcessControl } from "../ProcessControl/ProcessControl.js"
import { findViolations, type Violation } from "./violations.js"

export { checkOutcomes, findViolations, VIOLATION_WINDOW, type Violation } from "./violations.js"
export { ProcessControl, type ProcessControlShape } from "../ProcessControl/ProcessControl.js"


export interface ReconcileReport {
  readonly brokenLeases: ReadonlyArray<IssueId>
  readonly requeued: ReadonlyArray<IssueId>
  /** Issues whose pending retry was dropped because the issue left `todo` (cancelled, done, backlog, deleted). */
  readonly droppedRetries: ReadonlyArray<IssueId>
  readonly interrupted: ReadonlyArray<IssueId>
  readonly removedWorktrees: ReadonlyArray<string>
  /** Branches of ended attempts without a kept diff, deleted this pass. */
  readonly deletedBranches: ReadonlyArray<string>
  /** Issues whose agent group, left on this host when another host broke the lease, was killed this pass. */
  readonly killedOrphans: ReadonlyArray<IssueId>
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

/** How often (ms) the supervisor looks for branches of ended attempts to delete, besides after each repair. */
export const BRANCH_SWEEP_EVERY_MS = 60_000

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

/** What the supervisor did with a lost attempt. */
type LostEnding = "ended_before" | "completed_from_bundle" | "resumable" | "closed" | "skipped"

export const make = Effect.gen(function*() {
  const tracker = yield* Tracker
  const orchestrator = yield* Orchestrator
  const sandbox = yield* Sandbox
  const processes = yield* ProcessControl
  const pool = yield* WorkerPool
  const evidence = yield* EvidenceStore
  const workflow = yield* Workflow
  const confinement = yield* Effect.serviceOption(Confinement)
  const unownedSince = new Map<string, number>()
  const reported = new Set<string>()
  /** Branches judged kept, with the head they were judged at (so each kept branch is read once). */
  const keptBranches = new Map<string, string>()
  let lastSweepAt: number | null = null
  const services = Context.make(Orchestrator, orchestrator).pipe(
    Context.add(EvidenceStore, evidence),
    Context.add(Tracker, tracker)
  )
  const configNow = Effect.map(Effect.option(workflow.current), (d) =>
    Option.getOrElse(Option.map(d, (x) => x.config), () => new WorkflowConfig({})))

  /**
   * Removes the sandbox of a repaired issue (`sandboxPath`, else `<workspace>/<id>`), its attempt directory and
   * every verify checkout of it; the branch goes too only when the repair closed the attempt without a kept diff.
   */
  const cleanUp = (issueId: IssueId, ending: LostEnding, sandboxPath: string | null) =>
    Effect.gen(function*() {
      const main = sandboxPath ?? `${sandbox.workspaceRoot}/${issueId}`
      yield* sandbox.remove(main, { deleteBranch: ending === "closed" ? branchFor(issueId) : undefined })
        .pipe(Effect.ignoreLogged)
      const trees = yield* sandbox.list.pipe(Effect.orElseSucceed(() => []))
      for (const tree of trees) {
        if (tree.path === main || worktreeOwner(sandbox.workspaceRoot, tree.path) !== issueId) continue
        yield* sandbox.remove(tree.path).pipe(Effect.ignoreLogged)
      }
    })

  /**
   * Finishes the ending a worker began with `bundle` stored: the tracker moved by its outcome, the row closed with
   * its verdict, its `terminal.*` event; one fenced transaction under `held`. Never writes a verdict.
   */
  const completeFromBundle = (held: Lease, bundle: EvidenceBundle, now: number, cfg: WorkflowConfig) =>
    Effect.gen(function*() {
      const counted = !RUNNER_DEATH_CAUSES.has(bundle.verdict.cause)
      const tries = (yield* orchestrator.countedAttempts(held.issue_id)) + 1
      return yield* settle({
        issueId: held.issue_id,
        attempt: bundle.attempt,
        epoch: held.epoch,
        bundle,
        store: false,
        commit: bundle.outcome === "PR_READY" ? bundle.fingerprint?.commit ?? null : null,
        counted,
        retry: bundle.outcome === "RETRYABLE_FAILURE" && counted
          ? RetryEntry.make({
            issue_id: held.issue_id,
            attempt: tries + 1,
            due_at: now + retryDelayMs(tries, cfg.agent.retry_base_delay_ms, cfg.agent.max_retry_backoff_ms),
            error: bundle.verdict.cause
          })
          : null,
        endedBy: "supervisor"
      })
    })

  /**
   * Repairs the open attempt `row` of an issue whose lease this supervisor now holds (`held`, after a take-over or
   * a claim). In order: an attempt that already ended is left alone; a stored bundle completes its ending; a
   * candidate commit on record leaves the attempt open to be resumed (the issue requeued); anything else ends
   * RETRYABLE_FAILURE `cause` with a bundle from its stage artifacts. The last two count a runner death; the
   * death that reaches `orchestrator.max_runner_deaths` escalates instead. Every write is fenced by `held.epoch`.
   */
  const repairAttempt = (
    held: Lease,
    row: Attempt | undefined,
    cause: "runner_died" | "lease_expired" | "no_live_lease",
    reason: string
  ) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const cfg = yield* configNow
      const id = held.issue_id
      if (row === undefined || row.ended_at !== null) {
        yield* orchestrator.release(id, held.epoch)
        return row === undefined ? "skipped" as LostEnding : "ended_before" as LostEnding
      }
      const stored = yield* evidence.get(id, row.attempt).pipe(Effect.orElseSucceed(() => Option.none()))
      if (Option.isSome(stored)) {
        yield* completeFromBundle(held, stored.value, now, cfg)
        return "completed_from_bundle" as LostEnding
      }
      const stages = yield* evidence.stages(id, row.attempt).pipe(Effect.orElseSucceed(() => []))
      const resumable = resumePoint(stages) !== null
      const read = yield* Effect.either(tracker.get(id))
      if (read._tag === "Left") {
        // The issue is gone (deleted by hand): nothing to move or bundle; the attempt ends without a terminal state.
        yield* orchestrator.atomically(Effect.gen(function*() {
          yield* orchestrator.finishAttempt(id, row.attempt, { terminal_state: null, cause, commit: null, counted: false })
          yield* orchestrator.release(id, held.epoch)
        }))
        return "skipped" as LostEnding
      }
      const issue = boundIssue(read.right)
      return yield* orchestrator.atomically(Effect.gen(function*() {
        if (!(yield* orchestrator.holds(id, held.epoch))) return "skipped" as LostEnding
        const deaths = yield* orchestrator.addRunnerDeath(id, row.attempt)
        if (resumable && deaths < cfg.orchestrator.max_runner_deaths) {
          yield* tracker.transition(id, ["in_progress"], "todo")
          yield* orchestrator.record(
            "reconcile.resumable",
            id,
            `attempt ${row.attempt} of ${id} keeps its candidate commit: the next runner verifies it instead of running the agent again (${reason})`,
            { attempt: row.attempt, cause, runnerDeaths: deaths }
          )
          yield* orchestrator.release(id, held.epoch)
          return "resumable" as LostEnding
        }
        const progress = progressOf(stages.map((s) => s.artifact))
        const outcome: Outcome = {
          issue,
          attempt: row.attempt,
          epoch: held.epoch,
          verdict: Decide.runnerDeath(cause, reason, deaths, cfg.orchestrator.max_runner_deaths),
          progress,
          packet: progress.prepared?.packet ?? buildTaskPacket(issue, cfg, row.attempt, ""),
          commit: null,
          counted: false,
          retryAt: null,
          nextTry: (yield* orchestrator.countedAttempts(id)) + 1,
          confinement: Option.match(confinement, {
            onNone: () =>
              ConfinementRecord.make({
                kind: "none",
                network: "none",
                egress: null,
                detail: "no agent ran in this attempt's record (ended by the supervisor)"
              }),
            onSome: (c) => c.record("none", null)
          }),
          integration: null,
          timings: { startedAt: row.started_at, endedAt: now, stagesMs: {} },
          runnerDeaths: deaths,
          endedBy: "supervisor"
        }
        const bundle = bundleOf(outcome)
        yield* settle(endingOf(outcome, bundle))
        return keepsBranch(bundle) ? "ended_before" as LostEnding : "closed" as LostEnding
      }))
    }).pipe(Effect.provide(services))

  /**
   * Deletes the branch `switchyard/<id>` of an issue no run holds whose newest attempt ended without a diff worth
   * keeping (threat model §3: branches were left for attempts without a kept diff). A kept branch is remembered
   * at its head, so each is read once. Unknown branches (no attempt on record) are left alone.
   */
  const sweepBranches = (branches: ReadonlyMap<string, string>, held: ReadonlyMap<string, Lease>) =>
    Effect.gen(function*() {
      const deleted: Array<string> = []
      for (const [branch, head] of branches) {
        if (!branch.startsWith("switchyard/") || keptBranches.get(branch) === head) continue
        const id = branch.slice("switchyard/".length) as IssueId
        if (held.has(id)) continue
        const latest = (yield* orchestrator.attempts(id).pipe(Effect.orElseSucceed(() => []))).at(-1)
        if (latest === undefined || latest.ended_at === null) continue
        const bundle = latest.terminal_state === null
          ? Option.none<EvidenceBundle>()
          : yield* evidence.get(id, latest.attempt).pipe(Effect.orElseSucceed(() => Option.none()))
        if (latest.terminal_state !== null && Option.isNone(bundle)) continue
        if (Option.isSome(bundle) && keepsBranch(bundle.value)) {
          keptBranches.set(branch, head)
          continue
        }
        // Only the branch: the issue's sandbox is the worktree sweep's, by the issue's status.
        yield* sandbox.deleteBranch(branch).pipe(Effect.ignoreLogged)
        deleted.push(branch)
        yield* orchestrator.record(
          "reconcile.branch_deleted",
          id,
          `deleted ${branch}: attempt ${latest.attempt} ended ${latest.terminal_state ?? latest.cause ?? "?"} without a diff worth keeping`,
          { attempt: latest.attempt }
        )
      }
      return deleted
    })

  /**
   * Step 1: leases whose owner is dead (same host, pid gone) or whose heartbeat expired (`now`, epoch ms): taken over
   * (compare-and-set on the owner's epoch: of two supervisors one acts), the agent group killed, the attempt
   * repaired (`repairAttempt`), the sandbox removed. Returns the issues whose lease was taken.
   */
  const repairDeadLeases = (leases: ReadonlyArray<Lease>, now: number, ttl: number) =>
    Effect.gen(function*() {
      const broken: Array<IssueId> = []
      for (const lease of leases) {
        if (lease.runner_id === orchestrator.runnerId) continue
        const sameHost = lease.host === processes.hostname
        const ownerDead = sameHost && !(yield* processes.isAlive(lease.pid))
        const expired = lease.expires_at < now
        if (!ownerDead && !expired) continue
        // The compare-and-set on the owner's epoch: of two supervisors, one takes the lease; the other moves on.
        const taken = yield* orchestrator.takeOver(lease, ttl)
        if (Option.isNone(taken)) continue
        if (sameHost && lease.agent_pgid !== null) yield* processes.killGroup(lease.agent_pgid, "SIGKILL")
        yield* KillPoints.reached("repair.taken_over")
        broken.push(lease.issue_id)
        const cause = ownerDead ? "runner_died" as const : "lease_expired" as const
        const row = (yield* orchestrator.attempts(lease.issue_id)).find((a) => a.attempt === lease.attempt)
        const ending = yield* repairAttempt(
          taken.value,
          row,
          cause,
          `Runner ${lease.runner_id} ${ownerDead ? "died" : "stopped renewing its lease"} during stage ${lease.stage}.`
        ).pipe(
          Effect.tapError(() => orchestrator.release(lease.issue_id, taken.value.epoch).pipe(Effect.ignore)),
          Effect.catchAll((e) => Effect.logWarning(`repair of ${lease.issue_id} failed: ${e.message}`).pipe(Effect.as("skipped" as const)))
        )
        yield* cleanUp(lease.issue_id, ending, lease.sandbox_path)
        yield* orchestrator.record(
          ending === "ended_before" || ending === "completed_from_bundle" ? "reconcile.lease_released" : "lease.expired",
          lease.issue_id,
          ending === "ended_before" || ending === "completed_from_bundle"
            ? `lease of ${lease.runner_id} released: attempt ${lease.attempt} had already ended; its verdict and branch are kept`
            : `lease of ${lease.runner_id} ${ownerDead ? "belongs to a dead process" : "expired"}; agent group killed, ${
              ending === "resumable" ? "attempt left to resume" : "issue requeued"
            }`,
          { owner: lease.runner_id, attempt: lease.attempt, stage: lease.stage, repair: ending }
        )
      }
      return broken
    })

  /**
   * Step 1b: agent groups other hosts left on this host when they broke its runners' leases by expiry
   * (`Orchestrator.orphans`, recorded by `takeOver`; issue 16, docs/scale.md). Each is killed (SIGKILL to the
   * group) only while it still carries its attempt's `SWITCHYARD_ISSUE_ID`/`SWITCHYARD_ATTEMPT` (a reused pgid is
   * left alone), then forgotten; a platform that cannot tell keeps the record and says so once. Returns the issues
   * whose agent was killed.
   */
  const killOrphans = Effect.gen(function*() {
    const killed: Array<IssueId> = []
    for (const orphan of yield* orchestrator.orphans) {
      const state = yield* processes.groupOf(orphan.pgid, { issueId: orphan.issue_id, attempt: orphan.attempt })
      if (state === "unknown") {
        if (!reported.has(`orphan:${orphan.id}`)) {
          reported.add(`orphan:${orphan.id}`)
          yield* Effect.logWarning(
            `cannot tell whether process group ${orphan.pgid} is still the agent of ${orphan.issue_id} attempt ${orphan.attempt} on this platform; kill it by hand if it is`
          )
        }
        continue
      }
      if (state === "carries") {
        yield* processes.killGroup(orphan.pgid, "SIGKILL")
        killed.push(orphan.issue_id)
        yield* orchestrator.record(
          "reconcile.orphan_killed",
          orphan.issue_id,
          `killed the agent of attempt ${orphan.attempt} (process group ${orphan.pgid}) left on ${orphan.host} when ${orphan.recorded_by} broke its lease`,
          { attempt: orphan.attempt, pgid: orphan.pgid, host: orphan.host, recorded_by: orphan.recorded_by }
        )
      } else {
        yield* Effect.logDebug(`orphan group ${orphan.pgid} of ${orphan.issue_id} is ${state}: nothing to kill`)
      }
      yield* orchestrator.forgetOrphan(orphan.id)
    }
    return killed
  })

  /**
   * Step 2: issues in progress that no lease holds (a runner that died between its lease and the tracker, or a
   * worker whose ending failed on the store). The claim is the repair's compare-and-set: one supervisor wins.
   * `broken` are the issues step 1 repaired this pass (the `inProgress` list was read before them).
   */
  const repairUnleased = (inProgress: ReadonlyArray<{ readonly id: IssueId }>, broken: ReadonlyArray<IssueId>, ttl: number) =>
    Effect.gen(function*() {
      const requeued: Array<IssueId> = []
      const leased = new Set((yield* orchestrator.leases).map((l) => l.issue_id as string))
      for (const issue of inProgress) {
        if (leased.has(issue.id) || broken.includes(issue.id)) continue
        const rows = yield* orchestrator.attempts(issue.id)
        const open = rows.filter((a) => a.ended_at === null)
        const claimed = yield* orchestrator.claim(issue.id, open.at(-1)?.attempt ?? rows.length, ttl)
        if (Option.isNone(claimed)) continue
        const held = claimed.value
        let ending: LostEnding = "skipped"
        if (open.length === 0) {
          const moved = yield* orchestrator.atomically(Effect.gen(function*() {
            const moved = yield* tracker.transition(issue.id, ["in_progress"], "todo")
            yield* orchestrator.release(issue.id, held.epoch)
            return moved
          })).pipe(Effect.orElseSucceed(() => false))
          if (!moved) continue
        }
        for (const a of open) {
          // Each repair ends with the lease released; the next open attempt (rare) is repaired under a fresh claim.
          const lease = a === open[0] ? Option.some(held) : yield* orchestrator.claim(issue.id, a.attempt, ttl)
          if (Option.isNone(lease)) break
          ending = yield* repairAttempt(
            lease.value,
            a,
            "no_live_lease",
            `${issue.id} was in progress with no live lease (its runner stopped between its claim and its attempt's end).`
          ).pipe(
            Effect.tapError(() => orchestrator.release(issue.id, lease.value.epoch).pipe(Effect.ignore)),
            Effect.catchAll((e) => Effect.logWarning(`repair of ${issue.id} failed: ${e.message}`).pipe(Effect.as("skipped" as const)))
          )
        }
        yield* cleanUp(issue.id, ending, null)
        requeued.push(issue.id)
        yield* orchestrator.record("reconcile.requeued", issue.id, `${issue.id} was in progress with no live lease; repaired (${ending})`, {
          repair: ending
        })
      }
      return requeued
    })

  /**
   * Step 2b: pending retries of issues that left `todo` by a human's hand (cancelled, done, back to backlog,
   * deleted): the tracker will never run them, so the orchestrator must not show them as due. An issue moved back
   * to `todo` later is eligible at once; its attempts still count against max_attempts.
   */
  const dropDepartedRetries = Effect.gen(function*() {
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
    return droppedRetries
  })

  /**
   * Step 3: workers of this process whose lease is gone (taken over by another runner after an expiry). A worker
   * that is packaging or done is left alone: its ending is fenced (a lost lease makes it write nothing), and once
   * it settled its lease is gone while it removes its sandbox.
   */
  const interruptUnleased = (held: ReadonlyMap<string, Lease>) =>
    Effect.gen(function*() {
      const interrupted: Array<IssueId> = []
      for (const w of yield* pool.workers) {
        if (w.stage === "package" || w.stage === "done") continue
        const lease = held.get(w.issueId)
        if (lease !== undefined && lease.runner_id === orchestrator.runnerId) continue
        yield* orchestrator.record("reconcile.lease_lost", w.issueId, `${w.issueId} runs here without a lease; interrupting`)
        yield* pool.interrupt(w.issueId, "lease_lost")
        interrupted.push(w.issueId)
      }
      return interrupted
    })

  /**
   * Step 4: worktrees no run owns, after `retention` ms. An issue's sandbox is kept while the issue may run again
   * (`keepsSandbox`: todo, or paused in backlog, blocked, in_review) so its next attempt takes it up; once the issue
   * is done, cancelled or deleted it is removed, `hooks.before_remove` first (SPEC §9.4). A `.verify/` checkout of
   * an issue without a lease belongs to a `switchyard verify` in another shell (which removes it itself when done):
   * only a leftover of a crashed verify is removed, after VERIFY_CHECKOUT_RETENTION_MS. A worker of this process
   * still owns its sandbox after its ending released the lease: it removes it itself.
   */
  const sweepWorktrees = (
    held: ReadonlyMap<string, Lease>,
    now: number,
    retention: number,
    hooks: HooksConfig | undefined
  ) =>
    Effect.gen(function*() {
      const verifyRoot = `${sandbox.workspaceRoot}/.verify/`
      const removed: Array<string> = []
      const seen = new Set<string>()
      const working = new Set((yield* pool.workers).map((w) => w.issueId as string))
      const trees = (yield* sandbox.list).map((tree) => ({ tree, owner: worktreeOwner(sandbox.workspaceRoot, tree.path) }))
      const isSandbox = (path: string, owner: string | null) => owner !== null && path === `${sandbox.workspaceRoot}/${owner}`
      const sandboxOwners = trees.flatMap(({ owner, tree }) => isSandbox(tree.path, owner) ? [owner!] : [])
      // One read for every sandbox's issue; unread (the tracker failed), every sandbox is kept this pass.
      const statuses = sandboxOwners.length === 0
        ? Option.some(new Map() as ReadonlyMap<string, IssueStatus>)
        : yield* tracker.statuses(sandboxOwners).pipe(Effect.option)
      for (const { owner, tree } of trees) {
        if (owner !== null && (held.has(owner) || working.has(owner))) continue
        const sandboxOf = isSandbox(tree.path, owner)
        if (sandboxOf && (Option.isNone(statuses) || keepsSandbox(statuses.value.get(owner!) ?? "deleted"))) continue
        seen.add(tree.path)
        const since = unownedSince.get(tree.path) ?? now
        unownedSince.set(tree.path, since)
        const keep = tree.path.startsWith(verifyRoot) ? Math.max(retention, VERIFY_CHECKOUT_RETENTION_MS) : retention
        if (now - since < keep) continue
        yield* sandbox.remove(tree.path, sandboxOf ? { hooks } : undefined)
        unownedSince.delete(tree.path)
        removed.push(tree.path)
        if (sandboxOf) {
          const status = Option.isSome(statuses) ? statuses.value.get(owner!) ?? "deleted" : "deleted"
          yield* orchestrator.record("reconcile.sandbox_removed", owner as IssueId, `removed the sandbox of ${owner}: it is ${status}`, {
            status
          })
        } else {
          yield* orchestrator.record("reconcile.worktree_removed", owner as IssueId | null, `removed worktree ${tree.path} that no run owns`)
        }
      }
      for (const path of [...unownedSince.keys()]) if (!seen.has(path)) unownedSince.delete(path)
      return removed
    })

  /** Step 5: what cannot be repaired, shown to the human and recorded once per runner. */
  const reportViolations = (branches: Effect.Effect<Option.Option<ReadonlyMap<string, string>>>) =>
    Effect.gen(function*() {
      const violations = yield* findViolations(branches).pipe(Effect.provide(services))
      for (const v of violations) {
        const key = `${v.kind}:${v.issueId}:${v.attempt}`
        if (reported.has(key)) continue
        reported.add(key)
        yield* orchestrator.record("reconcile.violation", v.issueId as IssueId, v.detail, { kind: v.kind, attempt: v.attempt })
      }
      return violations
    })

  const reconcile = Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const cfg = (yield* Effect.option(workflow.current)).pipe(Option.map((d) => d.config))
    const ttl = Option.match(cfg, { onNone: () => 30_000, onSome: (c) => c.orchestrator.lease_ttl_ms })
    const retention = Option.match(cfg, { onNone: () => 0, onSome: (c) => c.orchestrator.worktree_retention_ms })
    // Read in_progress issues before leases: a claim writes its lease before it moves the issue.
    const inProgress = yield* tracker.list({ status: "in_progress" })
    const broken = yield* repairDeadLeases(yield* orchestrator.leases, now, ttl)
    const requeued = yield* repairUnleased(inProgress, broken, ttl)
    const killedOrphans = yield* killOrphans
    const held = new Map((yield* orchestrator.leases).map((l) => [l.issue_id as string, l]))
    const droppedRetries = yield* dropDepartedRetries
    const interrupted = yield* interruptUnleased(held)
    const removed = yield* sweepWorktrees(held, now, retention, Option.getOrUndefined(Option.map(cfg, (c) => c.hooks)))
    // One `git for-each-ref` per tick at most for the branch sweep (local branches only); a git failure skips it.
    const branches = yield* Effect.cached(sandbox.branches.pipe(Effect.option))
    // Branches of ended attempts with no diff worth keeping: after a repair, else once a minute.
    const sweep = broken.length > 0 || requeued.length > 0 || lastSweepAt === null || now - lastSweepAt >= BRANCH_SWEEP_EVERY_MS
    const deletedBranches = sweep
      ? yield* branches.pipe(Effect.flatMap(Option.match({
        onNone: () => Effect.succeed([] as ReadonlyArray<string>),
        onSome: (all) => sweepBranches(all, held)
      })))
      : []
    if (sweep) lastSweepAt = now
    // The PR_READY branch checks also count remote-tracking branches (pushed from another host and fetched).
    const violations = yield* reportViolations(sandbox.knownBranches.pipe(Effect.option))
    return {
      brokenLeases: broken,
      requeued,
      droppedRetries,
      interrupted,
      removedWorktrees: removed,
      deletedBranches,
      killedOrphans,
      violations
    }
  }).pipe(
    Effect.catchAll((e) =>
      Effect.logWarning(`reconcile skipped: ${e.message}`).pipe(
        Effect.as({
          brokenLeases: [],
          requeued: [],
          droppedRetries: [],
          interrupted: [],
          removedWorktrees: [],
          deletedBranches: [],
          killedOrphans: [],
          violations: []
        })
      )
    )
  )
  return Supervisor.of({ reconcile })
})

export const layer = Layer.effect(Supervisor, make)
