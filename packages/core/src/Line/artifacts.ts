/**
 * Stage artifacts: the durable output of each stage of an attempt, stored as the stage completes
 * (`EvidenceStore.putStage`). The evidence bundle is assembled from them (`bundle.ts`), `switchyard evidence`
 * shows a running attempt's completed stages, and a successor resumes a dead runner's attempt from them
 * (docs/reliability.md). Every text in them went through the redaction an evidence bundle gets.
 */
import { AgentReport, CommandResult, EscapeTarget, GuardResult, TaskPacket, TestCounts } from "@switchyard/domain"
import { Schema } from "effect"
import { Candidate, SandboxReuse } from "../Sandbox/Sandbox.js"

/**
 * The attempt opened: its base commit, its run directory and the task packet, before any sandbox exists (the
 * reproduction on the base runs next, so a NO_OP never pays for a sandbox; issue 12 item 3).
 */
export class Opened extends Schema.TaggedClass<Opened>()("Opened", {
  base: Schema.String,
  runDir: Schema.String,
  packet: TaskPacket
}) {}

/** The attempt's sandbox on its base, and the task packet it works from. */
export class Prepared extends Schema.TaggedClass<Prepared>()("Prepared", {
  base: Schema.String,
  branch: Schema.String,
  sandboxPath: Schema.String,
  home: Schema.String,
  io: Schema.String,
  runDir: Schema.String,
  packet: TaskPacket,
  /** Set when the sandbox was kept from an earlier attempt and taken up again (workspace continuity). */
  reused: Schema.optionalWith(Schema.NullOr(SandboxReuse), { default: () => null })
}) {}

/** The reproduction run on the base commit, before the agent. */
export class Reproduced extends Schema.TaggedClass<Reproduced>()("Reproduced", {
  result: CommandResult
}) {}

/** One agent run (turn 1, then one per revision) and the integrity check around it. */
export class AgentTurn extends Schema.TaggedClass<AgentTurn>()("AgentTurn", {
  turn: Schema.Int,
  report: AgentReport,
  escapes: Schema.Array(Schema.Struct({ target: EscapeTarget, detail: Schema.String })),
  restored: Schema.Array(Schema.String),
  noted: Schema.Array(Schema.String)
}) {}

/** What the agent left after a turn, committed by the runner on the attempt's branch. */
export class CandidateMade extends Schema.TaggedClass<CandidateMade>()("CandidateMade", {
  turn: Schema.Int,
  candidate: Candidate
}) {}

/** The Verifier's result on a candidate (a clean checkout, never the agent's sandbox). */
export const VerificationRecord = Schema.Struct({
  reproductionAfter: Schema.NullOr(CommandResult),
  validation: Schema.Array(CommandResult),
  guards: Schema.Array(GuardResult),
  testCounts: Schema.Struct({ base: Schema.NullOr(TestCounts), candidate: Schema.NullOr(TestCounts) }),
  /** When the base's validation was reused from an earlier run (ms since the epoch); absent when it ran now. */
  baseReusedFrom: Schema.optional(Schema.Number)
})

export class Verified extends Schema.TaggedClass<Verified>()("Verified", {
  turn: Schema.Int,
  verification: VerificationRecord
}) {}

/** The feedback a revision turn was given after the Verifier rejected a candidate. */
export class Revised extends Schema.TaggedClass<Revised>()("Revised", {
  turn: Schema.Int,
  cause: Schema.String,
  feedback: Schema.String
}) {}

/** A successor took the attempt over from a dead runner, at `fromStage`. */
export class Resumed extends Schema.TaggedClass<Resumed>()("Resumed", {
  fromStage: Schema.String,
  runnerDeaths: Schema.Int,
  /** When the successor took over (epoch ms). */
  at: Schema.Number
}) {}

export const StageArtifact = Schema.Union(Opened, Prepared, Reproduced, AgentTurn, CandidateMade, Verified, Revised, Resumed)
export type StageArtifact = typeof StageArtifact.Type

/** A stored artifact: its order in the attempt (`seq`, from 1) and when it was stored (epoch ms). */
export interface StoredStage {
  readonly seq: number
  readonly at: number
  readonly artifact: StageArtifact
}

