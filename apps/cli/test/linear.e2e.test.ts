/**
 * `tracker.kind: linear` end to end: the built CLI against the Linear twin (real HTTP on 127.0.0.1, in this test
 * process), real git and processes. `run --once` turns a Linear issue into a verified change: the issue moves to
 * the review state and gets a comment with the evidence; the preflight refuses a bad key, an unknown project, a
 * missing workflow state and an API that does not answer with one line and exit 2, before anything is claimed.
 */
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { LinearTwin } from "@switchyard/twin"
import { Effect, type Scope } from "effect"
import { averageRepro, expectKeptFromAgent, fixerScript, join, perTest, readFileSync, syAsync, trackerHealthRows } from "./harness.js"

const { repo } = perTest()

const live = (name: string, body: () => Effect.Effect<void, unknown, Scope.Scope | NodeContext.NodeContext>) =>
  it.live(name, () => body().pipe(Effect.scoped, Effect.provide(NodeContext.layer)), 120_000)

const workflow = (twin: LinearTwin.LinearTwinShape, agentPath: string) => `tracker:
  kind: linear
  project_slug: ${twin.projectSlug}
  api_url: ${twin.url}
  required_labels: [ready]
agent:
  command: ${JSON.stringify(agentPath)}
  max_attempts: 1
  timeout_ms: 60000
verify:
  validation:
    - node --test
polling:
  interval_ms: 200
`

const run = (dir: string, key: string) => Effect.promise(() => syAsync(dir, ["run", "--once"], { LINEAR_API_KEY: key }))

const stateOf = (s: LinearTwin.LinearTwinState, id: string) => s.issues.find((i) => `${i.team}-${i.number}` === id)?.state
const commentsOf = (s: LinearTwin.LinearTwinState, id: string) => {
  const uuid = s.issues.find((i) => `${i.team}-${i.number}` === id)?.uuid
  return s.comments.filter((c) => c.issue === uuid).map((c) => c.body)
}

