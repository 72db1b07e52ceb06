/**
 * Test counts from validation output, and the `test_count_dropped` guard: a candidate that makes validation pass
 * by running fewer tests (or passing fewer) than the base did is caught here, whatever it did to get there.
 * Pure: the input is the text a validation command printed. Limits are documented in docs/guards.md.
 */
import { type CommandResult, stripAnsi, TestCounts, TestRunner } from "@switchyard/domain"
import { Option, Schema } from "effect"
import { GuardResult } from "./guards.js"


/** Re-exported from @switchyard/domain, where the evidence bundle needs them. */
export { TestCounts, TestRunner }

/** Rule id of {@link compareTestCounts}. */
export { TEST_COUNT_RULE } from "@switchyard/domain"
import { TEST_COUNT_RULE } from "@switchyard/domain"

/** `node --test` summary line, TAP (`# pass 4`) or spec reporter (`ℹ pass 4`); also tape's `# pass  4`. */
const NODE_SUMMARY = /^(#|ℹ) (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) +(\d+(?:\.\d+)?)$/

/** vitest's default reporter: `      Tests  1 failed | 3 passed | 1 skipped | 1 todo (6)`. */
const VITEST_SUMMARY = /^\s*Tests\s+(\d.*?)\s*\((\d+)\)\s*$/

/** The fields of vitest's JSON reporter this module reads (jest-compatible names). */
const VitestJson = Schema.Struct({
  numTotalTests: Schema.NonNegativeInt,
  numPassedTests: Schema.NonNegativeInt,
  numFailedTests: Schema.NonNegativeInt,
  numPendingTests: Schema.NonNegativeInt,
  numTodoTests: Schema.optional(Schema.NonNegativeInt)
})
const decodeVitestJson = Schema.decodeUnknownOption(Schema.parseJson(VitestJson))

const fromVitestJson = (j: typeof VitestJson.Type): TestCounts =>
  new TestCounts({
    passed: j.numPassedTests,
    failed: j.numFailedTests,
    skipped: j.numPendingTests + (j.numTodoTests ?? 0),
    total: j.numTotalTests,
    runner: "vitest"
  })

/** Field-by-field fallback for JSON that is not one parseable object (pretty-printed and cut, mixed output). */
const vitestJsonByRegex = (text: string): Option.Option<TestCounts> => {
  const last = (field: string): number | undefined => {
    const all = [...text.matchAll(new RegExp(`"${field}"\\s*:\\s*(\\d+)`, "g"))]
    const m = all[all.length - 1]
    return m === undefined ? undefined : Number(m[1])
  }
  const total = last("numTotalTests")
  const passed = last("numPassedTests")
  const failed = last("numFailedTests")
  const pending = last("numPendingTests")
  if (total === undefined || passed === undefined || failed === undefined || pending === undefined) {
    return Option.none()
  }
  return Option.some(fromVitestJson({
    numTotalTests: total,
    numPassedTests: passed,
    numFailedTests: failed,
    numPendingTests: pending,
    numTodoTests: last("numTodoTests") ?? 0
  }))
}

interface Found {
  /** Index of the last line of the summary: the summary printed last wins. */
  readonly at: number
  readonly counts: TestCounts
}

const nodeBlock = (block: ReadonlyArray<{ mark: string; key: string; value: number }>, at: number): Found | null => {
  const get = (key: string): number | undefined => block.find((e) => e.key === key)?.value
  const tests = get("tests")
  if (tests === undefined) return null
  const isNode = block.some((e) => e.mark === "ℹ" || e.key === "suites" || e.key === "cancelled" || e.key === "duration_ms")
  const pass = get("pass") ?? 0
  return {
    at,
    counts: new TestCounts({
      passed: pass,
      failed: (get("fail") ?? 0) + (get("cancelled") ?? 0),
      skipped: (get("skipped") ?? 0) + (get("todo") ?? 0),
      total: tests,
      runner: isNode ? "node-test" : "tap"
    })
  }
}

const vitestLine = (line: string, at: number): Found | null => {
  const m = VITEST_SUMMARY.exec(line)
  if (m === null) return null
  const parts = new Map<string, number>()
  for (const p of m[1]!.split("|")) {
    const pm = /^\s*(\d+) ([a-z][a-z ]*?)\s*$/.exec(p)
    if (pm === null) return null
    parts.set(pm[2]!, (parts.get(pm[2]!) ?? 0) + Number(pm[1]))
  }
  return {
    at,
    counts: new TestCounts({
      passed: parts.get("passed") ?? 0,
      failed: parts.get("failed") ?? 0,
      skipped: (parts.get("skipped") ?? 0) + (parts.get("todo") ?? 0),
      total: Number(m[2]),
      runner: "vitest"
    })
  }
}

/** Counts from plain TAP `ok N` / `not ok N` lines at the top level (used only when no summary was found). */
const tapLines = (lines: ReadonlyArray<string>): Option.Option<TestCounts> => {
  let passed = 0
  let failed = 0
  let skipped = 0
  let plan: number | undefined
  for (const line of lines) {
    const p = /^1\.\.(\d+)/.exec(line)
    if (p !== null) plan = Number(p[1])
    const m = /^(not )?ok\b(?: \d+)?(.*)$/.exec(line)
    if (m === null) continue
    if (/#\s*(?:SKIP|TODO)\b/i.test(m[2] ?? "")) skipped++
    else if (m[1] !== undefined) failed++
    else passed++
  }
  const seen = passed + failed + skipped
  if (seen === 0 || plan === undefined) return Option.none()
  // Tests the plan announced but that never reported (a crash) count as failed.
  const missing = Math.max(0, plan - seen)
  return Option.some(
    new TestCounts({ passed, failed: failed + missing, skipped, total: Math.max(plan, seen), runner: "tap" })
  )
}

/**
 * Reads test counts from the text a validation command printed (stdout+stderr, ANSI colours and `\r` allowed).
 * Recognises, and when several appear uses the one printed LAST:
 * - `node --test` summaries, TAP (`# tests 5`, `# pass 4`, `# fail 1`, `# cancelled 0`, `# skipped 0`, `# todo 0`)
 *   or spec reporter (`ℹ tests 5` …); `failed` = fail + cancelled, `skipped` = skipped + todo. The same block
 *   without node's extra lines (tape) is reported as runner `tap`;
 * - vitest's default summary `Tests  1 failed | 3 passed | 1 skipped | 1 todo (6)`; `skipped` includes todo;
 * - vitest's JSON reporter (`numTotalTests`, `numPassedTests`, `numFailedTests`, `numPendingTests`,
 *   `numTodoTests`), decoded with Schema, with a field-by-field fallback;
 * - plain TAP `ok`/`not ok` lines with a `1..N` plan, only when nothing above was found.
 * Returns None when the output holds no counts (e.g. a lint command, or a runner crash before its summary).
 */
export const parseTestCounts = (output: string): Option.Option<TestCounts> => {
  const lines = stripAnsi(output).split("\n").map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l))
  const found: Array<Found> = []
  let block: Array<{ mark: string; key: string; value: number }> = []
  const closeBlock = (at: number) => {
    const f = block.length > 0 ? nodeBlock(block, at) : null
    if (f !== null) found.push(f)
    block = []
  }
  lines.forEach((line, i) => {
    const n = NODE_SUMMARY.exec(line)
    if (n !== null) {
      // A repeated key or a change of marker starts a new block (e.g. a test that printed summary-like lines).
      if (block.some((e) => e.key === n[2] || e.mark !== n[1])) closeBlock(i - 1)
      block.push({ mark: n[1]!, key: n[2]!, value: Number(n[3]) })
      return
    }
    closeBlock(i - 1)
    const v = vitestLine(line, i)
    if (v !== null) {
      found.push(v)
      return
    }
    if (line.includes("\"numTotalTests\"")) {
      const start = line.indexOf("{")
      const end = line.lastIndexOf("}")
      const json = start >= 0 && end > start ? decodeVitestJson(line.slice(start, end + 1)) : Option.none()
      if (Option.isSome(json)) found.push({ at: i, counts: fromVitestJson(json.value) })
    }
  })
  closeBlock(lines.length - 1)
  if (!found.some((f) => f.counts.runner === "vitest") && output.includes("\"numTotalTests\"")) {
    const whole = decodeVitestJson(output.trim())
    const counts = Option.isSome(whole) ? Option.some(fromVitestJson(whole.value)) : vitestJsonByRegex(output)
    if (Option.isSome(counts)) {
      const at = lines.reduce((acc, l, i) => (l.includes("\"numTotalTests\"") ? i : acc), 0)
      found.push({ at, counts: counts.value })
    }
  }
  if (found.length === 0) return tapLines(lines)
  return Option.some(found.reduce((a, b) => (b.at >= a.at ? b : a)).counts)
}

