/**
 * WORKFLOW.md edits never break work, and `run` refuses a workflow that cannot work (issue 12, items 6 and 8):
 * the built CLI in temp git repos, with a long-running `run` child for the edits made while it runs.
 */
import { describe, expect, it } from "@effect/vitest"
import { mkdirSync, readdirSync, renameSync } from "node:fs"
import {
  existsSync,
  exited,
  git,
  join,
  lines,
  perTest,
  readFileSync,
  sy,
  syChild,
  syJson,
  type TestRepo,
  until,
  writeFileSync
} from "./harness.js"

const { repo } = perTest()

/** Replaces `file` with `text` in one step (a temporary sibling renamed over it), as an editor's atomic save does. */
const replaceWhole = (file: string, text: string) => {
  writeFileSync(`${file}.tmp`, text)
  renameSync(`${file}.tmp`, file)
}

/** An agent that logs `<tag> <issue>` to the shared log, optionally waits for `<shared>/go`, and claims NO_OP. */
const tagged = (r: TestRepo, tag: string, wait = false) =>
  r.agent(
    `${tag}.sh`,
    `echo "${tag} $SWITCHYARD_ISSUE_ID" >> ${JSON.stringify(join(r.shared, "log"))}
${wait ? `i=0; while [ ! -e ${JSON.stringify(join(r.shared, "go"))} ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done` : ""}
echo '{"claim":"NO_OP","summary":"nothing to change"}' > "$SWITCHYARD_RESULT_FILE"`
  )

const workflow = (agent: string, extra = "") => `agent:
  command: ${JSON.stringify(agent)}
  max_attempts: 1
  max_concurrent_agents: 1
polling:
  interval_ms: 200
${extra}`

const log = (r: TestRepo) => (existsSync(join(r.shared, "log")) ? readFileSync(join(r.shared, "log"), "utf8") : "")
const commitWorkflow = (r: TestRepo, message = "workflow") => {
  git(r.dir, "add", "WORKFLOW.md")
  git(r.dir, "commit", "-q", "-m", message)
}
const stop = async (child: ReturnType<typeof syChild>) => {
  const done = exited(child)
  child.kill("SIGTERM")
  return done
}

describe("WORKFLOW.md edits never break work", () => {
  it("an uncommitted edit to a committed WORKFLOW.md does not block run; another dirty file still does", async () => {
    const r = repo()
    r.writeWorkflow(workflow(tagged(r, "v1")))
    commitWorkflow(r)
    r.writeWorkflow(workflow(tagged(r, "v2")))
    expect(git(r.dir, "status", "--porcelain")).toContain("WORKFLOW.md")
    await sy(r.dir, "issue", "create", "--title", "one")
    const run = await sy(r.dir, "run", "--once")
    expect(run.code, run.stderr).toBe(0)
    // The edit is the config of this run.
    expect(log(r)).toBe("v2 SY-1\n")
    expect(await syJson(r.dir, "issue", "show", "SY-1")).toMatchObject({ outcome: "NO_OP", attempts: 1 })

    writeFileSync(join(r.dir, "src/average.js"), "// uncommitted\n")
    await sy(r.dir, "issue", "create", "--title", "two")
    const dirty = await sy(r.dir, "run", "--once")
    expect(dirty.code).toBe(1)
    expect(dirty.stderr).toContain("the base is dirty: src/average.js have")
    expect(dirty.stderr).not.toContain("WORKFLOW.md")
  })

  it("editing WORKFLOW.md while run runs changes the next dispatch, committed or not, and escalates nothing", async () => {
    const r = repo()
    r.writeWorkflow(workflow(tagged(r, "v1", true)))
    commitWorkflow(r)
    await sy(r.dir, "issue", "create", "--title", "one")
    await sy(r.dir, "issue", "create", "--title", "two")
    const child = syChild(r.dir, "run")
    const out = lines(child)
    try {
      await until(() => log(r).includes("v1 SY-1"), 30_000, "the first agent")
      // Uncommitted edit while SY-1's agent runs: SY-2 runs the new agent.
      r.writeWorkflow(workflow(tagged(r, "v2")))
      writeFileSync(join(r.shared, "go"), "")
      await out.waitFor(/SY-2 .*terminal\.NO_OP/, 30_000)
      // Committed edit: the next issue runs the committed agent.
      r.writeWorkflow(workflow(tagged(r, "v3")))
      commitWorkflow(r, "workflow v3")
      await sy(r.dir, "issue", "create", "--title", "three")
      await out.waitFor(/SY-3 .*terminal\.NO_OP/, 30_000)
    } finally {
      await stop(child)
    }
    expect(log(r)).toBe("v1 SY-1\nv2 SY-2\nv3 SY-3\n")
    for (const id of ["SY-1", "SY-2", "SY-3"]) {
      expect(await syJson(r.dir, "issue", "show", id), id).toMatchObject({ outcome: "NO_OP", attempts: 1 })
    }
    expect(out.seen.map((s) => s.line).join("\n")).not.toMatch(/ESCALATE|RETRYABLE|dirty/)
  })

  it("an invalid edit mid-run keeps the last good config, logs one error, and status says the file is invalid", async () => {
    const r = repo()
    r.writeWorkflow(workflow(tagged(r, "v1")))
    commitWorkflow(r)
    const child = syChild(r.dir, "run")
    const out = lines(child)
    let status = ""
    let json: any
    try {
      await out.waitFor(/runner .* started|started/, 15_000).catch(() => undefined)
      // Written whole (temp file + rename), so no tick reads a half-written file: that would be another bad content.
      replaceWhole(join(r.dir, "WORKFLOW.md"), readFileSync(join(r.dir, "WORKFLOW.md"), "utf8").replace("max_attempts: 1", "max_attempts: -1"))
      await until(() => readdirSafe(join(r.dir, ".switchyard/workflow-problems")).length === 1, 15_000, "the problem file")
      // Several ticks (200 ms apart) read the same bad file.
      await new Promise((resolve) => setTimeout(resolve, 1_200))
      await sy(r.dir, "issue", "create", "--title", "one")
      await out.waitFor(/SY-1 .*terminal\.NO_OP/, 30_000)
      status = (await sy(r.dir, "status")).stdout
      json = await syJson(r.dir, "status")
      // Fixed: the problem is gone from status.
      replaceWhole(join(r.dir, "WORKFLOW.md"), readFileSync(join(r.dir, "WORKFLOW.md"), "utf8").replace("max_attempts: -1", "max_attempts: 1"))
      await until(() => readdirSafe(join(r.dir, ".switchyard/workflow-problems")).length === 0, 15_000, "the problem file to go")
      expect((await sy(r.dir, "status")).stdout).not.toContain("invalid")
    } finally {
      await stop(child)
    }
    expect(log(r)).toBe("v1 SY-1\n")
    expect(await syJson(r.dir, "issue", "show", "SY-1")).toMatchObject({ outcome: "NO_OP", attempts: 1 })
    expect(status).toMatch(/⚠ the workflow file is invalid \(for .*\); pid \d+ keeps its last good version: .*WORKFLOW\.md \(agent\.max_attempts\): expected a positive integer, got -1 \[workflow_invalid_config\]/)
    expect(json.orchestrator.workflowInvalid).toHaveLength(1)
    expect(json.orchestrator.workflowInvalid[0]).toMatchObject({ path: join(r.dir, "WORKFLOW.md"), pid: child.pid })
    const errors = out.stderr().split("\n").filter((l) => l.includes("the workflow file is invalid"))
    expect(errors, out.stderr()).toHaveLength(1)
    expect(errors[0]).toContain("level=ERROR")
  })

  it("run --workflow PATH uses that file, resolved against the cwd; a missing one is one line and nothing is claimed", async () => {
    const r = repo()
    r.writeWorkflow(workflow(tagged(r, "default")))
    const text = readFileSync(join(r.dir, "WORKFLOW.md"), "utf8").replace(/default\.sh/, "other.sh")
    tagged(r, "other")
    mkdirSync(join(r.dir, "ops"))
    writeFileSync(join(r.dir, "ops/flow.md"), text)
    git(r.dir, "add", "ops/flow.md")
    git(r.dir, "commit", "-q", "-m", "ops workflow")
    // An uncommitted edit of the selected file is not a dirty base either.
    writeFileSync(join(r.dir, "ops/flow.md"), text + "\n")
    await sy(r.dir, "issue", "create", "--title", "one")
    const missing = await sy(join(r.dir, "ops"), "run", "--once", "--workflow", "nope.md")
    expect(missing.code).toBe(1)
    expect(missing.stderr).toBe(`switchyard: ${join(r.dir, "ops/nope.md")}: no such workflow file [missing_workflow_file]\n`)
    expect(await syJson(r.dir, "issue", "show", "SY-1")).toMatchObject({ status: "todo", attempts: 0 })
    const run = await sy(join(r.dir, "ops"), "run", "--once", "--workflow", "flow.md")
    expect(run.code, run.stderr).toBe(0)
    expect(log(r)).toBe("other SY-1\n")
  })
})

const readdirSafe = (dir: string): Array<string> => (existsSync(dir) ? readdirSync(dir) : [])

describe("run's preflight", () => {
  const refused = async (r: TestRepo, frontMatter: string, key: string, code = 2) => {
    r.writeWorkflow(frontMatter)
    const res = await sy(r.dir, "run", "--once")
    expect(res.code, res.stderr).toBe(code)
    const errLines = res.stderr.trim().split("\n")
    expect(errLines, res.stderr).toHaveLength(1)
    expect(errLines[0]).toContain(`WORKFLOW.md (${key})`)
    expect(existsSync(join(r.shared, "ran")), "an agent or hook ran").toBe(false)
    expect(await syJson(r.dir, "issue", "show", "SY-1")).toMatchObject({ status: "todo", attempts: 0 })
    expect(await syJson(r.dir, "status")).toMatchObject({ orchestrator: { leases: [] } })
    return errLines[0]!
  }

  it("refuses an empty, missing, placeholder or absent agent command, an unknown kind or station, and a validation program that is not there", async () => {
    const r = repo()
    await sy(r.dir, "issue", "create", "--title", "one")
    const hook = `hooks:\n  after_create: ${JSON.stringify(`touch ${join(r.shared, "ran")}`)}\n  before_run: ${JSON.stringify(`touch ${join(r.shared, "ran")}`)}\n`
    const good = r.agent("good.sh", `touch ${JSON.stringify(join(r.shared, "ran"))}`)
    expect(await refused(r, `${hook}agent:\n  command: ''`, "agent.command")).toContain("is empty")
    expect(await refused(r, `${hook}agent:\n  kind: command`, "agent.command")).toContain("is not set")
    expect(await refused(r, `${hook}agent:\n  command: 'echo "set agent.command in WORKFLOW.md" >&2; exit 2'`, "agent.command"))
      .toContain("placeholder")
    expect(await refused(r, `${hook}agent:\n  command: no-such-agent-xyz --go`, "agent.command"))
      .toContain(`"no-such-agent-xyz" is not found on PATH`)
    expect(await refused(r, `${hook}agent:\n  command: ./scripts/agent.sh`, "agent.command")).toContain("is not an executable file")
    expect(await refused(r, `${hook}agent:\n  kind: claude-code\n  command: /no/such/claude`, "agent.command")).toContain("/no/such/claude")
    expect(
      await refused(
        r,
        `${hook}agent:\n  command: ${JSON.stringify(good)}\nagents:\n  other:\n    command: no-such-other-agent\nroutes:\n  - label: x\n    agent: other`,
        "agents.other.command"
      )
    ).toContain("no-such-other-agent")
    expect(await refused(r, `${hook}agent:\n  command: ${JSON.stringify(good)}\nverify:\n  validation:\n    - node --test\n    - no-such-tool test`, "verify.validation.1"))
      .toContain(`"no-such-tool" (in "no-such-tool test") is not found on PATH`)
    // The loader's own refusals (exit 1, as for any invalid WORKFLOW.md): one line naming the key.
    await refused(r, `${hook}agent:\n  kind: gemini\n  command: ${JSON.stringify(good)}`, "agent.kind", 1)
    await refused(r, `${hook}agent:\n  command: ${JSON.stringify(good)}\nroutes:\n  - label: x\n    agent: nobody`, "routes.0.agent", 1)
    // And a workflow that can work runs.
    r.writeWorkflow(`agent:\n  command: ${JSON.stringify(good)}\n  max_attempts: 1\nverify:\n  validation:\n    - node --test`)
    expect((await sy(r.dir, "run", "--once")).code).toBe(0)
    expect(existsSync(join(r.shared, "ran"))).toBe(true)
  })
})
