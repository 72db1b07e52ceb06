/**
 * The trust ladder end to end (docs/trust.md), driving the built CLI in real git repos: a class earns auto_land only
 * after the required human merges, a landed change that is reverted demotes its class, a stale base blocks landing
 * until the change verifies on the current base, and a policy-file change never auto-lands.
 */
import { afterEach, describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { existsSync } from "node:fs"
import { spawn } from "node:child_process"
import { bin, exited, git, join, makeRepo, readFileSync, sy, syJson, type TestRepo, until, writeFileSync } from "./harness.js"

/** Adds `src/<issue id>.js` (and, for issue `policyId`, a line to WORKFLOW.md), then claims PR_READY. */
const agentScript = (policyId: string) => `set -e
echo "export const id = '$SWITCHYARD_ISSUE_ID'" > "src/$SWITCHYARD_ISSUE_ID.js"
if [ "$SWITCHYARD_ISSUE_ID" = "${policyId}" ]; then printf '%s\\n' '<!-- policy edit -->' >> WORKFLOW.md; fi
echo '{"claim":"PR_READY","summary":"add the file"}' > "$SWITCHYARD_RESULT_FILE"`

const trustBlock = (promoteAfter: number) =>
  `trust:\n  classes:\n    - name: small\n      paths: ["src/**", "test/**", "WORKFLOW.md"]\n      max_files: 3\n      rung: auto_land\n      promote_after: ${promoteAfter}`

describe("switchyard trust / land (built CLI)", () => {
  let repos: Array<TestRepo> = []
  afterEach(() => {
    for (const r of repos) r.cleanup()
    repos = []
  })
  const setup = (promoteAfter: number, policyId = "none", push = false) => {
    const r = makeRepo()
    repos.push(r)
    if (push) {
      git(r.tmp, "init", "-q", "--bare", "remote.git")
      git(r.dir, "remote", "add", "origin", join(r.tmp, "remote.git"))
    }
    r.writeWorkflow(
      `agent:\n  command: ${JSON.stringify(r.agent("adder.sh", agentScript(policyId)))}\n  max_attempts: 1\n  max_revisions: 0\nverify:\n  validation:\n    - node --test\n${trustBlock(promoteAfter)}${push ? "\nintegration:\n  push: true" : ""}`
    )
    git(r.dir, "add", "WORKFLOW.md")
    git(r.dir, "commit", "-q", "-m", "workflow")
    return r
  }
  const issue = async (r: TestRepo, n: number, ...extra: Array<string>) => {
    const created = await sy(r.dir, "issue", "create", "--title", `add file ${n}`, "--repro", `test -f src/SY-${n}.js`, ...extra)
    expect(created.code).toBe(0)
    expect((await sy(r.dir, "run", "--once")).code).toBe(0)
    expect((await syJson(r.dir, "evidence", `SY-${n}`)).outcome).toBe("PR_READY")
  }
  /** The issue's event types, in order, read from the event log. */
  const events = (r: TestRepo, id: string): Array<string> => {
    const db = new Database(join(r.dir, ".switchyard/switchyard.db"), { readonly: true })
    const rows = db.prepare("SELECT type FROM events WHERE issue_id = ? ORDER BY seq").all(id) as Array<{ type: string }>
    db.close()
    return rows.map((row) => row.type)
  }

  it("a class earns auto_land after the required human merges, lands (and pushes), and a revert demotes it", async () => {
    const r = setup(1, "none", true)
    await issue(r, 1)
    const before = await syJson(r.dir, "land")
    expect(before.classes[0]).toMatchObject({ className: "small", rung: "review", streak: 0, needed: 1 })
    expect(before.changes).toMatchObject([{ issueId: "SY-1", decision: "review", className: "small" }])
    expect(git(r.dir, "rev-parse", "HEAD")).not.toBe(git(r.dir, "rev-parse", "switchyard/SY-1"))

    // A human merges SY-1: that is the history the class needed.
    git(r.dir, "merge", "--ff-only", "-q", "switchyard/SY-1")
    const earned = await syJson(r.dir, "trust")
    expect(earned.changes).toEqual([])
    expect(earned.merged).toMatchObject([{ issueId: "SY-1", className: "small" }])
    expect(earned.classes[0]).toMatchObject({ rung: "auto_land", streak: 1, merged: 1 })
    expect(await syJson(r.dir, "issue", "show", "SY-1")).toMatchObject({ status: "done" })
    // Recorded once: a second look records nothing new.
    expect((await syJson(r.dir, "trust")).merged).toEqual([])

    await issue(r, 2)
    const merged = git(r.dir, "rev-parse", "HEAD")
    const ready = await syJson(r.dir, "trust")
    expect(ready.changes).toMatchObject([{ issueId: "SY-2", decision: "ready", rule: expect.stringContaining("trust.classes.small") }])
    expect(git(r.dir, "rev-parse", "HEAD")).toBe(merged)

    // Evidence edited behind the signer's back never lands.
    const db = new Database(join(r.dir, ".switchyard/switchyard.db"))
    const original = (db.prepare("SELECT bundle FROM evidence WHERE issue_id = 'SY-2'").get() as { bundle: string }).bundle
    const forged = JSON.parse(original)
    forged.summary = "trust me"
    db.prepare("UPDATE evidence SET bundle = ? WHERE issue_id = 'SY-2'").run(JSON.stringify(forged))
    const refused = await syJson(r.dir, "land")
    expect(refused.changes).toMatchObject([{ issueId: "SY-2", decision: "blocked" }])
    expect(refused.changes[0].reason).toContain("its evidence cannot be trusted")
    expect(git(r.dir, "rev-parse", "HEAD")).toBe(merged)
    db.prepare("UPDATE evidence SET bundle = ? WHERE issue_id = 'SY-2'").run(original)
    db.close()

    const landed = await syJson(r.dir, "land")
    expect(landed.changes).toMatchObject([{ issueId: "SY-2", decision: "landed", className: "small", rule: expect.stringContaining("trust.classes.small") }])
    const commit = (await syJson(r.dir, "evidence", "SY-2")).fingerprint.commit
    expect(git(r.dir, "rev-parse", "HEAD")).toBe(commit)
    expect(landed.changes[0].reason).toContain("pushed to origin")
    expect(git(join(r.tmp, "remote.git"), "rev-parse", "refs/heads/main")).toBe(commit)
    expect(existsSync(join(r.dir, "src/SY-2.js"))).toBe(true)
    const record = JSON.parse(readFileSync(join(r.dir, ".switchyard/runs/SY-2/1/landed.json"), "utf8"))
    expect(record).toMatchObject({ issueId: "SY-2", className: "small", landedBy: "switchyard", commit })
    expect(await syJson(r.dir, "issue", "show", "SY-2")).toMatchObject({ status: "done" })
    expect(events(r, "SY-2")).toContain("trust.landed")
    const shown = await sy(r.dir, "trust")
    expect(shown.stdout).toContain("class small: auto_land (policy auto_land) · merged 1, landed 1, reverted 0")

    // A human reverts the landed change: the class is demoted to review.
    git(r.dir, "revert", "--no-edit", "HEAD")
    const demoted = await syJson(r.dir, "trust")
    expect(demoted.reverted).toMatchObject([{ issueId: "SY-2", className: "small" }])
    expect(demoted.reverted[0].reason).toContain(`reverts ${commit.slice(0, 10)}`)
    expect(demoted.classes[0]).toMatchObject({ rung: "review", streak: 0, reverted: 1 })
    expect(demoted.classes[0].reason).toContain("since it was demoted (SY-2")

    const reverted = git(r.dir, "rev-parse", "HEAD")
    await issue(r, 3)
    const after = await syJson(r.dir, "land")
    expect(after.changes).toMatchObject([{ issueId: "SY-3", decision: "review" }])
    expect(git(r.dir, "rev-parse", "HEAD")).toBe(reverted)
  }, 180_000)

  it("a stale base blocks landing until the change verifies on it; a policy-file change never auto-lands", async () => {
    const r = setup(1, "SY-3")
    await issue(r, 1)
    git(r.dir, "merge", "--ff-only", "-q", "switchyard/SY-1")
    await issue(r, 2)

    // The base moves under SY-2 with a test that fails once SY-2's file exists.
    writeFileSync(
      join(r.dir, "test/guard.test.js"),
      `import { test } from "node:test"\nimport assert from "node:assert/strict"\nimport Database from "better-sqlite3"
import { existsSync } from "node:fs"\ntest("no SY-2", () => assert.equal(existsSync("src/SY-2.js"), false))\n`
    )
    git(r.dir, "add", "test/guard.test.js")
    git(r.dir, "commit", "-q", "-m", "a human's test")
    const moved = git(r.dir, "rev-parse", "HEAD")
    const blocked = await syJson(r.dir, "land")
    expect(blocked.changes).toMatchObject([{ issueId: "SY-2", decision: "blocked" }])
    expect(blocked.changes[0].reason).toContain("the base moved")
    expect(blocked.changes[0].reason).toContain("fails on the current base")
    expect(git(r.dir, "rev-parse", "HEAD")).toBe(moved)

    // The human drops the test: the change verifies on the new base and lands as a merge onto it.
    git(r.dir, "rm", "-q", "test/guard.test.js")
    git(r.dir, "commit", "-q", "-m", "drop it")
    const base = git(r.dir, "rev-parse", "HEAD")
    const landed = await syJson(r.dir, "land")
    expect(landed.changes).toMatchObject([{ issueId: "SY-2", decision: "landed" }])
    expect(git(r.dir, "rev-parse", "HEAD^1")).toBe(base)
    expect(git(r.dir, "rev-parse", "HEAD^2")).toBe((await syJson(r.dir, "evidence", "SY-2")).fingerprint.commit)
    const types = events(r, "SY-2")
    expect(types).toContain("trust.blocked")
    expect(types.indexOf("trust.reverified")).toBeGreaterThan(types.indexOf("trust.blocked"))
    expect(types.indexOf("trust.landed")).toBeGreaterThan(types.indexOf("trust.reverified"))

    // SY-3 edits WORKFLOW.md (allowed for this issue, so it is PR_READY): in the class, on an earned rung, fresh,
    // and still it waits for a human.
    const head = git(r.dir, "rev-parse", "HEAD")
    await issue(r, 3, "--label", "allow:path:WORKFLOW.md")
    const policy = await syJson(r.dir, "land")
    expect(policy.classes[0].rung).toBe("auto_land")
    expect(policy.changes).toMatchObject([{ issueId: "SY-3", decision: "review", className: "small" }])
    expect(policy.changes[0].reason).toContain("WORKFLOW.md never auto-land")
    expect(git(r.dir, "rev-parse", "HEAD")).toBe(head)

    // Reopening a landed issue counts as a revert: the class is demoted.
    expect((await sy(r.dir, "issue", "update", "SY-2", "--status", "todo")).code).toBe(0)
    const reopened = await syJson(r.dir, "trust")
    expect(reopened.reverted).toMatchObject([{ issueId: "SY-2", className: "small", reason: "the issue was reopened (todo)" }])
    expect(reopened.classes[0]).toMatchObject({ rung: "review", streak: 0, reverted: 1 })
    expect((await syJson(r.dir, "trust")).reverted).toEqual([])
  }, 180_000)

  it("a running line lands what has earned auto_land by itself, every poll interval, without `switchyard land`", async () => {
    const r = setup(1)
    await issue(r, 1)
    git(r.dir, "merge", "--ff-only", "-q", "switchyard/SY-1")
    expect((await syJson(r.dir, "trust")).classes[0]).toMatchObject({ rung: "auto_land" })
    writeFileSync(join(r.dir, "WORKFLOW.md"), readFileSync(join(r.dir, "WORKFLOW.md"), "utf8").replace("---\n", "---\npolling:\n  interval_ms: 200\n"))
    git(r.dir, "commit", "-q", "-am", "poll fast")
    expect((await sy(r.dir, "issue", "create", "--title", "add file 2", "--repro", "test -f src/SY-2.js")).code).toBe(0)
    const line = spawn(process.execPath, [bin, "run"], { cwd: r.dir, env: { ...process.env, SWITCHYARD_LOG: "warning" } })
    let output = ""
    line.stdout.setEncoding("utf8").on("data", (c: string) => (output += c))
    line.stderr.setEncoding("utf8").on("data", (c: string) => (output += c))
    try {
      // Landed by the line, not by a command: the record next to its evidence is written last.
      await until(() => existsSync(join(r.dir, ".switchyard/runs/SY-2/1/landed.json")), 120_000, `SY-2 to land\n${output}`)
    } finally {
      line.kill("SIGTERM")
      await exited(line)
    }
    // The fast-forward brought SY-2's file into the work tree.
    expect(git(r.dir, "rev-parse", "HEAD")).toBe(git(r.dir, "rev-parse", "switchyard/SY-2"))
    expect(existsSync(join(r.dir, "src/SY-2.js"))).toBe(true)
    expect(events(r, "SY-2")).toContain("trust.landed")
    expect(JSON.parse(readFileSync(join(r.dir, ".switchyard/runs/SY-2/1/landed.json"), "utf8"))).toMatchObject({
      issueId: "SY-2",
      className: "small",
      landedBy: "switchyard"
    })
    expect(await syJson(r.dir, "issue", "show", "SY-2")).toMatchObject({ status: "done" })
  }, 240_000)
})

