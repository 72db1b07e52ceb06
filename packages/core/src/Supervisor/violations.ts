/**
 * The violations: disagreements between the layers that the supervisor cannot repair, so a human must. Read by
 * the supervisor on every tick and by `switchyard status` (and, for one issue, `switchyard verify`); kept apart
 * from Supervisor.ts so a read-only caller does not load the worker and workflow modules.
 *
 * Trust rests on the signed bundle (docs/evidence.md, "The signature"): a bundle must carry the runner's valid
 * signature, and the attempts row and the `terminal.*` event must say what the bundle says. A forger who can
 * write `.switchyard/` but cannot read the runner's key can change any of the three, never all three consistently.
 */
import type { Attempt, Violation, ViolationKind } from "@switchyard/domain"
import { Effect, Option } from "effect"
import type { SealedEvidence } from "../EvidenceSigner/seal.js"
import { attemptKey, EvidenceStore } from "../EvidenceStore/EvidenceStore.js"
import { Orchestrator, type TerminalEvent } from "../Orchestrator/Orchestrator.js"
import { branchFor } from "../Sandbox/Sandbox.js"
import { Tracker } from "../Tracker/Tracker.js"

export type { Violation, ViolationKind } from "@switchyard/domain"

/** How many of the newest terminal attempts each violation check looks at (bounds the cost per tick). */
export const VIOLATION_WINDOW = 100

/**
 * How many of the newest terminal attempts have their signature checked on every pass: the outcomes `status`
 * shows (its newest 10). The newest PR_READY attempt of every issue in review in the window is checked too, since
 * its branch is what a human would merge. The rest of the window is compared with its attempts rows and events
 * only: one Ed25519 check costs ~0.1–0.3 ms on a loaded 2-core machine, and `status` is a one-shot process.
 */
export const SEAL_WINDOW = 10

const short = (sha: string) => sha.slice(0, 12)
const said = (state: string | null, cause: string | null) => `${state ?? "nothing readable"}${cause === null ? "" : ` (${cause})`}`

/**
 * What is wrong with one attempt's stored bundle, judged against its `attempts` row and its `terminal.*` event
 * (`event` undefined when the log has none: such an attempt is compared with its row only). Pure. In order:
 * - the seal (when it was checked, `sealed.seal` not null): `evidence_signature_invalid` (edited after signing, malformed, or the bundle of another attempt),
 *   `evidence_signed_by_other_key` (valid, but not the runner's key), `evidence_unsigned` (no signature, stored
 *   after the runner's key existed); a legacy unsigned bundle (stored before) is no violation;
 * - `evidence_disagrees_with_attempt`: the row's `terminal_state`/`cause` are not the bundle's `outcome` and
 *   `verdict.cause`;
 * - `evidence_disagrees_with_events`: the event's state (from `terminal.<STATE>`) or data `cause` (when it has one)
 *   are not the bundle's.
 */
export const evidenceViolations = (
  attempt: Pick<Attempt, "issue_id" | "attempt" | "terminal_state" | "cause">,
  sealed: SealedEvidence,
  event: TerminalEvent | undefined
): ReadonlyArray<Violation> => {
  const violations: Array<Violation> = []
  const add = (kind: ViolationKind, detail: string) =>
    violations.push({ kind, issueId: attempt.issue_id, attempt: attempt.attempt, detail })
  const subject = `the evidence of attempt ${attempt.attempt}`
  const status = sealed.seal?.status ?? null
  const detail = sealed.seal?.detail ?? null
  if (status === "invalid") add("evidence_signature_invalid", `${subject} cannot be trusted: ${detail ?? "its signature is invalid"}`)
  if (status === "other_key") add("evidence_signed_by_other_key", `${subject} cannot be trusted: ${detail ?? "another key signed it"}`)
  if (status === "unsigned") add("evidence_unsigned", `${subject} cannot be trusted: ${detail ?? "it is not signed"}`)
  if (attempt.terminal_state !== sealed.outcome || attempt.cause !== sealed.cause) {
    add(
      "evidence_disagrees_with_attempt",
      `the attempts table says attempt ${attempt.attempt} ended ${said(attempt.terminal_state, attempt.cause)}, its evidence says ${
        said(sealed.outcome, sealed.cause)
      }`
    )
  }
  if (event !== undefined && (event.state !== sealed.outcome || (event.cause !== null && event.cause !== sealed.cause))) {
    add(
      "evidence_disagrees_with_events",
      `the event log says attempt ${attempt.attempt} ended terminal.${said(event.state, event.cause)}, its evidence says ${
        said(sealed.outcome, sealed.cause)
      }`
    )
  }
  return violations
}

/**
 * The branch check of a PR_READY issue in review: `pr_ready_branch_missing` when `switchyard/<id>` is not among
 * `heads` (branch → commit), `pr_ready_branch_rewritten` when it points elsewhere than `verifiedCommit` (the
 * bundle's `fingerprint.commit`; null skips that half). Pure.
 */
