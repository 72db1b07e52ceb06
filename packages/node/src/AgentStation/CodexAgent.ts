/**
 * CodexAgent: the `AgentStation` of kind `codex`. It runs `codex exec --json` non-interactively in the sandbox
 * and reads everything it does from its JSONL events (CodexStream; docs/agents.md).
 *
 * Command line (`args`): `codex exec --json --sandbox workspace-write --skip-git-repo-check [-m MODEL]
 * [-c model_provider="switchyard" -c model_providers.switchyard.{name,base_url,wire_api[,env_key]}=...]
 * [extra_args...] [resume THREAD] -`. The trailing `-` makes Codex read the prompt from stdin, which is then
 * closed. A revision resumes the thread (`codex exec resume <thread_id>`) and sends only the feedback; without a
 * thread id it re-runs with the prompt followed by the feedback.
 *
 * `--sandbox`: see `sandboxMode` (Codex's own sandbox is off inside Switchyard's confinement, which replaces it);
 * `--skip-git-repo-check` because Switchyard already guarantees the cwd is a git repository.
 *
 * Usage: Codex reports thread totals in `turn.completed`, so for a resumed thread the station subtracts the total
 * it saw at the end of the previous run of that thread (`threadTotals`: kept in memory for the life of the station).
 * Codex reports no cost: `costUsd` is null and `agent.max_cost_usd` cannot be enforced (docs/agents.md).
 *
 * Everything else (run files, confinement, transcript, report) is the shared skeleton, makeStation.ts.
 */
import type { AgentConfig, ConfinementKind } from "@switchyard/domain"
import { agentEnv } from "./AgentEnv.js"
import * as CodexStream from "./CodexStream.js"
import { makeStation, type RunnerEnv, type RunnerOptions, stationLayer, type StationSpec } from "./makeStation.js"

/** The station kind, as in WORKFLOW.md `agent.kind`. */
export const KIND = "codex"
/** The binary used when `agent.command` is null: `codex` on the agent's PATH. */
export const DEFAULT_BINARY = "codex"
/** The model API Codex talks to when `agent.base_url` is null: the one destination it may reach confined. */
export const DEFAULT_ENDPOINT = "https://api.openai.com"
/** The model provider name the station defines when `agent.base_url` is set. */
export const PROVIDER = "switchyard"
/** The API key variable the `switchyard` provider reads, when `agent.env` passes it. */
export const API_KEY_ENV = "OPENAI_API_KEY"

/** A TOML string for `-c key=value` (JSON string escapes are valid TOML basic-string escapes). */
const toml = (value: string): string => JSON.stringify(value)

/**
 * Codex's own `--sandbox` mode: `danger-full-access` inside Switchyard's bubblewrap confinement, which replaces it
 * (Codex's bubblewrap cannot nest inside ours, and ours is stricter: no network but the model endpoint, the
 * repository hidden); `workspace-write` when Switchyard runs unconfined (`sandbox.confinement: none`), so Codex's
 * own sandbox is the only one (docs/agents.md).
 */
export const sandboxMode = (confinement: ConfinementKind): "danger-full-access" | "workspace-write" =>
  confinement === "bwrap" ? "danger-full-access" : "workspace-write"

/**
 * The arguments after the binary, from the agent config. `resume` is the thread to continue, or null;
 * `withApiKey` adds `env_key = "OPENAI_API_KEY"` to the provider (when that variable reaches the agent);
 * `confinement` picks Codex's own sandbox mode (`sandboxMode`). Pure.
 */
export const args = (
  config: AgentConfig,
  resume: string | null,
  withApiKey: boolean,
  confinement: ConfinementKind = "bwrap"
): ReadonlyArray<string> => [
  "exec",
  "--json",
  "--sandbox",
  sandboxMode(confinement),
  "--skip-git-repo-check",
  ...(config.model === null || config.model === "" ? [] : ["-m", config.model]),
  ...(config.base_url === null || config.base_url === "" ? [] : [
    "-c",
    `model_provider=${toml(PROVIDER)}`,
    "-c",
    `model_providers.${PROVIDER}.name=${toml(PROVIDER)}`,
    "-c",
    `model_providers.${PROVIDER}.base_url=${toml(config.base_url)}`,
    "-c",
    `model_providers.${PROVIDER}.wire_api=${toml("responses")}`,
    ...(withApiKey ? ["-c", `model_providers.${PROVIDER}.env_key=${toml(API_KEY_ENV)}`] : [])
  ]),
  ...config.extra_args,
  ...(resume === null ? [] : ["resume", resume]),
  "-"
]

/**
 * The environment of the `codex` process: the allow-list (AgentEnv); the skeleton adds `SWITCHYARD_*`. Pure.
 */
export const env = (config: AgentConfig, runnerEnv: RunnerEnv): Record<string, string> => agentEnv(config.env, runnerEnv, {})

/**
 * The station: `codex` (or `agent.command`) with `args` (the provider's `env_key` only when `OPENAI_API_KEY`
 * reaches the agent), its JSONL decoded by CodexStream; usage comes as thread totals.
 */
export const spec: StationSpec = {
  kind: KIND,
  argv: (config, resume, context) => [
    config.command ?? DEFAULT_BINARY,
    ...args(config, resume, context.env[API_KEY_ENV] !== undefined, context.confinement)
  ],
  env,
  decode: {
    _tag: "Events",
    decodeLine: CodexStream.decodeLine,
    endpoint: (config) => config.base_url === null || config.base_url === "" ? DEFAULT_ENDPOINT : config.base_url,
    threadTotals: true
  }
}

/** The `AgentStation` of kind `codex` (makeStation). */
export const make = (options: RunnerOptions = {}) => makeStation(spec, options)

/** The `AgentStation` layer of kind `codex`. */
export const layer = (options: RunnerOptions = {}) => stationLayer(spec, options)
