/**
 * What a verification command's run proves: did it run tests at all, and did it find its tool? A reproduction
 * that ran no test (a filter that matches nothing: vitest skips everything and exits 0) proves nothing either
 * way, and one whose tool is missing (`npx vitest` in a checkout without an install) fails for a reason that has
 * nothing to do with the bug. Pure: read from the command's exit and its (redacted) output. `decide` turns these
 * into verdicts (docs/architecture.md, "Deciding").
 */
import { type CommandResult, stripAnsi, type TestCounts } from "@switchyard/domain"
import { Data, Option } from "effect"
import { countsOf, ranNoTests } from "./testCounts.js"

/** What one run of a command shows. */
export type RunProof = Data.TaggedEnum<{
  /** The command could not run its tool: `tool` is its name when the output says it (`sh: 1: vitest: not found`). */
  ToolMissing: { readonly tool: string | null; readonly evidence: string }
  /** A test runner reported, and it ran no test (`counts` null when it said so in words, e.g. vitest's). */
  RanNoTests: { readonly counts: TestCounts | null; readonly evidence: string }
  /** Anything else: the run counts as it exited (`counts` when a test runner reported them). */
  Ran: { readonly counts: TestCounts | null }
}>
export const RunProof = Data.taggedEnum<RunProof>()

/** Lines test runners print when they found no test at all (vitest, jest), with or without `--passWithNoTests`. */
const NO_TESTS_LINE = /^\s*(?:No test files found|No tests found)\b/

/** Shell and package-manager sentences that say a command (the tool) does not exist; group 1 is its name. */
const NOT_FOUND_LINES: ReadonlyArray<RegExp> = [
  // dash / sh: `sh: 1: vitest: not found`; bash: `bash: vitest: command not found`, `sh: line 1: x: command not found`
  /^(?:\S*\/)?(?:ba|da|k|z)?sh: (?:\d+: )?(?:line \d+: )?([^\s:]+): (?:command )?not found\s*$/,
  // zsh: `zsh: command not found: vitest`
  /^(?:\S*\/)?zsh: command not found: (\S+)\s*$/,
  // pnpm exec / pnpm run: `ERR_PNPM_RECURSIVE_EXEC_FIRST_FAIL  Command "vitest" not found`
  /Command "([^"]+)" not found/,
  // node's child_process: `Error: spawn vitest ENOENT`
  /\bspawn (\S+) ENOENT\b/
]

/**
 * npx that found no local binary and could not fetch one (no network in a verification checkout): the tool is the
 * package npx was asked for.
 */
const NPX_FAILED_LINE = /^npm (?:error|ERR!) (?:could not determine executable to run|code (?:EAI_AGAIN|ENOTFOUND|ECONNREFUSED|ENETUNREACH|E404))/

/** The first package name after `npx` (or `pnpm dlx`, `yarn dlx`, `bunx`) in `command`, skipping options. */
const npxTarget = (command: string): string | null =>
  /\b(?:npx|bunx|pnpm dlx|yarn dlx)\s+(?:-\S+\s+)*([^\s-][^\s]*)/.exec(command)?.[1] ?? null

const cut = (line: string): string => (line.length > 200 ? `${line.slice(0, 199)}…` : line)

/** The tool `result` could not run, with the output line that says so; null when nothing says a tool is missing. */
export const missingTool = (result: CommandResult): { readonly tool: string | null; readonly evidence: string } | null => {
  const lines = stripAnsi(`${result.outputHead}\n${result.outputTail}`).split(/\r?\n/).map((l) => l.trim())
  for (const line of lines) {
    for (const re of NOT_FOUND_LINES) {
      const m = re.exec(line)
      if (m !== null) return { tool: m[1] ?? null, evidence: cut(line) }
    }
  }
  const npx = lines.find((l) => NPX_FAILED_LINE.test(l))
  if (npx !== undefined) return { tool: npxTarget(result.command), evidence: cut(npx) }
  if (result.exitCode === 127) return { tool: null, evidence: "exit 127 (the shell's \"command not found\")" }
  return null
}

/**
 * What `result` proves. In order:
 * 1. `ToolMissing`: it did not pass, no test runner reported counts, and exit 127 or its output says a command was
 *    not found (sh, bash, zsh, pnpm, a `spawn … ENOENT`, or npx unable to fetch its package);
 * 2. `RanNoTests`: a test runner reported counts with nothing passed and nothing failed (everything filtered or
 *    skipped), or said it found no tests (`No test files found`, `No tests found`);
 * 3. `Ran` otherwise, with the counts when a runner reported them.
 * A plain shell command (`node -e …`) prints no runner output, so it is always `Ran` unless its tool is missing.
 */
export const proofOf = (result: CommandResult): RunProof => {
  const counts = Option.getOrNull(countsOf(result))
  if (!result.passed && counts === null) {
    const missing = missingTool(result)
    if (missing !== null) return RunProof.ToolMissing(missing)
  }
  if (counts !== null && ranNoTests(counts)) {
    return RunProof.RanNoTests({
      counts,
      evidence: `${counts.runner} reported ${counts.total} test(s): ${counts.skipped} skipped, none passed or failed`
    })
  }
  if (counts === null) {
    const said = stripAnsi(`${result.outputHead}\n${result.outputTail}`).split(/\r?\n/).find((l) => NO_TESTS_LINE.test(l))
    if (said !== undefined) return RunProof.RanNoTests({ counts: null, evidence: `the runner said "${cut(said.trim())}"` })
  }
  return RunProof.Ran({ counts })
}
