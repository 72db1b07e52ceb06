/**
 * The typed front matter of `WORKFLOW.md`. Key names follow Symphony SPEC §5.3 where the concept is the same;
 * defaults follow Symphony where it has one (SPEC §0 constants), otherwise they are ours and documented in
 * docs/workflow.md. Unknown keys are ignored (SPEC §5.3 SHOULD), so a Symphony file decodes unchanged.
 */
import { Schema } from "effect"
import { ConfinementKind, SandboxNetwork } from "./Confinement.js"
import { GuardRuleId } from "./Verification.js"

const PositiveInt = Schema.Int.pipe(Schema.positive())
const NonNegativeInt = Schema.Int.pipe(Schema.nonNegative())
const withDefault = <A, I, R>(schema: Schema.Schema<A, I, R>, value: () => A) =>
  Schema.optionalWith(schema, { default: value, nullable: true })

/** An environment variable name (POSIX portable: letters, digits, `_`, not starting with a digit). */
export const EnvName = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z_][A-Za-z0-9_]*$/),
  Schema.annotations({ description: "an environment variable name" })
)

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
  timeout_ms: withDefault(PositiveInt, () => 60_000),
  /**
   * Runner variables passed to the hooks that run after the agent started (`after_run`, `before_remove`), which
   * are confined like the agent; on top of PATH, LANG, LC_ALL, TERM and TZ. `after_create` and `before_run` run
   * before the agent, on the base, with the runner's environment (docs/security.md).
   */
  env: withDefault(Schema.Array(EnvName), () => [])
})
/** `hooks:`: what the Sandbox and the Verifier's checkouts run, passed to them by the caller (never looked up). */
export type HooksConfig = typeof HooksConfig.Type

/** The agent station kinds (docs/agents.md). */
export const AgentKind = Schema.Literal("command", "claude-code", "codex")
export type AgentKind = typeof AgentKind.Type

const PositiveNumber = Schema.Number.pipe(Schema.positive(), Schema.annotations({ description: "a positive number" }))

/**
 * The keys that describe one agent station: what `agents.<name>` may override (docs/agents.md). Each is the
 * schema without its default; `AgentConfig` adds the defaults.
 */
const stationFields = {
  /** `command` runs `agent.command` with `sh -c`; `claude-code` and `codex` drive those CLIs (docs/agents.md). */
  kind: AgentKind,
  /**
   * `command`: the shell string to run. `claude-code` / `codex`: the path of the binary (null: `claude` /
   * `codex` found on PATH).
   */
  command: Schema.NullOr(Schema.String),
  /** Model name passed to the CLI (`--model` / `-m`); null: the CLI's default. */
  model: Schema.NullOr(Schema.String),
  /** Turns per agent session (Symphony SPEC §5.3.5); Claude Code `--max-turns`. */
  max_turns: PositiveInt,
  /** Claude Code `--permission-mode` (default `acceptEdits`); an empty string: the flag is not passed. */
  permission_mode: Schema.NullOr(Schema.String),
  /** Claude Code `--allowedTools`, one rule per entry (e.g. `Bash`, `Bash(git *)`; default `[Bash]`); `[]`: not passed. */
  allowed_tools: Schema.Array(Schema.String),
  /** Claude Code `--disallowedTools`; empty: not passed. */
  disallowed_tools: Schema.Array(Schema.String),
  /** Claude Code `--append-system-prompt`; null: not passed. */
  append_system_prompt: Schema.NullOr(Schema.String),
  /**
   * Names of runner environment variables passed through to the agent, on top of PATH, HOME, USER, SHELL,
   * LANG, LC_ALL, TERM and TMPDIR. Nothing else is inherited (docs/agents.md).
   */
  env: Schema.Array(EnvName),
  /**
   * The model API's base URL: `ANTHROPIC_BASE_URL` for `claude-code`, a `switchyard` model provider for `codex`
   * (e.g. a model twin). Null: the CLI's default endpoint.
   */
  base_url: Schema.NullOr(Schema.String),
  /** Extra arguments appended to the CLI's command line, verbatim (e.g. `--bare`, `--fallback-model`). */
  extra_args: Schema.Array(Schema.String),
  /** Per agent run, in US dollars: over it the run is stopped and the attempt escalates (`budget_exceeded`). */
  max_cost_usd: Schema.NullOr(PositiveNumber),
  /** Per agent run, in tokens (input + output + cache writes): over it the run is stopped (`budget_exceeded`). */
  max_tokens: Schema.NullOr(PositiveInt),
  /** Wall-clock limit for one agent run in ms (SPEC's turn timeout: 3600000). */
  timeout_ms: PositiveInt,
  /**
   * Bytes of output one agent run may leave in each of its run files (`agent.log`, `transcript.jsonl`): the first
   * half as it comes, then only the last half, written at the end after one cut marker (docs/agents.md).
   */
  max_log_bytes: PositiveInt
}

