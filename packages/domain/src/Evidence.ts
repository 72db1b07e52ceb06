/**
 * The evidence bundle: what a skeptical reviewer reads to decide whether to trust a terminal state.
 * Versioned (`schemaVersion`); the JSON Schema is published in docs/evidence.schema.json.
 * Field names are camelCase (JSON API style), unlike Issue (template style).
 */
import { Schema } from "effect"
import { CommandResult } from "./Command.js"
import { IssueId } from "./Issue.js"
import { TaskPacket } from "./TaskPacket.js"
import { TerminalState } from "./TerminalState.js"

export const EVIDENCE_SCHEMA_VERSION = 1

export class AgentReport extends Schema.Class<AgentReport>("AgentReport")({
  kind: Schema.String,
  command: Schema.String,
  exitCode: Schema.NullOr(Schema.Int),
  signal: Schema.NullOr(Schema.String),
  timedOut: Schema.Boolean,
  /** True when the agent could not be started or was killed for a reason other than the timeout. */
  crashed: Schema.Boolean,
  durationMs: Schema.Number,
  outputTail: Schema.String,
  /** The agent's own claim, or null when it made none. */
  claim: Schema.NullOr(Schema.Literal("PR_READY", "NO_OP", "ESCALATE")),
  /** Why the result file did not count as a claim (missing, not JSON, wrong shape), or null. */
  claimError: Schema.NullOr(Schema.String),
  summary: Schema.NullOr(Schema.String),
  plan: Schema.NullOr(Schema.String),
  question: Schema.NullOr(Schema.String),
  residualRisk: Schema.NullOr(Schema.String)
}) {}

export class DiffReport extends Schema.Class<DiffReport>("DiffReport")({
  baseCommit: Schema.String,
  branch: Schema.String,
  /** The candidate commit made from the agent's changes, or null when there were none. */
  commit: Schema.NullOr(Schema.String),
  /** The candidate's git tree hash: the fingerprint the verdict is bound to. */
  tree: Schema.NullOr(Schema.String),
  files: Schema.Array(Schema.String),
  stat: Schema.String,
  patch: Schema.String,
  /** True when the patch was cut to its size limit. */
  patchTruncated: Schema.Boolean
}) {}

export class Verdict extends Schema.Class<Verdict>("Verdict")({
  state: TerminalState,
  /** Machine cause, e.g. `validation_failed`, `not_reproducible`, `claimed_change_without_diff`. */
  cause: Schema.String,
  /** Sentences a person can act on. */
  reasons: Schema.Array(Schema.String)
}) {}

export class EvidenceBundle extends Schema.Class<EvidenceBundle>("EvidenceBundle")({
  schemaVersion: Schema.Literal(EVIDENCE_SCHEMA_VERSION),
  issueId: IssueId,
  attempt: Schema.Int,
  outcome: TerminalState,
  summary: Schema.String,
  task: Schema.Struct({ title: Schema.String, body: Schema.String, packet: TaskPacket }),
  reproduction: Schema.Struct({
    command: Schema.NullOr(Schema.String),
    before: Schema.NullOr(CommandResult),
    after: Schema.NullOr(CommandResult)
  }),
  agent: Schema.NullOr(AgentReport),
  diff: Schema.NullOr(DiffReport),
  validation: Schema.Array(CommandResult),
  verdict: Verdict,
  /** What a human should still worry about; never empty for PR_READY (at least the scope of the checks). */
  residualRisk: Schema.Array(Schema.String),
  /** Question for the human when the outcome is ESCALATE. */
  question: Schema.NullOr(Schema.String),
  timings: Schema.Struct({
    startedAt: Schema.Number,
    endedAt: Schema.Number,
    /** Milliseconds spent per stage, e.g. `{ sandbox: 120, agent: 5300, verify: 900 }`. */
    stagesMs: Schema.Record({ key: Schema.String, value: Schema.Number })
  })
}) {}
