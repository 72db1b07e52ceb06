/**
 * Supervisor: reconciles the four layers (Tracker, Orchestrator, Workers, Human) on every tick and repairs
 * what it can. Every repair is an event in the log. This is the basic supervisor of the first issue:
 * - a lease whose owner process is gone (same host, pid not alive) or whose heartbeat expired is broken:
 *   the recorded agent process group is killed, the worktree removed, and the issue requeued (attempt counted);
 * - a worktree under `workspace.root` that no lease owns is removed.
 */
import type { IssueId } from "@switchyard/domain"
import { Clock, Context, Effect, Layer } from "effect"
import { Orchestrator } from "../Orchestrator/Orchestrator.js"
import { Sandbox } from "../Sandbox/Sandbox.js"
import { Tracker } from "../Tracker/Tracker.js"

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
  readonly removedWorktrees: ReadonlyArray<string>
}

export interface SupervisorShape {
  /** One reconciliation pass. Never fails: a layer it cannot read is logged and skipped until the next tick. */
  readonly reconcile: Effect.Effect<ReconcileReport>
}
export class Supervisor extends Context.Tag("switchyard/Supervisor")<Supervisor, SupervisorShape>() {}

/** The issue id a worktree path belongs to: `<root>/<ID>` or `<root>/.verify/<ID>-<label>-<n>`. */
export const worktreeOwner = (workspaceRoot: string, path: string): string | null => {
  if (!path.startsWith(workspaceRoot + "/")) return null
  const rest = path.slice(workspaceRoot.length + 1)
  const match = /^(?:\.verify\/)?([A-Z][A-Z0-9]{0,9}-[1-9][0-9]{0,8})(?:$|-)/.exec(rest)
  return match === null ? null : match[1]!
}

export const make = Effect.gen(function*() {
  const tracker = yield* Tracker
  const orchestrator = yield* Orchestrator
  const sandbox = yield* Sandbox
  const processes = yield* ProcessControl

  const reconcile = Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const leases = yield* orchestrator.leases
    const broken: Array<IssueId> = []
    for (const lease of leases) {
      if (lease.runner_id === orchestrator.runnerId) continue
      const sameHost = lease.host === processes.hostname
      const ownerDead = sameHost && !(yield* processes.isAlive(lease.pid))
      const expired = lease.expires_at < now
      if (!ownerDead && !expired) continue
      if (sameHost && lease.agent_pgid !== null) yield* processes.killGroup(lease.agent_pgid, "SIGKILL")
      const took = yield* orchestrator.breakLease(lease.issue_id, lease.runner_id)
      if (!took) continue
      broken.push(lease.issue_id)
      if (lease.sandbox_path !== null) {
        yield* sandbox.remove(lease.sandbox_path, { deleteBranch: `switchyard/${lease.issue_id}` }).pipe(Effect.ignoreLogged)
      }
      yield* orchestrator.finishAttempt(lease.issue_id, lease.attempt, {
        terminal_state: "RETRYABLE_FAILURE",
        cause: ownerDead ? "runner_died" : "lease_expired",
        commit: null,
        counted: true
      })
      yield* tracker.transition(lease.issue_id, ["in_progress"], "todo").pipe(Effect.ignoreLogged)
      yield* orchestrator.record(
        "lease.expired",
        lease.issue_id,
        `lease of ${lease.runner_id} ${ownerDead ? "belongs to a dead process" : "expired"}; agent group killed, issue requeued`,
        { owner: lease.runner_id, attempt: lease.attempt }
      )
    }
    const held = new Set((yield* orchestrator.leases).map((l) => l.issue_id as string))
    const removed: Array<string> = []
    for (const tree of yield* sandbox.list) {
      const owner = worktreeOwner(sandbox.workspaceRoot, tree.path)
      if (owner !== null && held.has(owner)) continue
      yield* sandbox.remove(tree.path)
      removed.push(tree.path)
      yield* orchestrator.record("reconcile.worktree_removed", owner as IssueId | null, `removed worktree ${tree.path} that no run owns`)
    }
    return { brokenLeases: broken, removedWorktrees: removed }
  }).pipe(
    Effect.catchAll((e) =>
      Effect.logWarning(`reconcile skipped: ${e.message}`).pipe(Effect.as({ brokenLeases: [], removedWorktrees: [] }))
    )
  )
  return Supervisor.of({ reconcile })
})

export const layer = Layer.effect(Supervisor, make)
