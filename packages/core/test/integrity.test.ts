import { describe, expect, it } from "@effect/vitest"
import { compareIntegrity, type IntegritySnapshot, Supervisor } from "../src/index.js"
import { escapeVerdict } from "../src/Line/decide.js"

const base: IntegritySnapshot = {
  refs: new Map([["refs/heads/main", "a".repeat(40)], ["refs/heads/switchyard/SY-2", "b".repeat(40)]]),
  hooks: new Map([["pre-push", "#!/bin/sh\nexit 0\n"]]),
  config: "[core]\n\tbare = false\n",
  attributes: null,
  head: { symbolic: "refs/heads/main", commit: "a".repeat(40) },
  status: ""
}
const changed = (patch: Partial<IntegritySnapshot>): IntegritySnapshot => ({ ...base, ...patch })

describe("compareIntegrity", () => {
  it("nothing changed: no escapes, nothing noted", () => {
    expect(compareIntegrity(base, changed({}), "bwrap")).toEqual({ escapes: [], noted: [] })
  })

  it("hooks, config and attributes are escapes whatever the confinement", () => {
    const after = changed({
      hooks: new Map([["pre-push", "#!/bin/sh\nexit 0\n"], ["post-checkout", "#!/bin/sh\nevil\n"]]),
      config: "[core]\n\tbare = false\n[filter \"x\"]\n\tsmudge = evil\n",
      attributes: "* filter=x\n"
    })
    for (const kind of ["bwrap", "none"] as const) {
      expect(compareIntegrity(base, after, kind).escapes.map((e) => e.target)).toEqual(["hooks", "config", "attributes"])
    }
    expect(compareIntegrity(base, after, "none").escapes[0]!.detail).toContain("post-checkout")
  })

  it("refs, HEAD and the work tree are escapes unconfined, and only noted under bubblewrap (out of the agent's reach)", () => {
    const after = changed({
      refs: new Map([["refs/heads/main", "c".repeat(40)], ["refs/heads/switchyard/SY-2", "b".repeat(40)], ["refs/heads/x", "d".repeat(40)]]),
      head: { symbolic: "refs/heads/x", commit: "d".repeat(40) },
      status: "?? AGENT_WAS_HERE.txt\0"
    })
    const none = compareIntegrity(base, after, "none")
    expect(none.escapes.map((e) => e.target)).toEqual(["refs", "refs", "head", "worktree"])
    expect(none.noted).toEqual([])
    const bwrap = compareIntegrity(base, after, "bwrap")
    expect(bwrap.escapes).toEqual([])
    expect(bwrap.noted).toHaveLength(4)
    expect(bwrap.noted[0]).toContain("refs/heads/main moved from aaaaaaaaaa to cccccccccc")
  })

  it("the runners' own switchyard/* branches are never held against the agent", () => {
    const after = changed({
      refs: new Map([["refs/heads/main", "a".repeat(40)], ["refs/heads/switchyard/SY-2", "e".repeat(40)], ["refs/heads/switchyard/SY-3", "f".repeat(40)]])
    })
    expect(compareIntegrity(base, after, "none")).toEqual({ escapes: [], noted: [] })
  })

  it("escapeVerdict is ESCALATE sandbox_escape:<first target>, naming what changed and what was put back", () => {
    const v = escapeVerdict([{ target: "hooks", detail: ".git/hooks changed: post-checkout" }], ["removed .git/hooks/post-checkout"])
    expect(v.state).toBe("ESCALATE")
    expect(v.cause).toBe("sandbox_escape:hooks")
    expect(v.reasons.join(" ")).toContain("post-checkout")
    expect(v.reasons.join(" ")).toContain("put back: removed .git/hooks/post-checkout")
  })
})

describe("Supervisor.worktreeOwner", () => {
  it("names the issue of a sandbox, its attempt directory and its verification checkouts", () => {
    expect(Supervisor.worktreeOwner("/ws", "/ws/SY-12")).toBe("SY-12")
    expect(Supervisor.worktreeOwner("/ws", "/ws/.attempts/SY-12")).toBe("SY-12")
    expect(Supervisor.worktreeOwner("/ws", "/ws/.verify/SY-12-verify-abc")).toBe("SY-12")
    expect(Supervisor.worktreeOwner("/ws", "/ws/.other/SY-12")).toBeNull()
    expect(Supervisor.worktreeOwner("/ws", "/elsewhere/SY-12")).toBeNull()
  })
})
