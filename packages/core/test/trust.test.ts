import { describe, expect, it } from "@effect/vitest"
import { TrustConfig, WorkflowConfig } from "@switchyard/domain"
import { Schema } from "effect"
import {
  type ChangeFacts,
  classify,
  decideLanding,
  linesChangedOf,
  rungOf,
  type TrustRecord
} from "../src/Trust/policy.js"

const trust = (input: unknown) => Schema.decodeUnknownSync(TrustConfig)(input)
const pinned = { workflowPath: "WORKFLOW.md", protectedPaths: ["infra/**"] }
const facts = (over: Partial<ChangeFacts> = {}): ChangeFacts => ({
  files: ["docs/guide.md"],
  linesChanged: 4,
  labels: [],
  guards: [{ rule: "secret_in_diff", passed: true }],
  ...over
})

const policy = trust({
  promote_after: 3,
  classes: [
    { name: "docs", paths: ["docs/**", "**/*.md"], max_files: 5, max_lines: 100, guards: ["secret_in_diff"], rung: "auto_land" },
    { name: "tests-only", paths: ["**/*.test.ts"], labels: ["Tests"], rung: "auto_land", promote_after: 1 },
    { name: "anything", rung: "review" }
  ]
})

describe("trust: the WORKFLOW.md section", () => {
  it("defaults to no class, promote_after 3, and every class on review", () => {
    const cfg = Schema.decodeUnknownSync(WorkflowConfig)({})
    expect(cfg.trust.classes).toEqual([])
    expect(cfg.trust.promote_after).toBe(3)
    const cls = trust({ classes: [{ name: "docs" }] }).classes[0]!
    expect(cls).toMatchObject({ rung: "review", paths: ["**"], labels: [], max_files: null, max_lines: null, promote_after: null })
  })

  it("refuses an unknown rung, an unknown guard and a bad class name", () => {
    expect(() => trust({ classes: [{ name: "docs", rung: "yolo" }] })).toThrow()
    expect(() => trust({ classes: [{ name: "docs", guards: ["no_such_guard"] }] })).toThrow()
    expect(() => trust({ classes: [{ name: "Docs Only" }] })).toThrow()
  })
})

describe("classify", () => {
  it("puts a small docs change in the first class that matches", () => {
    const c = classify(policy, facts(), pinned)
    expect(c.className).toBe("docs")
    expect(c.pinned).toEqual([])
  })

  it("checks paths, labels, size limits and required guards, in order", () => {
    expect(classify(policy, facts({ files: ["docs/a.md", "src/a.ts"] }), pinned).className).toBe("anything")
    expect(classify(policy, facts({ files: ["docs/a.md", "b.md", "c.md", "d.md", "e.md", "f.md"] }), pinned).className)
      .toBe("anything")
    expect(classify(policy, facts({ linesChanged: 101 }), pinned).className).toBe("anything")
    expect(classify(policy, facts({ linesChanged: null }), pinned).className).toBe("anything")
    expect(classify(policy, facts({ guards: [] }), pinned).misses[0]!.why).toBe("guard secret_in_diff did not run")
    expect(classify(policy, facts({ guards: [{ rule: "secret_in_diff", passed: false }] }), pinned).className).toBe("anything")
    const test = facts({ files: ["src/a.test.ts"], guards: [] })
    expect(classify(policy, test, pinned).className).toBe("anything")
    expect(classify(policy, { ...test, labels: [" tests "] }, pinned).className).toBe("tests-only")
  })

  it("no class at all when none matches", () => {
    const only = trust({ classes: [{ name: "docs", paths: ["docs/**"] }] })
    expect(classify(only, facts({ files: ["src/x.ts"] }), pinned).className).toBeNull()
  })

  it("pins the policy file, CI config, .switchyard, lockfiles, protected paths and extras, whatever the class", () => {
    const everything = trust({ classes: [{ name: "all", rung: "auto_land" }], never_auto_land: ["secrets/**"] })
    const files = [
      "WORKFLOW.md",
      ".github/workflows/ci.yml",
      ".gitlab-ci.yml",
      ".switchyard/x",
      "pnpm-lock.yaml",
      "infra/main.tf",
      "secrets/a",
      "src/ok.ts"
    ]
    const c = classify(everything, facts({ files, guards: [] }), pinned)
    expect(c.className).toBe("all")
    expect(c.pinned).toEqual(files.slice(0, -1))
    const custom = classify(everything, facts({ files: ["config/FLOW.md"] }), { ...pinned, workflowPath: "config/FLOW.md" })
    expect(custom.pinned).toEqual(["config/FLOW.md"])
  })
})

