/**
 * RoutedAgentStation: the `AgentStation` the CLI uses. It holds one station per kind (`command`, `claude-code`,
 * `codex`; built once, when the layer is) and runs the one of `input.agent.kind`. It does not route: the caller
 * picked `input.agent` (and `input.route`, recorded in `AgentReport.route`) with `Routing.resolve` (@switchyard/core).
 */
import type { CommandExecutor, FileSystem, Path } from "@effect/platform"
import { AgentStation, type AgentStationShape, type Confinement, type Redactor } from "@switchyard/core"
import type { AgentKind } from "@switchyard/domain"
import { Effect, Layer } from "effect"
import * as ClaudeCodeAgent from "./ClaudeCodeAgent.js"
import * as CodexAgent from "./CodexAgent.js"
import * as CommandAgent from "./CommandAgent.js"
import type { RunnerOptions } from "./makeStation.js"

/** The router's own kind (the concrete kind is in each report). */
export const KIND = "routed"

/** Builds the router with one station per kind (`options` go to each). `run` never fails (no station's does). */
export const make = (
  options: RunnerOptions = {}
): Effect.Effect<
  AgentStationShape,
  never,
  CommandExecutor.CommandExecutor | FileSystem.FileSystem | Path.Path | Confinement | Redactor
> =>
  Effect.gen(function*() {
    const stations: Record<AgentKind, AgentStationShape> = {
      command: yield* CommandAgent.make(options),
      "claude-code": yield* ClaudeCodeAgent.make(options),
      codex: yield* CodexAgent.make(options)
    }
    return AgentStation.of({
      kind: KIND,
      run: (input) =>
        Effect.logInfo("agent station chosen").pipe(
          Effect.annotateLogs({ route: input.route ?? "none", kind: input.agent.kind }),
          Effect.zipRight(stations[input.agent.kind].run(input)),
          Effect.annotateLogs({ issueId: input.issue.id })
        )
    })
  })

/** The routing `AgentStation` layer. */
export const layer = (
  options: RunnerOptions = {}
): Layer.Layer<
  AgentStation,
  never,
  CommandExecutor.CommandExecutor | FileSystem.FileSystem | Path.Path | Confinement | Redactor
> => Layer.effect(AgentStation, make(options))
