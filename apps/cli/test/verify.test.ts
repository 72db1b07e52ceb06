import { afterEach, describe, expect, it } from "@effect/vitest"
import { CommandResult, GuardResult } from "@switchyard/domain"
import { freshNotes, staleReasons, verificationFailures, type VerifyReport } from "../src/commands/verify/report.js"
import { renderVerifyReport } from "../src/view/verify.js"
import { renameSync } from "node:fs"
import { averageRepro, fixerScript, git, join, makeRepo, readFileSync, sy, syJson, type TestRepo, writeFileSync } from "./harness.js"

const sha = (c: string) => c.repeat(40)
const fp = { tree: sha("a"), commit: sha("c"), baseCommit: sha("b"), branch: "switchyard/SY-1" }

const result = (command: string, exitCode: number | null, extra: Partial<ConstructorParameters<typeof CommandResult>[0]> = {}) =>
  new CommandResult({
    command,
    exitCode,
    signal: null,
    timedOut: false,
    environmentFailure: exitCode === null,
    durationMs: 12,
    outputHead: "",
    outputTail: "",
    ...extra
  })

describe("staleReasons", () => {
  it("is empty when the branch head, its tree and the base are those of the fingerprint", async () => {
    expect(staleReasons(fp, { head: fp.commit, tree: fp.tree, base: fp.baseCommit })).toEqual([])
  })

  it("names each part that changed", async () => {
    expect(staleReasons(fp, { head: sha("d"), tree: fp.tree, base: fp.baseCommit })).toEqual([
      "the head of switchyard/SY-1 moved from cccccccccccc to dddddddddddd"
    ])
    expect(staleReasons(fp, { head: sha("d"), tree: sha("e"), base: sha("f") })).toEqual([
      "the head of switchyard/SY-1 moved from cccccccccccc to dddddddddddd",
      "the tree of switchyard/SY-1 changed from aaaaaaaaaaaa to eeeeeeeeeeee",
      "the base moved: the repository's HEAD is ffffffffffff, the evidence was verified on bbbbbbbbbbbb"
    ])
    expect(staleReasons(fp, { head: null, tree: null, base: fp.baseCommit })).toEqual(["the branch switchyard/SY-1 no longer exists"])
  })

  it("a base that moved only in the workflow file (or not in its tree) stays fresh, with a note; any other file is stale", async () => {
    const moved = { head: fp.commit, tree: fp.tree, base: sha("f") }
    expect(staleReasons(fp, { ...moved, baseChanges: ["WORKFLOW.md"] }, "WORKFLOW.md")).toEqual([])
    expect(freshNotes(fp, { ...moved, baseChanges: ["WORKFLOW.md"] }, "WORKFLOW.md")).toEqual([
      "the base moved from bbbbbbbbbbbb to ffffffffffff, but only WORKFLOW.md changed: the code the evidence is bound to did not"
    ])
    expect(staleReasons(fp, { ...moved, baseChanges: [] }, "WORKFLOW.md")).toEqual([])
    const stale = ["the base moved: the repository's HEAD is ffffffffffff, the evidence was verified on bbbbbbbbbbbb"]
    expect(staleReasons(fp, { ...moved, baseChanges: ["WORKFLOW.md", "src/a.js"] }, "WORKFLOW.md")).toEqual(stale)
    // Another workflow file than this one, no workflow file in the repo, or changes git could not list: stale.
    expect(staleReasons(fp, { ...moved, baseChanges: ["WORKFLOW.md"] }, "ops/flow.md")).toEqual(stale)
    expect(staleReasons(fp, { ...moved, baseChanges: ["WORKFLOW.md"] }, null)).toEqual(stale)
    expect(staleReasons(fp, { ...moved, baseChanges: null }, "WORKFLOW.md")).toEqual(stale)
    expect(freshNotes(fp, { ...moved, baseChanges: ["WORKFLOW.md", "src/a.js"] }, "WORKFLOW.md")).toEqual([])
  })
})

