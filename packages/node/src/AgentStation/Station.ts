/**
 * The shape shared by the concrete stations (`CommandAgent`, `ClaudeCodeAgent`, `CodexAgent`): a runner that takes
 * the agent config explicitly, so the routing station can hand each one the merged config of the station it
 * picked. Each module also offers a plain `AgentStation` layer that runs with WORKFLOW.md's `agent:`.
 */
import { AgentStation, type AgentRunInput, type AgentStationShape, Workflow } from "@switchyard/core"
import type { AgentConfig, AgentKind, AgentReport } from "@switchyard/domain"
import { Effect, Either } from "effect"
import { notRun } from "./RunFiles.js"

/** A concrete station, configured per run. Never fails: every problem is described in the report. */
export interface StationRunner {
  readonly kind: AgentKind
  readonly run: (config: AgentConfig, input: AgentRunInput) => Effect.Effect<AgentReport>
}

/** Options shared by the stations' `makeRunner`. */
export interface RunnerOptions {
  /**
   * The runner's environment: the source of the variables passed to the agent (`agent.env`) and of the secret
   * values redacted from what the station writes. Default: `process.env`, read at each run.
   */
  readonly runnerEnv?: Readonly<Record<string, string | undefined>> | undefined
}

/** The runner's environment for one run (see `RunnerOptions.runnerEnv`). */
export const runnerEnvOf = (options: RunnerOptions): Effect.Effect<Readonly<Record<string, string | undefined>>> =>
  options.runnerEnv !== undefined ? Effect.succeed(options.runnerEnv) : Effect.sync(() => ({ ...process.env }))

/**
 * An `AgentStation` that runs `runner` with WORKFLOW.md's `agent:` section, read at each run (so edits apply to
 * the next run). A workflow that cannot be read gives a not-run report.
 */
export const fromRunner = (runner: StationRunner): Effect.Effect<AgentStationShape, never, Workflow> =>
  Effect.map(Workflow, (workflow) =>
    AgentStation.of({
      kind: runner.kind,
      run: (input) =>
        Effect.flatMap(Effect.either(workflow.current), (loaded) =>
          Either.isLeft(loaded)
            ? Effect.succeed(notRun(runner.kind, "", `WORKFLOW.md could not be loaded: ${loaded.left.message}`))
            : runner.run(loaded.right.config.agent, input))
    }))
