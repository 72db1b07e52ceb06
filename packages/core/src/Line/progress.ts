/**
 * An attempt's progress as the fold of its stage artifacts: what the line knows at any point, for the line
 * itself, for the bundle (`bundle.ts`) and for the supervisor closing a dead runner's attempt. Pure.
 */
import type { AgentReport, CommandResult, TaskPacket } from "@switchyard/domain"
import type { Escape } from "../Sandbox/integrity.js"
import { type Candidate, SandboxHandle } from "../Sandbox/Sandbox.js"
import type { Verification } from "../Verifier/Verifier.js"
import type { AgentTurn, Opened, Prepared, Resumed, Revised, StageArtifact } from "./artifacts.js"

export interface Progress {
  /** The attempt's base and task packet, before its sandbox. */
  readonly opened: Opened | null
  readonly prepared: Prepared | null
  readonly reproductionBefore: CommandResult | null
  /** Every agent run of the attempt, the first turn and each revision, oldest first. */
  readonly turns: ReadonlyArray<AgentTurn>
  /** The latest candidate, and the verification of that candidate (null when it was not verified). */
  readonly candidate: Candidate | null
  readonly verification: Verification | null
  readonly revisions: ReadonlyArray<Revised>
  readonly resumed: Resumed | null
  readonly escapes: ReadonlyArray<Escape>
  readonly restored: ReadonlyArray<string>
  readonly noted: ReadonlyArray<string>
}

export const emptyProgress: Progress = {
  opened: null,
  prepared: null,
  reproductionBefore: null,
  turns: [],
  candidate: null,
  verification: null,
  revisions: [],
  resumed: null,
  escapes: [],
  restored: [],
  noted: []
}

const union = (a: ReadonlyArray<string>, b: ReadonlyArray<string>) => [...a, ...b.filter((x) => !a.includes(x))]

/** Folds one artifact into the progress (a new record; the old one is unchanged). */
export const advance = (p: Progress, a: StageArtifact): Progress => {
  switch (a._tag) {
    case "Opened":
      return { ...p, opened: a }
    case "Prepared":
      return { ...p, prepared: a }
    case "Reproduced":
      return { ...p, reproductionBefore: a.result }
    case "AgentTurn":
      return {
        ...p,
        turns: [...p.turns, a],
        escapes: [...p.escapes, ...a.escapes],
        restored: [...p.restored, ...a.restored],
        noted: union(p.noted, a.noted)
      }
    case "CandidateMade":
      return { ...p, candidate: a.candidate, verification: null }
    case "Verified":
      return { ...p, verification: a.verification }
    case "Revised":
      return { ...p, revisions: [...p.revisions, a] }
    case "Resumed":
      return { ...p, resumed: a }
  }
}

/** The progress of a whole list of artifacts, oldest first. */
export const progressOf = (artifacts: ReadonlyArray<StageArtifact>): Progress => artifacts.reduce(advance, emptyProgress)

/** The last agent report, or null before the agent ran. */
export const lastReport = (p: Progress): AgentReport | null => p.turns.at(-1)?.report ?? null

/** The sandbox handle the prepare stage made (the directory may be gone on a resumed attempt). */
export const handleOf = (prepared: Prepared, issueId: string, attempt: number): SandboxHandle =>
  SandboxHandle.make({
    issue_id: issueId,
    attempt,
    path: prepared.sandboxPath,
    branch: prepared.branch,
    base_commit: prepared.base,
    home: prepared.home,
    io: prepared.io
  })

/** The task packet of the attempt, when the prepare stage got that far. */
export const packetOf = (p: Progress): TaskPacket | null => p.prepared?.packet ?? p.opened?.packet ?? null
