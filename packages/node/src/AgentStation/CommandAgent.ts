/**
 * CommandAgent: the `AgentStation` of kind `command`. It runs WORKFLOW.md's `agent.command` with `sh -c` in the
 * sandbox and reads the agent's claim from a result file.
 *
 * The agent gets the prompt on stdin (then stdin is closed) and the run files and `SWITCHYARD_*` variables of
 * RunFiles. Its environment is the allow-list of AgentEnv: PATH, HOME, USER, SHELL, LANG, LC_ALL, TERM, TMPDIR and
 * the names in `agent.env`; nothing else from the runner. A revision re-runs the command with the prompt, a blank
 * line and the feedback on stdin, and `$SWITCHYARD_REVISION` / `$SWITCHYARD_FEEDBACK` set.
 *
 * Its output is recorded line by line as it arrives, redacted (`Redactor`): as text in `agent.log`,
 * and as `{"type":"stdout"|"stderr","text"}` lines in `transcript.jsonl` (Transcript). Each file keeps at most
 * `agent.max_log_bytes` of one run's output: the first half as it comes, then one cut marker and the last half,
 * written when the run ends (a line that will be dropped costs its size and a place in memory: it is not
 * redacted, encoded or written). The station never fails: a missing command, a crash or a timeout is described in the
 * `AgentReport`. All of that is the shared skeleton (makeStation.ts, its `Text` decoder); this file is the command
 * line and the environment.
 */
import { agentEnv } from "./AgentEnv.js"
import { makeStation, type RunnerOptions, stationLayer, type StationSpec } from "./makeStation.js"

export { LOG_FILE } from "./makeStation.js"
export { MAX_RESULT_BYTES, PROMPT_FILE, RESULT_FILE, TASK_FILE } from "./RunFiles.js"

/** The station kind, as in WORKFLOW.md `agent.kind`. */
export const KIND = "command"

/**
 * The station: `sh -c "<agent.command>"` with the allow-listed environment, its output read as plain text; the
 * report shows the command itself. Without `agent.command` it does not run.
 */
export const spec: StationSpec = {
  kind: KIND,
  argv: (config) => ["sh", "-c", config.command ?? ""],
  env: (config, runnerEnv) => agentEnv(config.env, runnerEnv, {}),
  decode: { _tag: "Text" },
  unavailable: (config) => (config.command === null ? "agent.command is not set in WORKFLOW.md" : null),
  display: (argv) => argv[2] ?? ""
}

/** The `AgentStation` of kind `command` (makeStation). */
export const make = (options: RunnerOptions = {}) => makeStation(spec, options)

/** The `AgentStation` layer of kind `command`. */
export const layer = (options: RunnerOptions = {}) => stationLayer(spec, options)
