import { describe, expect, it } from "@effect/vitest"
import { PATCH_PREVIEW_LINES, renderEvidenceMarkdown } from "@switchyard/core"
import { AgentReport, DiffReport, EvidenceBundle, GuardResult, TestCounts } from "@switchyard/domain"
import { commandResult, sampleBundle } from "./helpers.js"

const section = (markdown: string, title: string): string => {
  const start = markdown.indexOf(`## ${title}\n`)
  expect(start, `section ${title}`).toBeGreaterThanOrEqual(0)
  const next = markdown.indexOf("\n## ", start + 1)
  return markdown.slice(start, next === -1 ? undefined : next)
}

describe("renderEvidenceMarkdown", () => {
  it("leads with the issue, the outcome, the summary and the verdict's reasons", () => {
    const bundle = sampleBundle()
    const markdown = renderEvidenceMarkdown(bundle)
    const lines = markdown.split("\n")
    expect(lines[0]).toBe("# SY-7 · PR_READY: sum() adds its arguments again")
    const why = section(markdown, "Why we believe it")
    expect(why).toContain("Verdict `PR_READY` (cause `verified`)")
    expect(why).toContain("- The reproduction failed on the base and passes on the candidate.")
    expect(why).toContain("- All 2 validation commands exit 0.")
    expect(markdown.indexOf("## Why we believe it")).toBeLessThan(markdown.indexOf("## Reproduction"))
    expect(markdown).not.toContain("## Question for the human")
  })

  it("tabulates the reproduction and validation runs, with output tails folded", () => {
    const markdown = renderEvidenceMarkdown(sampleBundle())
    const reproduction = section(markdown, "Reproduction")
    expect(reproduction).toContain("Command: `pnpm vitest run sum`")
    expect(reproduction).toContain("| before (base) | 1 | 1.3 s |")
    expect(reproduction).toContain("| after (candidate) | 0 | 1.3 s |")
    expect(reproduction).toContain("<details>\n<summary>before (base): output tail</summary>")
    expect(reproduction).toContain("FAIL expected 2 to be 3")
    const validation = section(markdown, "Validation")
    expect(validation).toContain("| `pnpm tsc -b` | 0 | 1.3 s | passed |")
    expect(validation).toContain("| `pnpm lint` | 0 | 1.3 s | passed |")
  })

  it("shows the agent's claim against the verdict, the diff, residual risk and timings", () => {
    const markdown = renderEvidenceMarkdown(sampleBundle())
    const agent = section(markdown, "Agent")
    expect(agent).toContain("`command` agent: `my-agent --fix`, exit 0, 42.0 s")
    expect(agent).toContain("Claim `PR_READY` vs verdict `PR_READY`")
    expect(agent).not.toContain("overrides")
    expect(agent).toContain("Plan: read sum.ts, fix the loop")
    expect(agent).toContain("Summary: fixed the off-by-one in sum")
    const diff = section(markdown, "Diff")
    expect(diff).toContain("- `src/sum.ts`")
    expect(diff).toContain("1 file changed")
    expect(diff).toContain("```diff\ndiff --git a/src/sum.ts b/src/sum.ts")
    expect(diff).toContain("`aaaaaaaaaaaa`")
    expect(section(markdown, "Residual risk")).toContain("- Only the checks listed above were run.")
    const timings = section(markdown, "Timings")
    expect(timings).toContain("| agent | 42.0 s |")
    expect(timings).toContain("| sandbox | 120 ms |")
    expect(timings).toContain("(1 min 0 s in total)")
  })

  it("cuts a long patch and says where the whole one is", () => {
    const markdown = renderEvidenceMarkdown(sampleBundle({ patchLines: 500 }))
    const diff = section(markdown, "Diff")
    expect(diff).toContain(`Showing ${PATCH_PREVIEW_LINES} of 504 lines`)
    expect(diff).toContain("diff.patch")
    expect(diff).toContain("+export const line195 = 195")
    expect(diff).not.toContain("+export const line196 = 196")
    expect(renderEvidenceMarkdown(sampleBundle({ patchLines: 10 }))).not.toContain("Showing")
  })

  it("asks the human's question on ESCALATE and flags a claim the verdict overrides", () => {
    const base = sampleBundle({ outcome: "ESCALATE", withDiff: false })
    const bundle = new EvidenceBundle({
      ...base,
      agent: new AgentReport({ ...(base.agent as AgentReport), claim: "PR_READY" }),
      reproduction: { command: "pnpm vitest run sum", before: commandResult("pnpm vitest run sum", null, { timedOut: true }), after: null }
    })
    const markdown = renderEvidenceMarkdown(bundle)
    expect(section(markdown, "Question for the human")).toContain("> Should sum() accept strings?")
    expect(section(markdown, "Agent")).toContain("Claim `PR_READY` vs verdict `ESCALATE` (the verdict overrides the claim)")
    expect(section(markdown, "Diff")).toContain("No diff")
    expect(section(markdown, "Reproduction")).toContain("| before (base) | timed out |")
  })

  it("keeps backticks and pipes in commands from breaking the markup", () => {
    const base = sampleBundle()
    const bundle = new EvidenceBundle({ ...base, validation: [commandResult("echo `date` | grep x", 1)] })
    const validation = section(renderEvidenceMarkdown(bundle), "Validation")
    expect(validation).toContain("| `` echo `date` \\| grep x `` | 1 | 1.3 s | failed |")
  })

  it("answers what changed, why we believe it and what is uncertain before any detail", () => {
    const base = sampleBundle()
    const bundle = new EvidenceBundle({
      ...base,
      diff: new DiffReport({ ...(base.diff as DiffReport), stat: " src/sum.ts | 2 +-\n 1 file changed, 1 insertion(+), 1 deletion(-)\n" }),
      guards: [new GuardResult({ rule: "deleted_test_file", passed: true, detail: "No test file was deleted.", lines: [] })],
      testCounts: {
        base: new TestCounts({ passed: 4, failed: 0, skipped: 0, total: 4, runner: "vitest" }),
        candidate: new TestCounts({ passed: 5, failed: 0, skipped: 0, total: 5, runner: "vitest" })
      },
      fingerprint: { tree: "c".repeat(40), commit: "b".repeat(40), baseCommit: "a".repeat(40), branch: "switchyard/SY-7" }
    })
    const markdown = renderEvidenceMarkdown(bundle)
    const order = ["## What changed", "## Why we believe it", "## Residual risk", "## Reproduction", "## Guards", "## Diff"]
    const positions = order.map((title) => markdown.indexOf(`${title}\n`))
    expect(positions.every((p) => p > 0)).toBe(true)
    expect([...positions].sort((a, b) => a - b)).toEqual(positions)
    const changed = section(markdown, "What changed")
    expect(changed).toContain("1 file (+1 −1) on `switchyard/SY-7-1` at `bbbbbbbbbbbb`, from base `aaaaaaaaaaaa`: `src/sum.ts`.")
    expect(changed).toContain("The agent says: fixed the off-by-one in sum")
    const why = section(markdown, "Why we believe it")
    expect(why).toContain("- Reproduction `pnpm vitest run sum` fails on the base (1), passes on the candidate (0).")
    expect(why).toContain("- Validation: 2 of 2 commands passed.")
    expect(why).toContain("- Guards: all 1 passed.")
    expect(why).toContain("- Tests: 4 tests (4 passed) on the base, 5 tests (5 passed) on the candidate.")
    expect(why).toContain("- Bound to tree `cccccccccccc` (commit `bbbbbbbbbbbb`)")
  })

  it("tabulates every guard and lists the lines that triggered a failure", () => {
    const bundle = new EvidenceBundle({
      ...sampleBundle({ outcome: "ESCALATE" }),
      guards: [
        new GuardResult({ rule: "deleted_test_file", passed: true, detail: "No test file was deleted.", lines: [] }),
        new GuardResult({
          rule: "skip_or_only_added",
          passed: false,
          detail: "The change adds 1 marker that skips tests.",
          lines: [{ file: "test/sum.test.ts", line: "+it.skip(\"adds\", () => {" }]
        }),
        new GuardResult({
          rule: "validation_config_edited",
          passed: true,
          detail: "Allowed | by the issue.",
          lines: [{ file: "package.json", line: "+\"test\": \"vitest run\"" }]
        })
      ]
    })
    const markdown = renderEvidenceMarkdown(bundle)
    const guards = section(markdown, "Guards")
    expect(guards).toContain("| `deleted_test_file` | passed | No test file was deleted. |")
    expect(guards).toContain("| `skip_or_only_added` | **FAILED** | The change adds 1 marker that skips tests. |")
    expect(guards).toContain("| `validation_config_edited` | passed | Allowed \\| by the issue. |")
    expect(guards).toContain("Lines that triggered `skip_or_only_added`:\n\n- `test/sum.test.ts`: `+it.skip(\"adds\", () => {`")
    expect(guards).toContain("Allowed by an exception (`validation_config_edited`):")
    expect(section(markdown, "Why we believe it")).toContain("Guards: 1 of 3 failed (`skip_or_only_added`).")
    expect(renderEvidenceMarkdown(sampleBundle())).toContain("_No guards ran (nothing was verified)._")
  })

  it("shows test counts next to validation, and the fingerprint", () => {
    const bundle = new EvidenceBundle({
      ...sampleBundle(),
      testCounts: { base: new TestCounts({ passed: 3, failed: 1, skipped: 1, total: 5, runner: "node-test" }), candidate: null },
      fingerprint: { tree: "c".repeat(40), commit: "b".repeat(40), baseCommit: "a".repeat(40), branch: "switchyard/SY-7" }
    })
    const markdown = renderEvidenceMarkdown(bundle)
    const validation = section(markdown, "Validation")
    expect(validation).toContain("| base | 5 | 3 | 1 | 1 | node-test |")
    expect(validation).toContain("| candidate | – | – | – | – | not reported |")
    const fingerprint = section(markdown, "Fingerprint")
    expect(fingerprint).toContain(`| tree | \`${"c".repeat(40)}\` |`)
    expect(fingerprint).toContain(`| base | \`${"a".repeat(40)}\` |`)
    expect(fingerprint).toContain("| branch | `switchyard/SY-7` |")
    expect(fingerprint).toContain("`switchyard verify SY-7`")
    expect(section(renderEvidenceMarkdown(sampleBundle()), "Fingerprint")).toContain("_None")
  })

  it("reports tokens and cost, revisions and the integration result", () => {
    const base = sampleBundle()
    const bundle = new EvidenceBundle({
      ...base,
      agent: new AgentReport({
        ...(base.agent as AgentReport),
        usage: { inputTokens: 12_345, outputTokens: 678, cacheReadInputTokens: 9_000, cacheCreationInputTokens: 10 },
        costUsd: 0.0421,
        numTurns: 7
      }),
      usage: { inputTokens: 20_000, outputTokens: 1_000, costUsd: 1.5 },
      revisions: [{ turn: 1, cause: "validation_failed", feedback: "pnpm tsc -b exited 2\nsrc/sum.ts(3,1): error" }],
      integration: { pushed: false, pushError: "remote: denied", prUrl: null, prError: "pr_command not run: the push failed" }
    })
    const markdown = renderEvidenceMarkdown(bundle)
    const usage = section(markdown, "Tokens and cost")
    expect(usage).toContain("| last agent run | 12,345 | 678 | 9,000 | 10 | $0.0421 | 7 |")
    expect(usage).toContain("| attempt total | 20,000 | 1,000 | – | – | $1.50 | – |")
    const revisions = section(markdown, "Revisions")
    expect(revisions).toContain("- turn 1: `validation_failed`")
    expect(revisions).toContain("src/sum.ts(3,1): error")
    const integration = section(markdown, "Integration")
    expect(integration).toContain("- Push: **failed**: remote: denied")
    expect(integration).toContain("- Pull request: **failed**: pr_command not run: the push failed")
    const ok = renderEvidenceMarkdown(new EvidenceBundle({
      ...base,
      integration: { pushed: true, pushError: null, prUrl: "https://example.test/pull/3", prError: null }
    }))
    expect(section(ok, "Integration")).toContain("- Pull request: https://example.test/pull/3")
    expect(ok).not.toContain("## Revisions")
    expect(section(ok, "Tokens and cost")).toContain("No token usage or cost was reported")
    expect(renderEvidenceMarkdown(base)).not.toContain("## Integration")
  })
})
