/**
 * Workspace continuity (issue 12 item 7, Symphony SPEC §9.1): one sandbox per issue across its attempts
 * (`after_create` once), kept while the issue is paused (backlog, blocked, in_review) so its work resumes, and
 * removed, `before_remove` first, once the issue is done or cancelled. Driven through the built CLI.
 */
import Database from "better-sqlite3"
import { describe, expect, it } from "@effect/vitest"
import { readdirSync } from "node:fs"
import { averageRepro, existsSync, exited, git, join, perTest, readFileSync, sy, syJson, type TestRepo, until } from "./harness.js"

const { repo, start } = perTest()

const config = (r: TestRepo, agent: string) => `agent:
  command: ${JSON.stringify(agent)}
  max_attempts: 3
  retry_base_delay_ms: 50
polling:
  interval_ms: 200
hooks:
  after_create: 'echo "$SWITCHYARD_ISSUE_ID" >> ${join(r.shared, "created.log")}'
  before_remove: 'echo "$SWITCHYARD_WORKSPACE" >> ${join(r.shared, "removed.log")}'
`

const sandboxes = (r: TestRepo) => existsSync(r.worktrees) ? readdirSync(r.worktrees).filter((n) => !n.startsWith(".")) : []
const events = (r: TestRepo, type: string) => {
  const db = new Database(join(r.dir, ".switchyard/switchyard.db"), { readonly: true })
  const rows = db.prepare("SELECT message FROM events WHERE type = ? ORDER BY seq").all(type) as Array<{ message: string }>
  db.close()
  return rows.map((row) => row.message)
}
const linesOf = (file: string) => existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean) : []

/** Attempt 1 leaves notes and crashes; a later attempt finishes the fix only if it finds its notes. */
const resumingFixer = `set -e
if [ ! -f NOTES.md ]; then echo "step 1 done" > NOTES.md; echo "crashing after step 1" >&2; exit 1; fi
rm NOTES.md
cat > src/average.js <<'JS'
export const average = (xs) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length)
JS
echo '{"claim":"PR_READY","summary":"finished from my notes"}' > "$SWITCHYARD_RESULT_FILE"`

describe("workspace continuity", () => {
  it("a retry takes up the issue's sandbox (after_create once, the work in progress there); done removes it after before_remove", async () => {
    const r = repo()
    r.writeWorkflow(config(r, r.agent("resume.sh", resumingFixer)))
    git(r.dir, "add", "WORKFLOW.md")
    git(r.dir, "commit", "-q", "-m", "workflow")
    await sy(r.dir, "issue", "create", "--title", "average([]) is NaN", "--repro", averageRepro)
    const run = await sy(r.dir, "run", "--once")
    expect(run.code, run.stderr).toBe(0)

    const issue = await syJson(r.dir, "issue", "show", "SY-1")
    expect(issue).toMatchObject({ status: "in_review", outcome: "PR_READY", attempts: 2 })
    expect(linesOf(join(r.shared, "created.log"))).toEqual(["SY-1"])
    expect(events(r, "sandbox.reused")).toEqual([expect.stringContaining("kept from attempt 1")])
    // in_review is a pause: the sandbox stays for a revision a reviewer may ask for.
    expect(sandboxes(r)).toEqual(["SY-1"])

    expect((await sy(r.dir, "issue", "update", "SY-1", "--status", "done")).code).toBe(0)
    const sweep = await sy(r.dir, "run", "--once")
    expect(sweep.code, sweep.stderr).toBe(0)
    expect(sandboxes(r)).toEqual([])
    expect(linesOf(join(r.shared, "removed.log"))).toEqual([join(r.worktrees, "SY-1")])
    expect(events(r, "reconcile.sandbox_removed")).toEqual(["removed the sandbox of SY-1: it is done"])
    // The PR_READY branch is the human's: removing the sandbox leaves it.
    expect(git(r.dir, "branch", "--list", "switchyard/SY-1", "--format=%(refname:short)")).toBe("switchyard/SY-1")
  })

  it("an issue paused mid-run keeps its sandbox and resumes in it; a cancelled one loses it", async () => {
    const r = repo()
    const started = join(r.shared, "started")
    // Attempt 1 leaves notes and hangs until it is paused; the resumed attempt finishes from its notes.
    r.writeWorkflow(config(r, r.agent("pausable.sh", `if [ ! -f NOTES.md ]; then echo "halfway" > NOTES.md; touch ${started}; sleep 300; fi
${resumingFixer}`)))
    git(r.dir, "add", "WORKFLOW.md")
    git(r.dir, "commit", "-q", "-m", "workflow")
    await sy(r.dir, "issue", "create", "--title", "average([]) is NaN", "--repro", averageRepro)
    await sy(r.dir, "issue", "create", "--title", "to be cancelled", "--repro", averageRepro)
    const runner = start(r.dir, "run", "--concurrency", "2")
    await until(() => existsSync(started) && sandboxes(r).length === 2, 20_000, "both agents to start")
    expect((await sy(r.dir, "issue", "update", "SY-1", "--status", "backlog")).code).toBe(0)
    expect((await sy(r.dir, "issue", "update", "SY-2", "--status", "cancelled")).code).toBe(0)
    await until(() => events(r, "attempt.interrupted").length === 2, 10_000, "both workers to be interrupted")
    await until(() => sandboxes(r).length === 1, 10_000, "the cancelled issue's sandbox to go")
    runner.child.kill("SIGTERM")
    expect((await exited(runner.child)).code).toBe(143)

    expect(sandboxes(r)).toEqual(["SY-1"])
    expect(readFileSync(join(r.worktrees, "SY-1", "NOTES.md"), "utf8")).toBe("halfway\n")
    expect(events(r, "sandbox.kept")).toEqual([expect.stringContaining("canceled_by_reconciliation")])
    expect((await syJson(r.dir, "issue", "show", "SY-1"))).toMatchObject({ status: "backlog", counted_attempts: 0 })

    // Resumed by a human: the next attempt works in the same sandbox, from its notes.
    expect((await sy(r.dir, "issue", "update", "SY-1", "--status", "todo")).code).toBe(0)
    const resumed = await sy(r.dir, "run", "--once")
    expect(resumed.code, resumed.stderr).toBe(0)
    expect(await syJson(r.dir, "issue", "show", "SY-1")).toMatchObject({ status: "in_review", outcome: "PR_READY" })
    expect(linesOf(join(r.shared, "created.log")).sort()).toEqual(["SY-1", "SY-2"])
    expect(events(r, "sandbox.reused")).toHaveLength(1)
  })
})
