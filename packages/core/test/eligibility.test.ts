import { describe, expect, it } from "@effect/vitest"
import { IssueId } from "@switchyard/domain"
import { DateTime } from "effect"
import {
  eligibleIssues,
  selectForDispatch,
  summarizeReady,
  summaryLimit,
  whyIneligible
} from "../src/Tracker/eligibility.js"
import { issue } from "./fixtures.js"

const ctx = { now: 1_000, claimed: new Set<string>(), retryDue: new Map<string, number>() }
const snap = (todo: ReadonlyArray<ReturnType<typeof issue>>, statusOf: Record<string, string> = {}, openChildren: Array<string> = []) => ({
  todo,
  statusOf: new Map(Object.entries(statusOf)) as never,
  openChildren: new Set(openChildren),
  invalid: []
})

describe("eligibility", () => {
  it("a todo issue with no blockers is eligible", () => {
    const i = issue()
    expect(whyIneligible(i, snap([i]), ctx)).toBeNull()
  })

  it("only todo is dispatchable", () => {
    for (const status of ["backlog", "in_progress", "in_review", "blocked", "done", "cancelled"] as const) {
      expect(whyIneligible(issue({ status }), snap([]), ctx)?._tag).toBe("NotTodo")
    }
  })

  it("waits for blockers until they are done or cancelled; an unknown blocker blocks", () => {
    const a = IssueId.make("SY-900")
    const b = IssueId.make("SY-901")
    const i = issue({ blocked_by: [a, b] })
    expect(whyIneligible(i, snap([i], { "SY-900": "done", "SY-901": "in_review" }), ctx)).toEqual({ _tag: "BlockedBy", ids: [b] })
    expect(whyIneligible(i, snap([i], { "SY-900": "done", "SY-901": "cancelled" }), ctx)).toBeNull()
    expect(whyIneligible(i, snap([i], { "SY-900": "done" }), ctx)?._tag).toBe("BlockedBy")
  })

  it("a parent with open children is never dispatched", () => {
    const p = issue()
    expect(whyIneligible(p, snap([p], {}, [p.id]), ctx)?._tag).toBe("OpenChildren")
  })

  it("claimed issues and pending retries wait", () => {
    const i = issue()
    expect(whyIneligible(i, snap([i]), { ...ctx, claimed: new Set([i.id]) })?._tag).toBe("Claimed")
    expect(whyIneligible(i, snap([i]), { ...ctx, retryDue: new Map([[i.id, 1_001]]) })).toEqual({ _tag: "RetryPending", dueAt: 1_001 })
    expect(whyIneligible(i, snap([i]), { ...ctx, retryDue: new Map([[i.id, 1_000]]) })).toBeNull()
  })

  it("orders by priority, then created_at, then id (numeric-aware)", () => {
    const t = (s: number) => DateTime.unsafeMake(Date.UTC(2026, 5, 1, 0, 0, s))
    const low = issue({ priority: "low", created_at: t(1) })
    const critical = issue({ priority: "critical", created_at: t(9) })
    const highLate = issue({ priority: "high", created_at: t(5) })
    const highEarly = issue({ priority: "high", created_at: t(2) })
    const same9 = issue({ id: IssueId.make("SY-9"), priority: "none", created_at: t(7) })
    const same10 = issue({ id: IssueId.make("SY-10"), priority: "none", created_at: t(7) })
    const ordered = eligibleIssues(snap([same10, low, highLate, same9, critical, highEarly]), ctx)
    expect(ordered.map((i) => i.id)).toEqual([critical.id, highEarly.id, highLate.id, low.id, "SY-9", "SY-10"])
  })
})

describe("selectForDispatch", () => {
  it("fills only the free global slots", () => {
    const issues = [issue(), issue(), issue()]
    expect(selectForDispatch(issues, { maxConcurrent: 3, byLabel: {}, running: [[]] }).length).toBe(2)
    expect(selectForDispatch(issues, { maxConcurrent: 1, byLabel: {}, running: [[]] }).length).toBe(0)
  })

  it("respects per-label caps with normalized labels, skipping to the next issue", () => {
    const fe1 = issue({ labels: [" Frontend "] })
    const fe2 = issue({ labels: ["frontend"] })
    const be = issue({ labels: ["backend"] })
    const picked = selectForDispatch([fe1, fe2, be], { maxConcurrent: 10, byLabel: { frontend: 1 }, running: [] })
    expect(picked.map((i) => i.id)).toEqual([fe1.id, be.id])
    const none = selectForDispatch([fe2], { maxConcurrent: 10, byLabel: { frontend: 1 }, running: [["FRONTEND"]] })
    expect(none).toEqual([])
  })
})

describe("summarizeReady", () => {
  const refs = [issue(), issue(), issue(), issue()].map((i) => ({ id: i.id, priority: i.priority, labels: i.labels }))
  const invalid = [{ id: "SY-0", reason: "labels: not JSON" }]

  it("counts the refs not excluded and keeps the first `limit` of them in order", () => {
    // 7 readable todo issues, 4 of them ready: 3 wait (on a blocker or an open child), whatever is excluded.
    const summary = summarizeReady({ refs, invalid }, { exclude: [refs[0]!.id, refs[2]!.id, "SY-404"], limit: 1 }, 7)
    expect(summary).toEqual({ total: 2, head: [refs[1]], invalid, waiting: 3 })
    expect(summarizeReady({ refs, invalid: [] }, { exclude: [], limit: 10 }, 4)).toMatchObject({ head: refs, waiting: 0 })
  })

  it("reads a limit that is not a count as floored, at least 0, and Infinity as all", () => {
    expect([2.9, 0, -3, Number.NaN].map(summaryLimit)).toEqual([2, 0, 0, 0])
    expect(summaryLimit(Number.POSITIVE_INFINITY)).toBe(Number.MAX_SAFE_INTEGER)
    expect(summarizeReady({ refs, invalid: [] }, { exclude: [], limit: Number.POSITIVE_INFINITY }, 4).head).toHaveLength(4)
  })
})

describe("tracker.required_labels (Symphony SPEC §5.3.1)", () => {
  it("needs every label, trimmed and case-insensitive", async () => {
    const { hasRequiredLabels, missingRequiredLabels } = await import("../src/Tracker/eligibility.js")
    expect(hasRequiredLabels(["Ready ", "BUG"], ["ready", " bug"])).toBe(true)
    expect(hasRequiredLabels(["ready"], ["ready", "bug"])).toBe(false)
    expect(missingRequiredLabels(["ready"], ["Ready", "Bug "])).toEqual(["bug"])
    expect(hasRequiredLabels([], [])).toBe(true)
  })

  it("a blank required label matches no issue, not even one with a blank label", async () => {
    const { hasRequiredLabels, missingRequiredLabels } = await import("../src/Tracker/eligibility.js")
    expect(hasRequiredLabels(["ready", "", " "], ["ready", " "])).toBe(false)
    expect(missingRequiredLabels(["ready", ""], ["ready", ""])).toEqual([""])
  })
})
