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
 */
import { type CommandExecutor, FileSystem, Path } from "@effect/platform"
import { AgentStation, type AgentRunInput, type AgentStationShape, Confinement, type Workflow } from "@switchyard/core"
import type { AgentConfig } from "@switchyard/domain"
import { Effect, Either, Layer } from "effect"
import { agentEnv, redactor, secretValues } from "./AgentEnv.js"
import * as ClaudeStream from "./ClaudeStream.js"
import * as CliStation from "./CliStation.js"
import { commandLine, notRun, prepare, revisionPrompt, switchyardEnv } from "./RunFiles.js"
import { fromRunner, type RunnerOptions, runnerEnvOf, type StationRunner } from "./Station.js"

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

/** The whole environment of the `claude` process (see the module docs). Pure. */
export const env = (
  config: AgentConfig,
  runnerEnv: Readonly<Record<string, string | undefined>>,
  switchyard: Readonly<Record<string, string>>
): Record<string, string> =>
  agentEnv(
    config.env,
    runnerEnv,
    { ...switchyard, ...(config.base_url === null || config.base_url === "" ? {} : { ANTHROPIC_BASE_URL: config.base_url }) },
    DEFAULT_ENV
  )

/** What one run sends: the session to resume (a revision with a known session) and the stdin text. */
export const invocation = (input: AgentRunInput): { readonly resume: string | null; readonly stdin: string } => {
  const resume = input.continuation?.sessionId ?? null
  return {
    resume,
    stdin: input.continuation === null ? input.prompt : resume !== null ? input.continuation.feedback : revisionPrompt(input)
  }
}

/** The station with the config passed per run (for the routing station). */
export const makeRunner = (
  options: RunnerOptions = {}
): Effect.Effect<StationRunner, never, CommandExecutor.CommandExecutor | FileSystem.FileSystem | Path.Path | Confinement> =>
  Effect.gen(function*() {
    const context = yield* Effect.context<CommandExecutor.CommandExecutor | FileSystem.FileSystem | Path.Path>()
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const confinement = yield* Confinement

    const run = (config: AgentConfig, input: AgentRunInput) =>
      Effect.gen(function*() {
        const executable = config.command ?? DEFAULT_BINARY
        const runnerEnv = yield* runnerEnvOf(options)
        const redact = redactor(secretValues(runnerEnv))
        const { resume, stdin } = invocation(input)
        const argv = args(config, resume)
        const prepared = yield* Effect.either(prepare(fs, path, input))
        if (Either.isLeft(prepared)) {
          return notRun(KIND, commandLine([executable, ...argv]), `cannot prepare the run directory ${input.runDir}: ${prepared.left.message}`)
        }
        const done = yield* CliStation.run({
          kind: KIND,
          executable,
          args: argv,
          stdin,
          env: env(config, runnerEnv, switchyardEnv(input, prepared.right)),
          resume,
          decodeLine: ClaudeStream.decodeLine,
          maxTokens: config.max_tokens,
          maxCostUsd: config.max_cost_usd,
          maxLogBytes: config.max_log_bytes,
          usageBaseline: null,
          modelEndpoint: config.base_url === null || config.base_url === "" ? DEFAULT_ENDPOINT : config.base_url
        }, input, prepared.right, redact, confinement)
        return done.report
      }).pipe(
        Effect.provide(context),
        Effect.annotateLogs({ issueId: input.issue.id, attempt: input.attempt, station: KIND })
      )

    return { kind: KIND, run } satisfies StationRunner
  })

/** The `AgentStation` (kind `claude-code`) configured by WORKFLOW.md's `agent:` at each run. */
export const make: Effect.Effect<
  AgentStationShape,
  never,
  Workflow | CommandExecutor.CommandExecutor | FileSystem.FileSystem | Path.Path | Confinement
> = Effect.flatMap(makeRunner(), fromRunner)

/** The `AgentStation` layer (kind `claude-code`). */
export const layer: Layer.Layer<
  AgentStation,
  never,
  Workflow | CommandExecutor.CommandExecutor | FileSystem.FileSystem | Path.Path | Confinement
> = Layer.effect(AgentStation, make)
