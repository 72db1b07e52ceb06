import { describe, expect, it } from "@effect/vitest"
import { Option } from "effect"
import { spawnSync } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll } from "vitest"
import { compareTestCounts, parseTestCounts, TestCounts } from "../src/Verifier/index.js"

const dir = mkdtempSync(join(tmpdir(), "switchyard-counts-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Runs real `node --test` on a file and returns its combined output (exit code ignored: failures are expected). */
const nodeTest = (name: string, source: string, ...flags: Array<string>): string => {
  writeFileSync(join(dir, name), source)
  const r = spawnSync(process.execPath, ["--test", ...flags, name], {
    cwd: dir,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0", NODE_OPTIONS: "" }
  })
  return `${r.stdout}${r.stderr}`
}

const MIXED = [
  "import test from \"node:test\"",
  "import assert from \"node:assert\"",
  "test(\"ok\", () => assert.ok(true))",
  "test(\"bad\", () => assert.equal(1, 2))",
  "test(\"sk\", { skip: true }, () => {})",
  "test(\"td\", { todo: true }, () => {})",
  "test.describe(\"suite\", () => { test.it(\"in\", () => {}) })",
  ""
].join("\n")

const counts = (passed: number, failed: number, skipped: number, total: number, runner: TestCounts["runner"]) =>
  new TestCounts({ passed, failed, skipped, total, runner })

describe("parseTestCounts: node --test (real output)", () => {
  it("reads the TAP summary (the default reporter when stdout is not a TTY)", () => {
    const out = nodeTest("mixed.test.mjs", MIXED)
    expect(out).toContain("# tests 5")
    expect(parseTestCounts(out)).toEqual(Option.some(counts(2, 1, 2, 5, "node-test")))
  })

  it("reads the spec reporter summary (ℹ lines)", () => {
    const out = nodeTest("mixed.test.mjs", MIXED, "--test-reporter=spec")
    expect(out).toContain("ℹ tests 5")
    expect(parseTestCounts(out)).toEqual(Option.some(counts(2, 1, 2, 5, "node-test")))
  })

  it("uses the runner's own last summary, not summary-like lines a test printed", () => {
    const source = [
      "import test from \"node:test\"",
      "test(\"a\", () => { console.log(\"# tests 1000\\n# pass 1000\\nℹ tests 999\\nℹ pass 999\") })",
      "test(\"b\", () => {})",
      ""
    ].join("\n")
    for (const flags of [[], ["--test-reporter=spec"]]) {
      const out = nodeTest("loud.test.mjs", source, ...flags)
      expect(out).toContain("1000")
      expect(parseTestCounts(out)).toEqual(Option.some(counts(2, 0, 0, 2, "node-test")))
    }
  })

  it("reads an all-passing run", () => {
    const out = nodeTest("pass.test.mjs", "import test from \"node:test\"\ntest(\"a\", () => {})\ntest(\"b\", () => {})\n")
    expect(parseTestCounts(out)).toEqual(Option.some(counts(2, 0, 0, 2, "node-test")))
  })
})

describe("parseTestCounts: vitest", () => {
  // Captured from vitest 3.2.7 (`vitest run`, piped and on a TTY with colours).
  const plain = [
    " Test Files  1 failed | 1 passed (2)",
    "      Tests  1 failed | 3 passed | 1 skipped | 1 todo (6)",
    "   Start at  01:48:11",
    "   Duration  698ms (transform 37ms, setup 0ms, collect 30ms, tests 16ms, environment 0ms, prepare 203ms)",
    ""
  ].join("\n")
  const coloured =
    "\r\n\u001b[2m Test Files \u001b[22m \u001b[1m\u001b[31m1 failed\u001b[39m\u001b[22m\u001b[2m | \u001b[22m\u001b[1m\u001b[32m1 passed\u001b[39m\u001b[22m\u001b[90m (2)\u001b[39m\r\n" +
    "\u001b[2m      Tests \u001b[22m \u001b[1m\u001b[31m1 failed\u001b[39m\u001b[22m\u001b[2m | \u001b[22m\u001b[1m\u001b[32m3 passed\u001b[39m\u001b[22m\u001b[2m | \u001b[22m\u001b[33m1 skipped\u001b[39m\u001b[2m | \u001b[22m\u001b[90m1 todo\u001b[39m\u001b[90m (6)\u001b[39m\r\n" +
    "\u001b[2m   Start at \u001b[22m 01:48:14\r\n"

  it("reads the default summary, plain and coloured", () => {
    expect(parseTestCounts(plain)).toEqual(Option.some(counts(3, 1, 2, 6, "vitest")))
    expect(parseTestCounts(coloured)).toEqual(Option.some(counts(3, 1, 2, 6, "vitest")))
  })

  it("reads the summary shapes `3 passed | 1 skipped (4)` and `1 failed | 2 passed (3)`", () => {
    expect(parseTestCounts(" Test Files  2 passed (2)\n      Tests  3 passed | 1 skipped (4)\n"))
      .toEqual(Option.some(counts(3, 0, 1, 4, "vitest")))
    expect(parseTestCounts("      Tests  1 failed | 2 passed (3)\n")).toEqual(Option.some(counts(2, 1, 0, 3, "vitest")))
  })

  it("reads the JSON reporter, alone, mixed into other output, and pretty-printed", () => {
    const json =
      "{\"numTotalTestSuites\":2,\"numPassedTestSuites\":1,\"numFailedTestSuites\":1,\"numPendingTestSuites\":0,\"numTotalTests\":6,\"numPassedTests\":3,\"numFailedTests\":1,\"numPendingTests\":1,\"numTodoTests\":1,\"success\":false,\"testResults\":[]}"
    const expected = Option.some(counts(3, 1, 2, 6, "vitest"))
    expect(parseTestCounts(json)).toEqual(expected)
    expect(parseTestCounts(`> vitest run --reporter=json\n${json}\n ELIFECYCLE  Test failed.\n`)).toEqual(expected)
    expect(parseTestCounts(JSON.stringify(JSON.parse(json), null, 2))).toEqual(expected)
  })
})

describe("parseTestCounts: other output", () => {
  it("reads tape-style TAP summaries as runner tap", () => {
    const out = "TAP version 13\n# a\nok 1 should be truthy\nnot ok 2 boom\n\n1..2\n# tests 2\n# pass  1\n# fail  1\n"
    // tape pads `# pass  1` with two spaces and prints no suites/cancelled/duration_ms lines.
    expect(parseTestCounts(out)).toEqual(Option.some(counts(1, 1, 0, 2, "tap")))
    expect(parseTestCounts("1..3\nok 1 a\n# tests 3\n# pass 3\n# fail 0\n")).toEqual(Option.some(counts(3, 0, 0, 3, "tap")))
  })

  it("reads plain TAP lines with SKIP/TODO directives and counts unreported planned tests as failed", () => {
    expect(parseTestCounts("1..4\nok 1 a\nnot ok 2 b\nok 3 c # SKIP no db\n")).toEqual(
      Option.some(counts(1, 2, 1, 4, "tap"))
    )
  })

  it("returns None when the output holds no counts", () => {
    expect(parseTestCounts("")).toEqual(Option.none())
    expect(parseTestCounts("src/a.ts(1,1): error TS2304: Cannot find name 'x'.\n")).toEqual(Option.none())
    expect(parseTestCounts(" Test Files  no tests\n")).toEqual(Option.none())
  })
})

describe("compareTestCounts (test_count_dropped)", () => {
  const base = Option.some(counts(10, 0, 1, 11, "vitest"))

  it("fails when the candidate runs fewer tests", () => {
    const r = compareTestCounts(base, Option.some(counts(10, 0, 0, 10, "vitest")))
    expect(r.rule).toBe("test_count_dropped")
    expect(r.passed).toBe(false)
    expect(r.detail).toContain("10 tests (10 passed)")
    expect(r.detail).toContain("11 tests (10 passed)")
  })

  it("fails when the candidate passes fewer tests, even with as many in total", () => {
    expect(compareTestCounts(base, Option.some(counts(9, 0, 2, 11, "vitest"))).passed).toBe(false)
  })

  it("fails when the candidate's summary disappeared", () => {
    expect(compareTestCounts(base, Option.none()).passed).toBe(false)
  })

  it("passes with as many or more tests", () => {
    expect(compareTestCounts(base, Option.some(counts(10, 0, 1, 11, "vitest"))).passed).toBe(true)
    expect(compareTestCounts(base, Option.some(counts(12, 0, 1, 13, "vitest"))).passed).toBe(true)
  })

  it("passes, saying nothing was compared, when the base had no counts", () => {
    const r = compareTestCounts(Option.none(), Option.some(counts(1, 0, 0, 1, "node-test")))
    expect(r.passed).toBe(true)
    expect(r.detail).toContain("not compared")
  })

  it("compares real node --test runs: a candidate that drops a test fails", () => {
    const before = parseTestCounts(
      nodeTest("cmp.test.mjs", "import test from \"node:test\"\ntest(\"a\", () => {})\ntest(\"b\", () => {})\n")
    )
    const after = parseTestCounts(nodeTest("cmp.test.mjs", "import test from \"node:test\"\ntest(\"a\", () => {})\n"))
    expect(compareTestCounts(before, after).passed).toBe(false)
    expect(compareTestCounts(after, before).passed).toBe(true)
  })
})
