/**
 * RoutedAgentStation: the `AgentStation` the CLI uses. At each run it reads WORKFLOW.md, picks the station for the
 * issue by its labels (`routes:`, first match wins; labels compared trimmed and lower-cased), else the default
 * (`agent:` itself), merges the picked `agents.<name>` over `agent:`, and runs the concrete station of that kind
 * (`command`, `claude-code`, `codex`; built once, when the layer is). The choice is recorded in
 * `AgentReport.route`, e.g. `label frontend → claude (claude-code)` or `default (command)`.
 */
import { type CommandExecutor, FileSystem, Path } from "@effect/platform"
import { AgentStation, type AgentStationShape, type Confinement, Workflow } from "@switchyard/core"
import { type AgentConfig, AgentReport, type AgentKind, type WorkflowConfig } from "@switchyard/domain"
import { Effect, Either, Layer } from "effect"
import * as ClaudeCodeAgent from "./ClaudeCodeAgent.js"
import * as CodexAgent from "./CodexAgent.js"
import * as CommandAgent from "./CommandAgent.js"
import { notRun } from "./RunFiles.js"
import type { RunnerOptions, StationRunner } from "./Station.js"

/** The router's own kind (the concrete kind is in each report). */
export const KIND = "routed"

/** Trimmed and lower-cased, as `agent.max_concurrent_agents_by_label` keys are. */
export const normalizeLabel = (label: string): string => label.trim().toLowerCase()

/** The station chosen for an issue. */
export type Route =
  | {
    readonly _tag: "Station"
    /** The merged config to run with. */
    readonly config: AgentConfig
    /** `agents:` name, or null for the default station. */
    readonly name: string | null
    /** What to record, e.g. `label frontend → claude (claude-code)`. */
    readonly description: string
  }
  | { readonly _tag: "Invalid"; readonly reason: string }

/**
 * Picks the station for an issue with `labels` (pure): the first route whose label is one of the issue's labels
 * (both normalized) names an `agents:` entry, which is merged over `agent:` (keys it sets win, `undefined` keys
 * are inherited); with no matching route, `agent:` runs. A route naming an agent that `agents:` does not define
 * is `Invalid` (the attempt fails with the reason rather than silently running another station).
 */
export const resolve = (config: WorkflowConfig, labels: ReadonlyArray<string>): Route => {
  const have = new Set(labels.map(normalizeLabel))
  const route = config.routes.find((r) => have.has(normalizeLabel(r.label)))
  if (route === undefined) {
    return { _tag: "Station", config: config.agent, name: null, description: `default (${config.agent.kind})` }
  }
  const override = Object.prototype.hasOwnProperty.call(config.agents, route.agent) ? config.agents[route.agent] : undefined
  if (override === undefined) {
    const known = Object.keys(config.agents)
    return {
      _tag: "Invalid",
      reason: `routes: label ${JSON.stringify(route.label)} names agent ${JSON.stringify(route.agent)}, but agents: ${
        known.length === 0 ? "defines none" : `only defines ${known.map((k) => JSON.stringify(k)).join(", ")}`
      }`
    }
  }
  const defined = Object.fromEntries(Object.entries(override).filter(([, value]) => value !== undefined))
  const merged: AgentConfig = { ...config.agent, ...defined }
  return {
    _tag: "Station",
    config: merged,
    name: route.agent,
    description: `label ${normalizeLabel(route.label)} → ${route.agent} (${merged.kind})`
  }
}

/**
 * Builds the router with one runner per kind (`options` go to each). `run` never fails: an unreadable workflow or
 * an invalid route gives a not-run report (`crashed`, so the attempt is retried and then escalated).
 * The run's `timeoutMs` is the picked station's `timeout_ms` when an `agents:` entry sets it.
 */
export const makeWith = (
  options: RunnerOptions = {}
): Effect.Effect<
  AgentStationShape,
  never,
  Workflow | CommandExecutor.CommandExecutor | FileSystem.FileSystem | Path.Path | Confinement
> =>
  Effect.gen(function*() {
    const workflow = yield* Workflow
    const runners: Record<AgentKind, StationRunner> = {
      command: yield* CommandAgent.makeRunner(options),
      "claude-code": yield* ClaudeCodeAgent.makeRunner(options),
      codex: yield* CodexAgent.makeRunner(options)
    }
    return AgentStation.of({
      kind: KIND,
      run: (input) =>
        Effect.gen(function*() {
          const loaded = yield* Effect.either(workflow.current)
          if (Either.isLeft(loaded)) return notRun(KIND, "", `WORKFLOW.md could not be loaded: ${loaded.left.message}`)
          const cfg = loaded.right.config
          const route = resolve(cfg, input.issue.labels)
          if (route._tag === "Invalid") return new AgentReport({ ...notRun(KIND, "", route.reason), route: route.reason })
          yield* Effect.logInfo("agent station chosen").pipe(Effect.annotateLogs({ route: route.description }))
          const timeoutMs = route.name !== null && cfg.agents[route.name]?.timeout_ms !== undefined
            ? route.config.timeout_ms
            : input.timeoutMs
          const report = yield* runners[route.config.kind].run(route.config, { ...input, timeoutMs })
          return new AgentReport({ ...report, route: route.description })
        }).pipe(Effect.annotateLogs({ issueId: input.issue.id }))
    })
  })

/** The router with the runner's environment read from `process.env` at each run. */
export const make = makeWith()

/** The routing `AgentStation` layer. */
export const layer: Layer.Layer<
  AgentStation,
  never,
  Workflow | CommandExecutor.CommandExecutor | FileSystem.FileSystem | Path.Path | Confinement
> = Layer.effect(AgentStation, make)
