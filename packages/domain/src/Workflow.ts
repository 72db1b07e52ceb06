/**
 * The typed front matter of `WORKFLOW.md`. Key names follow Symphony SPEC §5.3 where the concept is the same;
 * defaults follow Symphony where it has one (SPEC §0 constants), otherwise they are ours and documented in
 * docs/workflow.md. Unknown keys are ignored (SPEC §5.3 SHOULD), so a Symphony file decodes unchanged.
 */
import { Schema } from "effect"

const PositiveInt = Schema.Int.pipe(Schema.positive())
const NonNegativeInt = Schema.Int.pipe(Schema.nonNegative())
const withDefault = <A, I, R>(schema: Schema.Schema<A, I, R>, value: () => A) =>
  Schema.optionalWith(schema, { default: value, nullable: true })

export const PollingConfig = Schema.Struct({
  /** Milliseconds between ticks when nothing pushes one (SPEC §5.3.2: 30000). */
  interval_ms: withDefault(PositiveInt, () => 30_000)
})

export const WorkspaceConfig = Schema.Struct({
  /**
   * Where sandboxes (git worktrees) live; `~` and `$VAR` are expanded, relative paths resolve against the
   * directory of WORKFLOW.md. Null means `<system-temp>/switchyard_workspaces/<repo-name>-<hash>`.
   */
  root: withDefault(Schema.NullOr(Schema.String), () => null)
})

export const HooksConfig = Schema.Struct({
  after_create: withDefault(Schema.NullOr(Schema.String), () => null),
  before_run: withDefault(Schema.NullOr(Schema.String), () => null),
  after_run: withDefault(Schema.NullOr(Schema.String), () => null),
  before_remove: withDefault(Schema.NullOr(Schema.String), () => null),
  /** Per-hook timeout in ms (SPEC §5.3.4: 60000). */
  timeout_ms: withDefault(PositiveInt, () => 60_000)
})

export const AgentConfig = Schema.Struct({
  /** The station kind. `command` runs `agent.command` with `sh -c`. */
  kind: withDefault(Schema.Literal("command"), () => "command" as const),
  command: withDefault(Schema.NullOr(Schema.String), () => null),
  max_concurrent_agents: withDefault(PositiveInt, () => 10),
  /** Per-label caps; keys are normalized (trim + lowercase) by the loader. */
  max_concurrent_agents_by_label: withDefault(Schema.Record({ key: Schema.String, value: PositiveInt }), () => ({})),
  /** Attempts before a RETRYABLE_FAILURE becomes ESCALATE. */
  max_attempts: withDefault(PositiveInt, () => 3),
  /** First retry delay in ms; doubles per attempt (SPEC §8.4 uses 10000). */
  retry_base_delay_ms: withDefault(PositiveInt, () => 10_000),
  /** Retry delay cap in ms (SPEC §5.3.5: 300000). */
  max_retry_backoff_ms: withDefault(PositiveInt, () => 300_000),
  /** Wall-clock limit for one agent run in ms (SPEC's turn timeout: 3600000). */
  timeout_ms: withDefault(PositiveInt, () => 3_600_000),
  /** Silence limit in ms; `<= 0` disables stall detection (SPEC §5.3.6: 300000). */
  stall_timeout_ms: withDefault(Schema.Int, () => 300_000),
  max_turns: withDefault(PositiveInt, () => 20)
})

export const VerifyConfig = Schema.Struct({
  /** Commands that must all exit 0 on the candidate, run in a clean checkout. */
  validation: withDefault(Schema.Array(Schema.String), () => []),
  /** Default reproduction command for issues that have none. */
  reproduction: withDefault(Schema.NullOr(Schema.String), () => null),
  /** Per-command timeout in ms. */
  timeout_ms: withDefault(PositiveInt, () => 600_000),
  /** Added files larger than this (bytes) fail the `added_file_too_large` guard. */
  max_added_file_bytes: withDefault(PositiveInt, () => 1_048_576),
  /** Extra path globs the agent must not edit, on top of .github/**, .switchyard/**, WORKFLOW.md and lockfiles. */
  protected_paths: withDefault(Schema.Array(Schema.String), () => []),
  /** Compare test counts on the base and the candidate (`test_count_dropped`); costs one validation run on the base. */
  compare_test_counts: withDefault(Schema.Boolean, () => true)
})

export const IntegrationConfig = Schema.Struct({
  /** Push `switchyard/<id>` to `remote` after PR_READY. */
  push: withDefault(Schema.Boolean, () => false),
  remote: withDefault(Schema.String, () => "origin"),
  /**
   * A Liquid template run with `sh -c` after PR_READY, e.g.
   * `gh pr create --head {{ branch }} --title {{ title | shellquote }} --body-file {{ evidence_md }}`.
   * Its last stdout line that looks like a URL is recorded as the PR URL; a failure is recorded, never fatal.
   */
  pr_command: withDefault(Schema.NullOr(Schema.String), () => null)
})

export const OrchestratorConfig = Schema.Struct({
  /** How often a runner renews its leases, in ms. */
  heartbeat_ms: withDefault(PositiveInt, () => 5_000),
  /** A lease not renewed for this long (ms) is expired and may be reclaimed. */
  lease_ttl_ms: withDefault(PositiveInt, () => 30_000),
  /** Worktrees no run owns are removed after this long (ms). */
  worktree_retention_ms: withDefault(NonNegativeInt, () => 0)
})

export class WorkflowConfig extends Schema.Class<WorkflowConfig>("WorkflowConfig")({
  polling: withDefault(PollingConfig, () => PollingConfig.make({})),
  workspace: withDefault(WorkspaceConfig, () => WorkspaceConfig.make({})),
  hooks: withDefault(HooksConfig, () => HooksConfig.make({})),
  agent: withDefault(AgentConfig, () => AgentConfig.make({})),
  verify: withDefault(VerifyConfig, () => VerifyConfig.make({})),
  orchestrator: withDefault(OrchestratorConfig, () => OrchestratorConfig.make({})),
  integration: withDefault(IntegrationConfig, () => IntegrationConfig.make({}))
}) {}

/** A loaded WORKFLOW.md: the typed config, the trimmed Liquid prompt template, and where it came from. */
export class WorkflowDefinition extends Schema.Class<WorkflowDefinition>("WorkflowDefinition")({
  path: Schema.String,
  config: WorkflowConfig,
  prompt_template: Schema.String
}) {}