describe("switchyard run with tracker.kind linear (built CLI, Linear twin)", () => {
  live("a labelled Linear issue becomes a verified change: moved to In Review, with a comment carrying the evidence", () =>
    Effect.gen(function*() {
      const twin = yield* LinearTwin.make({})
      const r = repo()
      const envFile = join(r.shared, "agent-env.txt")
      const agent = r.agent("fixer.sh", `env > ${JSON.stringify(envFile)}\n${fixerScript}`)
      r.writeWorkflow(workflow(twin, agent))
      const fix = yield* twin.create({
        title: "average of an empty list is NaN",
        description: `average([]) should be 0.\n\n\`\`\`switchyard\nreproduction: ${JSON.stringify(averageRepro)}\n\`\`\`\n`,
        labels: ["ready"],
        priority: 2
      })
      const other = yield* twin.create({ title: "not labelled for Switchyard" })
      const result = yield* run(r.dir, twin.apiKey)
      expect(result.stderr).not.toContain(twin.apiKey)
      expect(result.code, result.stderr).toBe(0)
      const s = yield* twin.state
      expect(stateOf(s, fix)).toBe("In Review")
      expect(stateOf(s, other)).toBe("Todo")
      const comments = commentsOf(s, fix)
      expect(comments.length).toBe(1)
      expect(comments[0]).toContain("Switchyard verified a change")
      expect(comments[0]).toContain(`switchyard/${fix}`)
      expect(comments[0]).toContain(`.switchyard/runs/${fix}/1/evidence.md`)
      expect(commentsOf(s, other)).toEqual([])
      expect(yield* Effect.promise(() => trackerHealthRows(r.dir))).toEqual([["linear", true, "number", 0]])
      // The key never reaches the agent.
      expectKeptFromAgent(envFile, "LINEAR_API_KEY", twin.apiKey)
    }))

  live("preflight: a refused key, an unknown project, a missing state, an API that does not answer: exit 2, one line", () =>
    Effect.gen(function*() {
      const twin = yield* LinearTwin.make({ without: ["In Review"] })
      const r = repo()
      const agent = r.agent("never.sh", `touch ${JSON.stringify(join(r.shared, "ran"))}`)
      const id = yield* twin.create({ title: "x", labels: ["ready"] })
      const good = workflow(twin, agent)

      r.writeWorkflow(good)
      const missingState = yield* run(r.dir, twin.apiKey)
      expect(missingState.code).toBe(2)
      expect(missingState.stderr).toContain(`(tracker.state_names.review): team ENG has no workflow state "In Review"`)

      const withReview = `${good.replace("required_labels: [ready]", "required_labels: [ready]\n  state_names:\n    review: Done")}`
      r.writeWorkflow(withReview)
      const badKey = yield* run(r.dir, "lin_api_not_the_key_12345")
      expect(badKey.code).toBe(2)
      expect(badKey.stderr).toContain("(tracker.token_env): Linear refused the API key in $LINEAR_API_KEY")
      expect(badKey.stderr).not.toContain("lin_api_not_the_key_12345")

      r.writeWorkflow(withReview.replace(`project_slug: ${twin.projectSlug}`, "project_slug: nope-0"))
      const unknown = yield* run(r.dir, twin.apiKey)
      expect(unknown.code).toBe(2)
      expect(unknown.stderr).toContain(`(tracker.project_slug): Linear has no project "nope-0"`)

      r.writeWorkflow(withReview.replace(twin.url, "http://127.0.0.1:9/graphql"))
      const down = yield* run(r.dir, twin.apiKey)
      expect(down.code).toBe(2)
      expect(down.stderr).toContain("(tracker.api_url): http://127.0.0.1:9/graphql cannot be reached")

      r.writeWorkflow(withReview.replace(`  project_slug: ${twin.projectSlug}\n`, ""))
      const noSlug = yield* run(r.dir, twin.apiKey)
      expect(noSlug.code, noSlug.stderr).toBe(2)
      expect(noSlug.stderr).toContain("(tracker.project_slug): is not set")

      r.writeWorkflow(withReview)
      const missing = yield* Effect.promise(() => syAsync(r.dir, ["run", "--once"], { LINEAR_API_KEY: "" }))
      expect(missing.code).toBe(2)
      expect(missing.stderr).toContain("(tracker.token_env): $LINEAR_API_KEY is not set")
      // Nothing was claimed or run, and Linear was not written to.
      const s = yield* twin.state
      expect(stateOf(s, id)).toBe("Todo")
      expect(s.comments).toEqual([])
      expect(() => readFileSync(join(r.shared, "ran"))).toThrow()
    }))

  live("switchyard demo --tracker linear: labelled issues in, state changes and comments with evidence out", () =>
    Effect.gen(function*() {
      const r = repo()
      const out = yield* Effect.promise(() => syAsync(r.tmp, ["demo", "--tracker", "linear", "--agent", "command"]))
      expect(out.code, out.stderr).toBe(0)
      const linear = out.stdout.slice(out.stdout.indexOf("── Linear (the twin)"))
      expect(linear).toMatch(/ENG-1 .*\n\s+state: In Review/)
      expect(linear).toContain("state: Done")
      expect(linear).toContain("state: Backlog")
      expect(linear).toContain("comment: **Switchyard verified a change**")
      expect(linear).toContain("comment: Switchyard escalated attempt")
      expect(out.stdout).toContain("evidence bundle of ENG-1")
    }))

  live("issue create refuses an external kind; status counts as the runner dispatches; switching back to the embedded kind leaves mirrored rows alone", () =>
    Effect.gen(function*() {
      const twin = yield* LinearTwin.make({})
      const r = repo()
      const ran = join(r.shared, "ran")
      const agent = r.agent("never.sh", `touch ${JSON.stringify(ran)}`)
      r.writeWorkflow(workflow(twin, agent))
      const unlabelled = yield* twin.create({ title: "not labelled for Switchyard" })
      const sync = yield* run(r.dir, twin.apiKey)
      expect(sync.code, sync.stderr).toBe(0)
      const eligible = () => Effect.promise(() => syAsync(r.dir, ["status", "--json"])).pipe(
        Effect.map((o) => JSON.parse(o.stdout).tracker as { eligible: number; counts: { todo: number } })
      )
      // Mirrored as todo, but without the required label: not eligible.
      const linearStatus = yield* eligible()
      expect([linearStatus.counts.todo, linearStatus.eligible]).toEqual([1, 0])
      const refused = yield* Effect.promise(() => syAsync(r.dir, ["issue", "create", "--title", "filed here by mistake"]))
      expect(refused.code).toBe(2)
      expect(refused.stderr).toContain("(tracker.kind): is linear: issues come from Linear, so open it there")

      // Back to the embedded tracker: the mirrored Linear row is neither counted nor dispatched.
      r.writeWorkflow(workflow(twin, agent).replace(/tracker:\n(  .*\n)+/, "tracker:\n  kind: switchyard\n"))
      expect((yield* eligible()).eligible).toBe(0)
      const embedded = yield* Effect.promise(() => syAsync(r.dir, ["run", "--once"]))
      expect(embedded.code, embedded.stderr).toBe(0)
      expect(() => readFileSync(ran)).toThrow()
      const made = yield* Effect.promise(() => syAsync(r.dir, ["issue", "create", "--title", "an embedded issue"]))
      expect(made.code, made.stderr).toBe(0)
      expect(made.stdout.trim()).toBe("SY-1")
      expect((yield* eligible()).eligible).toBe(1)
      expect(stateOf(yield* twin.state, unlabelled)).toBe("Todo")
    }))
})
