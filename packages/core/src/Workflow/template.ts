/** The WORKFLOW.md that `switchyard init` writes. */

/**
 * The `agent.command` placeholder `switchyard init` writes: it exits 2 with this message until someone sets a real
 * agent. `run`'s preflight refuses a command that still contains {@link AGENT_COMMAND_PLACEHOLDER_MESSAGE}.
 */
export const AGENT_COMMAND_PLACEHOLDER_MESSAGE = "set agent.command in WORKFLOW.md"

/** The JavaScript package managers `switchyard init` recognises by their lockfile. */
export type PackageManager = "pnpm" | "npm" | "yarn" | "bun"

/**
 * The lockfiles `switchyard init` looks for at the repository root, in the order it prefers them when several
 * exist, with the package manager each one names.
 */
export const LOCKFILES: ReadonlyArray<readonly [file: string, manager: PackageManager]> = [
  ["pnpm-lock.yaml", "pnpm"],
  ["bun.lock", "bun"],
  ["bun.lockb", "bun"],
  ["yarn.lock", "yarn"],
  ["package-lock.json", "npm"]
]

/** The install hook for `manager`: installs exactly the lockfile (fails when it is out of date), from the cache first. */
export const installCommand = (manager: PackageManager): string => {
  switch (manager) {
    case "pnpm":
      return "pnpm install --frozen-lockfile --prefer-offline"
    case "npm":
      return "npm ci --prefer-offline"
    case "yarn":
      return "yarn install --frozen-lockfile"
    case "bun":
      return "bun install --frozen-lockfile"
  }
}

/** The root package.json scripts `switchyard init` turns into validation commands, in the order they run. */
export const VALIDATION_SCRIPTS: ReadonlyArray<string> = ["typecheck", "lint", "test"]

/** The script `npm init` writes for `test`: it always fails, so it is no validation. */
const NPM_INIT_TEST = /^echo "Error: no test specified" && exit 1$/

/**
 * Validation commands from a root package.json's `scripts`: each of {@link VALIDATION_SCRIPTS} present (and not
 * empty, and not npm init's failing `test` placeholder), as `<manager> test` for `test` and `<manager> run <script>`
 * otherwise. Pure.
 */
export const validationCommands = (
  manager: PackageManager,
  scripts: Readonly<Record<string, string>>
): ReadonlyArray<string> =>
  VALIDATION_SCRIPTS.filter((name) => {
    const script = scripts[name]
    return script !== undefined && script.trim() !== "" && !(name === "test" && NPM_INIT_TEST.test(script.trim()))
  }).map((name) => (name === "test" ? `${manager} test` : `${manager} run ${name}`))

/** What `switchyard init` detected in the repository and writes into the WORKFLOW.md it creates. */
export interface WorkflowSetup {
  /** `hooks.after_create`, or null for none. */
  readonly install: string | null
  /** `verify.validation`. */
  readonly validation: ReadonlyArray<string>
}

/**
 * The commented WORKFLOW.md of {@link defaultWorkflowFile} with `setup`'s install hook and validation filled in
 * (as YAML double-quoted strings). Pure; with no hook and no validation it is exactly `defaultWorkflowFile`.
 */
export const renderWorkflowFile = (setup: WorkflowSetup): string =>
  defaultWorkflowFile
    .replace(
      /^ {2}after_create: null( +)#/m,
      (line, pad: string) =>
        setup.install === null ? line : `  after_create: ${JSON.stringify(setup.install)}${pad.length > 1 ? "  " : " "}#`
    )
    .replace(
      /^ {2}validation: \[\]( +)#/m,
      (line) =>
        setup.validation.length === 0
          ? line
          : `  validation: [${setup.validation.map((c) => JSON.stringify(c)).join(", ")}]  #`
    )

/**
 * A complete, commented WORKFLOW.md: every key with its default and a one-line comment (docs/workflow.md has the
 * long form), `agent.command` set to a placeholder that exits 2 with a message until someone sets a real agent,
 * and a prompt body that shows the issue and the task packet and explains the result file.
 * It parses with `parseWorkflow` (tested) and decodes to the defaults except for `agent.command`.
 */
