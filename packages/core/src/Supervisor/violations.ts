/**
 * The violations: disagreements between the layers that the supervisor cannot repair, so a human must. Read by
 * the supervisor on every tick and by `switchyard status`; kept apart from Supervisor.ts so a read-only caller
 * does not load the worker and workflow modules.
 */
import { Effect } from "effect"
import { EvidenceStore } from "../EvidenceStore/EvidenceStore.js"
import { Orchestrator } from "../Orchestrator/Orchestrator.js"
import { branchFor } from "../Sandbox/Sandbox.js"
import { Tracker } from "../Tracker/Tracker.js"

/** A disagreement the supervisor cannot repair; it stays until the state that causes it is fixed. */
export interface Violation {
  readonly kind: "terminal_without_evidence" | "pr_ready_branch_missing"
  readonly issueId: string
  readonly attempt: number
  readonly detail: string
}

/** How many of the newest terminal attempts each violation check looks at (bounds the cost per tick). */
export const VIOLATION_WINDOW = 100

/**
 * The violations among the newest `window` terminal attempts: a terminal attempt without its evidence bundle,
 * and a PR_READY issue still `in_review` whose `switchyard/<id>` branch is gone. `branchExists` asks git.
 */
export const findViolations = <R>(
  branchExists: (branch: string) => Effect.Effect<boolean, never, R>,
  window: number = VIOLATION_WINDOW
) =>
  Effect.gen(function*() {
    const orchestrator = yield* Orchestrator
    const evidence = yield* EvidenceStore
    const tracker = yield* Tracker
    const violations: Array<Violation> = []
    const ended = (yield* orchestrator.recentOutcomes(window)).filter((a) => a.terminal_state !== null)
    // Three reads whatever the window: the attempts, which of them have a bundle, the statuses of the issues whose
    // latest outcome is PR_READY (a tracker that cannot answer skips the branch check until the next tick).
    const stored = yield* evidence.stored(ended.map((a) => ({ issueId: a.issue_id, attempt: a.attempt })))
    const latest = new Map<string, (typeof ended)[number]>()
    for (const a of ended) if (!latest.has(a.issue_id)) latest.set(a.issue_id, a)
    const prReady = [...latest.values()].filter((a) => a.terminal_state === "PR_READY").map((a) => a.issue_id)
    const statuses = prReady.length === 0
      ? new Map<string, string>()
      : yield* tracker.statuses(prReady).pipe(Effect.orElseSucceed(() => new Map<string, string>()))
    for (const a of ended) {
      if (!stored.has(`${a.issue_id}#${a.attempt}`)) {
        violations.push({
          kind: "terminal_without_evidence",
          issueId: a.issue_id,
          attempt: a.attempt,
          detail: `attempt ${a.attempt} ended ${a.terminal_state} but has no evidence bundle`
        })
      }
      if (latest.get(a.issue_id) !== a || a.terminal_state !== "PR_READY") continue
      if (statuses.get(a.issue_id) !== "in_review") continue
      if (!(yield* branchExists(branchFor(a.issue_id)))) {
        violations.push({
          kind: "pr_ready_branch_missing",
          issueId: a.issue_id,
          attempt: a.attempt,
          detail: `${a.issue_id} is PR_READY and in review, but branch ${branchFor(a.issue_id)} no longer exists`
        })
      }
    }
    return violations
  })