/** Default `agent.max_log_bytes`: 8 MiB per run file and agent run (4 MiB head, 4 MiB tail). */
export const DEFAULT_MAX_LOG_BYTES = 8 * 1024 * 1024

export const AgentConfig = Schema.Struct({
  /** The default station (the one `routes:` falls back to); see `stationFields` for what each key passes. */
  kind: withDefault(AgentKind, () => "command" as const),
  command: withDefault(stationFields.command, () => null),
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
  timeout_ms: withDefault(stationFields.timeout_ms, () => 3_600_000),
  /** Silence limit in ms; `<= 0` disables stall detection (SPEC §5.3.6: 300000). */
  stall_timeout_ms: withDefault(Schema.Int, () => 300_000),
  max_turns: withDefault(stationFields.max_turns, () => 20),
  model: withDefault(stationFields.model, () => null),
  permission_mode: withDefault(stationFields.permission_mode, () => "acceptEdits"),
  allowed_tools: withDefault(stationFields.allowed_tools, () => ["Bash"]),
  disallowed_tools: withDefault(stationFields.disallowed_tools, () => []),
  append_system_prompt: withDefault(stationFields.append_system_prompt, () => null),
  env: withDefault(stationFields.env, () => []),
  base_url: withDefault(stationFields.base_url, () => null),
  extra_args: withDefault(stationFields.extra_args, () => []),
  max_cost_usd: withDefault(stationFields.max_cost_usd, () => null),
  max_tokens: withDefault(stationFields.max_tokens, () => null),
  max_log_bytes: withDefault(stationFields.max_log_bytes, () => DEFAULT_MAX_LOG_BYTES),
  /** Continuation turns after a verifier rejection before the verdict is final (0: none). */
  max_revisions: withDefault(NonNegativeInt, () => 2),
  /**
   * Continuation turns after a failing CI check of a PR_READY candidate (`integration.ci_command`) before the attempt
   * escalates with `ci_failed` (0: the first failure escalates). Counted apart from `max_revisions`.
   */
  max_ci_revisions: withDefault(NonNegativeInt, () => 2)
})
export type AgentConfig = typeof AgentConfig.Type

/**
 * A named station under `agents:`: any station key, merged over `agent:` (absent = inherited; an explicit
 * `null` sets null). Scheduling keys (`max_concurrent_agents`, `max_attempts`, ...) and `max_revisions` stay
 * with `agent:`.
 */
export const AgentOverride = Schema.Struct(
  Object.fromEntries(
    Object.entries(stationFields).map(([key, schema]) => [key, Schema.optional(schema)])
  ) as { [K in keyof typeof stationFields]: Schema.optional<(typeof stationFields)[K]> }
)
export type AgentOverride = typeof AgentOverride.Type

