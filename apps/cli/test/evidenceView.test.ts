import { describe, expect, it } from "@effect/vitest"
import {
  AgentReport,
  CommandResult,
  DiffReport,
  EvidenceBundle,
  GuardResult,
  IssueId,
  TaskPacket,
  type TerminalState,
  TestCounts,
  Verdict
} from "@switchyard/domain"
import { renderEvidenceTerminal } from "../src/view/evidence.js"

const ID = IssueId.make("SY-3")
const result = (command: string, exitCode: number) =>
  new CommandResult({
    command,
    exitCode,
    signal: null,
    timedOut: false,
    environmentFailure: false,
    durationMs: 1_500,
    outputHead: "",
    outputTail: ""
  })

const bundle = (outcome: TerminalState, extra: Partial<ConstructorParameters<typeof EvidenceBundle>[0]> = {}) =>
  new EvidenceBundle({
    schemaVersion: 1,
    issueId: ID,
    attempt: 2,
    outcome,
    summary: "average() guards the empty list",
    task: {
      title: "average([]) is NaN",
      body: "",
      packet: new TaskPacket({
        issue_id: ID,
        title: "average([]) is NaN",
        intent: "",
        source: { tracker: "sqlite", issue_id: ID, labels: [] },
        attempt: 2,
        scope: [],
        non_goals: [],
        reproduction: "node repro.js",
        validation: ["node --test"],
        no_op_rules: [],
        evidence_required: [],
        output_contract: { result_file: "r.json", format: "json" }
      })
    },
    reproduction: { command: "node repro.js", before: result("node repro.js", 1), after: result("node repro.js", 0) },
    agent: new AgentReport({
      kind: "command",
      command: "fix.sh",
      exitCode: 0,
      signal: null,
      timedOut: false,
      crashed: false,
      durationMs: 3_000,
      outputTail: "",
      claim: "PR_READY",
      claimError: null,
      summary: null,
      plan: null,
      question: null,
      residualRisk: null
    }),
    diff: new DiffReport({
      baseCommit: "a".repeat(40),
      branch: "switchyard/SY-3",
      commit: "b".repeat(40),
      tree: "c".repeat(40),
      files: ["src/average.js", "test/average.test.js"],
      stat: " src/average.js       | 3 ++-\n test/average.test.js | 1 +\n 2 files changed, 3 insertions(+), 1 deletion(-)\n",
      patch: "diff --git a/src/average.js b/src/average.js\n",
      patchTruncated: false
    }),
    validation: [result("node --test", 0), result("pnpm lint", 1)],
    verdict: new Verdict({ state: outcome, cause: "verified", reasons: ["The reproduction failed on the base and passes."] }),
    residualRisk: ["Only the listed checks ran."],
    question: null,
    guards: [
      new GuardResult({ rule: "outside_scope", passed: true, detail: "Every path is in scope.", lines: [] }),
      new GuardResult({
        rule: "skip_or_only_added",
        passed: false,
        detail: "The change adds a .skip.",
        lines: [{ file: "test/average.test.js", line: "+test.skip(\"x\")" }]
      })
    ],
    testCounts: {
      base: new TestCounts({ passed: 1, failed: 0, skipped: 0, total: 1, runner: "node-test" }),
      candidate: new TestCounts({ passed: 2, failed: 0, skipped: 0, total: 2, runner: "node-test" })
    },
    fingerprint: { tree: "c".repeat(40), commit: "b".repeat(40), baseCommit: "a".repeat(40), branch: "switchyard/SY-3" },
    timings: { startedAt: 0, endedAt: 65_000, stagesMs: {} },
    ...extra
  })

const ESC = "\x1b["