export const defaultWorkflowFile = `---
# WORKFLOW.md: how Switchyard works on this repo. Edits apply to the next dispatch without a restart.
# Every key below shows its default; delete a key (or set it to null) to get the default. See docs/workflow.md.

tracker:                        # where issues come from (docs/trackers.md); run state stays in .switchyard/ whatever the kind
  kind: switchyard              # switchyard (the embedded tracker: switchyard issue create) | github | linear | fp
  required_labels: []           # labels an issue needs, all of them (case-insensitive), to be dispatched or keep running
  repo: null                    # github: owner/name
  api_url: null                 # github/linear: API base URL; null = the public API; http:// only on loopback (a twin)
  token_env: null               # the env var that holds the token; null = GITHUB_TOKEN / LINEAR_API_KEY
  command: null                 # fp: the fp binary; null = fp on PATH
  label_prefix: switchyard      # github: the state labels Switchyard writes are <prefix>:running, <prefix>:escalated, ...
  assignee: null                # github: a login; only issues assigned to it are in scope (null: every open issue)
  project_slug: null            # linear: the project's slug (the last part of its URL); required for linear
  active_states: [Todo, In Progress]                            # linear: states whose issues are candidates
  terminal_states: [Closed, Cancelled, Canceled, Duplicate, Done] # linear: states that end an issue
  state_names:                  # linear: the state Switchyard moves an issue to; each must exist in the team
    todo: Todo                  #   back in the queue (a retry, a requeue)
    running: In Progress        #   claimed
    review: In Review           #   PR_READY
    escalated: Backlog          #   ESCALATE: a person decides, then moves it back to Todo
    no_op: Done                 #   NO_OP
  webhook_secret_env: null      # github: the env var with the webhook secret for POST /webhooks/github; null = webhooks refused

polling:
  interval_ms: 30000            # ms between scheduler ticks when nothing else wakes it

workspace:
  root: null                    # where sandboxes live; ~ and $VAR expand, relative = next to this file; null = <tmp>/switchyard_workspaces/<repo>-<hash>

hooks:                          # shell scripts run in the sandbox; null = none (docs/security.md: which are confined)
  after_create: null            # once, after a sandbox is created (and in every verification checkout), e.g. "pnpm install --offline"
  before_run: null              # before the agent's first run; a failure aborts the attempt
  after_run: null               # after every agent run, confined like the agent; failures are ignored
  before_remove: null           # before a sandbox is removed, confined; failures are ignored
  timeout_ms: 60000             # ms each hook may run
  env: []                       # runner variable NAMES the confined hooks get, besides PATH, LANG, LC_ALL, TERM, TZ

agent:
  kind: command                 # the station: "command" runs agent.command with sh -c in the sandbox
  command: 'echo "${AGENT_COMMAND_PLACEHOLDER_MESSAGE}" >&2; exit 2'   # the agent CLI; replace this placeholder
  max_concurrent_agents: 10     # agents running at once, across all issues
  max_concurrent_agents_by_label: {}   # per-label caps, e.g. {migration: 1}; label names are matched lower-cased
  max_attempts: 3               # attempts before a retryable failure becomes ESCALATE
  retry_base_delay_ms: 10000    # ms before the first retry; doubles per attempt
  max_retry_backoff_ms: 300000  # ms cap on the retry delay
  timeout_ms: 3600000           # ms one agent run may take in total
  stall_timeout_ms: 300000      # ms of silence before a run counts as stalled; 0 or less disables the check
  max_turns: 20                 # turns per agent session
  max_revisions: 2              # continuation turns after the verifier rejects a diff, before the verdict is final
  max_ci_revisions: 2           # continuation turns after integration.ci_command fails, before ESCALATE ci_failed
  max_log_bytes: 8388608        # bytes of output one run may leave in agent.log / transcript.jsonl: first half, cut marker, last half
  # Keys for the claude-code and codex stations (docs/agents.md); the command station ignores them.
  model: null                   # model name passed to the agent CLI (--model / -m); null = the CLI's default
  permission_mode: acceptEdits  # Claude Code --permission-mode ("" passes no flag)
  allowed_tools: [Bash]         # Claude Code --allowedTools
  disallowed_tools: []          # Claude Code --disallowedTools
  append_system_prompt: null    # Claude Code --append-system-prompt
  env: []                       # extra environment variable NAMES passed to the agent; others are not inherited
  base_url: null                # model API base URL (e.g. a local model twin); null = the provider's own
  extra_args: []                # extra CLI arguments, appended as given
  max_cost_usd: null            # stop a run that costs more (USD) and ESCALATE with cause budget_exceeded
  max_tokens: null              # stop a run that uses more tokens and ESCALATE with cause budget_exceeded

agents: {}                      # named stations merged over agent:, e.g. {claude: {kind: claude-code}}
routes: []                      # pick a station by issue label, e.g. [{label: frontend, agent: claude}]

verify:                         # Switchyard runs these itself on the candidate; the agent's claim is not the verdict
  validation: []                # commands that must all exit 0, e.g. ["pnpm -s tsc -b", "pnpm vitest run"]
  reproduction: null            # default reproduction for issues without one: fails before the fix, passes after
  timeout_ms: 600000            # ms each verification command may run
  max_added_file_bytes: 1048576 # added files larger than this fail the added_file_too_large guard
  protected_paths: []           # extra globs the agent must not edit (beyond .github/**, WORKFLOW.md, lockfiles, ...)
  compare_test_counts: true     # also run validation on the base and fail if the candidate runs fewer tests
  base_cache: true              # reuse the base's validation and reproduction results for every issue on the same base commit
  reuse_install: true           # run after_create once per lockfile/manifests and bind it read-only into verify checkouts
  env: []                       # runner variable NAMES verification commands get (they run the candidate's code: no secrets)

sandbox:                        # how the agent and everything that runs its code are confined (docs/security.md)
  confinement: bwrap            # bwrap (bubblewrap; run refuses to start without it) or none (unconfined, said in every bundle)
  network: none                 # none: no network but the agent CLIs' model endpoint; host: the host's network for all
  readable: []                  # extra absolute paths confined processes may read (/tmp is private otherwise)
  writable: []                  # extra absolute paths confined processes may write (never inside this repo)
  hidden: []                    # extra absolute paths confined processes must not see at all
  package_store: auto           # the runner's pnpm store, read-only to confined installs (auto, none or a path)

orchestrator:
  heartbeat_ms: 5000            # ms between lease renewals
  lease_ttl_ms: 30000           # ms after which an unrenewed lease may be reclaimed
  worktree_retention_ms: 0      # ms to keep sandboxes no run owns before removing them
  max_runner_deaths: 3          # runner deaths on one issue before it escalates (apart from agent.max_attempts)

integration:                    # after PR_READY (failures are recorded, never fatal)
  push: false                   # push switchyard/<id> to the remote
  remote: origin                # the remote to push to
  pr_command: null              # e.g. gh pr create --head {{ branch }} --title {{ title }} --body-file {{ evidence_md }}
  ci_command: null              # a CI check run confined on each verified candidate (repos without hosted CI); failures go back to the agent
  ci: none                      # github: read the candidate's check runs and statuses on GitHub; failures go back to the agent
  ci_timeout_ms: 1800000        # hosted CI: ms to wait for every check to complete, then ESCALATE ci_failed
  ci_poll_ms: 15000             # hosted CI: ms between reads while checks are pending
  land: auto                    # switchyard land: local (fast-forward) | github (merge the PR through the API) | auto
  merge_method: merge           # github landing: merge | squash | rebase

trust:                          # the trust ladder (docs/trust.md): which changes may land without a human
  classes: []                   # e.g. [{name: docs, paths: ["docs/**"], max_lines: 200, rung: auto_land}]
  promote_after: 3              # consecutive human merges without a revert before a class on auto_land lands by itself
  never_auto_land: []           # extra globs that always wait for review (beyond WORKFLOW.md, CI config, protected paths)

store:
  url: null                     # null: SQLite in .switchyard/; postgres://… (or "\${VAR}"): a database runners on several hosts share (docs/scale.md)
---
You are a careful engineer working on issue {{ issue.id }} in this repository: {{ issue.title }}
{%- if attempt %}

This is attempt {{ attempt }}: an earlier attempt did not succeed.
{%- endif %}

## What was asked

{{ issue.body }}
{%- if issue.labels.size > 0 %}

Labels: {{ issue.labels | join: ", " }}
{%- endif %}

## The task
{%- if packet.reproduction %}

Reproduction: this command fails now and must pass after your change.

    {{ packet.reproduction }}
{%- endif %}
{%- if packet.validation.size > 0 %}

Validation: every one of these commands must exit 0 on your change.
{%- for command in packet.validation %}
- \`{{ command }}\`
{%- endfor %}
{%- endif %}
{%- if packet.scope.size > 0 %}

Scope: change only files matching these globs.
{%- for glob in packet.scope %}
- \`{{ glob }}\`
{%- endfor %}
{%- endif %}
{%- if packet.non_goals.size > 0 %}

Non-goals: do not do these.
{%- for goal in packet.non_goals %}
- {{ goal }}
{%- endfor %}
{%- endif %}

Make the smallest change that does the job. Add or update tests when behaviour changes. Do not commit:
Switchyard makes the commit from what you leave in the working tree.

## When to change nothing
{%- for rule in packet.no_op_rules %}
- {{ rule }}
{%- endfor %}

## When you are done

Write one JSON object to the file named by $SWITCHYARD_RESULT_FILE:

    {{ packet.output_contract.format }}

- PR_READY: you changed the code and the reproduction and validation pass.
- NO_OP: nothing needed to change; say why in the summary.
- ESCALATE: a human must decide something; put the question in "question".

Switchyard re-runs the reproduction and validation itself and decides the outcome from what it sees; your claim
is one input to that decision.
`
