import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import {
  averageRepro,
  existsSync,
  fixerScript,
  git,
  join,
  perTest,
  readFileSync,
  sy,
  syJson,
  writeFileSync
} from "./harness.js"

const { repo } = perTest()

const workflow = (agentPath: string, extra = "") => `agent:
  command: ${JSON.stringify(agentPath)}
  max_attempts: 2
  retry_base_delay_ms: 50
  max_concurrent_agents: 2
  timeout_ms: 60000
verify:
  validation:
    - node --test
polling:
  interval_ms: 200
${extra}`

describe("switchyard run (end to end, built CLI, real git and processes)", () => {
  it("a correct fix reaches PR_READY with a commit on the branch and reproduction evidence", async () => {
    const r = repo()
    r.writeWorkflow(workflow(r.agent("fixer.sh", fixerScript)))
    const id = (await sy(r.dir, "issue", "create", "--title", "average([]) is NaN", "--repro", averageRepro)).stdout.trim()
    expect(id).toBe("SY-1")
    const run = await sy(r.dir, "run", "--once")
    expect(run.code, run.stderr).toBe(0)
    expect(run.stdout).toContain("terminal.PR_READY")

    const issue = await syJson(r.dir, "issue", "show", id)
    expect(issue).toMatchObject({ id, status: "in_review", outcome: "PR_READY", attempts: 1, branch: "switchyard/SY-1" })
    const evidence = await syJson(r.dir, "evidence", id)
    expect(evidence.outcome).toBe("PR_READY")
    expect(evidence.reproduction.before.exitCode).not.toBe(0)
    expect(evidence.reproduction.after.exitCode).toBe(0)
    expect(evidence.validation.map((v: any) => [v.command, v.exitCode])).toEqual([["node --test", 0]])
    expect(evidence.diff.files).toEqual(["src/average.js", "test/average.test.js"])
    expect(evidence.agent.claim).toBe("PR_READY")

    const log = git(r.dir, "log", "-1", "--format=%B", "switchyard/SY-1")
    expect(log).toContain("Evidence: .switchyard/runs/SY-1/1/evidence.md")
    expect(git(r.dir, "show", "switchyard/SY-1:src/average.js")).toContain("xs.length === 0")
    // The human's checkout is untouched, and no worktree is left behind.
    expect(readFileSync(join(r.dir, "src/average.js"), "utf8")).not.toContain("xs.length === 0")
    expect(git(r.dir, "worktree", "list").split("\n")).toHaveLength(1)
    for (const f of ["evidence.json", "evidence.md", "diff.patch"]) {
      expect(existsSync(join(r.dir, ".switchyard/runs/SY-1/1", f)), f).toBe(true)
    }
  })

  it("after PR_READY, integration.pr_command runs once with the stored evidence.md and its URL lands in the bundle", async () => {
    const r = repo()
    const calls = join(r.tmp, "pr-calls.log")
    // pr_command is the runner's own command (not confined): it may write anywhere the runner can.
    r.writeWorkflow(workflow(
      r.agent("fixer.sh", fixerScript),
      `integration:\n  pr_command: 'test -s {{ evidence_md }} && echo {{ issue_id }} >> ${calls} && echo https://example.test/pr/{{ issue_id }}'\n`
    ))
    await sy(r.dir, "issue", "create", "--title", "average([]) is NaN", "--repro", averageRepro)
    const run = await sy(r.dir, "run", "--once")
    expect(run.code, run.stderr).toBe(0)
    expect(run.stdout).toContain("integration.done")
    const evidence = await syJson(r.dir, "evidence", "SY-1")
    expect(evidence.outcome).toBe("PR_READY")
    expect(evidence.integration).toMatchObject({ prUrl: "https://example.test/pr/SY-1", prError: null })
    expect(readFileSync(calls, "utf8").trim().split("\n")).toEqual(["SY-1"])
    expect((await sy(r.dir, "status", "--check")).code).toBe(0)
  })

  it("a reproduction that passes on the base gives NO_OP and the agent never runs", async () => {
    const r = repo()
    const marker = join(r.shared, "agent-ran")
    r.writeWorkflow(workflow(r.agent("marker.sh", `touch ${JSON.stringify(marker)}`)))
    await sy(r.dir, "issue", "create", "--title", "already fine", "--repro", "node -e \"process.exit(0)\"")
    expect((await sy(r.dir, "run", "--once")).code).toBe(0)
    expect((await syJson(r.dir, "issue", "show", "SY-1"))).toMatchObject({ status: "done", outcome: "NO_OP" })
    expect(existsSync(marker)).toBe(false)
    const evidence = await syJson(r.dir, "evidence", "SY-1")
    expect(evidence.reproduction.before.exitCode).toBe(0)
    expect(evidence.agent).toBeNull()
    expect(evidence.summary).toContain("already fixed?")
  })

  it("an agent that claims success but changed nothing does not reach PR_READY", async () => {
    const r = repo()
    r.writeWorkflow(workflow(r.agent("liar.sh", `echo '{"claim":"PR_READY","summary":"fixed it"}' > "$SWITCHYARD_RESULT_FILE"`)))
    await sy(r.dir, "issue", "create", "--title", "average([]) is NaN", "--repro", averageRepro)
    await sy(r.dir, "run", "--once")
    const issue = await syJson(r.dir, "issue", "show", "SY-1")
    expect(issue.outcome).toBe("ESCALATE")
    expect(issue.status).toBe("blocked")
    expect((await syJson(r.dir, "evidence", "SY-1")).verdict.cause).toBe("claimed_change_without_diff")
    expect(issue.comments.at(-1).body).toContain("claimed a change, but changed nothing")
  })

  it("a crashing agent is retried with backoff, then escalated", async () => {
    const r = repo()
    const count = join(r.shared, "runs")
    r.writeWorkflow(workflow(r.agent("crash.sh", `echo run >> ${JSON.stringify(count)}; echo boom >&2; exit 3`)))
    await sy(r.dir, "issue", "create", "--title", "crashes", "--repro", averageRepro)
    expect((await sy(r.dir, "run", "--once")).code).toBe(0)
    expect(readFileSync(count, "utf8").trim().split("\n")).toHaveLength(2)
    const issue = await syJson(r.dir, "issue", "show", "SY-1")
    expect(issue).toMatchObject({ status: "blocked", outcome: "ESCALATE", attempts: 2 })
    expect((await syJson(r.dir, "evidence", "SY-1", "--attempt", "1")).outcome).toBe("RETRYABLE_FAILURE")
    const last = await syJson(r.dir, "evidence", "SY-1")
    expect(last.verdict.cause).toBe("retries_exhausted")
    expect(last.agent.outputTail).toContain("boom")
  })

  it("a verifier rejection gets a revision turn with the failure summary, and a good revision reaches PR_READY", async () => {
    const r = repo()
    const feedbackFile = join(r.shared, "feedback.txt")
    // First turn: a "fix" that breaks the existing test. Revision turn: read the feedback, fix properly.
    const script = `if [ -z "$SWITCHYARD_REVISION" ]; then
  echo 'export const average = (xs) => 0' > src/average.js
  echo '{"claim":"PR_READY","summary":"always 0"}' > "$SWITCHYARD_RESULT_FILE"
else
  printf '%s' "$SWITCHYARD_FEEDBACK" > ${JSON.stringify(feedbackFile)}
  echo 'export const average = (xs) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length)' > src/average.js
  echo '{"claim":"PR_READY","summary":"guarded"}' > "$SWITCHYARD_RESULT_FILE"
fi`
    r.writeWorkflow(workflow(r.agent("reviser.sh", script)))
    await sy(r.dir, "issue", "create", "--title", "average([]) is NaN", "--repro", averageRepro)
    const run = await sy(r.dir, "run", "--once")
    expect(run.stdout).toContain("agent.revision")
    const evidence = await syJson(r.dir, "evidence", "SY-1")
    expect(evidence.outcome).toBe("PR_READY")
    expect(evidence.revisions).toHaveLength(1)
    expect(evidence.revisions[0].cause).toBe("validation_failed")
    const feedback = readFileSync(feedbackFile, "utf8")
    expect(feedback).toContain("`node --test` exited 1")
    expect(feedback).toBe(evidence.revisions[0].feedback)
    expect((await syJson(r.dir, "issue", "show", "SY-1"))).toMatchObject({ attempts: 1, outcome: "PR_READY" })
  })

  it("a blocked issue waits for its blocker", async () => {
    const r = repo()
    // Symphony's blocker-ref fields in the prompt, with the blocker's state read from the tracker at dispatch.
    r.writeWorkflow(
      workflow(r.agent("fixer.sh", fixerScript)),
      "Fix {{ issue.id }}.{% for b in issue.blocked_by %} After {{ b.identifier }} ({{ b.state }}).{% endfor %}\n"
    )
    await sy(r.dir, "issue", "create", "--title", "first", "--repro", averageRepro)
    await sy(r.dir, "issue", "create", "--title", "second", "--blocked-by", "SY-1", "--repro", averageRepro)
    await sy(r.dir, "run", "--once")
    expect((await syJson(r.dir, "issue", "show", "SY-1")).outcome).toBe("PR_READY")
    expect((await syJson(r.dir, "issue", "show", "SY-2"))).toMatchObject({ status: "todo", attempts: 0 })
    expect((await sy(r.dir, "issue", "update", "SY-1", "--status", "done")).code).toBe(0)
    await sy(r.dir, "run", "--once")
    expect((await syJson(r.dir, "issue", "show", "SY-2"))).toMatchObject({ attempts: 1, outcome: "PR_READY" })
    expect(readFileSync(join(r.dir, ".switchyard/runs/SY-2/1/prompt.md"), "utf8")).toContain("Fix SY-2. After SY-1 (done).")
  })

  it("dispatches by priority with a concurrency of 1", async () => {
    const r = repo()
    const order = join(r.shared, "order")
    r.writeWorkflow(workflow(r.agent("log.sh", `echo "$SWITCHYARD_ISSUE_ID" >> ${JSON.stringify(order)}; echo '{"claim":"NO_OP","summary":"nothing"}' > "$SWITCHYARD_RESULT_FILE"`)))
    await sy(r.dir, "issue", "create", "--title", "low", "--priority", "low")
    await sy(r.dir, "issue", "create", "--title", "critical", "--priority", "critical")
    await sy(r.dir, "issue", "create", "--title", "high", "--priority", "high")
    await sy(r.dir, "issue", "create", "--title", "high too", "--priority", "high")
    expect((await sy(r.dir, "run", "--once", "--concurrency", "1")).code).toBe(0)
    expect(readFileSync(order, "utf8").trim().split("\n")).toEqual(["SY-2", "SY-3", "SY-4", "SY-1"])
    for (const id of ["SY-1", "SY-2", "SY-3", "SY-4"]) expect((await syJson(r.dir, "issue", "show", id)).outcome).toBe("NO_OP")
  })
})

