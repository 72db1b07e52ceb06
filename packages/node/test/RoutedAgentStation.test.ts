import type { Confinement } from "@switchyard/core"
/**
 * Routing: `routes:` picks a station by issue label (first match; labels trimmed and lower-cased), `agents.<name>`
 * is merged over `agent:`, `agent:` runs otherwise, and the choice is recorded in the report.
 */
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { WorkflowConfig } from "@switchyard/domain"
import { Effect, Ref, Schema, type Scope } from "effect"
import { RoutedAgentStation, Unconfined } from "../src/index.js"
import { fakeCli, issueWith, runInput, testEnv, workspace } from "./agentSupport.js"
import { workflowLayer } from "./helpers.js"

const live = (name: string, body: () => Effect.Effect<void, unknown, Scope.Scope | NodeContext.NodeContext | Confinement>) =>
  it.live(name, () => body().pipe(Effect.scoped, Effect.provide(Unconfined.layer), Effect.provide(NodeContext.layer)), 30_000)

const workflow = (input: unknown) => Schema.decodeUnknownSync(WorkflowConfig)(input)

const routed = workflow({
  agent: { kind: "codex", model: "gpt-5-codex", max_tokens: 5000, env: ["OPENAI_API_KEY"] },
  agents: {
    claude: { kind: "claude-code", model: "claude-sonnet-5", allowed_tools: ["Bash", "Edit"], timeout_ms: 1234 },
    scripted: { kind: "command", command: "./agent.sh", model: null }
  },
  routes: [
    { label: " Frontend ", agent: "claude" },
    { label: "scripted", agent: "scripted" },
    { label: "docs", agent: "claude" }
  ]
})

describe("RoutedAgentStation.resolve", () => {
  it("no matching label: the default station, `agent:` itself", () => {
    const route = RoutedAgentStation.resolve(routed, ["backend"])
    expect(route).toMatchObject({ _tag: "Station", name: null, description: "default (codex)" })
    expect(route._tag === "Station" && route.config).toEqual(routed.agent)
  })

  it("a label match merges the named station over `agent:` (set keys win, the rest is inherited)", () => {
    const route = RoutedAgentStation.resolve(routed, ["bug", "FRONTEND"])
    expect(route._tag).toBe("Station")
    if (route._tag !== "Station") return
    expect(route.description).toBe("label frontend → claude (claude-code)")
    expect(route.config).toEqual({
      ...routed.agent,
      kind: "claude-code",
      model: "claude-sonnet-5",
      allowed_tools: ["Bash", "Edit"],
      timeout_ms: 1234
    })
    // inherited from agent:
    expect(route.config.max_tokens).toBe(5000)
    expect(route.config.env).toEqual(["OPENAI_API_KEY"])
  })

  it("the first route in file order wins when several labels match; an explicit null overrides", () => {
    const route = RoutedAgentStation.resolve(routed, ["docs", "scripted"])
    expect(route).toMatchObject({ _tag: "Station", name: "scripted" })
    if (route._tag === "Station") expect(route.config.model).toBeNull()
  })

  it("a route to an agent that `agents:` does not define is invalid, with a sentence", () => {
    const broken = workflow({ routes: [{ label: "ui", agent: "claud" }], agents: { claude: { kind: "claude-code" } } })
    expect(RoutedAgentStation.resolve(broken, ["ui"])).toEqual({
      _tag: "Invalid",
      reason: "routes: label \"ui\" names agent \"claud\", but agents: only defines \"claude\""
    })
    expect(RoutedAgentStation.resolve(broken, ["other"])._tag).toBe("Station")
  })
})

describe("RoutedAgentStation runs", () => {
  live("runs the picked station with its merged config and records the route", () =>
    Effect.gen(function*() {
      const where = yield* workspace
      const fake = yield* fakeCli(where.tmp, "claude", [{
        steps: [{ json: { type: "result", subtype: "success", is_error: false, result: "ok", session_id: "s" } }]
      }])
      const config = workflow({
        agent: { kind: "command", command: "echo default-ran" },
        agents: { claude: { kind: "claude-code", command: fake.bin, model: "m-routed" } },
        routes: [{ label: "frontend", agent: "claude" }]
      })
      const station = yield* RoutedAgentStation.makeWith({ runnerEnv: testEnv() }).pipe(
        Effect.provide(workflowLayer(where.tmp, config))
      )
      expect(station.kind).toBe("routed")

      const { input } = yield* runInput(where, { issue: issueWith(["Frontend"]) })
      const claude = yield* station.run(input)
      expect(claude).toMatchObject({ kind: "claude-code", route: "label frontend → claude (claude-code)", summary: "ok" })
      expect(fake.calls()[0]!.args).toContain("m-routed")

      const other = yield* runInput(where, { issue: issueWith(["backend"]) })
      const command = yield* station.run(other.input)
      expect(command).toMatchObject({ kind: "command", route: "default (command)", exitCode: 0 })
      expect(command.outputTail).toContain("default-ran")
      expect(fake.calls()).toHaveLength(1)
    }))

  live("an invalid route is a not-run report naming the problem", () =>
    Effect.gen(function*() {
      const where = yield* workspace
      const config = workflow({ routes: [{ label: "ui", agent: "ghost" }] })
      const station = yield* RoutedAgentStation.makeWith({ runnerEnv: testEnv() }).pipe(
        Effect.provide(workflowLayer(where.tmp, config))
      )
      const { input, spawned } = yield* runInput(where, { issue: issueWith(["ui"]) })
      const report = yield* station.run(input)
      expect(report.crashed).toBe(true)
      expect(report.outputTail).toBe("routes: label \"ui\" names agent \"ghost\", but agents: defines none")
      expect(report.route).toBe(report.outputTail)
      expect(yield* Ref.get(spawned)).toEqual([])
    }))
})