describe("verificationFailures", () => {
  const passing: NonNullable<VerifyReport["verification"]> = {
    commit: fp.commit,
    reproductionBefore: result("repro", 1),
    reproductionAfter: result("repro", 0),
    validation: [result("node --test", 0)],
    guards: [new GuardResult({ rule: "outside_scope", passed: true, detail: "ok", lines: [] })],
    testCounts: { base: null, candidate: null }
  }

  it("passes only when the reproduction fails on the base and passes on the head, and every check passes", async () => {
    expect(verificationFailures(passing)).toEqual([])
    expect(verificationFailures({ ...passing, reproductionBefore: result("repro", 0) })).toEqual([
      "the reproduction passes on the base: `repro` exited 0"
    ])
    expect(verificationFailures({ ...passing, reproductionBefore: result("repro", null, { timedOut: true }) })).toEqual([
      "the reproduction could not run on the base: `repro` timed out"
    ])
    expect(verificationFailures({
      ...passing,
      reproductionAfter: result("repro", 1),
      validation: [result("node --test", 0), result("lint", 2)],
      guards: [new GuardResult({ rule: "secret_in_diff", passed: false, detail: "a key", lines: [] })]
    })).toEqual([
      "the reproduction fails on the candidate: `repro` exited 1",
      "validation `lint` exited 2",
      "guard secret_in_diff failed"
    ])
  })

  it("renders freshness, each check and the result as text", async () => {
    const report: VerifyReport = {
      id: "SY-1",
      attempt: 2,
      signature: "signed",
      fresh: false,
      stale: ["the head of switchyard/SY-1 moved from cccccccccccc to dddddddddddd"],
      fingerprint: fp,
      current: { head: sha("d"), tree: fp.tree, base: fp.baseCommit },
      verification: {
        ...passing,
        guards: [new GuardResult({ rule: "outside_scope", passed: false, detail: "docs/x is outside", lines: [{ file: "docs/x", line: "added" }] })]
      },
      failures: ["guard outside_scope failed"],
      passed: false
    }
    const text = renderVerifyReport(report)
    expect(text).toContain("SY-1 · evidence of attempt 2 · STALE · re-verification FAILED")
    expect(text).toContain("signature: ✓ signed by this runner's key")
    expect(renderVerifyReport({ ...report, signature: "unsigned_legacy" })).toContain("signature: ⚠ unsigned: stored before bundles were signed")
    expect(text).toContain("  stale: the head of switchyard/SY-1 moved")
    expect(text).toContain("  ✓ reproduction on the base: `repro` exited 1")
    expect(text).toContain("  ✓ validation: `node --test` exited 0")
    expect(text).toContain("  ✗ guards: 0 of 1 passed")
    expect(text).toContain("      outside_scope: docs/x is outside")
    expect(text).toContain("failed: guard outside_scope failed")
    expect(text).toContain("The evidence is stale and the change does not verify.")
  })
})

