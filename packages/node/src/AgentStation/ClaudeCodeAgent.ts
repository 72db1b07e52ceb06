/**
 * ClaudeCodeAgent: the `AgentStation` of kind `claude-code`. It runs the real `claude` CLI non-interactively in
 * the sandbox and reads everything it does from `--output-format stream-json` (docs/agents.md).
 *
 * Command line (`args`): `claude -p --output-format stream-json --verbose [--model M] [--permission-mode P]
 * [--allowedTools T...] [--disallowedTools T...] --max-turns N [--append-system-prompt S] [--max-budget-usd X]
 * [--resume SESSION] [extra_args...]`. The prompt goes to stdin, which is then closed (an open stdin makes
 * `claude -p` wait 3 s for input); a revision resumes the session and sends only the verifier's feedback.
 *
 * Environment: the allow-list (AgentEnv), `SWITCHYARD_*` (RunFiles), `ANTHROPIC_BASE_URL` from `agent.base_url`,
 * and `CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1` unless `agent.env` passes another value.
 *
 * Everything else (run files, confinement, transcript, report) is the shared skeleton, makeStation.ts.
 */
import type { AgentConfig } from "@switchyard/domain"
import { agentEnv } from "./AgentEnv.js"
import * as ClaudeStream from "./ClaudeStream.js"
import { makeStation, type RunnerEnv, type RunnerOptions, stationLayer, type StationSpec } from "./makeStation.js"

/** The station kind, as in WORKFLOW.md `agent.kind`. */
export const KIND = "claude-code"
/** The binary used when `agent.command` is null: `claude` on the agent's PATH. */
export const DEFAULT_BINARY = "claude"
/** The model API Claude Code talks to when `agent.base_url` is null: the one destination it may reach confined. */
export const DEFAULT_ENDPOINT = "https://api.anthropic.com"

/** Variables set unless `agent.env` passes the runner's own value: keep telemetry and update checks off. */
export const DEFAULT_ENV: Readonly<Record<string, string>> = { CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1" }

/**
 * The arguments after the binary, from the agent config (see the module docs for the order). `resume` is the
 * session to continue (`--resume`), or null. Pure.
 */
export const args = (config: AgentConfig, resume: string | null): ReadonlyArray<string> => [
  "-p",
  "--output-format",
  "stream-json",
  "--verbose",
  ...(config.model === null || config.model === "" ? [] : ["--model", config.model]),
  ...(config.permission_mode === null || config.permission_mode === "" ? [] : ["--permission-mode", config.permission_mode]),
  // Variadic flags: each is followed by another flag, never by a positional.
  ...(config.allowed_tools.length === 0 ? [] : ["--allowedTools", ...config.allowed_tools]),
  ...(config.disallowed_tools.length === 0 ? [] : ["--disallowedTools", ...config.disallowed_tools]),
  "--max-turns",
  String(config.max_turns),
  ...(config.append_system_prompt === null || config.append_system_prompt === ""
    ? []
    : ["--append-system-prompt", config.append_system_prompt]),
  ...(config.max_cost_usd === null ? [] : ["--max-budget-usd", String(config.max_cost_usd)]),
  ...(resume === null ? [] : ["--resume", resume]),
  ...config.extra_args
]

/**
 * The environment of the `claude` process, without the `SWITCHYARD_*` variables the skeleton adds (see the module
 * docs). Pure.
 */
export const env = (config: AgentConfig, runnerEnv: RunnerEnv): Record<string, string> =>
  agentEnv(
    config.env,
    runnerEnv,
    config.base_url === null || config.base_url === "" ? {} : { ANTHROPIC_BASE_URL: config.base_url },
    DEFAULT_ENV
  )

/** The station: `claude` (or `agent.command`) with `args`, its stream-json decoded by ClaudeStream. */
export const spec: StationSpec = {
  kind: KIND,
  argv: (config, resume) => [config.command ?? DEFAULT_BINARY, ...args(config, resume)],
  env,
  decode: {
    _tag: "Events",
    decodeLine: ClaudeStream.decodeLine,
    endpoint: (config) => config.base_url === null || config.base_url === "" ? DEFAULT_ENDPOINT : config.base_url,
    threadTotals: false
  }
}

/** The `AgentStation` of kind `claude-code` (makeStation). */
export const make = (options: RunnerOptions = {}) => makeStation(spec, options)

/** The `AgentStation` layer of kind `claude-code`. */
export const layer = (options: RunnerOptions = {}) => stationLayer(spec, options)
