/**
 * The trust ladder's tick (docs/trust.md): read the measured history from the event log, record what humans did
 * since (a PR_READY change that became part of the base branch: `trust.merged`; a revert commit of a merged or
 * landed change on the base, or its issue reopened: `trust.reverted`, which demotes its class), and, when asked,
 * land every PR_READY change whose class stands on `auto_land` with fresh evidence (`trust.landed`). Evidence is
 * fresh when it was verified on the current base; when the base moved, the change is carried onto it and verified
 * again first (`trust.reverified`), and a failure blocks the landing (`trust.blocked`).
 *
 * The history lives in the append-only event log, so the ladder needs no table of its own and every rung can be
 * recomputed from the log. Git and hosting are behind `Lander` (local now, GitHub later).
 */
import { type Issue, type IssueId, type WorkflowConfig } from "@switchyard/domain"
import { Clock, Effect, Option } from "effect"
import { EvidenceStore } from "../EvidenceStore/EvidenceStore.js"
import * as Decide from "../Line/decide.js"
import { verifyPolicy } from "../Line/stages.js"
import { Orchestrator } from "../Orchestrator/Orchestrator.js"
import { Tracker } from "../Tracker/Tracker.js"
import { Verifier } from "../Verifier/Verifier.js"
import { Lander } from "./Lander.js"
import {
  type ChangeFacts,
  type Classification,
  classify,
  decideLanding,
  linesChangedOf,
  rungOf,
  type RungState,
  type TrustRecord
} from "./policy.js"

/** Events read per page when the history is rebuilt from the log. */
const PAGE = 1_000

/** A trust event as the ladder reads it back. */
interface TrustEvent extends TrustRecord {
  readonly commit: string
  readonly landedCommit: string | null
}

/** What one tick saw and did, for `switchyard trust` / `land` and their tests. */
export interface TrustReport {
  /** The base branch and its head after the tick. */
  readonly base: { readonly branch: string; readonly commit: string }
  /** Every class of the policy, in order, with its rung and history. */
  readonly classes: ReadonlyArray<RungState>
  /** Recorded this tick: human merges. */
  readonly merged: ReadonlyArray<{ readonly issueId: string; readonly className: string | null; readonly commit: string }>
  /** Recorded this tick: reverts (each demotes its class). */
  readonly reverted: ReadonlyArray<{ readonly issueId: string; readonly className: string | null; readonly reason: string }>
  /** Each PR_READY change waiting in review, and what the ladder decided for it. */
  readonly changes: ReadonlyArray<{
    readonly issueId: string
    readonly attempt: number
    readonly className: string | null
    /** `ready`/`stale`: what `land` would do (only from `switchyard trust`, which lands nothing). */
    readonly decision: "landed" | "review" | "ready" | "stale" | "blocked"
    readonly reason: string
    readonly rule: string | null
    /** The commit landed on the base (the candidate, or its merge onto a moved base, or GitHub's merge commit). */
    readonly landedCommit: string | null
    /** Where a person sees the landing (the merged pull request), when the Lander said. */
    readonly url?: string | null
  }>
  /** The full history, oldest first. */
  readonly history: ReadonlyArray<TrustRecord>
}

const str = (v: unknown): string | null => (typeof v === "string" ? v : null)

/** The trust events of the log, oldest first. */
const readHistory = Effect.gen(function*() {
  const orchestrator = yield* Orchestrator
  const out: Array<TrustEvent> = []
  let after = 0
  for (;;) {
    const page = yield* orchestrator.events({ afterSeq: after, limit: PAGE })
    for (const e of page) {
      const kind = e.type === "trust.merged" ? "merged" : e.type === "trust.landed" ? "landed" : e.type === "trust.reverted" ? "reverted" : null
      if (kind === null || e.issue_id === null) continue
      out.push({
        kind,
        className: str(e.data.className) ?? "",
        issueId: e.issue_id,
        at: e.at,
        reason: str(e.data.reason) ?? "",
        commit: str(e.data.commit) ?? "",
        landedCommit: str(e.data.landedCommit)
      })
    }
    if (page.length < PAGE) break
    after = page[page.length - 1]!.seq
  }
  return out
})