describe("linesChangedOf", () => {
  it("counts + and - lines inside hunks, not the file headers", () => {
    const patch = [
      "diff --git a/a.md b/a.md",
      "--- a/a.md",
      "+++ b/a.md",
      "@@ -1,2 +1,2 @@",
      " same",
      "-old",
      "+new",
      "+more",
      "diff --git a/b.md b/b.md",
      "--- /dev/null",
      "+++ b/b.md",
      "@@ -0,0 +1 @@",
      "+---"
    ].join("\n")
    expect(linesChangedOf(patch, false)).toBe(4)
    expect(linesChangedOf(patch, true)).toBeNull()
  })
})

const rec = (kind: TrustRecord["kind"], className = "docs", issueId = "SY-1"): TrustRecord => ({
  kind,
  className,
  issueId,
  at: 0,
  reason: kind === "reverted" ? "revert commit abc" : ""
})

describe("rungOf: a class earns auto_land only by measured history", () => {
  const docs = policy.classes[0]!

  it("stays on review until promote_after consecutive human merges, then auto-lands", () => {
    expect(rungOf(docs, 3, []).rung).toBe("review")
    expect(rungOf(docs, 3, [rec("merged"), rec("merged")])).toMatchObject({ rung: "review", streak: 2, needed: 3 })
    expect(rungOf(docs, 3, [rec("merged"), rec("merged")]).reason).toContain("1 more human merge")
    expect(rungOf(docs, 3, [rec("merged"), rec("merged"), rec("merged")])).toMatchObject({ rung: "auto_land", streak: 3 })
  })

  it("ignores other classes' history and never counts its own landings", () => {
    const other = [rec("merged", "tests-only"), rec("merged", "tests-only"), rec("merged", "tests-only")]
    expect(rungOf(docs, 3, other).rung).toBe("review")
    expect(rungOf(docs, 3, [rec("landed"), rec("landed"), rec("landed"), rec("landed")])).toMatchObject({
      rung: "review",
      streak: 0,
      landed: 4
    })
  })

  it("a revert demotes it to review and the streak starts again", () => {
    const earned = [rec("merged"), rec("merged"), rec("merged"), rec("landed")]
    const after = rungOf(docs, 3, [...earned, rec("reverted", "docs", "SY-9")])
    expect(after).toMatchObject({ rung: "review", streak: 0, reverted: 1 })
    expect(after.demotedBy?.issueId).toBe("SY-9")
    expect(after.reason).toContain("since it was demoted (SY-9: revert commit abc)")
    expect(rungOf(docs, 3, [...earned, rec("reverted"), rec("merged"), rec("merged"), rec("merged")]).rung).toBe("auto_land")
  })

  it("a class the policy keeps on review never promotes", () => {
    const anything = policy.classes[2]!
    expect(rungOf(anything, 3, Array.from({ length: 10 }, () => rec("merged", "anything"))).rung).toBe("review")
  })

  it("uses the class's own promote_after over the default", () => {
    expect(rungOf(policy.classes[1]!, 3, [rec("merged", "tests-only")]).rung).toBe("auto_land")
  })
})

describe("decideLanding", () => {
  const docs = policy.classes[0]!
  const earned = rungOf(docs, 3, [rec("merged"), rec("merged"), rec("merged")])

  it("lands a classified change on an earned rung with fresh evidence, naming the rule", () => {
    const d = decideLanding(classify(policy, facts(), pinned), earned, null)
    expect(d).toEqual({ _tag: "Land", className: "docs", rule: "trust.classes.docs: 3 consecutive human merges without a revert (needs 3)" })
  })

  it("a stale base blocks landing", () => {
    expect(decideLanding(classify(policy, facts(), pinned), earned, "the base moved")._tag).toBe("Stale")
  })

  it("a policy-file change never auto-lands, even in an earned class", () => {
    const all = trust({ classes: [{ name: "docs", paths: ["**"], rung: "auto_land" }] })
    const c = classify(all, facts({ files: ["docs/a.md", "WORKFLOW.md"] }), pinned)
    expect(c.className).toBe("docs")
    const d = decideLanding(c, earned, null)
    expect(d._tag).toBe("Review")
    expect(d._tag === "Review" && d.reason).toContain("WORKFLOW.md")
  })

  it("a class not yet earned, or no class, waits for review", () => {
    expect(decideLanding(classify(policy, facts(), pinned), rungOf(docs, 3, []), null)._tag).toBe("Review")
    expect(decideLanding({ className: null, pinned: [], misses: [] }, null, null)._tag).toBe("Review")
  })
})
