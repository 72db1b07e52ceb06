/**
 * Eligibility and dispatch order: which `todo` issues may start now, and in which order.
 * Pure functions over a `CandidateSnapshot` (Symphony SPEC §8.2–§8.3, plus blockers and parents).
 */
import { type Issue, priorityRank, resolvedStatuses } from "@switchyard/domain"
import { DateTime, Order } from "effect"
import type { CandidateSnapshot, ReadySet, ReadySummary } from "./Tracker.js"
import { normalizeLabel } from "../AgentStation/routing.js"

/** Why an issue is not dispatchable right now; `null` means eligible. */
export type Ineligibility =
  | { readonly _tag: "NotTodo" }
  | { readonly _tag: "BlockedBy"; readonly ids: ReadonlyArray<string> }
  | { readonly _tag: "OpenChildren" }
  | { readonly _tag: "Claimed" }
  | { readonly _tag: "RetryPending"; readonly dueAt: number }

export interface EligibilityContext {
  /** Epoch ms. */
  readonly now: number
  /** Issue ids that hold a lease (any runner). */
  readonly claimed: ReadonlySet<string>
  /** Pending retries: issue id → due time (epoch ms). */
  readonly retryDue: ReadonlyMap<string, number>
}

/**
 * The first reason `issue` may not start now, or null when it is eligible: status `todo`, every `blocked_by`
 * issue `done` or `cancelled` (an unknown blocker blocks), no open children, not claimed, retry time passed.
 */
export const whyIneligible = (
  issue: Issue,
  snapshot: Pick<CandidateSnapshot, "statusOf" | "openChildren">,
  ctx: EligibilityContext
): Ineligibility | null => {
  if (issue.status !== "todo") return { _tag: "NotTodo" }
  const open = issue.blocked_by.filter((id) => {
    const status = snapshot.statusOf.get(id)
    return status === undefined || !resolvedStatuses.has(status)
  })
  if (open.length > 0) return { _tag: "BlockedBy", ids: open }
  if (snapshot.openChildren.has(issue.id)) return { _tag: "OpenChildren" }
  if (ctx.claimed.has(issue.id)) return { _tag: "Claimed" }
  const due = ctx.retryDue.get(issue.id)
  if (due !== undefined && due > ctx.now) return { _tag: "RetryPending", dueAt: due }
  return null
}

const idParts = (id: string): readonly [string, number] => {
  const dash = id.lastIndexOf("-")
  return [id.slice(0, dash), Number(id.slice(dash + 1))]
}

/** Dispatch order: priority (critical first), then `created_at` (oldest first), then id (numeric-aware). */
export const dispatchOrder: Order.Order<Issue> = Order.combineAll([
  Order.mapInput(Order.number, (i: Issue) => priorityRank(i.priority)),
  Order.mapInput(DateTime.Order, (i: Issue) => i.created_at),
  Order.mapInput(Order.string, (i: Issue) => idParts(i.id)[0]),
  Order.mapInput(Order.number, (i: Issue) => idParts(i.id)[1])
])

/** The ready refs that are neither claimed nor waiting for a retry, order kept (Symphony SPEC §8.2). */
export const eligibleRefs = <A extends { readonly id: string }>(
  refs: ReadonlyArray<A>,
  ctx: EligibilityContext
): ReadonlyArray<A> =>
  refs.filter((r) => {
    if (ctx.claimed.has(r.id)) return false
    const due = ctx.retryDue.get(r.id)
    return due === undefined || due <= ctx.now
  })

/**
 * A `readySummary` `limit` as a row count SQL accepts: floored, NaN and negatives read none (0), at most
 * `Number.MAX_SAFE_INTEGER` (so `Infinity` means all).
 */
export const summaryLimit = (limit: number): number =>
  Number.isNaN(limit) ? 0 : Math.min(Math.max(0, Math.floor(limit)), Number.MAX_SAFE_INTEGER)

/** `readySummary` computed from a whole ready set (trackers that hold every ready ref anyway, e.g. in memory). */
export const summarizeReady = (
  ready: ReadySet,
  options: { readonly exclude: ReadonlyArray<string>; readonly limit: number },
  /** The number of readable `todo` issues (ready or not). */
  todo: number
): ReadySummary => {
  const exclude = new Set(options.exclude)
  const kept = ready.refs.filter((ref) => !exclude.has(ref.id))
  return {
    total: kept.length,
    head: kept.slice(0, summaryLimit(options.limit)),
    invalid: ready.invalid,
    waiting: todo - ready.refs.length
  }
}

/** The eligible issues of a snapshot, in dispatch order. */
export const eligibleIssues = (snapshot: CandidateSnapshot, ctx: EligibilityContext): ReadonlyArray<Issue> =>
  snapshot.todo.filter((issue) => whyIneligible(issue, snapshot, ctx) === null).sort(dispatchOrder)

/**
 * Whether `labels` carry every one of `required` (Symphony SPEC §5.3.1 `tracker.required_labels`, checklist 24:
 * all-of, compared trimmed and lower-cased; a blank required label matches no issue, so it makes nothing eligible).
 * An empty `required` is satisfied by every issue. Pure.
 */
export const hasRequiredLabels = (labels: ReadonlyArray<string>, required: ReadonlyArray<string>): boolean => {
  if (required.length === 0) return true
  const have = new Set(labels.map(normalizeLabel))
  return required.every((label) => {
    const wanted = normalizeLabel(label)
    return wanted !== "" && have.has(wanted)
  })
}

/** The labels of `required` that `labels` lack (normalized; a blank required label is always missing). Pure. */
export const missingRequiredLabels = (
  labels: ReadonlyArray<string>,
  required: ReadonlyArray<string>
): ReadonlyArray<string> => {
  const have = new Set(labels.map(normalizeLabel))
  return required.map(normalizeLabel).filter((wanted) => wanted === "" || !have.has(wanted))
}

/** Labels and per-label cap keys are compared as routing compares them (one definition, in routing.ts). */
export { normalizeLabel }

export interface SlotState {
  /** Global cap (`agent.max_concurrent_agents`, or `--concurrency`). */
  readonly maxConcurrent: number
  /** Per-label caps with normalized keys (`agent.max_concurrent_agents_by_label`). */
  readonly byLabel: Readonly<Record<string, number>>
  /** Labels of the issues running now (one entry per running issue). */
  readonly running: ReadonlyArray<ReadonlyArray<string>>
}

/**
 * Picks issues to start from `ordered`, respecting the global cap and every per-label cap
 * (an issue with several capped labels needs a free slot under each). Symphony SPEC §8.3.
 */
export const selectForDispatch = <A extends { readonly labels: ReadonlyArray<string> }>(
  ordered: ReadonlyArray<A>,
  slots: SlotState
): ReadonlyArray<A> => {
  const perLabel = new Map<string, number>()
  for (const labels of slots.running) {
    for (const label of new Set(labels.map(normalizeLabel))) perLabel.set(label, (perLabel.get(label) ?? 0) + 1)
  }
  let free = slots.maxConcurrent - slots.running.length
  const picked: Array<A> = []
  for (const issue of ordered) {
    if (free <= 0) break
    const labels = [...new Set(issue.labels.map(normalizeLabel))]
    const fits = labels.every((l) => slots.byLabel[l] === undefined || (perLabel.get(l) ?? 0) < slots.byLabel[l]!)
    if (!fits) continue
    picked.push(issue)
    free -= 1
    for (const l of labels) perLabel.set(l, (perLabel.get(l) ?? 0) + 1)
  }
  return picked
}
