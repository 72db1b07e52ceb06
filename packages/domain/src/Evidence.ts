/**
 * The evidence bundle: what a skeptical reviewer reads to decide whether to trust a terminal state.
 * Versioned (`schemaVersion`); the JSON Schema is published in docs/evidence.schema.json.
 * Field names are camelCase (JSON API style), unlike Issue (template style).
 */
import { Schema } from "effect"
import { CommandResult } from "./Command.js"
import { ConfinementRecord, EscapeTarget } from "./Confinement.js"
import { IssueId } from "./Issue.js"
import { TaskPacket } from "./TaskPacket.js"
import { TerminalState } from "./TerminalState.js"
import { GuardResult, TestCounts } from "./Verification.js"
import { VerdictCause } from "./Verdict.js"

export const EVIDENCE_SCHEMA_VERSION = 1

/** Tokens an agent reported (Claude Code's `result.usage`, Codex's token counts). */
export const TokenUsage = Schema.Struct({
  inputTokens: Schema.NonNegativeInt,
  outputTokens: Schema.NonNegativeInt,
  cacheReadInputTokens: Schema.optionalWith(Schema.NonNegativeInt, { default: () => 0 }),
  cacheCreationInputTokens: Schema.optionalWith(Schema.NonNegativeInt, { default: () => 0 })
})
export type TokenUsage = typeof TokenUsage.Type

const defaulted = <A, I, R>(schema: Schema.Schema<A, I, R>, value: () => A) =>
  Schema.optionalWith(schema, { default: value })

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
  residualRisk: Schema.NullOr(Schema.String),
  /** True when the agent was stopped for silence longer than `agent.stall_timeout_ms`. */
  stalled: defaulted(Schema.Boolean, () => false),
  /** The agent's own session id (Claude Code `session_id`, Codex thread id), used to resume for a revision. */
  sessionId: defaulted(Schema.NullOr(Schema.String), () => null),
  usage: defaulted(Schema.NullOr(TokenUsage), () => null),
  costUsd: defaulted(Schema.NullOr(Schema.Number), () => null),
  numTurns: defaulted(Schema.NullOr(Schema.Int), () => null),
  /** Why this station was chosen, e.g. `label frontend → claude-code` or `default`. */
  route: defaulted(Schema.NullOr(Schema.String), () => null),
  /** Set when the run was stopped for exceeding `agent.max_cost_usd` or `agent.max_tokens`. */
  budgetExceeded: defaulted(Schema.NullOr(Schema.String), () => null),
  /** Path of the JSONL transcript of this run (redacted), if the station keeps one. */
  transcript: defaulted(Schema.NullOr(Schema.String), () => null),
  /** The confinement the agent process ran under (null when it never started; bundles before it: null). */
  confinement: defaulted(Schema.NullOr(ConfinementRecord), () => null)
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
  /** Machine cause, e.g. `validation_failed`, `not_reproducible`, `guard_failed:outside_scope` (Verdict.ts). */
  cause: VerdictCause,
  /** Sentences a person can act on. */
  reasons: Schema.Array(Schema.String)
}) {}

/**
 * The task of a bundle: the issue's title and body and the packet the agent got. The body is the packet's
 * `intent`, so it is stored once: encoding leaves `body` out when it equals `packet.intent`, and decoding a bundle
 * without `body` takes it from there (a 10 MB body made a 20 MB bundle). Bundles written before, with both,
 * decode unchanged.
 */
export const EvidenceTask = Schema.transform(
  Schema.Struct({
    title: Schema.String,
    body: Schema.optional(
      Schema.String.annotations({ description: "the issue body; absent when it is packet.intent (stored once)" })
    ),
    packet: TaskPacket
  }),
  Schema.Struct({ title: Schema.String, body: Schema.String, packet: Schema.typeSchema(TaskPacket) }),
  {
    strict: true,
    decode: ({ body, packet, title }) => ({ title, body: body ?? packet.intent, packet }),
    encode: ({ body, packet, title }) => (body === packet.intent ? { title, packet } : { title, body, packet })
  }
)