describe("bad input gets a clear error and nothing is lost", () => {
  it("refuses to run outside a git repo", async () => {
    const r = repo()
    const outside = join(r.tmp, "agents")
    for (const args of [["init"], ["issue", "list"], ["status"]]) {
      const res = await sy(outside, ...args)
      expect(res.code).not.toBe(0)
      expect(res.stderr).toContain("is not inside a git repository")
    }
  })

  it("an empty or oversized title is refused in one line that names the option, and nothing is written", async () => {
    const r = repo()
    const refused = async (args: Array<string>, line: string) => {
      const res = await sy(r.dir, ...args)
      expect(res.code).toBe(1)
      expect(res.stderr).toBe(`switchyard: ${line}\n`)
    }
    await refused(["issue", "create", "--title", ""], "--title: the title is empty")
    await refused(
      ["issue", "create", "--title", "é".repeat(600)],
      "--title: the title is 1200 bytes (UTF-8), over the limit of 1024 bytes (1 KiB); shorten it"
    )
    expect(await syJson(r.dir, "issue", "list")).toEqual([])
    await sy(r.dir, "issue", "create", "--title", "one")
    await refused(["issue", "update", "SY-1", "--title", " "], "--title: the title is empty")
    await refused(["issue", "create", "--title", "two", "--blocked-by", "sy-1"], "--blocked-by: an issue id is a short upper-case prefix, a dash and a number, e.g. SY-12")
    expect((await syJson(r.dir, "issue", "list")).map((i: { title: string }) => i.title)).toEqual(["one"])
  })

  it("an issue written past the size limits by hand runs cut, and each bundle holds the body once", async () => {
    const r = repo()
    const sizes = join(r.shared, "sizes")
    const agent = r.agent(
      "noop.sh",
      `wc -c < "$SWITCHYARD_PROMPT_FILE" >> ${JSON.stringify(sizes)}\necho '{"claim":"NO_OP","summary":"nothing to do"}' > "$SWITCHYARD_RESULT_FILE"`
    )
    r.writeWorkflow(workflow(agent), "{{ issue.title }}\n\n{{ issue.body }}\n")
    await sy(r.dir, "issue", "create", "--title", "huge")
    await sy(r.dir, "issue", "create", "--title", "normal", "--body", "a normal body")
    const db = new Database(join(r.dir, ".switchyard/switchyard.db"))
    db.prepare("UPDATE issues SET title = ?, body = ? WHERE id = 'SY-1'").run("T".repeat(120 * 1024), "B".repeat(10 * 1024 * 1024))
    db.close()
    const run = await sy(r.dir, "run", "--once")
    expect(run.code, run.stderr).toBe(0)
    // The agent got a prompt of at most title + body limits, not 10 MB.
    const promptBytes = readFileSync(sizes, "utf8").trim().split("\n").map(Number)
    expect(Math.max(...promptBytes)).toBeLessThan(1024 + 256 * 1024 + 16)
    const runDir = join(r.dir, ".switchyard/runs/SY-1/1")
    const stored = readFileSync(join(runDir, "evidence.json"), "utf8")
    expect(stored.length).toBeLessThan(300 * 1024)
    expect(stored.split("[… cut by Switchyard: the body is 10485760 bytes").length).toBe(2)
    expect(readFileSync(join(runDir, "task.json"), "utf8").length).toBeLessThan(300 * 1024)
    const huge = await syJson(r.dir, "evidence", "SY-1")
    expect(huge.outcome).toBe("NO_OP")
    expect(huge.task.title).toContain("[… cut by Switchyard: the title is 122880 bytes]")
    expect(huge.task.body).toBe(huge.task.packet.intent)
    // A normal issue: evidence.json has the body once, `evidence --json` shows it as it always did.
    const normalFile = JSON.parse(readFileSync(join(r.dir, ".switchyard/runs/SY-2/1/evidence.json"), "utf8"))
    expect(Object.keys(normalFile.task)).toEqual(["title", "packet"])
    const normal = await syJson(r.dir, "evidence", "SY-2")
    expect(Object.keys(normal.task)).toEqual(["title", "body", "packet"])
    expect(normal.task.body).toBe("a normal body")
    expect(normal.task.packet.intent).toBe("a normal body")
  })

  it("unknown and path-traversal ids are refused with a message", async () => {
    const r = repo()
    await sy(r.dir, "issue", "create", "--title", "one")
    const unknown = await sy(r.dir, "issue", "show", "SY-99")
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toContain("no issue SY-99")
    const traversal = await sy(r.dir, "evidence", "../../etc/passwd")
    expect(traversal.code).toBe(1)
    expect(traversal.stderr).toContain("is not an issue id")
    expect((await syJson(r.dir, "issue", "list"))).toHaveLength(1)
  })

  it("a malformed WORKFLOW.md names the file, the key and the reason, and the tracker is untouched", async () => {
    const r = repo()
    r.writeWorkflow("agent:\n  max_attempts: -1\n  command: x")
    await sy(r.dir, "issue", "create", "--title", "one")
    const res = await sy(r.dir, "run", "--once")
    expect(res.code).toBe(1)
    expect(res.stderr).toContain("WORKFLOW.md (agent.max_attempts)")
    expect(res.stderr).toContain("positive")
    expect((await syJson(r.dir, "issue", "show", "SY-1"))).toMatchObject({ status: "todo", attempts: 0 })
  })

  it("a dirty base is refused before anything is claimed", async () => {
    const r = repo()
    r.writeWorkflow(workflow(r.agent("fixer.sh", fixerScript)))
    await sy(r.dir, "issue", "create", "--title", "one", "--repro", averageRepro)
    writeFileSync(join(r.dir, "src/average.js"), "// uncommitted\n")
    const res = await sy(r.dir, "run", "--once")
    expect(res.code).toBe(1)
    expect(res.stderr).toContain("the base is dirty")
    expect(res.stderr).toContain("src/average.js")
    expect((await syJson(r.dir, "issue", "show", "SY-1"))).toMatchObject({ status: "todo", attempts: 0 })
  })

  it("init is idempotent and keeps an existing WORKFLOW.md", async () => {
    const r = repo()
    const first = await sy(r.dir, "init")
    expect(first.code, first.stderr).toBe(0)
    expect(first.stdout).toContain("wrote")
    const edited = readFileSync(join(r.dir, "WORKFLOW.md"), "utf8") + "\n<!-- mine -->\n"
    writeFileSync(join(r.dir, "WORKFLOW.md"), edited)
    const second = await sy(r.dir, "init")
    expect(second.code).toBe(0)
    expect(second.stdout).toContain("kept existing")
    expect(readFileSync(join(r.dir, "WORKFLOW.md"), "utf8")).toBe(edited)
    // .switchyard/ ignores itself, so init never dirties the base.
    expect(git(r.dir, "status", "--porcelain", "--untracked-files=no")).toBe("")
  })

  it("the first command to touch a repo without init leaves no untracked files behind", async () => {
    const r = repo()
    expect(git(r.dir, "status", "--porcelain")).toBe("")
    expect((await sy(r.dir, "status")).code).toBe(0)
    expect((await sy(r.dir, "issue", "create", "--title", "filed before init")).code).toBe(0)
    expect(readFileSync(join(r.dir, ".switchyard/.gitignore"), "utf8")).toBe("*\n")
    expect(git(r.dir, "status", "--porcelain")).toBe("")
  })
})
