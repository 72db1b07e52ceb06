/**
 * `tracker.kind: github` end to end: the built CLI against the GitHub twin (real HTTP on 127.0.0.1, in this test
 * process), real git and processes. `run --once` turns a labelled issue into a verified change whose pull request
 * carries the evidence; the preflight refuses a bad token, an unknown repository, a missing label and an API that
 * does not answer with one line and exit 2, before anything is claimed.
 */
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { GitHubTwin } from "@switchyard/twin"
import { Effect, type Scope } from "effect"
import { averageRepro, expectKeptFromAgent, fixerScript, join, perTest, readFileSync, syAsync, trackerHealthRows } from "./harness.js"

const { repo } = perTest()

const live = (name: string, body: () => Effect.Effect<void, unknown, Scope.Scope | NodeContext.NodeContext>) =>
  it.live(name, () => body().pipe(Effect.scoped, Effect.provide(NodeContext.layer)), 120_000)

const workflow = (twin: GitHubTwin.GitHubTwinShape, agentPath: string, tracker = "") => `tracker:
  kind: github
  repo: ${twin.owner}/${twin.repo}
  api_url: ${twin.url}
  required_labels: [ready]
${tracker}agent:
  command: ${JSON.stringify(agentPath)}
  max_attempts: 1
  timeout_ms: 60000
verify:
  validation:
    - node --test
polling:
  interval_ms: 200
`

const run = (dir: string, token: string) =>
  Effect.promise(() => syAsync(dir, ["run", "--once"], { GITHUB_TOKEN: token }))

describe("switchyard run with tracker.kind github (built CLI, GitHub twin)", () => {
  live("a labelled GitHub issue becomes a verified change: state labels, a comment and a pull request with the evidence", () =>
    Effect.gen(function*() {
      const twin = yield* GitHubTwin.make({ labels: ["ready"] })
      const r = repo()
      const envFile = join(r.shared, "agent-env.txt")
      const agent = r.agent("fixer.sh", `env > ${JSON.stringify(envFile)}\n${fixerScript}`)
      r.writeWorkflow(workflow(twin, agent))
      const fix = yield* twin.open({
        title: "average of an empty list is NaN",
        body: `average([]) should be 0.\n\n\`\`\`switchyard\nreproduction: ${JSON.stringify(averageRepro)}\n\`\`\`\n`,
        labels: ["ready"]
      })
      const other = yield* twin.open({ title: "not labelled for Switchyard" })
      const result = yield* run(r.dir, twin.token)
      expect(result.stderr).not.toContain(twin.token)
      expect(result.code, result.stderr).toBe(0)
      const s = yield* twin.state
      expect([...(s.issues.get(fix)?.labels ?? [])].sort()).toEqual(["ready", "switchyard:in-review"])
      expect(s.issues.get(other)?.labels).toEqual([])
      expect(s.pulls.map((p) => [p.head, p.base])).toEqual([[`switchyard/GH-${fix}`, "main"]])
      expect(s.pulls[0]?.body).toContain(`Closes #${fix}`)
      expect(s.pulls[0]?.body).toContain("PR_READY")
      const comments = s.comments.filter((c) => c.issue === fix).map((c) => c.body)
      expect(comments[0]).toContain("Switchyard verified a change")
      expect(comments[0]).toContain(`.switchyard/runs/GH-${fix}/1/evidence.md`)
      expect(comments[1]).toContain("Pull request: ")
      // status shows the tracker's health: read, with the rate limit GitHub reported, nothing waiting.
      expect(yield* Effect.promise(() => trackerHealthRows(r.dir))).toEqual([["github", true, "number", 0]])
      // The token never reaches the agent.
      expectKeptFromAgent(envFile, "GITHUB_TOKEN", twin.token)
    }))

  live("preflight: a refused token, an unknown repository, a missing label, an API that does not answer: exit 2, one line", () =>
    Effect.gen(function*() {
      const twin = yield* GitHubTwin.make({ labels: ["ready"] })
      const r = repo()
      const agent = r.agent("never.sh", `touch ${JSON.stringify(join(r.shared, "ran"))}`)
      yield* twin.open({ title: "x", labels: ["ready"] })

      r.writeWorkflow(workflow(twin, agent))
      const badToken = yield* run(r.dir, "ghp_not_the_token_12345")
      expect(badToken.code).toBe(2)
      expect(badToken.stderr).toContain("(tracker.token_env): GitHub refused the token in $GITHUB_TOKEN")
      expect(badToken.stderr).not.toContain("ghp_not_the_token_12345")

      r.writeWorkflow(workflow(twin, agent).replace(`repo: ${twin.owner}/${twin.repo}`, `repo: ${twin.owner}/nope`))
      const unknown = yield* run(r.dir, twin.token)
      expect(unknown.code).toBe(2)
      expect(unknown.stderr).toContain(`(tracker.repo): ${twin.owner}/nope does not exist`)

      r.writeWorkflow(workflow(twin, agent).replace("required_labels: [ready]", "required_labels: [ready, triaged]"))
      const label = yield* run(r.dir, twin.token)
      expect(label.code).toBe(2)
      expect(label.stderr).toContain(`(tracker.required_labels): label "triaged" does not exist`)

      r.writeWorkflow(workflow(twin, agent).replace(twin.url, "http://127.0.0.1:9"))
      const down = yield* run(r.dir, twin.token)
      expect(down.code).toBe(2)
      expect(down.stderr).toContain("(tracker.api_url): http://127.0.0.1:9 cannot be reached")

      r.writeWorkflow(workflow(twin, agent).replace(twin.url, "http://api.example.com"))
      const clear = yield* run(r.dir, twin.token)
      expect(clear.code).toBe(2)
      expect(clear.stderr).toContain("plain http on a host that is not loopback")

      r.writeWorkflow(workflow(twin, agent))
      const missing = yield* Effect.promise(() => syAsync(r.dir, ["run", "--once"], { GITHUB_TOKEN: "" }))
      expect(missing.code).toBe(2)
      expect(missing.stderr).toContain("(tracker.token_env): $GITHUB_TOKEN is not set")
      // Nothing was claimed or run, and GitHub was not written to.
      expect((yield* twin.state).issues.get(1)?.labels).toEqual(["ready"])
      expect((yield* twin.state).comments).toEqual([])
      expect(() => readFileSync(join(r.shared, "ran"))).toThrow()
    }))

  live("switchyard demo --tracker github: labelled issues in, comments and pull requests with evidence out", () =>
    Effect.gen(function*() {
      const r = repo()
      const out = yield* Effect.promise(() => syAsync(r.tmp, ["demo", "--tracker", "github", "--agent", "command"]))
      expect(out.code, out.stderr).toBe(0)
      const github = out.stdout.slice(out.stdout.indexOf("── GitHub (the twin)"))
      expect(github).toContain("switchyard:in-review")
      expect(github).toContain("switchyard:no-op")
      expect(github).toContain("switchyard:escalated")
      expect(github).toMatch(/pull request #\d+ switchyard\/GH-1 → main/)
      expect(github).toMatch(/pull request #\d+ switchyard\/GH-4 → main/)
      expect(github).toContain("Closes #1")
      expect(out.stdout).toContain("evidence bundle of GH-1")
    }))
})