export class EvidenceBundle extends Schema.Class<EvidenceBundle>("EvidenceBundle")({
  schemaVersion: Schema.Literal(EVIDENCE_SCHEMA_VERSION),
  issueId: IssueId,
  attempt: Schema.Int,
  outcome: TerminalState,
  summary: Schema.String,
  task: EvidenceTask,
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
  /** Every anti-cheat guard that ran on the diff, passed or not (docs/guards.md). */
  guards: defaulted(Schema.Array(GuardResult), () => []),
  /** Test counts parsed from the validation output on the base and on the candidate, when the runner reports them. */
  testCounts: defaulted(
    Schema.Struct({ base: Schema.NullOr(TestCounts), candidate: Schema.NullOr(TestCounts) }),
    () => ({ base: null, candidate: null })
  ),
  /**
   * When the base's validation counts in `testCounts.base` were reused from an earlier run on the same base commit
   * and inputs (`verify.base_cache`) instead of run for this candidate: when that run happened (ms since the epoch).
   * Null when it ran for this candidate, or did not run.
   */
  baseReusedAt: defaulted(Schema.NullOr(Schema.Number), () => null),
  /**
   * Test counts parsed from the reproduction's output on the base (`before`) and on the candidate (`after`); null
   * when its output names no test runner (a plain `node -e` script) or it did not run. Bundles before this field:
   * both null.
   */
  reproductionTestCounts: defaulted(
    Schema.Struct({ before: Schema.NullOr(TestCounts), after: Schema.NullOr(TestCounts) }),
    () => ({ before: null, after: null })
  ),
  /** What the verdict is bound to: the candidate's tree hash, its commit, the base and the branch. */
  fingerprint: defaulted(
    Schema.NullOr(Schema.Struct({
      tree: Schema.String,
      commit: Schema.String,
      baseCommit: Schema.String,
      branch: Schema.String
    })),
    () => null
  ),
  /** Continuation turns the agent got after a verifier rejection, oldest first. */
  revisions: defaulted(
    Schema.Array(Schema.Struct({ turn: Schema.Int, cause: Schema.String, feedback: Schema.String })),
    () => []
  ),
  /** Tokens and cost summed over every agent run of this attempt (revisions included). */
  usage: defaulted(
    Schema.Struct({
      inputTokens: Schema.NonNegativeInt,
      outputTokens: Schema.NonNegativeInt,
      costUsd: Schema.NullOr(Schema.Number)
    }),
    () => ({ inputTokens: 0, outputTokens: 0, costUsd: null })
  ),
  /** Result of the optional integration hooks for PR_READY (`integration.push`, `integration.pr_command`). */
  integration: defaulted(
    Schema.NullOr(Schema.Struct({
      pushed: Schema.NullOr(Schema.Boolean),
      pushError: Schema.NullOr(Schema.String),
      prUrl: Schema.NullOr(Schema.String),
      prError: Schema.NullOr(Schema.String)
    })),
    () => null
  ),
  /**
   * The confinement in force for the attempt's agent (or, when no agent ran, for its verification); null in
   * bundles written before confinement existed (read them as unconfined).
   */
  confinement: defaulted(Schema.NullOr(ConfinementRecord), () => null),
  /**
   * The integrity check of the main repository around each agent run (docs/security.md): what changed that the
   * agent could have changed (`escapes`, the cause `sandbox_escape:<target>`), what was put back, and what changed
   * outside its reach (named, not held against it).
   */
  integrity: defaulted(
    Schema.Struct({
      escapes: Schema.Array(Schema.Struct({ target: EscapeTarget, detail: Schema.String })),
      restored: Schema.Array(Schema.String),
      noted: Schema.Array(Schema.String)
    }),
    () => ({ escapes: [], restored: [], noted: [] })
  ),
  /**
   * Set when a runner died during this attempt and a successor carried on from its stage artifacts instead of
   * starting over (docs/reliability.md): the stage it resumed from, and how many runners had died on the issue.
   */
  resumed: defaulted(
    Schema.NullOr(Schema.Struct({
      fromStage: Schema.String,
      runnerDeaths: Schema.NonNegativeInt,
      at: Schema.Number
    })),
    () => null
  ),
  timings: Schema.Struct({
    startedAt: Schema.Number,
    endedAt: Schema.Number,
    /** Milliseconds spent per stage, e.g. `{ sandbox: 120, agent: 5300, verify: 900 }`. */
    stagesMs: Schema.Record({ key: Schema.String, value: Schema.Number })
  })
}) {}
