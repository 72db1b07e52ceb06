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
 * it saw at the end of the previous run of that thread (kept in memory for the life of the station).
 * Codex reports no cost: `costUsd` is null and `agent.max_cost_usd` cannot be enforced (docs/agents.md).
 */
import { type CommandExecutor, FileSystem, Path } from "@effect/platform"
import { AgentStation, type AgentRunInput, type AgentStationShape, Confinement, type Workflow } from "@switchyard/core"
import type { AgentConfig, ConfinementKind, TokenUsage } from "@switchyard/domain"
import { Effect, Either, Layer, Ref } from "effect"
import { agentEnv, redactor, secretValues } from "./AgentEnv.js"
import * as CliStation from "./CliStation.js"
import * as CodexStream from "./CodexStream.js"
import { commandLine, notRun, prepare, revisionPrompt, switchyardEnv } from "./RunFiles.js"
import { fromRunner, type RunnerOptions, runnerEnvOf, type StationRunner } from "./Station.js"

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

/** The whole environment of the `codex` process: the allow-list and `SWITCHYARD_*` (AgentEnv). Pure. */
export const env = (
  config: AgentConfig,
  runnerEnv: Readonly<Record<string, string | undefined>>,
  switchyard: Readonly<Record<string, string>>
): Record<string, string> => agentEnv(config.env, runnerEnv, switchyard)

/** What one run sends: the thread to resume (a revision with a known thread) and the stdin text. */
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
    /** Thread id → the last thread total seen, for resumed threads. */
    const threads = yield* Ref.make(new Map<string, TokenUsage>())

    const run = (config: AgentConfig, input: AgentRunInput) =>
      Effect.gen(function*() {
        const executable = config.command ?? DEFAULT_BINARY
        const runnerEnv = yield* runnerEnvOf(options)
        const redact = redactor(secretValues(runnerEnv))
        const { resume, stdin } = invocation(input)
        const prepared = yield* Effect.either(prepare(fs, path, input))
        const processEnv = Either.isRight(prepared) ? env(config, runnerEnv, switchyardEnv(input, prepared.right)) : {}
        const argv = args(config, resume, processEnv[API_KEY_ENV] !== undefined, confinement.kind)
        if (Either.isLeft(prepared)) {
          return notRun(KIND, commandLine([executable, ...argv]), `cannot prepare the run directory ${input.runDir}: ${prepared.left.message}`)
        }
        const baseline = resume === null ? null : (yield* Ref.get(threads)).get(resume) ?? null
        const done = yield* CliStation.run({
          kind: KIND,
          executable,
          args: argv,
          stdin,
          env: processEnv,
          resume,
          decodeLine: CodexStream.decodeLine,
          maxTokens: config.max_tokens,
          maxCostUsd: config.max_cost_usd,
          maxLogBytes: config.max_log_bytes,
          usageBaseline: baseline,
          modelEndpoint: config.base_url === null || config.base_url === "" ? DEFAULT_ENDPOINT : config.base_url
        }, input, prepared.right, redact, confinement)
        const thread = done.report.sessionId
        const total = done.threadUsage
        if (thread !== null && total !== null) {
          yield* Ref.update(threads, (m) => new Map(m).set(thread, total))
        }
        return done.report
      }).pipe(
        Effect.provide(context),
        Effect.annotateLogs({ issueId: input.issue.id, attempt: input.attempt, station: KIND })
      )

    return { kind: KIND, run } satisfies StationRunner
  })

/** The `AgentStation` (kind `codex`) configured by WORKFLOW.md's `agent:` at each run. */
export const make: Effect.Effect<
  AgentStationShape,
  never,
  Workflow | CommandExecutor.CommandExecutor | FileSystem.FileSystem | Path.Path | Confinement
> = Effect.flatMap(makeRunner(), fromRunner)

/** The `AgentStation` layer (kind `codex`). */
export const layer: Layer.Layer<
  AgentStation,
  never,
  Workflow | CommandExecutor.CommandExecutor | FileSystem.FileSystem | Path.Path | Confinement
> = Layer.effect(AgentStation, make)