/**
 * Test counts of one command, read from its output head and tail joined (the runner's summary is printed last, so
 * it is in the tail). None when the output holds no counts.
 */
export const countsOf = (result: CommandResult): Option.Option<TestCounts> =>
  parseTestCounts(`${result.outputHead}\n${result.outputTail}`)

/**
 * Test counts of a validation run: the SUM over every command whose output reports counts (so a candidate that
 * drops tests from any one of several test commands is caught). `runner` is that of the last command that reported.
 * None when no command reported counts.
 */
export const sumCounts = (results: ReadonlyArray<CommandResult>): Option.Option<TestCounts> =>
  results.map(countsOf).filter(Option.isSome).map((c) => c.value).reduce<Option.Option<TestCounts>>(
    (acc, c) =>
      Option.some(Option.match(acc, {
        onNone: () => c,
        onSome: (a) =>
          new TestCounts({
            passed: a.passed + c.passed,
            failed: a.failed + c.failed,
            skipped: a.skipped + c.skipped,
            total: a.total + c.total,
            runner: c.runner
          })
      })),
    Option.none()
  )

/**
 * True when a test runner reported counts but ran no test: nothing passed and nothing failed (every test filtered
 * out or skipped, e.g. a `-t` / `--test-name-pattern` filter that matches nothing, or `# tests 0`).
 */
