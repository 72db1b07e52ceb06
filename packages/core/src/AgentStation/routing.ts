/**
 * Routing: which agent config runs an issue (docs/agents.md, "Routing"). Pure, and the one place the rules live:
 * the attempt routes once per agent turn and hands the station the result (`AgentRunInput.agent` / `.route`), the
 * loader checks the same rule when WORKFLOW.md is read, and the loop's per-label caps compare labels the same way.
 *
 * Rules: the first entry of `routes:` (file order) whose label is one of the issue's labels names an `agents:`
 * entry, which is merged over `agent:` (keys it sets win, absent keys are inherited, an explicit `null` sets null);
 * with no matching route, `agent:` itself runs. Labels are compared trimmed and lower-cased (`normalizeLabel`).
 */
import type { AgentConfig, WorkflowConfig } from "@switchyard/domain"
import { Effect } from "effect"
import { WorkflowError } from "../Workflow/errors.js"

/**
 * A label or a per-label cap key as compared everywhere: trimmed and lower-cased (Symphony SPEC §4.2). Pure.
 */
export const normalizeLabel = (label: string): string => label.trim().toLowerCase()

/** The agent chosen for an issue. */
export interface Routed {
  readonly _tag: "Routed"
  /** The merged config to run with (its `kind` picks the station, its `timeout_ms` bounds the run). */
  readonly agent: AgentConfig
  /** `agents:` name, or null for the default agent (`agent:`). */
  readonly name: string | null
  /** What the report records, e.g. `label frontend → claude (claude-code)` or `default (command)`. */
  readonly description: string
}

/** A route that names an agent `agents:` does not define (the loader rejects such a file). */
export interface InvalidRoute {
  readonly _tag: "InvalidRoute"
  /** Index of the offending entry in `routes:`. */
  readonly index: number
  /** A sentence naming the route and what `agents:` defines. */
  readonly reason: string
}

export type Route = Routed | InvalidRoute

const defines = (config: WorkflowConfig, name: string): boolean => Object.prototype.hasOwnProperty.call(config.agents, name)

const invalid = (config: WorkflowConfig, index: number): InvalidRoute => {
  const route = config.routes[index]!
  const known = Object.keys(config.agents)
  return {
    _tag: "InvalidRoute",
    index,
    reason: `label ${JSON.stringify(route.label)} routes to agent ${JSON.stringify(route.agent)}, but agents: ${
      known.length === 0 ? "defines no station" : `defines only ${known.map((k) => JSON.stringify(k)).join(", ")}`
    }`
  }
}

/**
 * The first entry of `routes:` that names an agent `agents:` does not define, or null when every route is
 * valid (what the loader checks, so a loaded config never routes to `InvalidRoute`). Pure.
 */
export const firstInvalidRoute = (config: WorkflowConfig): InvalidRoute | null => {
  const index = config.routes.findIndex((route) => !defines(config, route.agent))
  return index === -1 ? null : invalid(config, index)
}

/**
 * Picks the agent for an issue with `labels` (see the module docs). A matching route naming an agent that
 * `agents:` does not define is `InvalidRoute` (never silently another agent). Pure.
 */
export const resolve = (config: WorkflowConfig, labels: ReadonlyArray<string>): Route => {
  const have = new Set(labels.map(normalizeLabel))
  const index = config.routes.findIndex((r) => have.has(normalizeLabel(r.label)))
  if (index === -1) {
    return { _tag: "Routed", agent: config.agent, name: null, description: `default (${config.agent.kind})` }
  }
  const route = config.routes[index]!
  if (!defines(config, route.agent)) return invalid(config, index)
  const override = config.agents[route.agent]!
  const defined = Object.fromEntries(Object.entries(override).filter(([, value]) => value !== undefined))
  const agent: AgentConfig = { ...config.agent, ...defined }
  return {
    _tag: "Routed",
    agent,
    name: route.agent,
    description: `label ${normalizeLabel(route.label)} → ${route.agent} (${agent.kind})`
  }
}

/**
 * `resolve` for a run: the routed agent and the route description (the `agent` and `route` of `AgentRunInput`).
 * Fails with `WorkflowError` (`workflow_invalid_config`, key `routes.<i>.agent`, `path` the WORKFLOW.md it came
 * from) on an `InvalidRoute`, which only a config that did not go through the loader can have.
 */
export const route = (
  config: WorkflowConfig,
  labels: ReadonlyArray<string>,
  path: string
): Effect.Effect<{ readonly agent: AgentConfig; readonly route: string }, WorkflowError> => {
  const routed = resolve(config, labels)
  return routed._tag === "Routed"
    ? Effect.succeed({ agent: routed.agent, route: routed.description })
    : Effect.fail(
      new WorkflowError({ kind: "workflow_invalid_config", path, key: `routes.${routed.index}.agent`, reason: routed.reason })
    )
}
