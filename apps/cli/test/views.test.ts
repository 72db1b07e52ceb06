/**
 * The terminal views of `status`, `issue list` and `run` (view/*.ts), rendered plain and in colour. The plain text is
 * what scripts and the other tests read; colour must only add escape codes, never move a column.
 */
import { describe, expect, it } from "@effect/vitest"
import { FactoryEvent, Issue, IssueId, Lease, RetryEntry, RunnerId } from "@switchyard/domain"
import { DateTime } from "effect"
import type { StatusSnapshot } from "../src/commands/status/snapshot.js"
import { clearScreen, render } from "../src/view/doc.js"
import { issueTable } from "../src/view/issue.js"
import { progressLine } from "../src/view/progress.js"
import { renderStatus } from "../src/view/status.js"

const ESC = "\x1b["
const strip = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "")

const now = 1_796_150_600_000
const runner = RunnerId.make("host:5101:1796150587059")
const lease = (id: string, pid: number) =>
  new Lease({
    issue_id: IssueId.make(id),
    runner_id: runner,
    host: "host",
    pid: 5101,
    attempt: 1,
    stage: "agent",
    acquired_at: now - 4_000,
    heartbeat_at: now,
    expires_at: now + 30_000,
    agent_pid: pid,
    agent_pgid: pid,
    sandbox_path: null,
    last_output_at: now - 3_000
  })

/** The snapshot docs/status.md shows, plus whatever a test adds. */
const snapshot = (
  extra: {
    recent?: StatusSnapshot["human"]["recent"]
    violations?: StatusSnapshot["human"]["violations"]
    health?: StatusSnapshot["tracker"]["health"]
  } = {}
) => {
  const leases = [lease("SY-1", 5123), lease("SY-4", 5140)]
  const retries = [new RetryEntry({ issue_id: IssueId.make("SY-2"), attempt: 2, due_at: now + 56_000, error: "agent_exit_nonzero" })]
  const s: StatusSnapshot = {
    generatedAt: now,
    tracker: {
      counts: { backlog: 0, todo: 2, in_progress: 2, in_review: 0, blocked: 0, done: 0, cancelled: 0 },
      eligible: 0,
      next: [],
      waiting: 1,
      blocked: 0,
      invalid: [],
      health: extra.health ?? []
    },
    orchestrator: { runner, workflowInvalid: [], runners: null, leases: [], retries: [] },
    workers: leases.map((l) => ({
      issue: l.issue_id,
      stage: l.stage,
      elapsedMs: 4_000,
      lastOutputAgeMs: 3_000,
      pid: l.agent_pid,
      runner: l.runner_id
    })),
    human: {
      recent: extra.recent ?? [{
        issue: IssueId.make("SY-2"),
        attempt: 1,
        outcome: "RETRYABLE_FAILURE",
        cause: "agent_exit_nonzero",
        endedAt: now - 1_000,
        evidence: true,
        signature: "signed",
        trust: "The agent exited 1: …",
        tokens: null,
        summary: null,
        confinement: null
      }],
      violations: extra.violations ?? [],
      usage: { bundles: 1, inputTokens: 0, outputTokens: 0, costUsd: null }
    },
    _raw: { leases, retries }
  }
  return s
}

