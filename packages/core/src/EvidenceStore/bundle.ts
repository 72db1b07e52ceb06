/**
 * The evidence bundle of an ending, assembled from the attempt's progress (its stage artifacts) and its verdict.
 * Pure: the line, the supervisor's repairs and the tests build bundles with it.
 */
import {
  AgentReport,
  type CommandResult,
  type ConfinementRecord,
  DiffReport,
  EVIDENCE_SCHEMA_VERSION,
  EvidenceBundle,
  type Issue,
  type TaskPacket,
  Verdict
} from "@switchyard/domain"
import { Option } from "effect"
import type { IntegrationResult } from "../Integration/Integration.js"
import { lastReport, type Progress } from "../Line/progress.js"
import { questionFor, residualRisk, summaryFor } from "../Line/summary.js"
import { branchFor } from "../Sandbox/Sandbox.js"
import { countsOf } from "../Verifier/testCounts.js"

/** Everything an attempt's ending is made of: settled by `Line/settle.ts`, bundled by {@link bundleOf}. */
export interface Outcome {
  readonly issue: Issue
  readonly attempt: number
  /** The lease epoch the ending is written under (the fence). */
  readonly epoch: number
  /** The final verdict (retry and runner-death budgets applied). */
  readonly verdict: Verdict
  readonly progress: Progress
  /** The task packet (a fallback built from defaults when the attempt never got that far). */
  readonly packet: TaskPacket
  /** The commit the verdict is bound to (the packaged commit of a PR_READY), or null. */
  readonly commit: string | null
  /** False when the attempt must not count against `agent.max_attempts` (a runner death). */
  readonly counted: boolean
  /** When a RETRYABLE_FAILURE runs again (epoch ms); null for now (or for other states). */
  readonly retryAt: number | null
  /** The counted try the retry will be (`RetryEntry.attempt`). */
  readonly nextTry: number
  readonly confinement: ConfinementRecord
  readonly integration: IntegrationResult | null
  readonly timings: { readonly startedAt: number; readonly endedAt: number; readonly stagesMs: Readonly<Record<string, number>> }
  /** Runners that died on this issue so far (shown when the attempt was resumed). */
  readonly runnerDeaths: number
  /** Who ended it: the worker that ran it, or a supervisor repairing a dead runner's attempt. */
  readonly endedBy: "worker" | "supervisor"
}

/** Tokens and cost over every agent run of the attempt (cost null when no run reported one). */
export const totalUsage = (runs: ReadonlyArray<AgentReport>) => ({
  inputTokens: runs.reduce((n, r) => n + (r.usage?.inputTokens ?? 0), 0),
  outputTokens: runs.reduce((n, r) => n + (r.usage?.outputTokens ?? 0), 0),
  costUsd: runs.some((r) => r.costUsd !== null) ? runs.reduce((n, r) => n + (r.costUsd ?? 0), 0) : null
})

/** The one-line summary of an outcome (the bundle's `summary`, the `terminal.*` event's message). */
export const summaryOf = (o: Outcome): string => summaryFor(o.verdict, o.issue, o.progress, o.attempt, o.retryAt)

/**
 * The bundle of `o`. `redact` is applied to every text that may quote the agent or a command (the agent's output
 * and summary, the patch, the verdict's reasons); `EvidenceStore.put` redacts again as the last gate.
 */
/** The test counts a command's output reports, or null (no command, or no test runner output). */
const countsOrNull = (r: CommandResult | null) => (r === null ? null : Option.getOrNull(countsOf(r)))

export const bundleOf = (o: Outcome, redact: (text: string) => string = (t) => t): EvidenceBundle => {
  const p = o.progress
  const agent = lastReport(p)
  const base = p.prepared?.base ?? p.opened?.base ?? null
  const verdict = Verdict.make({ ...o.verdict, reasons: o.verdict.reasons.map(redact) })
  const branch = branchFor(o.issue.id)
  return EvidenceBundle.make({
    schemaVersion: EVIDENCE_SCHEMA_VERSION,
    issueId: o.issue.id,
    attempt: o.attempt,
    outcome: o.verdict.state,
    summary: summaryOf(o),
    task: { title: o.issue.title, body: o.issue.body, packet: o.packet },
    reproduction: {
      command: o.packet.reproduction,
      before: p.reproductionBefore,
      after: p.verification?.reproductionAfter ?? null
    },
    agent: agent === null
      ? null
      : new AgentReport({
        ...agent,
        outputTail: redact(agent.outputTail),
        summary: agent.summary === null ? null : redact(agent.summary)
      }),
    diff: p.candidate === null || base === null || p.candidate.empty
      ? null
      : DiffReport.make({
        baseCommit: base,
        branch,
        commit: o.commit ?? p.candidate.commit,
        tree: p.candidate.tree,
        files: p.candidate.files,
        stat: p.candidate.stat,
        patch: redact(p.candidate.patch),
        patchTruncated: p.candidate.patchTruncated
      }),
    validation: p.verification?.validation ?? [],
    guards: p.verification?.guards ?? [],
    revisions: p.revisions.map((r) => ({ turn: r.turn, cause: r.cause, feedback: r.feedback })),
    usage: totalUsage(p.turns.map((t) => t.report)),
    testCounts: p.verification?.testCounts ?? { base: null, candidate: null },
    baseReusedAt: p.verification?.baseReusedFrom ?? null,
    reproductionTestCounts: {
      before: countsOrNull(p.reproductionBefore),
      after: countsOrNull(p.verification?.reproductionAfter ?? null)
    },
    fingerprint: p.candidate?.tree && o.commit && base
      ? { tree: p.candidate.tree, commit: o.commit, baseCommit: base, branch }
      : null,
    verdict,
    residualRisk: residualRisk(o.verdict, p),
    question: questionFor(o.verdict, o.issue, agent?.question ?? null),
    confinement: agent?.confinement ?? o.confinement,
    integrity: { escapes: p.escapes, restored: p.restored, noted: p.noted },
    integration: o.integration,
    resumed: p.resumed === null ? null : { fromStage: p.resumed.fromStage, runnerDeaths: p.resumed.runnerDeaths, at: p.resumed.at },
    timings: { startedAt: o.timings.startedAt, endedAt: o.timings.endedAt, stagesMs: { ...o.timings.stagesMs } }
  })
}

/**
 * Whether the attempt's branch `switchyard/<id>` is kept after this ending: always for PR_READY; for an ESCALATE
 * with a diff (for review), unless its commit holds a secret (the evidence is scrubbed, a commit cannot be, and a
 * kept branch is one `git push --all` away from publishing it). Deleted otherwise.
 */
export const keepsBranch = (bundle: EvidenceBundle): boolean => {
  const leaksSecret = bundle.guards.some((g) => g.rule === "secret_in_diff" && !g.passed)
  return bundle.outcome === "PR_READY" || (bundle.outcome === "ESCALATE" && bundle.diff !== null && !leaksSecret)
}