export const ranNoTests = (counts: TestCounts): boolean => counts.passed + counts.failed === 0

const describeCounts = (c: TestCounts): string => `${c.total} tests (${c.passed} passed) by ${c.runner}`

/**
 * The guard `test_count_dropped`: the candidate's validation must run at least as many tests, and pass at least
 * as many, as the base's did (counts from {@link parseTestCounts}). Fails when `candidate.total < base.total` or
 * `candidate.passed < base.passed`, and when the base had counts but the candidate's output has none (its
 * summary disappeared). Passes, saying so, when the base had no counts (nothing to compare against).
 */
export const compareTestCounts = (
  base: Option.Option<TestCounts>,
  candidate: Option.Option<TestCounts>
): GuardResult => {
  const make = (passed: boolean, detail: string) => new GuardResult({ rule: TEST_COUNT_RULE, passed, detail, lines: [] })
  if (Option.isNone(base)) {
    return make(
      true,
      Option.isNone(candidate)
        ? "No test counts were found in the base's or the candidate's validation output, so they were not compared."
        : `The base's validation output had no test counts, so the candidate's ${
          describeCounts(candidate.value)
        } were not compared.`
    )
  }
  if (Option.isNone(candidate)) {
    return make(
      false,
      `The base ran ${
        describeCounts(base.value)
      } but the candidate's validation output has no test summary; make sure the tests still run and report.`
    )
  }
  const b = base.value
  const c = candidate.value
  if (c.total < b.total || c.passed < b.passed) {
    return make(
      false,
      `The candidate runs ${describeCounts(c)} where the base ran ${
        describeCounts(b)
      }; restore the missing or no-longer-passing tests.`
    )
  }
  return make(true, `The candidate runs ${describeCounts(c)}, no fewer than the base's ${describeCounts(b)}.`)
}