describe("status view", () => {
  it("renders the four layers as docs/status.md shows them", () => {
    expect(renderStatus(snapshot())).toBe(
      [
        "TRACKER       todo 2 · in_progress 2",
        "              eligible now: none · waiting on blockers or open children: 1",
        "ORCHESTRATOR  2 lease(s)",
        "              SY-1     agent      attempt 1 · 4s · heartbeat 0s ago · pid 5123 · host:5101:1796150587059",
        "              SY-4     agent      attempt 1 · 4s · heartbeat 0s ago · pid 5140 · host:5101:1796150587059",
        "              retry SY-2     attempt 2 due in 56s (agent_exit_nonzero)",
        "WORKERS       2 running",
        "              SY-1 agent for 4s, last output 3s ago, pid 5123",
        "              SY-4 agent for 4s, last output 3s ago, pid 5140",
        "HUMAN         recent outcomes (newest first):",
        "              SY-2     #1 RETRYABLE_FAILURE  The agent exited 1: …"
      ].join("\n")
    )
  })

  it("an external tracker's health: last read and rate limit; an outage is a warning", () => {
    const row = {
      kind: "github",
      lastOkAt: now - 12_000,
      lastError: null,
      lastErrorAt: null,
      rateLimitRemaining: 4_990,
      rateLimitResetAt: now + 60_000,
      pendingWriteBacks: 0,
      oldestPendingAt: null
    }
    const healthy = renderStatus(snapshot({ health: [row] })).split("\n")
    expect(healthy[2]).toBe("              github: last read 12s ago · rate limit left 4990")
    const down = renderStatus(
      snapshot({ health: [{ ...row, lastError: "GitHub read issues failed (HTTP 503): down", lastErrorAt: now - 1_000, pendingWriteBacks: 2 }] })
    ).split("\n")
    expect(down[2]).toBe(
      "              ⚠ github: cannot be read (GitHub read issues failed (HTTP 503): down); last read 12s ago; nothing new is dispatched · rate limit left 4990 · 2 write-back(s) waiting"
    )
  })

  it("a shared store's runners, on every host, each with its workers, before the leases", () => {
    const s = snapshot()
    const shared: StatusSnapshot = {
      ...s,
      orchestrator: {
        ...s.orchestrator,
        runners: [
          { runner, host: "host", pid: 5101, heartbeatAgeMs: 1_000, workers: 2 },
          { runner: RunnerId.make("other:77:1796150500000"), host: "other", pid: 77, heartbeatAgeMs: 95_000, workers: 0 }
        ]
      }
    }
    const lines = renderStatus(shared).split("\n")
    expect(lines.slice(2, 5)).toEqual([
      "ORCHESTRATOR  2 lease(s)",
      "              runner host:5101:1796150587059 · host · 2 worker(s) · heartbeat 1s ago",
      "              runner other:77:1796150500000 · other · 0 worker(s) · heartbeat 1m35s ago"
    ])
  })

  it("in colour: the outcome and warnings are coloured, and without the codes it is the plain text", () => {
    const s = snapshot({
      recent: [
        { ...snapshot().human.recent[0]!, outcome: "PR_READY", trust: "⚠ unsigned (stored before bundles were signed); ok", confinement: "none" },
        { ...snapshot().human.recent[0]!, issue: IssueId.make("PROJ-123456"), outcome: null, evidence: false, trust: "⚠ no evidence bundle" }
      ],
      violations: [{ kind: "evidence_unsigned", issueId: IssueId.make("SY-2"), attempt: 1, detail: "no signature" }]
    })
    const coloured = renderStatus(s, { color: true })
    expect(coloured).toContain(`${ESC}0;32mPR_READY`)
    expect(coloured).toContain(`${ESC}0;33m⚠ agent UNCONFINED${ESC}0m`)
    expect(coloured).toContain(`${ESC}0;31m⚠ SY-2 evidence_unsigned: no signature${ESC}0m`)
    const plain = renderStatus(s)
    expect(plain).not.toContain(ESC)
    expect(strip(coloured)).toBe(plain)
    expect(plain).toContain("              SY-2     #1 PR_READY           ⚠ unsigned (stored before bundles were signed); ok · ⚠ agent UNCONFINED")
    // A long id is shown whole (it used to be cut to "PROJ-12…"); the columns after it move over.
    expect(plain).toContain("              PROJ-123456 #1 -                  ⚠ no evidence bundle")
    expect(plain).toContain("VIOLATIONS    1 (the supervisor cannot repair these; a human must):\n              ⚠ SY-2 evidence_unsigned: no signature")
  })

  it("--watch clears the screen and homes the cursor before each snapshot", () => {
    expect(clearScreen).toContain(`${ESC}2J`)
    expect(clearScreen).toContain(`${ESC}1;1H`)
    expect(strip(clearScreen).replace(/\x1b\[[0-9;]*[JH]/g, "")).toBe("")
  })
})

describe("issue list view", () => {
  const at = DateTime.unsafeMake(0)
  const issue = (id: string, labels: ReadonlyArray<string>) =>
    new Issue({
      id: IssueId.make(id),
      title: "average([]) is NaN",
      body: "",
      status: "in_progress",
      priority: "high",
      labels,
      parent: null,
      blocked_by: [],
      reproduction: null,
      validation: [],
      scope: [],
      non_goals: [],
      comments: [],
      created_at: at,
      updated_at: at
    })

  it("pads the columns, shows long ids whole, and is the same text in colour", () => {
    const view = issueTable([issue("SY-1", ["math", "bug"]), issue("PROJ-1234", [])])
    const plain = render(view, { color: false })
    expect(plain).toBe(
      [
        "ID       STATUS       PRIORITY  TITLE",
        "SY-1     in_progress  high      average([]) is NaN  [math, bug]",
        "PROJ-1234 in_progress  high      average([]) is NaN"
      ].join("\n")
    )
    const coloured = render(view, { color: true })
    expect(coloured).toContain(`${ESC}0;1mID`)
    expect(strip(coloured)).toBe(plain)
    expect(render(issueTable([]), { color: false })).toBe("no issues")
  })
})

describe("run progress line", () => {
  const event = (type: string, issue: string | null) =>
    new FactoryEvent({ seq: 1, at: Date.UTC(2026, 0, 1, 12, 34, 56), runner_id: "r", issue_id: issue, type, message: "a message", data: {} })

  it("time, issue and type in columns; terminal states in their colour; agent output not shown", () => {
    const line = progressLine(event("terminal.PR_READY", "SY-1"))!
    expect(render(line, { color: false })).toBe("12:34:56 SY-1    terminal.PR_READY          a message")
    expect(render(line, { color: true })).toContain(`${ESC}0;32m${"terminal.PR_READY".padEnd(26)}${ESC}0m a message`)
    expect(render(progressLine(event("runner.drained", null))!, { color: false })).toBe(
      "12:34:56         runner.drained             a message"
    )
    expect(progressLine(event("agent.output", "SY-1"))).toBeNull()
  })
})