/** One routing rule: issues with `label` (trimmed, case-insensitive) go to the station `agents.<agent>`. */
export const AgentRoute = Schema.Struct({
  label: Schema.NonEmptyString,
  agent: Schema.NonEmptyString
})
export type AgentRoute = typeof AgentRoute.Type

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
  compare_test_counts: withDefault(Schema.Boolean, () => true),
  /**
   * Reuse the base's validation (for `compare_test_counts`) and reproduction results from an earlier run on the same
   * base commit with the same commands, timeout, `after_create` and `verify.env` values, instead of running them
   * again for every issue on that base (docs/workflow.md, "The base is checked once").
   */
  base_cache: withDefault(Schema.Boolean, () => true),
  /**
   * Run `hooks.after_create` once per install key (the manifests, lockfiles and package-manager config of the
   * commit, the hook and its environment) and bind that install into verification checkouts read-only, instead of
   * installing in each (docs/workflow.md, "Installs are reused"). Needs `sandbox.confinement: bwrap`. Read when
   * `switchyard run` starts.
   */
  reuse_install: withDefault(Schema.Boolean, () => true),
  /**
   * Runner variables passed to reproduction and validation commands (and to `after_create` in verification
   * checkouts): the candidate is untrusted code, so by default they get only PATH, LANG, LC_ALL, TERM and TZ,
   * a throw-away HOME and no network (GitHub Actions runs fork pull requests without secrets for the same reason).
   */
  env: withDefault(Schema.Array(EnvName), () => [])
})

/** `sandbox:`: how the agent and everything that runs its code are confined (docs/security.md). */
export const SandboxConfig = Schema.Struct({
  /**
   * `bwrap` (default): bubblewrap namespaces; `run` refuses to start an agent when bubblewrap is missing or cannot
   * create namespaces. `none`: no confinement (the only choice outside Linux), stated in every bundle and status.
   * Read when `switchyard run` starts.
   */
  confinement: withDefault(ConfinementKind, () => "bwrap" as const),
  /** `none` (default): no network but the agent CLIs' model endpoint; `host`: the host's network for all. */
  network: withDefault(SandboxNetwork, () => "none" as const),
  /** Extra absolute paths confined processes may read (e.g. a tool under /tmp, which is private otherwise). */
  readable: withDefault(Schema.Array(Schema.String), () => []),
  /** Extra absolute paths confined processes may write (e.g. a shared cache). Never inside the repo. */
  writable: withDefault(Schema.Array(Schema.String), () => []),
  /** Extra absolute paths confined processes must not see at all (on top of the built-in list). */
  hidden: withDefault(Schema.Array(Schema.String), () => []),
  /**
   * The runner's pnpm store and metadata cache, shown read-only to every confined process (with
   * `npm_config_store_dir`/`npm_config_cache_dir` set to them and a private, empty `<store>/v10/projects`), so a
   * confined `pnpm install --offline` (the agent's, or `after_create` in a verification checkout) copies packages
   * from it instead of needing the network. `auto` (default): the
   * store pnpm itself would use (`npm_config_store_dir`, else `$XDG_DATA_HOME/pnpm/store`, else
   * `~/.local/share/pnpm/store`) when it exists; `none`; or an absolute path. Read when `switchyard run` starts.
   */
  package_store: withDefault(Schema.String, () => "auto")
})
export type SandboxConfig = typeof SandboxConfig.Type

