/**
 * Routing (AgentStation/routing.ts): `routes:` picks an agent by issue label (first match in file order; labels
 * trimmed and lower-cased), `agents.<name>` is merged over `agent:`, `agent:` runs otherwise. The same rule is what
 * the loader checks and what the per-label caps compare.
 */
import { describe, expect, it } from "@effect/vitest"
import { WorkflowConfig } from "@switchyard/domain"
import { Effect, Exit, Schema } from "effect"
import { normalizeLabel as eligibilityNormalizeLabel, Routing } from "../src/index.js"

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

describe("Routing.resolve", () => {
  it("no matching label: the default agent, `agent:` itself", () => {
    const route = Routing.resolve(routed, ["backend"])
    expect(route).toMatchObject({ _tag: "Routed", name: null, description: "default (codex)" })
    expect(route._tag === "Routed" && route.agent).toEqual(routed.agent)
  })

  it("a label match merges the named agent over `agent:` (set keys win, the rest is inherited)", () => {
    const route = Routing.resolve(routed, ["bug", "FRONTEND"])
    expect(route._tag).toBe("Routed")
    if (route._tag !== "Routed") return
    expect(route.description).toBe("label frontend → claude (claude-code)")
    expect(route.agent).toEqual({
      ...routed.agent,
      kind: "claude-code",
      model: "claude-sonnet-5",
      allowed_tools: ["Bash", "Edit"],
      timeout_ms: 1234
    })
    // inherited from agent:
    expect(route.agent.max_tokens).toBe(5000)
    expect(route.agent.env).toEqual(["OPENAI_API_KEY"])
  })

  it("the first route in file order wins when several labels match; an explicit null overrides", () => {
    const route = Routing.resolve(routed, ["docs", "scripted"])
    expect(route).toMatchObject({ _tag: "Routed", name: "scripted" })
    if (route._tag === "Routed") expect(route.agent.model).toBeNull()
  })

  it("a route to an agent that `agents:` does not define is invalid, with a sentence, and firstInvalidRoute finds it", () => {
    const broken = workflow({ routes: [{ label: "ui", agent: "claud" }], agents: { claude: { kind: "claude-code" } } })
    const invalid = {
      _tag: "InvalidRoute",
      index: 0,
      reason: "label \"ui\" routes to agent \"claud\", but agents: defines only \"claude\""
    }
    expect(Routing.resolve(broken, ["ui"])).toEqual(invalid)
    expect(Routing.firstInvalidRoute(broken)).toEqual(invalid)
    expect(Routing.firstInvalidRoute(routed)).toBeNull()
    expect(Routing.resolve(broken, ["other"])._tag).toBe("Routed")
  })

  it.effect("route gives the run's agent and route, and fails with WorkflowError on an invalid route", () =>
    Effect.gen(function*() {
      const ok = yield* Routing.route(routed, ["Docs"], "/repo/WORKFLOW.md")
      expect(ok.route).toBe("label docs → claude (claude-code)")
      expect(ok.agent.timeout_ms).toBe(1234)
      const broken = workflow({ routes: [{ label: "ui", agent: "ghost" }] })
      const exit = yield* Effect.exit(Routing.route(broken, ["ui"], "/repo/WORKFLOW.md"))
      expect(exit).toEqual(Exit.fail(expect.objectContaining({
        _tag: "WorkflowError",
        kind: "workflow_invalid_config",
        key: "routes.0.agent",
        reason: "label \"ui\" routes to agent \"ghost\", but agents: defines no station"
      })))
    }))

  it("one normalizeLabel: the caps and the routes compare labels the same way", () => {
    expect(eligibilityNormalizeLabel).toBe(Routing.normalizeLabel)
    expect(Routing.normalizeLabel("  UI ")).toBe("ui")
  })
})