/** Options of {@link trustTick}. */
export interface TickOptions {
  /** The attempt's WORKFLOW.md config (the policy). */
  readonly cfg: WorkflowConfig
  /** The workflow file, repo-relative: a change to it never auto-lands. */
  readonly workflowPath: string
  /** Land what may land (`switchyard land`); false only records history (`switchyard trust`). */
  readonly land: boolean
  /**
   * Why the stored evidence of an attempt cannot be trusted (signature, agreement with the attempts table and the
   * log); empty = trusted. A change whose evidence is not trusted never lands.
   */
  readonly distrust: (issueId: IssueId, attempt: number) => Effect.Effect<ReadonlyArray<string>>
}

/**
 * One tick of the trust ladder (see the module docs). Needs Tracker, Orchestrator, EvidenceStore, Verifier and
 * Lander. Records `trust.merged`, `trust.reverted`, `trust.reverified`, `trust.blocked` and `trust.landed`; moves a
 * merged or landed issue from `in_review` to `done` (with a comment naming the rule when Switchyard landed it).
 * Fails with the services' errors (a git or store failure); a change that cannot land is a decision, not an error.
 */
export const trustTick = (options: TickOptions) =>
  Effect.gen(function*() {
    const tracker = yield* Tracker
    const orchestrator = yield* Orchestrator
    const store = yield* EvidenceStore
    const verifier = yield* Verifier
    const lander = yield* Lander
    const { cfg } = options
    const trust = cfg.trust
    const pinned = { workflowPath: options.workflowPath, protectedPaths: cfg.verify.protected_paths }
    const history = yield* readHistory
    const key = (issueId: string, commit: string) => `${issueId}#${commit}`
    const done = new Set(history.filter((r) => r.kind !== "reverted").map((r) => key(r.issueId, r.commit)))
    const reverted = new Set(history.filter((r) => r.kind === "reverted").map((r) => key(r.issueId, r.commit)))
    const merged: Array<TrustReport["merged"][number]> = []
    const revertedNow: Array<TrustReport["reverted"][number]> = []
    const changes: Array<TrustReport["changes"][number]> = []
    const factsOf = (issue: Issue, bundle: { diff: { files: ReadonlyArray<string>; patch: string; patchTruncated: boolean } | null; guards: ReadonlyArray<{ rule: string; passed: boolean }> }): ChangeFacts => ({
      files: bundle.diff?.files ?? [],
      linesChanged: bundle.diff === null ? 0 : linesChangedOf(bundle.diff.patch, bundle.diff.patchTruncated),
      labels: issue.labels,
      guards: bundle.guards
    })

    // 1. Reverts of changes already merged or landed: a revert commit on the base, or the issue reopened.
    const live = history.filter((r) => r.kind !== "reverted" && !reverted.has(key(r.issueId, r.commit)))
    const commits = live.flatMap((r) => [r.commit, ...(r.landedCommit === null ? [] : [r.landedCommit])]).filter((c) => c !== "")
    const reverts = yield* lander.revertsOf(commits)
    const statuses = yield* tracker.statuses(live.map((r) => r.issueId))
    const base0 = yield* lander.base
    for (const r of live) {
      const revert = reverts.get(r.commit) ?? (r.landedCommit === null ? undefined : reverts.get(r.landedCommit))
      const status = statuses.get(r.issueId)
      const reopened = status !== undefined && status !== "done" && status !== "cancelled" && status !== "in_review"
      if (revert === undefined && !reopened) continue
      const reason = revert !== undefined
        ? `revert commit ${revert.slice(0, 10)} on ${base0.branch} reverts ${r.commit.slice(0, 10)}`
        : `the issue was reopened (${status})`
      reverted.add(key(r.issueId, r.commit))
      revertedNow.push({ issueId: r.issueId, className: r.className || null, reason })
      yield* orchestrator.record(
        "trust.reverted",
        r.issueId as IssueId,
        `${r.issueId}'s ${r.kind} change was reverted: ${reason}${r.className ? `; class ${r.className} is demoted to review` : ""}`,
        { className: r.className || null, commit: r.commit, landedCommit: r.landedCommit, revert: revert ?? null, reason }
      )
    }

    // 2. Human merges, and 3. landings, over the PR_READY changes waiting in review.
    const records = (): ReadonlyArray<TrustRecord> => [
      ...history,
      // This tick's reverts were seen before its merges (step 1).
      ...revertedNow.map((m) => ({ kind: "reverted" as const, className: m.className ?? "", issueId: m.issueId, at: 0, reason: m.reason })),
      ...merged.map((m) => ({ kind: "merged" as const, className: m.className ?? "", issueId: m.issueId, at: 0, reason: "" })),
      ...changes.filter((c) => c.decision === "landed").map((c) => ({ kind: "landed" as const, className: c.className ?? "", issueId: c.issueId, at: 0, reason: "" }))
    ]
    const rungFor = (c: Classification): RungState | null => {
      const cls = trust.classes.find((k) => k.name === c.className)
      return cls === undefined ? null : rungOf(cls, trust.promote_after, records())
    }
    let base = base0
    // A merge on a hosting service can close the issue before the ladder sees it ("Closes #n"): done issues are
    // read for human merges too (never landed).
    const waiting = yield* tracker.list({ status: "in_review" })
    const closed = (yield* tracker.list({ status: "done" })).filter((i) => !waiting.some((w) => w.id === i.id))
    for (const issue of [...waiting, ...closed]) {
      const isClosed = issue.status === "done"
      const latest = yield* store.latest(issue.id)
      if (Option.isNone(latest)) continue
      const bundle = latest.value
      const fp = bundle.fingerprint
      if (bundle.outcome !== "PR_READY" || fp === null || done.has(key(issue.id, fp.commit))) continue
      const c = classify(trust, factsOf(issue, bundle), pinned)
      const note = (
        decision: TrustReport["changes"][number]["decision"],
        reason: string,
        rule: string | null = null,
        landedCommit: string | null = null,
        url: string | null = null
      ) => changes.push({ issueId: issue.id, attempt: bundle.attempt, className: c.className, decision, reason, rule, landedCommit, url })
      if (yield* lander.contains(fp.commit)) {
        merged.push({ issueId: issue.id, className: c.className, commit: fp.commit })
        yield* orchestrator.record("trust.merged", issue.id, `${issue.id} was merged into ${base.branch} by a human${c.className ? ` (class ${c.className})` : ""}`, {
          attempt: bundle.attempt,
          className: c.className,
          commit: fp.commit,
          base: base.commit
        })
        if (!isClosed) yield* tracker.transition(issue.id, ["in_review"], "done")
        continue
      }
      if (isClosed) continue
      const decision = decideLanding(c, rungFor(c), base.commit === fp.baseCommit ? null : `the base moved from ${fp.baseCommit.slice(0, 10)} to ${base.commit.slice(0, 10)}`)
      if (decision._tag === "Review") {
        note("review", decision.reason)
        continue
      }
      if (!options.land) {
        if (decision._tag === "Stale") note("stale", `${decision.reason}: \`switchyard land\` verifies it again on the current base before it lands`)
        else note("ready", `\`switchyard land\` lands it under ${decision.rule}`, decision.rule)
        continue
      }
      const distrust = yield* options.distrust(issue.id, bundle.attempt)
      if (distrust.length > 0) {
        note("blocked", `its evidence cannot be trusted: ${distrust.join("; ")}`)
        yield* orchestrator.record("trust.blocked", issue.id, `${issue.id} not landed: its evidence cannot be trusted`, { attempt: bundle.attempt, problems: distrust })
        continue
      }
      let target = fp.commit
      if (decision._tag === "Stale") {
        // A stale base blocks landing until the change is verified again on the current one.
        const carried = yield* lander.onBase(fp.commit, base.commit, `Merge ${fp.branch} (${issue.id}) onto ${base.branch}\n\nRe-verified by Switchyard before landing.`)
        if (carried._tag === "Conflict") {
          note("blocked", `${decision.reason}, and ${carried.reason}`)
          yield* orchestrator.record("trust.blocked", issue.id, `${issue.id} not landed: ${decision.reason}, and ${carried.reason}`, { attempt: bundle.attempt, base: base.commit })
          continue
        }
        const v = yield* verifier.verify({
          issueId: issue.id,
          baseCommit: base.commit,
          policy: verifyPolicy(issue, cfg),
          commit: carried.commit,
          reproduction: bundle.task.packet.reproduction,
          validation: bundle.task.packet.validation,
          timeoutMs: cfg.verify.timeout_ms,
          hooks: cfg.hooks
        })
        const verdict = Decide.afterVerification({ verification: v, failedGuards: v.guards.filter((g) => !g.passed) })
        if (verdict.state !== "PR_READY") {
          const why = `${decision.reason}, and the change fails on the current base (${verdict.cause}: ${verdict.reasons.join(" ")})`
          note("blocked", why)
          yield* orchestrator.record("trust.blocked", issue.id, `${issue.id} not landed: ${why}`, { attempt: bundle.attempt, base: base.commit, cause: verdict.cause })
          continue
        }
        yield* orchestrator.record("trust.reverified", issue.id, `${issue.id} verified again on ${base.branch} at ${base.commit.slice(0, 10)} (as ${carried.commit.slice(0, 10)})`, {
          attempt: bundle.attempt,
          base: base.commit,
          commit: carried.commit
        })
        target = carried.commit
      }
      const rule = decision._tag === "Land" ? decision.rule : `trust.classes.${c.className}`
      const landed = yield* lander.land(target, base.commit, { issueId: issue.id, branch: fp.branch, candidate: fp.commit, rule }).pipe(Effect.either)
      if (landed._tag === "Left") {
        note("blocked", landed.left.reason)
        yield* orchestrator.record("trust.blocked", issue.id, `${issue.id} not landed: ${landed.left.reason}`, { attempt: bundle.attempt })
        continue
      }
      // A hosted Lander (a pull request merged through the API) moves the base to a commit of its own.
      const verifiedCommit = target
      target = landed.right.commit ?? target
      const at = yield* Clock.currentTimeMillis
      // With `integration.push`, the landed base branch goes to the remote too (never forced).
      const published = cfg.integration.push ? yield* lander.publish(base.branch, cfg.integration.remote) : null
      yield* orchestrator.record("trust.landed", issue.id, `Switchyard landed ${issue.id} on ${base.branch} (${landed.right.method}) under ${rule}`, {
        attempt: bundle.attempt,
        className: c.className,
        commit: fp.commit,
        landedCommit: target,
        base: base.commit,
        branch: base.branch,
        method: landed.right.method,
        verifiedCommit,
        url: landed.right.url ?? null,
        rule,
        landedBy: "switchyard",
        at,
        pushed: published?.pushed ?? null,
        pushError: published?.error ?? null
      })
      yield* tracker.transition(issue.id, ["in_review"], "done")
      yield* tracker.comment(issue.id, `Switchyard landed this change on ${base.branch} as ${target.slice(0, 10)} (${landed.right.method}) under ${rule}.`, "switchyard")
      const pushNote = published === null ? "" : published.pushed ? `, pushed to ${cfg.integration.remote}` : `; the push to ${cfg.integration.remote} failed: ${published.error}`
      note("landed", `landed on ${base.branch} as ${target.slice(0, 10)}${landed.right.url === undefined ? "" : ` (${landed.right.url})`}${pushNote}`, rule, target, landed.right.url ?? null)
      base = yield* lander.base
    }
    return {
      base,
      classes: trust.classes.map((cls) => rungOf(cls, trust.promote_after, records())),
      merged,
      reverted: revertedNow,
      changes,
      history: records()
    } satisfies TrustReport
  })