export const IntegrationConfig = Schema.Struct({
  /** Push `switchyard/<id>` to `remote` after PR_READY. */
  push: withDefault(Schema.Boolean, () => false),
  remote: withDefault(Schema.String, () => "origin"),
  /**
   * A Liquid template run with `sh -c` after PR_READY, e.g.
   * `gh pr create --head {{ branch }} --title {{ title | shellquote }} --body-file {{ evidence_md }}`.
   * Its last stdout line that looks like a URL is recorded as the PR URL; a failure is recorded, never fatal.
   */
  pr_command: withDefault(Schema.NullOr(Schema.String), () => null),
  /**
   * The CI check for repos without hosted CI: a shell command run after a candidate verified PR_READY, confined like
   * verification in a clean checkout of it (`verify.env`, no network, `verify.timeout_ms`). A failure becomes a
   * revision turn with its log, up to `agent.max_ci_revisions`, then ESCALATE `ci_failed` (docs/trust.md).
   */
  ci_command: withDefault(Schema.NullOr(Schema.String), () => null),
  /**
   * How `switchyard land` lands (docs/trust.md): `local` fast-forwards the checkout's base branch; `github` merges
   * the change's pull request through the API (`tracker.kind: github`); `auto` (default): `github` when the tracker
   * is GitHub, else `local`.
   */
  land: withDefault(Schema.Literal("auto", "local", "github"), () => "auto" as const),
  /** `github` landing: the pull request merge method (GitHub's `merge_method`). */
  merge_method: withDefault(Schema.Literal("merge", "squash", "rebase"), () => "merge" as const),
  /**
   * Hosted CI (docs/trust.md): `github` reads the check runs and combined status of a verified candidate (pushed
   * to `remote` as its branch) from GitHub; a failure is a revision turn like `ci_command`'s. `none` (default).
   */
  ci: withDefault(Schema.Literal("none", "github"), () => "none" as const),
  /** Hosted CI: how long to wait for every check to complete, in ms, before the attempt escalates `ci_failed`. */
  ci_timeout_ms: withDefault(PositiveInt, () => 1_800_000),
  /** Hosted CI: how often the checks are read while some are pending, in ms. */
  ci_poll_ms: withDefault(PositiveInt, () => 15_000)
})
/** `integration:`: what `Integration.publish` does after PR_READY, passed in by the caller. */
export type IntegrationConfig = typeof IntegrationConfig.Type

/** The rungs of the trust ladder (docs/trust.md): `review` waits for a human; `auto_land` lets Switchyard land. */
export const TrustRung = Schema.Literal("review", "auto_land")
export type TrustRung = typeof TrustRung.Type

/** A change-class name: lowercase letters, digits, `-` and `_` (it appears in events and branch-free text). */
export const TrustClassName = Schema.String.pipe(
  Schema.pattern(/^[a-z0-9][a-z0-9_-]{0,63}$/),
  Schema.annotations({ description: "a class name (lowercase letters, digits, - and _)" })
)

/**
 * One change class under `trust.classes` (docs/trust.md). A change is in the class when ALL hold: every changed
 * file matches one of `paths` (picomatch globs, `dot: true`); the issue carries one of `labels` (trimmed,
 * case-insensitive; empty: no condition); at most `max_files` files and `max_lines` changed lines (added +
 * removed; null: no limit); and every guard in `guards` ran on the candidate and passed. The first class that
 * matches wins.
 */
export const TrustClass = Schema.Struct({
  name: TrustClassName,
  paths: withDefault(Schema.Array(Schema.String), () => ["**"]),
  labels: withDefault(Schema.Array(Schema.String), () => []),
  max_files: withDefault(Schema.NullOr(PositiveInt), () => null),
  max_lines: withDefault(Schema.NullOr(PositiveInt), () => null),
  guards: withDefault(Schema.Array(GuardRuleId), () => []),
  /**
   * The highest rung the policy allows: `review` (default) never lands by itself; `auto_land` lands once the class
   * has earned it (`promote_after` consecutive human merges since its last revert).
   */
  rung: withDefault(TrustRung, () => "review" as const),
  /** Consecutive PR_READY changes of this class merged by humans, without a revert, before it auto-lands; null: `trust.promote_after`. */
  promote_after: withDefault(Schema.NullOr(PositiveInt), () => null)
})
export type TrustClass = typeof TrustClass.Type

/** `trust:`: change classes and their rungs (docs/trust.md). Absent: every change waits for review (today's behaviour). */
export const TrustConfig = Schema.Struct({
  classes: withDefault(Schema.Array(TrustClass), () => []),
  /** Default history a class needs before `auto_land` applies (consecutive human merges without revert). */
  promote_after: withDefault(PositiveInt, () => 3),
  /** Extra globs whose change never auto-lands, on top of the built-in list (the policy, CI config, protected paths). */
  never_auto_land: withDefault(Schema.Array(Schema.String), () => [])
})
export type TrustConfig = typeof TrustConfig.Type

