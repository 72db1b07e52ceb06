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
    const latestSeen = new Set<string>()
    for (const a of yield* orchestrator.recentOutcomes(window)) {
      if (a.terminal_state === null) continue
      // The summaries, not the bundles: existence is all this needs, and decoding 100 bundles per tick is not free.
      const stored = yield* evidence.list(a.issue_id)
      if (!stored.some((s) => s.attempt === a.attempt)) {
        violations.push({
          kind: "terminal_without_evidence",
          issueId: a.issue_id,
          attempt: a.attempt,
          detail: `attempt ${a.attempt} ended ${a.terminal_state} but has no evidence bundle`
        })
      }
      if (latestSeen.has(a.issue_id)) continue
      latestSeen.add(a.issue_id)
      if (a.terminal_state !== "PR_READY") continue
      const issue = yield* Effect.either(tracker.get(a.issue_id))
      if (issue._tag === "Left" || issue.right.status !== "in_review") continue
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
