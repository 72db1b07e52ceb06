/**
 * `switchyard issue check ID` (built CLI, temp git repos, real processes): a dry run of the reproduction on the
 * base through the line's Verifier, with one of four verdicts, exit 0 only when ready, and no trace in the tracker.
 */
import { describe, expect, it } from "@effect/vitest"
import { averageRepro, existsSync, git, join, perTest, sy, syJson, writeFileSync } from "./harness.js"

const { repo } = perTest()

/** `issue check ID --json`, whatever its exit code (1 when not ready). */
const checkJson = async (dir: string, id: string) => {
  const r = await sy(dir, "issue", "check", id, "--json")
  expect([0, 1], r.stderr).toContain(r.code)
  return JSON.parse(r.stdout)
}

/** A repo whose workflow would run `marker.sh` as the agent (it must never run), with `extra` front matter. */
const setup = (extra = "") => {
  const r = repo()
  const marker = join(r.shared, "agent-ran")
  r.writeWorkflow(`agent:\n  command: ${JSON.stringify(r.agent("marker.sh", `touch ${JSON.stringify(marker)}`))}\n${extra}`)
  return { r, marker }
}

describe("switchyard issue check", () => {
  it("a reproduction that fails on the base with a failing test: fails for the right reason, exit 0, with the exit and tail", async () => {
    const { marker, r } = setup()
    const repro = `node --test --test-reporter=tap`
    // A failing node:test test on the base (the harness repo's test passes; this one fails until average([]) is 0).
    await sy(r.dir, "issue", "create", "--title", "NaN", "--repro", `${repro} test/`)
    writeFileSync(
      join(r.dir, "test/empty.test.js"),
      `import { test } from "node:test"\nimport assert from "node:assert/strict"\nimport { average } from "../src/average.js"\ntest("empty", () => assert.equal(average([]), 0))\n`
    )
    git(r.dir, "add", "test/empty.test.js")
    git(r.dir, "commit", "-q", "-m", "failing test")
    const check = await sy(r.dir, "issue", "check", "SY-1")
    expect(check.code, check.stderr).toBe(0)
    expect(check.stdout.split("\n")[0]).toMatch(/^SY-1: fails for the right reason \(ready\): .*exited 1 on the base at [0-9a-f]{40} \(1 passed, 1 failed/)
    expect(check.stdout).toContain("exit: 1 after")
    expect(check.stdout).toContain("tail:")
    const json = await checkJson(r.dir, "SY-1")
    expect(json).toMatchObject({ id: "SY-1", ready: true, verdict: "fails_for_the_right_reason", run: { exitCode: 1, counts: { failed: 1 } } })
    expect(existsSync(marker)).toBe(false)
  })

  it("a plain command that exits non-zero (no test runner) is ready too", async () => {
    const { r } = setup()
    await sy(r.dir, "issue", "create", "--title", "NaN", "--repro", averageRepro)
    const check = await sy(r.dir, "issue", "check", "SY-1")
    expect(check.code, check.stderr).toBe(0)
    expect(check.stdout).toMatch(/^SY-1: fails for the right reason \(ready\)/)
  })

  it("a reproduction that passes on the base: passes already (would be NO_OP), exit 1", async () => {
    const { r } = setup()
    await sy(r.dir, "issue", "create", "--title", "fixed", "--repro", "node --test")
    const check = await sy(r.dir, "issue", "check", "SY-1")
    expect(check.code).toBe(1)
    expect(check.stdout).toMatch(/^SY-1: passes already \(not ready\): .*\[not_reproducible\]/)
    expect(check.stderr).toContain("switchyard: SY-1: the task packet is not ready: passes already")
    expect(await checkJson(r.dir, "SY-1")).toMatchObject({ ready: false, verdict: "passes_already", run: { exitCode: 0 } })
  })

  it("a reproduction whose tool is missing: cannot run, naming the tool, exit 1", async () => {
    const { r } = setup()
    await sy(r.dir, "issue", "create", "--title", "no install", "--repro", "no-such-runner test")
    const check = await sy(r.dir, "issue", "check", "SY-1")
    expect(check.code).toBe(1)
    expect(check.stdout).toMatch(/^SY-1: cannot run \(not ready\): .*`no-such-runner` was not found.*\[reproduction_tool_missing\]/)
    expect(check.stdout).toContain("exit: 127 after")
  })

  it("a failing install hook in the checkout: cannot run, and the reproduction never ran", async () => {
    const { r } = setup(`hooks:\n  after_create: "echo no registry >&2; exit 3"\n`)
    await sy(r.dir, "issue", "create", "--title", "NaN", "--repro", averageRepro)
    const json = await checkJson(r.dir, "SY-1")
    expect(json).toMatchObject({ ready: false, verdict: "cannot_run", run: null })
    expect(json.reason).toContain("install hook failed")
  })

  it("an issue without a reproduction (and none in the workflow): no reproduction, exit 1", async () => {
    const { r } = setup()
    await sy(r.dir, "issue", "create", "--title", "vague")
    const check = await sy(r.dir, "issue", "check", "SY-1")
    expect(check.code).toBe(1)
    expect(check.stdout).toMatch(/^SY-1: no reproduction \(not ready\): /)
    expect(await checkJson(r.dir, "SY-1")).toMatchObject({ verdict: "no_reproduction", base: null, run: null })
  })

  it("leaves the tracker, leases and attempts untouched", async () => {
    const { marker, r } = setup()
    await sy(r.dir, "issue", "create", "--title", "NaN", "--repro", averageRepro)
    await sy(r.dir, "issue", "create", "--title", "fixed", "--repro", "node --test")
    const before = [await syJson(r.dir, "issue", "show", "SY-1"), await syJson(r.dir, "issue", "show", "SY-2")]
    expect((await sy(r.dir, "issue", "check", "SY-1")).code).toBe(0)
    expect((await sy(r.dir, "issue", "check", "SY-2")).code).toBe(1)
    expect([await syJson(r.dir, "issue", "show", "SY-1"), await syJson(r.dir, "issue", "show", "SY-2")]).toEqual(before)
    expect(before[0]).toMatchObject({ status: "todo", attempts: 0 })
    expect(await syJson(r.dir, "status")).toMatchObject({ orchestrator: { leases: [] } })
    expect((await sy(r.dir, "evidence", "SY-2")).code).not.toBe(0)
    expect(existsSync(marker)).toBe(false)
  })
})
