/**
 * The base is checked once (issue 12 item 3; end to end, built CLI, real git, processes and SQLite): an issue the
 * base already decides never pays for a sandbox, and a second issue on the same base reuses the base's
 * validation and reproduction runs instead of running them again.
 */
import { describe, expect, it } from "@effect/vitest"
import { averageRepro, fixerScript, join, perTest, readFileSync, sy, syJson } from "./harness.js"

const { repo } = perTest()

/** WORKFLOW.md whose `after_create` logs the directory it ran in to `log` (sandboxes and verify checkouts alike). */
const workflow = (agentPath: string, log: string) => `agent:
  command: ${JSON.stringify(agentPath)}
  max_attempts: 1
  timeout_ms: 60000
hooks:
  after_create: ${JSON.stringify(`pwd >> ${log}`)}
verify:
  validation:
    - "node --test"
polling:
  interval_ms: 200
`

const createdIn = (log: string) =>
  readFileSync(log, "utf8").split("\n").filter((l) => l.length > 0)

describe("the base is checked once", () => {
  it("an already-fixed issue is NO_OP from its base reproduction, before any sandbox or its install", async () => {
    const r = repo()
    const log = join(r.shared, "after-create.log")
    r.writeWorkflow(workflow(r.agent("fixer.sh", fixerScript), log))
    await sy(r.dir, "issue", "create", "--title", "already fine", "--repro", "node -e 'process.exit(0)'")
    const run = await sy(r.dir, "run", "--once")
    expect(run.code, run.stderr).toBe(0)
    const evidence = await syJson(r.dir, "evidence", "SY-1")
    expect(evidence.outcome).toBe("NO_OP")
    expect(evidence.agent).toBeNull()
    // after_create ran once, for the installed base the reproduction's clean checkout used: no sandbox was made.
    const dirs = createdIn(log)
    expect(dirs.length).toBe(1)
    expect(dirs[0]).toContain("/.installs/")
    expect(evidence.reproduction.before.exitCode).toBe(0)
    expect(evidence.fingerprint).toBeNull()
    // The summary names the base it was checked on (the sandbox that used to carry it was never made).
    expect(run.stdout).toMatch(/passed on the base at [0-9a-f]{10}: already fixed\?/)
  })

  it("a second issue on the same base reuses the base's validation and reproduction, and its evidence says so", async () => {
    const r = repo()
    const log = join(r.shared, "after-create.log")
    r.writeWorkflow(workflow(r.agent("fixer.sh", fixerScript), log))
    await sy(r.dir, "issue", "create", "--title", "average([]) is NaN", "--repro", averageRepro)
    expect((await sy(r.dir, "run", "--once")).code).toBe(0)
    const first = await syJson(r.dir, "evidence", "SY-1")
    expect(first.outcome).toBe("PR_READY")
    expect(first.baseReusedAt).toBeNull()
    const firstRun = createdIn(log).length

    await sy(r.dir, "issue", "create", "--title", "average([]) is NaN again", "--repro", averageRepro)
    const run = await sy(r.dir, "run", "--once")
    expect(run.code, run.stderr).toBe(0)
    const second = await syJson(r.dir, "evidence", "SY-2")
    expect(second.outcome).toBe("PR_READY")
    expect(second.baseReusedAt).toBeTypeOf("number")
    expect(second.testCounts.base).toEqual(first.testCounts.base)
    expect(second.reproduction.before.exitCode).toBe(first.reproduction.before.exitCode)
    // The first issue installed twice: the installed base its three checkouts (reproduction, candidate, base)
    // share, and its sandbox; the second only its sandbox (verify.reuse_install).
    const firstDirs = createdIn(log)
    expect(firstRun).toBe(2)
    expect(firstDirs.filter((d) => d.includes("/.installs/")).length).toBe(1)
    const secondRun = createdIn(log).slice(firstRun)
    expect(secondRun.length).toBe(1)
    expect(secondRun[0]).not.toContain("/.installs/")
    expect(secondRun[0]).not.toContain("/.verify/")
    expect(run.stdout).toContain("reused from an earlier run on this base")
    const md = readFileSync(join(r.dir, ".switchyard/runs/SY-2/1/evidence.md"), "utf8")
    expect(md).toContain("not run again for this candidate")
  })

  it("the base's validation runs while the agent works, once, and the candidate's verification takes it", async () => {
    const r = repo()
    const ran = join(r.shared, "validation.log")
    // The agent waits (up to 20 s) to see the base's validation run before it makes its fix: only a validation run
    // ahead of the candidate can be seen from inside the agent's turn.
    const agent = r.agent("patient.sh", `i=0; while [ ! -s ${ran} ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done
[ -s ${ran} ] || { echo "the base's validation did not run during my turn" >&2; exit 1; }
${fixerScript}`)
    r.writeWorkflow(`agent:
  command: ${JSON.stringify(agent)}
  max_attempts: 1
  timeout_ms: 60000
verify:
  validation:
    - ${JSON.stringify(`git rev-parse HEAD >> ${ran} && node --test`)}
  compare_test_counts: true
polling:
  interval_ms: 200
`)
    await sy(r.dir, "issue", "create", "--title", "average([]) is NaN", "--repro", averageRepro)
    const run = await sy(r.dir, "run", "--once")
    expect(run.code, run.stderr).toBe(0)
    const evidence = await syJson(r.dir, "evidence", "SY-1")
    expect(evidence.outcome, JSON.stringify(evidence.verdict)).toBe("PR_READY")
    // Its own run, not a reuse; the counts compare like with like.
    expect(evidence.baseReusedAt).toBeNull()
    expect(evidence.testCounts.base.passed).toBe(1)
    expect(evidence.testCounts.candidate.passed).toBe(2)
    // Validation ran twice in all: once on the base (ahead), once on the candidate.
    const heads = readFileSync(ran, "utf8").split("\n").filter((l) => l.length > 0)
    expect(heads).toHaveLength(2)
    expect(heads[0]).toBe(evidence.fingerprint.baseCommit)
    expect(heads[1]).not.toBe(evidence.fingerprint.baseCommit) // the candidate's checkout
    expect(run.stdout).toMatch(/validation #1 on the base: .* exited 0/)
  })
})
