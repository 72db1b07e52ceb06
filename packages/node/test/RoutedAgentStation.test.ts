/**
 * The router runs the station of `input.agent.kind` with the config it is given and records `input.route`; it
 * reads no workflow (the routing rules are core's Routing, tested in packages/core/test/routing.test.ts).
 */
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { type Confinement, Routing, staticRedactor } from "@switchyard/core"
import { WorkflowConfig } from "@switchyard/domain"
import { Effect, Schema, type Scope } from "effect"
import { RoutedAgentStation, Unconfined } from "../src/index.js"
import { fakeCli, issueWith, runInput, testEnv, workspace } from "./agentSupport.js"

const live = (name: string, body: () => Effect.Effect<void, unknown, Scope.Scope | NodeContext.NodeContext | Confinement>) =>
  it.live(name, () => body().pipe(Effect.scoped, Effect.provide(Unconfined.layer), Effect.provide(NodeContext.layer)), 30_000)

const workflow = (input: unknown) => Schema.decodeUnknownSync(WorkflowConfig)(input)

describe("RoutedAgentStation", () => {
  live("runs the station of the routed agent's kind with its config, and records the route", () =>
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
      const station = yield* RoutedAgentStation.make({ runnerEnv: testEnv() }).pipe(Effect.provide(staticRedactor([])))
      expect(station.kind).toBe("routed")

      const frontend = issueWith(["Frontend"])
      const { input } = yield* runInput(where, { issue: frontend, ...(yield* Routing.route(config, frontend.labels, "WORKFLOW.md")) })
      const claude = yield* station.run(input)
      expect(claude).toMatchObject({ kind: "claude-code", route: "label frontend → claude (claude-code)", summary: "ok" })
      expect(fake.calls()[0]!.args).toContain("m-routed")

      const backend = issueWith(["backend"])
      const other = yield* runInput(where, { issue: backend, ...(yield* Routing.route(config, backend.labels, "WORKFLOW.md")) })
      const command = yield* station.run(other.input)
      expect(command).toMatchObject({ kind: "command", route: "default (command)", exitCode: 0 })
      expect(command.outputTail).toContain("default-ran")
      expect(fake.calls()).toHaveLength(1)
    }))

  live("a station run directly (no route) records none", () =>
    Effect.gen(function*() {
      const where = yield* workspace
      const station = yield* RoutedAgentStation.make({ runnerEnv: testEnv() }).pipe(Effect.provide(staticRedactor([])))
      const { input } = yield* runInput(where, { agent: workflow({ agent: { command: "echo hi" } }).agent, route: null })
      const report = yield* station.run(input)
      expect(report).toMatchObject({ kind: "command", route: null, exitCode: 0 })
    }))
})