/** The name `switchyard evidence` shows for an artifact. */
export const stageName = (a: StageArtifact): string => {
  switch (a._tag) {
    case "Opened":
      return "open"
    case "Prepared":
      return "prepare"
    case "Reproduced":
      return "reproduce on base"
    case "AgentTurn":
      return a.turn === 1 ? "agent turn" : `agent turn (revision ${a.turn - 1})`
    case "CandidateMade":
      return "candidate commit"
    case "Verified":
      return "verify candidate"
    case "Revised":
      return `revise (${a.cause})`
    case "Resumed":
      return `resumed from ${a.fromStage}`
  }
}

/**
 * What a successor can resume from: the prepared sandbox and the latest candidate with a commit, when the
 * agent's last turn ended and its work was committed. Null when the attempt must start over (no candidate yet).
 */
export const resumePoint = (stages: ReadonlyArray<StoredStage>): {
  readonly prepared: Prepared
  readonly reproduced: Reproduced | null
  readonly turns: ReadonlyArray<AgentTurn>
  readonly candidate: CandidateMade
  readonly revisions: ReadonlyArray<Revised>
  readonly resumes: number
} | null => {
  const artifacts = stages.map((s) => s.artifact)
  const prepared = artifacts.find((a): a is Prepared => a._tag === "Prepared")
  const candidates = artifacts.filter((a): a is CandidateMade => a._tag === "CandidateMade")
  const turns = artifacts.filter((a): a is AgentTurn => a._tag === "AgentTurn")
  const candidate = candidates.at(-1)
  if (prepared === undefined || candidate === undefined || candidate.candidate.commit === null) return null
  // The candidate must be of the last agent turn (a turn after it, whose candidate is missing, means the agent
  // ran again and its work was not committed: start over).
  if (turns.length === 0 || turns.at(-1)!.turn !== candidate.turn) return null
  return {
    prepared,
    reproduced: artifacts.find((a): a is Reproduced => a._tag === "Reproduced") ?? null,
    turns,
    candidate,
    revisions: artifacts.filter((a): a is Revised => a._tag === "Revised"),
    resumes: artifacts.filter((a) => a._tag === "Resumed").length
  }
}

/** One line on what a stage found, for `switchyard evidence` on a running attempt. Pure. */
export const stageDetail = (a: StageArtifact): string => {
  switch (a._tag) {
    case "Opened":
      return `base ${a.base.slice(0, 10)}, task packet ready`
    case "Prepared":
      return `sandbox ${a.sandboxPath} on ${a.branch} at ${a.base.slice(0, 10)}`
    case "Reproduced":
      return `the reproduction exited ${a.result.exitCode ?? a.result.signal ?? "?"} on the base${
        a.result.environmentFailure ? " (could not run)" : ""
      }`
    case "AgentTurn":
      return `${a.report.kind} agent exited ${a.report.exitCode ?? a.report.signal ?? "?"}${
        a.report.timedOut ? " (timed out)" : a.report.stalled ? " (stalled)" : ""
      }; claim ${a.report.claim ?? "none"}${a.escapes.length > 0 ? `; ${a.escapes.length} escape(s) from the sandbox` : ""}`
    case "CandidateMade":
      return a.candidate.commit === null || a.candidate.files.length === 0
        ? "no change"
        : `${a.candidate.files.length} file(s) changed, commit ${a.candidate.commit.slice(0, 10)}`
    case "Verified": {
      const v = a.verification
      const passed = v.validation.filter((r) => r.passed).length
      const failedGuards = v.guards.filter((g) => !g.passed).length
      return `${v.reproductionAfter === null ? "" : `reproduction exited ${v.reproductionAfter.exitCode ?? "?"}, `}${passed} of ${v.validation.length} validation command(s) passed${
        failedGuards > 0 ? `, ${failedGuards} guard(s) failed` : ""
      }`
    }
    case "Revised":
      return `revision ${a.turn} after ${a.cause}`
    case "Resumed":
      return `resumed from ${a.fromStage} after ${a.runnerDeaths} runner death(s)`
  }
}