export const branchViolations = (
  attempt: Pick<Attempt, "issue_id" | "attempt">,
  heads: ReadonlyMap<string, string>,
  verifiedCommit: string | null
): ReadonlyArray<Violation> => {
  const branch = branchFor(attempt.issue_id)
  const head = heads.get(branch)
  const base = { issueId: attempt.issue_id, attempt: attempt.attempt }
  if (head === undefined) {
    return [{
      ...base,
      kind: "pr_ready_branch_missing",
      detail: `${attempt.issue_id} is PR_READY and in review, but branch ${branch} no longer exists`
    }]
  }
  if (verifiedCommit !== null && head !== verifiedCommit) {
    return [{
      ...base,
      kind: "pr_ready_branch_rewritten",
      detail: `${attempt.issue_id} is PR_READY and in review, but ${branch} points at ${short(head)}, not at the verified commit ${
        short(verifiedCommit)
      }: it was rewritten after verification (switchyard verify ${attempt.issue_id} re-checks it)`
    }]
  }
  return []
}

/** What one violation pass found: the violations, and the seal of every bundle it looked at (by `attemptKey`). */
export interface OutcomeCheck {
  readonly violations: ReadonlyArray<Violation>
  readonly sealed: ReadonlyMap<string, SealedEvidence>
}

/**
 * The violation pass over the newest `window` terminal attempts (`status` shows the newest 10 of them): for each,
 * a missing bundle (`terminal_without_evidence`) or what {@link evidenceViolations} finds, with the signature
 * checked for the newest {@link SEAL_WINDOW} and for the newest PR_READY attempt of each issue in review; for each
 * issue whose newest attempt is PR_READY and that is still `in_review`, what {@link branchViolations} finds.
 * `branchHeads` lists the repo's branches (`None` when git cannot: the branch checks are skipped, no false
 * violation); it runs only if some PR_READY issue is in review. Four reads whatever the window (attempts, their
 * bundles, their terminal events, the statuses), plus `branchHeads`; only the window's bundles are read.
 */
export const checkOutcomes = <R>(
  branchHeads: Effect.Effect<Option.Option<ReadonlyMap<string, string>>, never, R>,
  window: number = VIOLATION_WINDOW
) =>
  Effect.gen(function*() {
    const orchestrator = yield* Orchestrator
    const evidence = yield* EvidenceStore
    const tracker = yield* Tracker
    const violations: Array<Violation> = []
    const ended = (yield* orchestrator.recentOutcomes(window)).filter((a) => a.terminal_state !== null)
    const latest = new Map<string, (typeof ended)[number]>()
    for (const a of ended) if (!latest.has(a.issue_id)) latest.set(a.issue_id, a)
    const prReady = [...latest.values()].filter((a) => a.terminal_state === "PR_READY").map((a) => a.issue_id)
    // A tracker that cannot answer skips the branch check until the next pass.
    const statuses = prReady.length === 0
      ? new Map<string, string>()
      : yield* tracker.statuses(prReady).pipe(Effect.orElseSucceed(() => new Map<string, string>()))
    const inReview = (a: (typeof ended)[number]) =>
      latest.get(a.issue_id) === a && a.terminal_state === "PR_READY" && statuses.get(a.issue_id) === "in_review"
    const keys = ended.map((a) => ({ issueId: a.issue_id, attempt: a.attempt }))
    const verify = new Set(
      ended.filter((a, i) => i < SEAL_WINDOW || inReview(a)).map((a) => attemptKey(a.issue_id, a.attempt))
    )
    const sealed = yield* evidence.sealed(keys, verify)
    const events = yield* orchestrator.terminalEvents(keys)
    for (const a of ended) {
      const key = attemptKey(a.issue_id, a.attempt)
      const bundle = sealed.get(key)
      if (bundle === undefined) {
        violations.push({
          kind: "terminal_without_evidence",
          issueId: a.issue_id,
          attempt: a.attempt,
          detail: `attempt ${a.attempt} ended ${a.terminal_state} but has no evidence bundle`
        })
      } else {
        violations.push(...evidenceViolations(a, bundle, events.get(key)))
      }
      if (!inReview(a)) continue
      const heads = yield* branchHeads
      if (Option.isNone(heads)) continue
      violations.push(...branchViolations(a, heads.value, bundle?.fingerprintCommit ?? a.commit))
    }
    return { violations, sealed } satisfies OutcomeCheck
  })

/** The violations of {@link checkOutcomes} alone (the supervisor's per-tick check). */
export const findViolations = <R>(
  branchHeads: Effect.Effect<Option.Option<ReadonlyMap<string, string>>, never, R>,
  window: number = VIOLATION_WINDOW
) => Effect.map(checkOutcomes(branchHeads, window), (check) => check.violations)
