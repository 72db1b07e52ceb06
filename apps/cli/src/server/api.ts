/**
 * The shapes of the HTTP API (`switchyard serve`, `switchyard run --port`), as Schemas: every response is encoded
 * with one of these, and docs/api.schema.json is generated from them (scripts/gen-api-schema.ts). Shaped after
 * Symphony SPEC §13.7 where the concept is the same (`generated_at`, `counts`, `running[]`, `retrying[]`, the
 * refresh answer, the error envelope); the four layers are those of `switchyard status --json` (docs/status.md).
 * Times are ISO-8601 UTC strings, durations are milliseconds, token counts are integers and cost is USD.
 */
import { StageArtifact } from "@switchyard/core"
import { EvidenceBundle, FactoryEvent, IssueStatus, TerminalState, Violation } from "@switchyard/domain"
import { Schema } from "effect"

/** Bumped for incompatible changes to any shape below (fields are stable within a version: SPEC §13.7). */
export const API_VERSION = 1

const Iso = Schema.String.annotations({ description: "ISO-8601 UTC time" })
const Ms = Schema.Number.annotations({ description: "milliseconds" })

/** Tokens and cost of one attempt or of all of them (`costUsd` null when no agent reported a cost). */
export const Usage = Schema.Struct({
  input_tokens: Schema.NonNegativeInt,
  output_tokens: Schema.NonNegativeInt,
  cost_usd: Schema.NullOr(Schema.Number)
})

/** A running worker (Workers layer): one per live lease, whichever runner holds it. */
export const RunningWorker = Schema.Struct({
  issue_id: Schema.String,
  attempt: Schema.Int,
  stage: Schema.String,
  runner: Schema.String,
  /** The agent's pid while it runs, else null. */
  pid: Schema.NullOr(Schema.Int),
  started_at: Iso,
  elapsed_ms: Ms,
  last_output_at: Schema.NullOr(Iso),
  /** Tokens and cost of the agent turns this attempt has finished so far (null before the first). */
  tokens: Schema.NullOr(Usage)
})

/** A retry waiting for its due time (SPEC §13.7 `retrying[]`). */
export const Retrying = Schema.Struct({
  issue_id: Schema.String,
  attempt: Schema.Int,
  due_at: Iso,
  due_in_ms: Ms,
  error: Schema.String
})

/** A recent terminal attempt with the line a person reads to trust it (Human layer). */
export const Outcome = Schema.Struct({
  issue_id: Schema.String,
  attempt: Schema.Int,
  outcome: Schema.NullOr(TerminalState),
  cause: Schema.NullOr(Schema.String),
  ended_at: Schema.NullOr(Iso),
  evidence: Schema.Boolean,
  signature: Schema.NullOr(Schema.String),
  trust: Schema.String,
  summary: Schema.NullOr(Schema.String),
  usage: Schema.NullOr(Usage),
  confinement: Schema.NullOr(Schema.String)
})

/** `GET /api/v1/state`: counts and the four layers. */
export const StateResponse = Schema.Struct({
  generated_at: Iso,
  counts: Schema.Struct({
    running: Schema.NonNegativeInt,
    retrying: Schema.NonNegativeInt,
    eligible: Schema.NonNegativeInt,
    waiting: Schema.NonNegativeInt,
    blocked: Schema.NonNegativeInt,
    violations: Schema.NonNegativeInt
  }),
  tracker: Schema.Struct({
    /** Issues by status. */
    statuses: Schema.Record({ key: IssueStatus, value: Schema.NonNegativeInt }),
    eligible: Schema.NonNegativeInt,
    /** The next eligible issues in dispatch order (at most 10). */
    next: Schema.Array(Schema.String),
    invalid: Schema.Array(Schema.Struct({ id: Schema.String, reason: Schema.String }))
  }),
  orchestrator: Schema.Struct({
    /** The runner this process is (`serve` has one too: it reads, it never claims). */
    runner: Schema.String,
    leases: Schema.Array(Schema.Struct({
      issue_id: Schema.String,
      runner: Schema.String,
      attempt: Schema.Int,
      heartbeat_age_ms: Ms,
      expires_in_ms: Ms
    })),
    workflow_invalid: Schema.Array(Schema.Struct({ path: Schema.String, error: Schema.String, pid: Schema.Int, since: Iso }))
  }),
  running: Schema.Array(RunningWorker),
  retrying: Schema.Array(Retrying),
  recent: Schema.Array(Outcome),
  violations: Schema.Array(Violation),
  usage: Schema.Struct({
    bundles: Schema.NonNegativeInt,
    input_tokens: Schema.NonNegativeInt,
    output_tokens: Schema.NonNegativeInt,
    cost_usd: Schema.NullOr(Schema.Number)
  })
})
export type StateResponse = typeof StateResponse.Type

