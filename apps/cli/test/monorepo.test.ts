/**
 * Issue 12 on a real pnpm workspace (fixtures/shop: six packages with workspace dependencies, vitest from the npm
 * registry, a committed lockfile, a real bug with its real fix), driven through the built CLI: the oracle fix is
 * PR_READY; a reproduction that runs no test is not NO_OP; a missing install hook is named as such; a WORKFLOW.md
 * edit during `run` changes the next dispatch and escalates nothing; a paused issue keeps its sandbox and resumes
 * in it; a dependency added with a consistent lockfile is PR_READY.
 */
import Database from "better-sqlite3"
import { describe, expect, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import {
  existsSync,
  exited,
  git,
  join,
  perTest,
  readFileSync,
  shopFixture,
  shopRepro,
  sy,
  syAsync,
  syJson,
  type TestRepo,
  until,
  useShop,
  writeFileSync
} from "./harness.js"

const { repo, start } = perTest()

const INSTALL = "pnpm install --frozen-lockfile --prefer-offline"

const workflow = (agent: string, extra = "", install: string | null = INSTALL, attempts = 1) => `agent:
  command: ${JSON.stringify(agent)}
  max_attempts: ${attempts}
  retry_base_delay_ms: 50
  timeout_ms: 120000
${install === null ? "" : `hooks:\n  after_create: ${JSON.stringify(install)}\n  timeout_ms: 120000\n`}verify:
  validation:
    - pnpm test
  compare_test_counts: true
polling:
  interval_ms: 200
${extra}`

const claim = (summary: string) => `echo '{"claim":"PR_READY","summary":${JSON.stringify(summary)}}' > "$SWITCHYARD_RESULT_FILE"`
const oracle = `set -e\ngit apply ${join(shopFixture, "oracle", "money-negative.patch")}\n${claim("sign before the symbol")}`

const shop = (agentScript: string, extra = "", install: string | null = INSTALL, attempts = 1) => {
  const r = repo()
  useShop(r)
  r.writeWorkflow(workflow(r.agent("agent.sh", agentScript), extra, install, attempts))
  git(r.dir, "add", "WORKFLOW.md")
  git(r.dir, "commit", "-q", "-m", "workflow")
  return r
}

const file = async (r: TestRepo, title: string, repro = shopRepro) =>
  expect((await sy(r.dir, "issue", "create", "--title", title, "--repro", repro)).code).toBe(0)

const events = (r: TestRepo, type: string) => {
  const db = new Database(join(r.dir, ".switchyard/switchyard.db"), { readonly: true })
  const rows = db.prepare("SELECT issue_id, message FROM events WHERE type = ? ORDER BY seq").all(type) as Array<{ issue_id: string; message: string }>
  db.close()
  return rows
}

describe("a real pnpm workspace (fixtures/shop)", () => {
  it("the oracle fix is PR_READY, with the reproduction's and validation's vitest counts in the evidence", async () => {
    const r = shop(oracle)
    await file(r, "refunds print as $-1.-50")
    const run = await sy(r.dir, "run", "--once")
    expect(run.code, run.stderr).toBe(0)
    const evidence = await syJson(r.dir, "evidence", "SY-1")
    expect(evidence.outcome, JSON.stringify(evidence.verdict)).toBe("PR_READY")
    expect(evidence.reproductionTestCounts?.before).toMatchObject({ failed: 1 })
    expect(evidence.reproductionTestCounts?.after).toMatchObject({ passed: 1, failed: 0 })
    expect(evidence.testCounts?.base).toMatchObject({ passed: 25, failed: 0 })
    expect(evidence.testCounts?.candidate).toMatchObject({ passed: 26, failed: 0 })
    // One install for the issue: the sandbox got a copy of the installed base the reproduction on the base made.
    expect(events(r, "hook.after_create").map((e) => e.message)).toEqual([expect.stringContaining("copied in from the installed base")])
  }, 180_000)

  it("a reproduction whose -t filter matches no test is ESCALATE reproduction_ran_no_tests, never NO_OP", async () => {
    const r = shop(oracle)
    await file(r, "refunds print as $-1.-50", `${shopRepro} -t "negtaive"`)
    const run = await sy(r.dir, "run", "--once")
    expect(run.code, run.stderr).toBe(0)
    const issue = await syJson(r.dir, "issue", "show", "SY-1")
    expect(issue).toMatchObject({ status: "blocked", outcome: "ESCALATE" })
    expect((await syJson(r.dir, "evidence", "SY-1")).verdict.cause).toBe("reproduction_ran_no_tests")
  }, 180_000)

  it("without an install hook the reproduction's missing vitest is named, not blamed on the agent", async () => {
    const r = shop(oracle, "", null, 2)
    await file(r, "refunds print as $-1.-50")
    // As on a user's machine: no vitest on PATH (the test runner puts this project's node_modules/.bin there).
    const env = { PATH: (process.env["PATH"] ?? "").split(":").filter((dir) => !dir.includes("node_modules")).join(":") }
    const check = await syAsync(r.dir, ["issue", "check", "SY-1"], env)
    expect(check.code, check.stdout).toBe(1)
    expect(check.stdout).toContain("`vitest` was not found")
    const run = await syAsync(r.dir, ["run", "--once"], env)
    expect(run.code, run.stderr).toBe(0)
    const first = await syJson(r.dir, "evidence", "SY-1", "--attempt", "1")
    expect(first.outcome, JSON.stringify(first.verdict)).toBe("RETRYABLE_FAILURE")
    expect(first.verdict.cause).toBe("reproduction_tool_missing")
    expect(first.verdict.reasons.join(" ")).toContain("vitest")
    expect(first.verdict.reasons.join(" ")).toContain("hooks.after_create")
    expect(events(r, "agent.started")).toEqual([])
  }, 180_000)

  it("a WORKFLOW.md edit during run changes the next dispatch and escalates nothing", async () => {
    const r = shop("")
    const agentA = r.agent("a.sh", `set -e
echo "$SWITCHYARD_ISSUE_ID" >> ${join(r.shared, "a.log")}
touch ${join(r.shared, "a-started")}
i=0; while [ ! -f ${join(r.shared, "go")} ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
${oracle}`)
    const agentB = r.agent("b.sh", `set -e\necho "$SWITCHYARD_ISSUE_ID" >> ${join(r.shared, "b.log")}\n${oracle}`)
    r.writeWorkflow(workflow(agentA).replace("agent:\n", "agent:\n  max_concurrent_agents: 2\n"))
    git(r.dir, "add", "WORKFLOW.md")
    git(r.dir, "commit", "-q", "-m", "workflow: agent a")
    await file(r, "refunds print as $-1.-50")
    const runner = start(r.dir, "run", "--once")
    await until(() => existsSync(join(r.shared, "a-started")), 120_000, "agent a to start on SY-1")
    // Edited (not committed) while SY-1 runs: the next dispatch uses agent b; SY-1 keeps its snapshot.
    writeFileSync(join(r.dir, "WORKFLOW.md"), readFileSync(join(r.dir, "WORKFLOW.md"), "utf8").replace(agentA, agentB))
    await file(r, "refunds print as $-1.-50, again")
    await until(() => existsSync(join(r.shared, "b.log")), 120_000, "agent b to run SY-2")
    writeFileSync(join(r.shared, "go"), "")
    const exit = await exited(runner.child)
    expect(exit.code, runner.out.stderr()).toBe(0)
    expect(readFileSync(join(r.shared, "a.log"), "utf8")).toBe("SY-1\n")
    expect(readFileSync(join(r.shared, "b.log"), "utf8")).toBe("SY-2\n")
    for (const id of ["SY-1", "SY-2"]) {
      expect(await syJson(r.dir, "issue", "show", id), id).toMatchObject({ status: "in_review", outcome: "PR_READY" })
    }
    expect(events(r, "terminal.ESCALATE")).toEqual([])
  }, 300_000)

  it("an issue paused mid-run keeps its installed sandbox and resumes in it", async () => {
    const r = shop(`if [ ! -f NOTES.md ]; then echo halfway > NOTES.md; touch STARTED_MARK; sleep 300; fi
rm -f NOTES.md STARTED_MARK
${oracle}`)
    await file(r, "refunds print as $-1.-50")
    const runner = start(r.dir, "run")
    const sandbox = join(r.worktrees, "SY-1")
    await until(() => existsSync(join(sandbox, "STARTED_MARK")), 120_000, "the agent to start")
    expect((await sy(r.dir, "issue", "update", "SY-1", "--status", "backlog")).code).toBe(0)
    await until(() => events(r, "sandbox.kept").length === 1, 20_000, "the worker to stop and keep its sandbox")
    runner.child.kill("SIGTERM")
    expect((await exited(runner.child)).code).toBe(143)
    expect(readFileSync(join(sandbox, "NOTES.md"), "utf8")).toBe("halfway\n")
    expect(existsSync(join(sandbox, "node_modules", ".bin", "vitest"))).toBe(true)

    expect((await sy(r.dir, "issue", "update", "SY-1", "--status", "todo")).code).toBe(0)
    const resumed = await sy(r.dir, "run", "--once")
    expect(resumed.code, resumed.stderr).toBe(0)
    expect(await syJson(r.dir, "issue", "show", "SY-1")).toMatchObject({ status: "in_review", outcome: "PR_READY" })
    // One install in the sandbox across both attempts.
    expect(events(r, "hook.after_create")).toHaveLength(1)
    expect(events(r, "sandbox.reused")).toHaveLength(1)
  }, 300_000)

  it("a dependency added with a consistent lockfile (installed offline, confined) is PR_READY", async () => {
    const addDep = `node -e 'const f="packages/checkout/package.json";const p=JSON.parse(require("fs").readFileSync(f,"utf8"));p.dependencies["@shop/text"]="workspace:*";require("fs").writeFileSync(f,JSON.stringify(p,null,2)+"\\n")'`
    // The lockfile entry pnpm writes for it (an offline `--lockfile-only` needs pnpm's metadata cache, which a fresh
    // machine's frozen installs never fill).
    const lock = `node -e 'const f="pnpm-lock.yaml";const s=require("fs").readFileSync(f,"utf8");const at=s.indexOf("version: link:../money\\n",s.indexOf("  packages/checkout:"))+"version: link:../money\\n".length;require("fs").writeFileSync(f,s.slice(0,at)+"      \\x27@shop/text\\x27:\\n        specifier: workspace:*\\n        version: link:../text\\n"+s.slice(at))'`
    const r = shop(`set -e\n${addDep}\n${lock}\n${oracle}`)
    await file(r, "refunds print as $-1.-50")
    const run = await sy(r.dir, "run", "--once")
    expect(run.code, run.stderr).toBe(0)
    const evidence = await syJson(r.dir, "evidence", "SY-1")
    expect(evidence.outcome, JSON.stringify(evidence.verdict)).toBe("PR_READY")
    expect(evidence.diff.files).toEqual(expect.arrayContaining(["packages/checkout/package.json", "pnpm-lock.yaml"]))
    const guard = evidence.guards.find((g: { rule: string }) => g.rule === "protected_path")
    expect(guard.passed).toBe(true)
    expect(guard.detail).toContain("pnpm-lock.yaml")
  }, 300_000)

  it("an agent that rewrites a package in its sandbox's node_modules cannot reach the package store", async () => {
    const target = "node_modules/.pnpm/vitest@3.2.7/node_modules/vitest/LICENSE.md"
    const r = shop(`set -e\nprintf '\\n// poisoned by the agent\\n' >> ${target} || true\n${oracle}`)
    await file(r, "refunds print as $-1.-50")
    const run = await sy(r.dir, "run", "--once")
    expect(run.code, run.stderr).toBe(0)
    expect(readFileSync(join(r.worktrees, "SY-1", target), "utf8")).toContain("poisoned by the agent") // it tried
    expect(await syJson(r.dir, "issue", "show", "SY-1")).toMatchObject({ outcome: "PR_READY" })
    // A fresh install links from the store: the file there is the registry's.
    const fresh = repo()
    useShop(fresh)
    execFileSync("pnpm", ["install", "--frozen-lockfile", "--offline"], { cwd: fresh.dir, stdio: "pipe" })
    expect(readFileSync(join(fresh.dir, target), "utf8")).not.toContain("poisoned")
  }, 300_000)
})