export const OrchestratorConfig = Schema.Struct({
  /** How often a runner renews its leases, in ms. */
  heartbeat_ms: withDefault(PositiveInt, () => 5_000),
  /** A lease not renewed for this long (ms) is expired and may be reclaimed. */
  lease_ttl_ms: withDefault(PositiveInt, () => 30_000),
  /** Worktrees no run owns are removed after this long (ms). */
  worktree_retention_ms: withDefault(NonNegativeInt, () => 0),
  /**
   * How many times the runner working on one issue may die (killed, crashed, lease expired) before the issue
   * escalates as a poison pill (`runner_deaths_exhausted`). Counted apart from `agent.max_attempts`: a runner
   * death is never charged to the agent.
   */
  max_runner_deaths: withDefault(PositiveInt, () => 3)
})

/** The tracker kinds (docs/trackers.md): the embedded SQLite tracker and the external ones. */
export const TrackerKind = Schema.Literal("switchyard", "github", "linear", "fp")
export type TrackerKind = typeof TrackerKind.Type

/**
 * `tracker:` (Symphony SPEC §5.3.1's namespace): where issues come from. The orchestrator's state (leases,
 * attempts, retries, events, evidence) stays in the embedded SQLite store whatever the kind; only the issues'
 * system of record changes (docs/trackers.md).
 */
export const TrackerConfig = Schema.Struct({
  /** `switchyard` (default): the embedded SQLite tracker; `github`, `linear`, `fp`: an external one. */
  kind: withDefault(TrackerKind, () => "switchyard" as const),
  /**
   * Labels an issue must carry, every one of them, to be dispatched or to keep running (Symphony SPEC §5.3.1,
   * checklist 24): compared trimmed and lower-cased; a blank entry matches no issue. Every kind.
   */
  required_labels: withDefault(Schema.Array(Schema.String), () => []),
  /** `github`: the repository, `owner/name`. */
  repo: withDefault(Schema.NullOr(Schema.String), () => null),
  /**
   * `github`/`linear`: the API's base URL (null: the public API). Must be `https://`, or `http://` on a loopback
   * host (127.0.0.1, ::1, localhost: a twin).
   */
  api_url: withDefault(Schema.NullOr(Schema.String), () => null),
  /** The name of the environment variable that holds the token (null: `GITHUB_TOKEN` / `LINEAR_API_KEY`). */
  token_env: withDefault(Schema.NullOr(EnvName), () => null),
  /**
   * `github`: the name of the environment variable that holds the webhook secret; null (default): `switchyard serve`
   * and `run --port` refuse GitHub webhooks (404). Deliveries are checked with HMAC SHA-256 under it (docs/trust.md).
   */
  webhook_secret_env: withDefault(Schema.NullOr(EnvName), () => null),
  /** `fp`: the fp binary (null: `fp` on PATH); it runs in the repository, where fp finds its project. */
  command: withDefault(Schema.NullOr(Schema.String), () => null),
  /**
   * `github`: a login; when set, only the issues assigned to it are in scope (compared case-insensitively), so an
   * issue reassigned to someone else while it runs leaves scope and its worker is stopped. Null (default): every
   * open issue, whoever it is assigned to.
   */
  assignee: withDefault(Schema.NullOr(Schema.String.pipe(Schema.minLength(1))), () => null),
  /** `github`: the prefix of the state labels Switchyard writes (`switchyard:running`, `switchyard:escalated`, ...). */
  label_prefix: withDefault(Schema.String.pipe(Schema.minLength(1)), () => "switchyard"),
  /** `linear`: the project's slug (`slugId`, the last part of its URL), the scope of the issues read. */
  project_slug: withDefault(Schema.NullOr(Schema.String), () => null),
  /**
   * `linear`: the workflow state names whose issues are candidates (Symphony SPEC §5.3.1, checklist 25; its
   * defaults), compared case-insensitively. An issue in one of these (and in none of `state_names`) is `todo`.
   */
  active_states: withDefault(Schema.Array(Schema.String), () => ["Todo", "In Progress"]),
  /** `linear`: the workflow state names that end an issue (Symphony's defaults): `done`, or `cancelled`. */
  terminal_states: withDefault(
    Schema.Array(Schema.String),
    () => ["Closed", "Cancelled", "Canceled", "Duplicate", "Done"]
  ),
  /**
   * `linear`: the workflow state Switchyard moves an issue to, by moment (docs/trackers.md, "Linear"): `running`
   * (claimed), `review` (PR_READY), `escalated` (ESCALATE), `no_op` (NO_OP), `todo` (back in the queue). Each
   * must exist in the project's team(s); read back, a state named here is that Switchyard status.
   */
  state_names: withDefault(
    Schema.Struct({
      todo: withDefault(Schema.String.pipe(Schema.minLength(1)), () => "Todo"),
      running: withDefault(Schema.String.pipe(Schema.minLength(1)), () => "In Progress"),
      review: withDefault(Schema.String.pipe(Schema.minLength(1)), () => "In Review"),
      escalated: withDefault(Schema.String.pipe(Schema.minLength(1)), () => "Backlog"),
      no_op: withDefault(Schema.String.pipe(Schema.minLength(1)), () => "Done")
    }),
    () => ({ todo: "Todo", running: "In Progress", review: "In Review", escalated: "Backlog", no_op: "Done" })
  )
})
export type TrackerConfig = typeof TrackerConfig.Type