describe("renderEvidenceTerminal", () => {
  it("without colour: outcome, reasons, reproduction, validation, failed guards, diff stat, risk and files", () => {
    const text = renderEvidenceTerminal(bundle("ESCALATE", { question: "Is the skip intended?" }), { color: false })
    expect(text).not.toContain(ESC)
    const lines = text.split("\n")
    expect(lines[0]).toBe("SY-3 · ESCALATE  average() guards the empty list")
    expect(lines[1]).toBe("average([]) is NaN · attempt 2 · 1 min 5 s · 1970-01-01T00:01:05.000Z")
    expect(text).toContain("verdict verified\n  - The reproduction failed on the base and passes.")
    expect(text).toContain("question Is the skip intended?")
    expect(text).toContain("  ✓ base:      fails, as it must (exit 1, 1.5 s)")
    expect(text).toContain("  ✓ candidate: passes (exit 0, 1.5 s)")
    expect(text).toContain("  ✓ node --test  exit 0, 1.5 s")
    expect(text).toContain("  ✗ pnpm lint  exit 1, 1.5 s")
    expect(text).toContain("  tests: base 1 test, 1 passed → candidate 2 tests, 2 passed")
    expect(text).toContain("guards 1 of 2 failed\n  ✗ skip_or_only_added: The change adds a .skip.\n      test/average.test.js: +test.skip(\"x\")")
    expect(text).not.toContain("outside_scope")
    expect(text).toContain("diff switchyard/SY-3 @ bbbbbbbbbbbb from aaaaaaaaaaaa")
    expect(text).toContain("  src/average.js       | 3 ++-")
    expect(text).toContain("  2 files changed, +3 -1")
    expect(text).toContain("residual risk\n  - Only the listed checks ran.")
    expect(text).toContain("fingerprint tree cccccccccccc · commit bbbbbbbbbbbb · base aaaaaaaaaaaa")
    expect(text).toContain("files .switchyard/runs/SY-3/2/  evidence.md · evidence.json · diff.patch")
  })

  it("colours the outcome by state and the stat's + and - runs", () => {
    // @effect/printer-ansi writes the whole SGR state at each change: `ESC[0;<colour>;1m` is that colour, bold.
    const colours: Record<TerminalState, string> = { PR_READY: "32", NO_OP: "33", ESCALATE: "31", RETRYABLE_FAILURE: "35" }
    for (const [state, sgr] of Object.entries(colours)) {
      const first = renderEvidenceTerminal(bundle(state as TerminalState), { color: true }).split("\n")[0]!
      expect(first).toContain(`${ESC}0;${sgr};1m${state}${ESC}`)
    }
    const text = renderEvidenceTerminal(bundle("PR_READY"), { color: true })
    expect(text).toContain(`src/average.js       | 3 ${ESC}0;32m++${ESC}0m${ESC}0;31m-${ESC}0m`)
    // An empty run gets no codes at all.
    expect(text).toContain(`test/average.test.js | 1 ${ESC}0;32m+${ESC}0m\n`)
    expect(text).toContain(`${ESC}0;32m+3${ESC}0m ${ESC}0;31m-1${ESC}0m`)
  })

  it("colour only adds styles: without its escape codes the coloured text is the plain text", () => {
    for (const state of ["PR_READY", "NO_OP", "ESCALATE", "RETRYABLE_FAILURE"] as const) {
      const b = bundle(state, { question: "Why?", integration: { pushed: false, pushError: "denied", prUrl: null, prError: "no gh" } })
      const coloured = renderEvidenceTerminal(b, { color: true })
      expect(coloured).toContain(ESC)
      expect(coloured.replace(/\x1b\[[0-9;]*m/g, "")).toBe(renderEvidenceTerminal(b, { color: false }))
    }
  })

  it("drops control characters from the bundle's text, so an agent cannot drive the reader's terminal", () => {
    // A clipboard write (OSC 52), a screen clear and a carriage return, as an agent could put them in its summary,
    // its question or a diff line a guard quotes.
    const hostile = bundle("ESCALATE", {
      summary: "fixed\x1b]52;c;Y3VybCBldmlsLnNo\x07 it\r",
      question: "ok?\x1b[2J",
      guards: [
        new GuardResult({ rule: "skip_or_only_added", passed: false, detail: "a skip", lines: [{ file: "t.js", line: "+x\x1b[8m" }] })
      ]
    })
    for (const color of [false, true]) {
      const text = renderEvidenceTerminal(hostile, { color })
      expect(text).not.toContain("\x07")
      expect(text).not.toContain("\r")
      expect(text).not.toContain(`${ESC}2J`)
      expect(text).not.toContain(`${ESC}8m`)
      expect(text.split("\n")[0]).toMatch(/ {2}fixed\]52;c;Y3VybCBldmlsLnNo it$/)
      expect(text).toContain(" ok?[2J\n")
      expect(text).toContain("      t.js: +x[8m")
    }
  })

  it("shows the integration result and a given run directory; a bundle without a diff or checks stays short", () => {
    const published = renderEvidenceTerminal(
      bundle("PR_READY", { integration: { pushed: true, pushError: null, prUrl: "https://example.test/pull/9", prError: null } }),
      { color: false, runDir: "/repo/.switchyard/runs/SY-3/2" }
    )
    expect(published).toContain("integration pushed · PR https://example.test/pull/9")
    expect(published).toContain("files /repo/.switchyard/runs/SY-3/2")
    const bare = renderEvidenceTerminal(
      bundle("NO_OP", {
        diff: null,
        validation: [],
        guards: [],
        testCounts: { base: null, candidate: null },
        fingerprint: null,
        reproduction: { command: "node repro.js", before: result("node repro.js", 0), after: null }
      }),
      { color: false }
    )
    expect(bare).toContain("  ✗ base:      passes (already fixed?) (exit 0, 1.5 s)")
    expect(bare).not.toContain("diff ")
    expect(bare).not.toContain("\nguards ")
    expect(bare).not.toContain("fingerprint")
    expect(bare).toContain("files .switchyard/runs/SY-3/2/  evidence.md · evidence.json")
    expect(bare).not.toContain("diff.patch")
  })
})
