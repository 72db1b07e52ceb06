/** The pure GitHub mapping: ids, statuses, state labels, the ```switchyard block, Link and throttle headers. */
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { GitHubMapping as M } from "../src/index.js"

const raw = (over: Record<string, unknown> = {}) => ({
  number: 7,
  title: "t",
  body: null,
  state: "open",
  state_reason: null,
  labels: [],
  created_at: "2026-01-01T00:00:00Z",
  updated_at: "2026-01-02T00:00:00Z",
  ...over
})

describe("GitHub mapping", () => {
  it("ids are GH-<number> both ways", () => {
    expect(M.idOf(12)).toBe("GH-12")
    expect(M.numberOf("GH-12")).toBe(12)
    expect(M.numberOf("SY-12")).toBeNull()
    expect(M.numberOf("GH-0")).toBeNull()
  })

  it("status: closed by reason, open by Switchyard's state label", () => {
    expect(M.statusOf({ state: "closed", state_reason: "completed" }, [], "switchyard")).toBe("done")
    expect(M.statusOf({ state: "closed", state_reason: "not_planned" }, [], "switchyard")).toBe("cancelled")
    expect(M.statusOf({ state: "open", state_reason: null }, ["sy:running"], "SY")).toBe("in_progress")
    expect(M.statusOf({ state: "open", state_reason: null }, ["switchyard:in-review"], "switchyard")).toBe("in_review")
    expect(M.statusOf({ state: "open", state_reason: null }, ["other:running"], "switchyard")).toBe("todo")
    expect(M.stateLabelFor("switchyard", "todo")).toBeNull()
    expect(M.stateLabelFor("switchyard", "blocked")).toBe("switchyard:escalated")
  })

  it("pull requests are not issues; a record without a title is malformed", () => {
    expect(M.mapIssue(raw({ pull_request: {} }), "switchyard")._tag).toBe("PullRequest")
    const bad = M.mapIssue(raw({ title: 3 }), "switchyard")
    expect(bad._tag === "Malformed" && bad.id).toBe("GH-7")
    expect(M.mapIssue(raw({ title: "   " }), "switchyard")._tag).toBe("Malformed")
  })

  it("the ```switchyard block: absent is empty; YAML that does not decode is a reason", () => {
    expect(Either.getOrThrow(M.packetOf("no block")).validation).toEqual([])
    expect(Either.getOrThrow(M.packetOf("x\n~~~switchyard\nscope: [a/**]\n~~~\n")).scope).toEqual(["a/**"])
    expect(Either.isLeft(M.packetOf("```switchyard\nscope: {a: 1}\n```"))).toBe(true)
    expect(Either.isLeft(M.packetOf("```switchyard\n: : :\n  - [\n```"))).toBe(true)
  })

  it("Link: the next page, or none", () => {
    expect(M.nextLink('<https://x/issues?page=2>; rel="next", <https://x/issues?page=9>; rel="last"')).toBe("https://x/issues?page=2")
    expect(M.nextLink('<https://x/issues?page=1>; rel="first"')).toBeNull()
    expect(M.nextLink(undefined)).toBeNull()
  })

  it("throttling: Retry-After in seconds, else the rate-limit reset", () => {
    expect(M.throttleDelayMs({ "retry-after": "3" }, 0)).toBe(3_000)
    expect(M.throttleDelayMs({ "x-ratelimit-remaining": "0", "x-ratelimit-reset": "100" }, 40_000)).toBe(60_000)
    expect(M.throttleDelayMs({ "x-ratelimit-remaining": "10", "x-ratelimit-reset": "100" }, 0)).toBeNull()
  })
})