export const StoreConfig = Schema.Struct({
  /**
   * Where the tracker, leases, attempts, retries, events and evidence live: null (the default) is the embedded
   * SQLite file under `<repo>/.switchyard/`; a `postgres://…` URL is a PostgreSQL database shared by runners on
   * several hosts (docs/scale.md). `$VAR` and `${VAR}` are expanded, so a password can stay in the environment.
   * `SWITCHYARD_DATABASE_URL` wins over it.
   */
  url: withDefault(Schema.NullOr(Schema.String), () => null)
})

export class WorkflowConfig extends Schema.Class<WorkflowConfig>("WorkflowConfig")({
  tracker: withDefault(TrackerConfig, () => TrackerConfig.make({})),
  polling: withDefault(PollingConfig, () => PollingConfig.make({})),
  workspace: withDefault(WorkspaceConfig, () => WorkspaceConfig.make({})),
  hooks: withDefault(HooksConfig, () => HooksConfig.make({})),
  agent: withDefault(AgentConfig, () => AgentConfig.make({})),
  verify: withDefault(VerifyConfig, () => VerifyConfig.make({})),
  orchestrator: withDefault(OrchestratorConfig, () => OrchestratorConfig.make({})),
  integration: withDefault(IntegrationConfig, () => IntegrationConfig.make({})),
  sandbox: withDefault(SandboxConfig, () => SandboxConfig.make({})),
  store: withDefault(StoreConfig, () => StoreConfig.make({})),
  /** The trust ladder: change classes, rungs and their history (docs/trust.md). */
  trust: withDefault(TrustConfig, () => TrustConfig.make({})),
  /** Named agent stations, each merged over `agent:` (docs/agents.md "Routing"). */
  agents: withDefault(
    Schema.Record({ key: Schema.String, value: AgentOverride }),
    (): { readonly [name: string]: AgentOverride } => ({})
  ),
  /** Label → station rules; the first route whose label the issue has wins, else `agent:` runs. */
  routes: withDefault(Schema.Array(AgentRoute), () => [])
}) {}

/** A loaded WORKFLOW.md: the typed config, the trimmed Liquid prompt template, and where it came from. */
export class WorkflowDefinition extends Schema.Class<WorkflowDefinition>("WorkflowDefinition")({
  path: Schema.String,
  config: WorkflowConfig,
  prompt_template: Schema.String
}) {}