describe("switchyard verify (built CLI)", () => {
  let repos: Array<TestRepo> = []
  afterEach(() => {
    for (const r of repos) r.cleanup()
    repos = []
  })
  const repo = () => {
    const r = makeRepo()
    repos.push(r)
    return r
  }
  const workflow = (agent: string) => `agent:\n  command: ${JSON.stringify(agent)}\n  max_attempts: 1\nverify:\n  validation:\n    - node --test`

  it("refuses an issue without evidence, and one whose evidence has no fingerprint, with a clear error", async () => {
    const r = repo()
    r.writeWorkflow(workflow(r.agent("fixer.sh", fixerScript)))
    await sy(r.dir, "issue", "create", "--title", "already fine", "--repro", "true")
    const none = await sy(r.dir, "verify", "SY-1")
    expect(none.code).toBe(1)
    expect(none.stderr).toContain("SY-1 cannot be verified: it has no evidence bundle yet")
    expect((await sy(r.dir, "run", "--once")).code).toBe(0)
    expect((await syJson(r.dir, "evidence", "SY-1")).outcome).toBe("NO_OP")
    const noop = await sy(r.dir, "verify", "SY-1", "--json")
    expect(noop.code).toBe(1)
    expect(noop.stdout).toBe("")
    expect(noop.stderr).toContain("its latest evidence (attempt 1, NO_OP) has no fingerprint")
  })

  it("reports stale evidence when the base moved, and when the branch is gone", async () => {
    const r = repo()
    r.writeWorkflow(workflow(r.agent("fixer.sh", fixerScript)))
    await sy(r.dir, "issue", "create", "--title", "average([]) is NaN", "--repro", averageRepro)
    expect((await sy(r.dir, "run", "--once")).code).toBe(0)
    expect((await sy(r.dir, "verify", "SY-1")).code).toBe(0)

    writeFileSync(join(r.dir, "NOTES.md"), "the human keeps working\n")
    git(r.dir, "add", "NOTES.md")
    git(r.dir, "commit", "-q", "-m", "notes")
    const moved = await sy(r.dir, "verify", "SY-1", "--json")
    expect(moved.code).toBe(1)
    const report = JSON.parse(moved.stdout)
    expect(report.stale).toEqual([
      `the base moved: the repository's HEAD is ${git(r.dir, "rev-parse", "--short=12", "HEAD")}, the evidence was verified on ${
        report.fingerprint.baseCommit.slice(0, 12)
      }`
    ])
    // Verified against the ORIGINAL base, the change still passes.
    expect(report.passed).toBe(true)

    git(r.dir, "branch", "-D", "switchyard/SY-1")
    const gone = await sy(r.dir, "verify", "SY-1", "--json")
    expect(gone.code).toBe(1)
    const goneReport = JSON.parse(gone.stdout)
    expect(goneReport.stale).toContain("the branch switchyard/SY-1 no longer exists")
    expect(goneReport.verification).toBeNull()
    expect(goneReport.passed).toBe(false)
  })

  it("a commit that changes only WORKFLOW.md leaves the evidence fresh; a code commit after it makes it stale", async () => {
    const r = repo()
    r.writeWorkflow(workflow(r.agent("fixer.sh", fixerScript)))
    git(r.dir, "add", "WORKFLOW.md")
    git(r.dir, "commit", "-q", "-m", "workflow")
    await sy(r.dir, "issue", "create", "--title", "average([]) is NaN", "--repro", averageRepro)
    expect((await sy(r.dir, "run", "--once")).code).toBe(0)
    const verified = git(r.dir, "rev-parse", "HEAD")

    writeFileSync(join(r.dir, "WORKFLOW.md"), readFileSync(join(r.dir, "WORKFLOW.md"), "utf8").replace("max_attempts: 1", "max_attempts: 2"))
    git(r.dir, "commit", "-q", "-am", "workflow: two attempts")
    const fresh = await sy(r.dir, "verify", "SY-1", "--json")
    expect(fresh.code, fresh.stderr).toBe(0)
    const report = JSON.parse(fresh.stdout)
    expect(report).toMatchObject({ fresh: true, stale: [], passed: true })
    expect(report.notes).toEqual([
      `the base moved from ${verified.slice(0, 12)} to ${git(r.dir, "rev-parse", "--short=12", "HEAD")}, but only WORKFLOW.md changed: the code the evidence is bound to did not`
    ])
    expect((await sy(r.dir, "verify", "SY-1")).stdout).toContain("fresh: the base moved")

    writeFileSync(join(r.dir, "src/other.js"), "export const other = 1\n")
    git(r.dir, "add", "src/other.js")
    git(r.dir, "commit", "-q", "-m", "code")
    const stale = await sy(r.dir, "verify", "SY-1", "--json")
    expect(stale.code).toBe(1)
    expect(JSON.parse(stale.stdout).stale).toEqual([
      `the base moved: the repository's HEAD is ${git(r.dir, "rev-parse", "--short=12", "HEAD")}, the evidence was verified on ${verified.slice(0, 12)}`
    ])
  })

  it("with --workflow, the named file is the one whose commits keep the evidence fresh", async () => {
    const r = repo()
    r.writeWorkflow(workflow(r.agent("fixer.sh", fixerScript)))
    renameSync(join(r.dir, "WORKFLOW.md"), join(r.dir, "flow.md"))
    git(r.dir, "add", "flow.md")
    git(r.dir, "commit", "-q", "-m", "workflow")
    await sy(r.dir, "issue", "create", "--title", "average([]) is NaN", "--repro", averageRepro)
    expect((await sy(r.dir, "run", "--once", "--workflow", "flow.md")).code).toBe(0)
    writeFileSync(join(r.dir, "flow.md"), readFileSync(join(r.dir, "flow.md"), "utf8").replace("max_attempts: 1", "max_attempts: 2"))
    git(r.dir, "commit", "-q", "-am", "workflow: two attempts")
    expect((await sy(r.dir, "verify", "SY-1", "--workflow", "flow.md")).code).toBe(0)
    // Without --workflow, the default WORKFLOW.md is missing: one line, and nothing is verified.
    const missing = await sy(r.dir, "verify", "SY-1")
    expect(missing.code).toBe(1)
    expect(missing.stderr.trim().split("\n")).toHaveLength(1)
    expect(missing.stderr).toContain("missing_workflow_file")
  })
})
