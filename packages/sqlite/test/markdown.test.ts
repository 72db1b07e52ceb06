import { describe, expect, it } from "@effect/vitest"
import { PATCH_PREVIEW_LINES, renderEvidenceMarkdown } from "@switchyard/core"
import { AgentReport, EvidenceBundle } from "@switchyard/domain"
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
    expect(why).toContain("Verdict `PR_READY` (cause `validated`)")
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
})