/** One attempt of an issue (`GET /api/v1/issues/:id`). */
export const AttemptView = Schema.Struct({
  attempt: Schema.Int,
  runner: Schema.String,
  started_at: Iso,
  ended_at: Schema.NullOr(Iso),
  terminal_state: Schema.NullOr(TerminalState),
  cause: Schema.NullOr(Schema.String),
  counted: Schema.Boolean,
  branch: Schema.NullOr(Schema.String),
  commit: Schema.NullOr(Schema.String),
  evidence: Schema.Boolean
})

/** `GET /api/v1/issues/:id`: the issue, its attempts (oldest first), its live worker and retry, recent events. */
export const IssueResponse = Schema.Struct({
  issue_id: Schema.String,
  title: Schema.String,
  status: IssueStatus,
  labels: Schema.Array(Schema.String),
  priority: Schema.String,
  attempts: Schema.Array(AttemptView),
  running: Schema.NullOr(RunningWorker),
  retry: Schema.NullOr(Retrying),
  recent_events: Schema.Array(Schema.Struct({ seq: Schema.Int, at: Iso, event: Schema.String, message: Schema.String }))
})
export type IssueResponse = typeof IssueResponse.Type

/**
 * `GET /api/v1/issues/:id/evidence[/:attempt]`: the attempt's stored bundle (the shape of evidence.json,
 * docs/evidence.schema.json, without its `signature` member) once it ended, and the stage artifacts stored so far (a running attempt has only
 * these), with the stage timeline and the agent transcript's tail.
 */
export const EvidenceResponse = Schema.Struct({
  issue_id: Schema.String,
  attempt: Schema.Int,
  running: Schema.Boolean,
  bundle: Schema.NullOr(EvidenceBundle),
  /** How the bundle's signature checked out against the runner's key (`SealStatus`), null without a bundle. */
  signature: Schema.NullOr(Schema.String),
  stages: Schema.Array(Schema.Struct({ seq: Schema.Int, at: Iso, stage: Schema.String, artifact: StageArtifact })),
  /** The last TRANSCRIPT_TAIL_BYTES of transcript.jsonl (redacted like every stored file), or null. */
  transcript: Schema.NullOr(Schema.String)
})
export type EvidenceResponse = typeof EvidenceResponse.Type

/** `POST /api/v1/refresh` (202). `coalesced` when a refresh was already queued (SPEC §13.7). */
export const RefreshResponse = Schema.Struct({
  queued: Schema.Boolean,
  coalesced: Schema.Boolean,
  requested_at: Iso,
  operations: Schema.Array(Schema.Literal("poll", "reconcile", "snapshot"))
})
export type RefreshResponse = typeof RefreshResponse.Type

/** One ended attempt for the page's charts (`GET /api/v1/outcomes`): when, how, on which station, at what cost. */
export const OutcomePoint = Schema.Struct({
  issue_id: Schema.String,
  attempt: Schema.Int,
  outcome: Schema.NullOr(TerminalState),
  cause: Schema.NullOr(Schema.String),
  started_at: Iso,
  ended_at: Iso,
  duration_ms: Ms,
  /** The agent station that ran (`command`, `claude-code`, `codex`), null when no agent ran. */
  station: Schema.NullOr(Schema.String),
  /** The route that picked it (`routes:` in WORKFLOW.md), null for the default. */
  route: Schema.NullOr(Schema.String),
  labels: Schema.Array(Schema.String),
  input_tokens: Schema.NonNegativeInt,
  output_tokens: Schema.NonNegativeInt,
  cost_usd: Schema.NullOr(Schema.Number)
})

/** `GET /api/v1/outcomes[?limit=N]`: the newest ended attempts (default 200, at most 1000), newest first. */
export const OutcomesResponse = Schema.Struct({ outcomes: Schema.Array(OutcomePoint) })
export type OutcomesResponse = typeof OutcomesResponse.Type

/** The error codes the API answers with. */
export const ErrorCode = Schema.Literal(
  "not_found",
  "issue_not_found",
  "evidence_not_found",
  "method_not_allowed",
  "invalid_id",
  "invalid_attempt",
  "invalid_limit",
  "unauthorized",
  "internal_error"
)
export type ErrorCode = typeof ErrorCode.Type

/** Every error: `{"error": {"code", "message"}}` (SPEC §13.7 error envelope). */
export const ErrorResponse = Schema.Struct({
  error: Schema.Struct({ code: ErrorCode, message: Schema.String })
})

/** One Server-Sent Event of `GET /api/v1/events`: `event: factory`, `id: <seq>`, `data: <this, as JSON>`. */
export const EventMessage = FactoryEvent

/** Every shape, by name, for the generated JSON Schema (docs/api.schema.json). */
export const apiSchemas = {
  StateResponse,
  IssueResponse,
  EvidenceResponse,
  OutcomesResponse,
  RefreshResponse,
  ErrorResponse,
  EventMessage
} as const
