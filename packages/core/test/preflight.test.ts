/** Preflight (issue 12, item 8): what `run` refuses before claiming anything, over the config alone. */
import { assert, describe, expect, it } from "@effect/vitest"
import { commandProgram, defaultWorkflowFile, parseWorkflow, preflight, preflightPlan, trackerProblems } from "@switchyard/core"
import { TrackerConfig } from "@switchyard/domain"
import { Effect, Schema } from "effect"

const def = (frontMatter: string) => Effect.runSync(parseWorkflow("/repo/WORKFLOW.md", `---\n${frontMatter}\n---\nbody`))

describe("commandProgram", () => {
  it("finds the program sh -c would look up first, or null when it cannot be told", () => {
    assert.strictEqual(commandProgram("pnpm -s tsc -b"), "pnpm")
    assert.strictEqual(commandProgram("  ./scripts/agent.sh --x"), "./scripts/agent.sh")
    assert.strictEqual(commandProgram("CI=1 FOO=bar node --test"), "node")
    assert.strictEqual(commandProgram("exec claude -p"), "claude")
    assert.strictEqual(commandProgram("'/opt/my agent/run' x"), "/opt/my agent/run")
    assert.strictEqual(commandProgram("node;echo"), "node")
    for (const unknown of ["", "cd pkg && pnpm test", "$AGENT run", "~/bin/agent", "# comment", "if true; then x; fi", "G=\"$(x)\"; y", "echo hi"]) {
      assert.strictEqual(commandProgram(unknown), null, unknown)
    }
  })
})

describe("preflight", () => {
  const run = (frontMatter: string, present: ReadonlyArray<string> = ["node", "pnpm", "agent"]) =>
    Effect.runSync(Effect.either(preflight(def(frontMatter), (p) => Effect.succeed(present.includes(p)))))

  it("passes a workflow whose programs are all there", () => {
    assert.strictEqual(run("agent:\n  command: agent --go\nverify:\n  validation: [pnpm test, node --test]")._tag, "Right")
  })

  it("names each problem with its key, config problems first", () => {
    const result = run("agent:\n  command: ''\nverify:\n  validation: [node --test, nope x]\n  reproduction: gone y")
    assert.strictEqual(result._tag, "Left")
    if (result._tag === "Left") {
      assert.deepStrictEqual(result.left.problems.map((p) => p.key), ["agent.command", "verify.validation.1", "verify.reproduction"])
      assert.strictEqual(result.left.message.split("\n").length, 3)
      assert.match(result.left.message.split("\n")[0]!, /^\/repo\/WORKFLOW\.md \(agent\.command\): is empty/)
    }
  })

  it("refuses the init template as written (its placeholder command), and checks the CLI stations' binaries", () => {
    const template = Effect.runSync(parseWorkflow("/repo/WORKFLOW.md", defaultWorkflowFile))
    assert.deepStrictEqual(preflightPlan(template).problems.map((p) => p.key), ["agent.command"])
    assert.include(preflightPlan(template).problems[0]!.reason, "placeholder")
    assert.deepStrictEqual(preflightPlan(def("agent:\n  kind: claude-code")).probes.map((p) => [p.key, p.program]), [["agent.command", "claude"]])
    assert.deepStrictEqual(
      preflightPlan(def("agent:\n  command: agent\nagents:\n  c:\n    kind: codex\n    command: null\n  unused:\n    command: ''\nroutes:\n  - {label: x, agent: c}")).probes
        .map((p) => [p.key, p.program]),
      [["agent.command", "agent"], ["agents.c.command", "codex"]]
    )
  })
})

describe("trackerProblems (tracker:)", () => {
  const tracker = (over: Record<string, unknown>) => Schema.decodeUnknownSync(TrackerConfig)(over)
  it("the embedded tracker needs nothing", () => {
    expect(trackerProblems(tracker({}))).toEqual([])
  })
  it("github needs owner/name, and plain http only on loopback", () => {
    expect(trackerProblems(tracker({ kind: "github" })).map((p) => p.key)).toEqual(["tracker.repo"])
    expect(trackerProblems(tracker({ kind: "github", repo: "a/b/c" })).map((p) => p.key)).toEqual(["tracker.repo"])
    expect(trackerProblems(tracker({ kind: "github", repo: "a/b", api_url: "http://127.0.0.1:8080" }))).toEqual([])
    expect(trackerProblems(tracker({ kind: "github", repo: "a/b", api_url: "https://ghe.example.com/api/v3" }))).toEqual([])
    expect(trackerProblems(tracker({ kind: "github", repo: "a/b", api_url: "http://ghe.example.com" }))[0]?.reason).toContain(
      "not loopback"
    )
    expect(trackerProblems(tracker({ kind: "github", repo: "a/b", api_url: "ftp://x" }))[0]?.key).toBe("tracker.api_url")
  })
  it("linear needs a project slug and at least one active state; plain http only on loopback", () => {
    expect(trackerProblems(tracker({ kind: "linear" })).map((p) => p.key)).toEqual(["tracker.project_slug"])
    expect(trackerProblems(tracker({ kind: "linear", project_slug: "web-1a2b3c" }))).toEqual([])
    expect(trackerProblems(tracker({ kind: "linear", project_slug: "web-1a2b3c", active_states: [" "] })).map((p) => p.key))
      .toEqual(["tracker.active_states"])
    expect(trackerProblems(tracker({ kind: "linear", project_slug: "p", api_url: "http://linear.example.com/graphql" }))[0]?.key)
      .toBe("tracker.api_url")
  })
  it("linear's state keys default to Symphony's names", () => {
    const t = tracker({ kind: "linear", project_slug: "p", state_names: { review: "Human Review" } })
    expect([t.active_states, t.state_names.review, t.state_names.running]).toEqual([["Todo", "In Progress"], "Human Review", "In Progress"])
  })
  it("fp runs, but required_labels cannot be met by fp issues (they carry no labels)", () => {
    expect(trackerProblems(tracker({ kind: "fp" }))).toEqual([])
    expect(trackerProblems(tracker({ kind: "fp", required_labels: ["ready"] })).map((p) => p.key)).toEqual(["tracker.required_labels"])
  })
})
