/**
 * Review feedback (docs/trust.md, "Review feedback"; issue 15): the reviews of the pull request of each PR_READY
 * change waiting in review, read through the hosted Lander (`reviewsOf`). Each review is recorded once (by its id):
 * an approval as `review.approved` (reviewer, time, the commit it approved), "changes requested" as
 * `review.changes_requested` with its body and review comments, which also sends the issue back to `todo` so the
 * line runs it again: the next attempt's agent gets the review as feedback (`pendingReviewFeedback`). A review of an
 * older head than the evidence's commit is recorded but sends nothing back (the change it asked about is gone).
 */
import type { FactoryEvent, IssueId } from "@switchyard/domain"
import { Effect, Option } from "effect"
import { EvidenceStore } from "../EvidenceStore/EvidenceStore.js"
import { Orchestrator } from "../Orchestrator/Orchestrator.js"
import { Tracker } from "../Tracker/Tracker.js"
import { Lander, type PullReviews } from "./Lander.js"

/** What one review tick recorded. */
export interface ReviewReport {
  readonly approved: ReadonlyArray<{ readonly issueId: string; readonly attempt: number; readonly reviewer: string; readonly at: string | null; readonly pull: string; readonly commit: string | null }>
  readonly changesRequested: ReadonlyArray<{ readonly issueId: string; readonly reviewer: string; readonly pull: string; readonly sentBack: boolean }>
}

/** The most characters of a review body and its comments carried into the feedback. */
export const MAX_REVIEW_FEEDBACK_CHARS = 8_000

/** The feedback a "changes requested" review gives the agent: who, what, and each comment on its line. Pure. */
export const reviewFeedback = (pull: Pick<PullReviews, "number" | "url">, review: PullReviews["reviews"][number], comments: PullReviews["comments"]): string => {
  const text = [
    `A reviewer (${review.reviewer}) requested changes on pull request #${pull.number} (${review.url ?? pull.url}).`,
    ...(review.body.trim() === "" ? [] : ["Review:", review.body.trim()]),
    ...(comments.length === 0 ? [] : ["Comments:", ...comments.map((c) => `- ${c.path}${c.line === null ? "" : `:${c.line}`}: ${c.body.trim()}`)]),
    "Address the review in your change. Do not delete, skip or weaken tests."
  ].join("\n")
  return text.length <= MAX_REVIEW_FEEDBACK_CHARS ? text : `${text.slice(0, MAX_REVIEW_FEEDBACK_CHARS)}\n[… cut by Switchyard]`
}

/**
 * One review tick (see the module docs). Needs Tracker, Orchestrator, EvidenceStore and Lander; a Lander without
 * `reviewsOf` (the local one) makes it a no-op. Idempotent: a review id already in the log is skipped, so a webhook
 * and a poll for the same review act once. Fails with the services' errors.
 */
export const reviewTick = Effect.gen(function*() {
  const tracker = yield* Tracker
  const orchestrator = yield* Orchestrator
  const store = yield* EvidenceStore
  const lander = yield* Lander
  const approved: Array<ReviewReport["approved"][number]> = []
  const changesRequested: Array<ReviewReport["changesRequested"][number]> = []
  if (lander.reviewsOf === undefined) return { approved, changesRequested } satisfies ReviewReport
  for (const issue of yield* tracker.list({ status: "in_review" })) {
    const latest = yield* store.latest(issue.id)
    if (Option.isNone(latest) || latest.value.outcome !== "PR_READY" || latest.value.fingerprint === null) continue
    const bundle = latest.value
    const fp = latest.value.fingerprint
    const pull = yield* lander.reviewsOf(fp.branch)
    if (Option.isNone(pull)) continue
    const p = pull.value
    const seen = new Set(
      (yield* orchestrator.events({ issueId: issue.id }))
        .filter((e) => e.type === "review.approved" || e.type === "review.changes_requested")
        .map((e) => e.data["reviewId"])
    )
    for (const r of p.reviews) {
      if (seen.has(r.id)) continue
      if (r.state === "APPROVED") {
        approved.push({ issueId: issue.id, attempt: bundle.attempt, reviewer: r.reviewer, at: r.submittedAt, pull: p.url, commit: r.commitId })
        yield* orchestrator.record("review.approved", issue.id, `${r.reviewer} approved pull request #${p.number} of ${issue.id}`, {
          attempt: bundle.attempt,
          reviewId: r.id,
          reviewer: r.reviewer,
          at: r.submittedAt,
          commit: r.commitId,
          pull: p.url
        })
      } else if (r.state === "CHANGES_REQUESTED") {
        // A review of the head the evidence is about (or of an unknown commit) sends the issue back; one of an
        // older head asked about a change that is gone.
        const current = r.commitId === null || p.headSha === null || r.commitId === p.headSha
        const comments = p.comments.filter((c) => c.reviewId === r.id)
        const feedback = reviewFeedback(p, r, comments)
        const moved = current ? yield* tracker.transition(issue.id as IssueId, ["in_review"], "todo") : false
        changesRequested.push({ issueId: issue.id, reviewer: r.reviewer, pull: p.url, sentBack: moved })
        yield* orchestrator.record(
          "review.changes_requested",
          issue.id,
          `${r.reviewer} requested changes on pull request #${p.number} of ${issue.id}${moved ? "; sent back to the line with the review as feedback" : ""}`,
          { attempt: bundle.attempt, reviewId: r.id, reviewer: r.reviewer, at: r.submittedAt, commit: r.commitId, pull: p.url, feedback, sentBack: moved }
        )
      }
    }
  }
  return { approved, changesRequested } satisfies ReviewReport
})

/**
 * The review feedback the next attempt of `issueId` must address: the newest `review.changes_requested` that sent
 * the issue back, when no agent has started since. None otherwise. Reads the issue's events.
 */
export const pendingReviewFeedback = (issueId: IssueId) =>
  Effect.gen(function*() {
    const orchestrator = yield* Orchestrator
    const events: ReadonlyArray<FactoryEvent> = yield* orchestrator.events({ issueId })
    let pending: Option.Option<{ readonly reviewId: unknown; readonly feedback: string }> = Option.none()
    for (const e of events) {
      if (e.type === "review.changes_requested" && e.data["sentBack"] === true && typeof e.data["feedback"] === "string") {
        pending = Option.some({ reviewId: e.data["reviewId"], feedback: e.data["feedback"] })
      } else if (e.type === "agent.started") pending = Option.none()
    }
    return pending
  })
