/**
 * The GitHub hosting half in the trackers package: `ciStateOf` (which check fails a change, what is pending) and
 * `GitHubCi` against the GitHub twin over real HTTP, with its wait on the TestClock: checks that never complete end
 * `Unavailable` after `timeoutMs`, a push refused ends `Unavailable` at once, a failed check carries its output and
 * run URL. `GitHubLander` against the twin over a real bare repository: a conflicting pull request is refused (405)
 * and a moved base stops the merge, with nothing landed; a clean one merges at its verified head.
 */
import { FetchHttpClient } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { GitHubTwin } from "@switchyard/twin"
import { Effect, Fiber, Redacted, TestClock } from "effect"
import { execFileSync } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { GitHubApi, GitHubCi, GitHubHosting, GitHubLander } from "../src/index.js"

const run = (name: string, conclusion: string | null, status = "completed") =>
  ({ name, status, conclusion, html_url: null, details_url: `https://ci/${name}`, output: { title: null, summary: `${name} summary`, text: null } })

describe("ciStateOf", () => {
  it("the first failed check run is the failure; neutral and skipped pass; a failed status counts; pending waits", () => {
    expect(GitHubHosting.ciStateOf([run("a", "success"), run("b", "failure"), run("c", "timed_out")], [])).toMatchObject({
      _tag: "Failed",
      step: "b",
      log: "b summary",
      url: "https://ci/b"
    })
    expect(GitHubHosting.ciStateOf([run("a", "neutral"), run("b", "skipped")], [])).toEqual({ _tag: "Passed", checks: 2 })
    expect(GitHubHosting.ciStateOf([run("a", "success")], [{ context: "legacy", state: "error", description: "boom", target_url: "https://x" }])).toMatchObject({
      _tag: "Failed",
      step: "legacy",
      conclusion: "error",
      url: "https://x"
    })
    expect(GitHubHosting.ciStateOf([run("a", null, "in_progress")], [{ context: "s", state: "pending", description: null, target_url: null }])).toEqual({
      _tag: "Pending",
      waitingFor: ["a", "s"]
    })
    expect(GitHubHosting.ciStateOf([], [])).toEqual({ _tag: "NoChecks" })
  })
})

/** A twin and the hosted CI over it; `push` records what was pushed (or refuses). */
const setUp = (refusePush = false) =>
  Effect.gen(function*() {
    const twin = yield* GitHubTwin.make({})
    const api = yield* GitHubApi.make({ apiUrl: twin.url, repo: `${twin.owner}/${twin.repo}`, token: Redacted.make(twin.token) }).pipe(
      Effect.provide(FetchHttpClient.layer)
    )
    const pushed: Array<string> = []
    const ci = GitHubCi.make({
      api,
      push: (commit, branch) => (refusePush ? Effect.fail("remote refused") : Effect.sync(() => void pushed.push(`${branch}@${commit}`)))
    })
    return { twin, ci, pushed }
  })

const input = (commit: string) => ({ issueId: "GH-1", branch: "switchyard/GH-1", commit, remote: "origin", timeoutMs: 60_000, pollMs: 1_000 })

/** Lets real HTTP finish, then moves the TestClock by `ms`. */
const tick = (ms: number) => Effect.zipRight(Effect.promise(() => new Promise((r) => setTimeout(r, 30))), TestClock.adjust(ms))

describe("GitHubCi (twin, TestClock)", () => {
  it.scoped("pending checks are read every pollMs; once one fails, its output and URL are the result", () =>
    Effect.gen(function*() {
      const { twin, ci, pushed } = yield* setUp()
      const sha = "a".repeat(40)
      yield* twin.setChecks(sha, { checkRuns: [{ name: "test", status: "in_progress", conclusion: null }], statuses: [] })
      const fiber = yield* Effect.fork(ci.check(input(sha)))
      yield* tick(1_000)
      yield* tick(1_000)
      expect(fiber.unsafePoll()).toBeNull()
      yield* twin.setChecks(sha, { checkRuns: [{ name: "test", status: "completed", conclusion: "failure", text: "1 failed (MARKER)" }], statuses: [] })
      let result = fiber.unsafePoll()
      for (let i = 0; i < 20 && result === null; i++) {
        yield* tick(1_000)
        result = fiber.unsafePoll()
      }
      const out = yield* Fiber.join(fiber)
      expect(out).toMatchObject({ _tag: "Failed", step: "test", conclusion: "failure", url: expect.stringContaining("/actions/runs/") })
      expect(out._tag === "Failed" ? out.log : "").toContain("MARKER")
      expect(pushed).toEqual([`switchyard/GH-1@${sha}`])
      const reads = (yield* twin.state).requests.filter((r) => r.includes(`/commits/${sha}/check-runs`)).length
      expect(reads).toBeGreaterThanOrEqual(3)
    }).pipe(Effect.provide(NodeContext.layer)), 30_000)

  it.scoped("checks that never complete end Unavailable after timeoutMs; a refused push at once", () =>
    Effect.gen(function*() {
      const { ci, twin } = yield* setUp()
      const sha = "b".repeat(40)
      yield* twin.setChecks(sha, { checkRuns: [{ name: "slow", status: "queued", conclusion: null }], statuses: [] })
      const fiber = yield* Effect.fork(ci.check(input(sha)))
      for (let i = 0; i < 59; i++) yield* tick(1_000)
      expect(fiber.unsafePoll()).toBeNull()
      yield* tick(2_000)
      const out = yield* Fiber.join(fiber)
      expect(out).toMatchObject({ _tag: "Unavailable", reason: expect.stringContaining("integration.ci_timeout_ms (60000 ms)") })
      const refused = yield* (yield* setUp(true)).ci.check(input(sha))
      expect(refused).toMatchObject({ _tag: "Unavailable", reason: expect.stringContaining("remote refused") })
    }).pipe(Effect.provide(NodeContext.layer)), 30_000)
})

describe("GitHubLander (twin over a bare repository)", () => {
  it.scoped("a conflicting pull request is refused by GitHub (405) and nothing lands; a clean one merges at its head", () =>
    Effect.gen(function*() {
      const tmp = mkdtempSync(join(tmpdir(), "gh-lander-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(tmp, { recursive: true, force: true })))
      const git = (cwd: string, ...args: Array<string>) =>
        execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...args], { cwd, encoding: "utf8" }).trim()
      const bare = join(tmp, "remote.git")
      git(tmp, "init", "-q", "--bare", "-b", "main", bare)
      git(tmp, "init", "-q", "-b", "main", "work")
      const work = join(tmp, "work")
      const write = (file: string, text: string, msg: string) => {
        writeFileSync(join(work, file), text)
        git(work, "add", file)
        git(work, "commit", "-q", "-m", msg)
        return git(work, "rev-parse", "HEAD")
      }
      write("a.txt", "base\n", "base")
      git(work, "push", "-q", bare, "main")
      git(work, "checkout", "-q", "-b", "switchyard/GH-1")
      const conflicting = write("a.txt", "theirs\n", "change a")
      git(work, "push", "-q", bare, "switchyard/GH-1")
      git(work, "checkout", "-q", "-b", "switchyard/GH-2", "main")
      const clean = write("b.txt", "new\n", "add b")
      git(work, "push", "-q", bare, "switchyard/GH-2")
      git(work, "checkout", "-q", "main")
      write("a.txt", "ours\n", "main moves")
      git(work, "push", "-q", bare, "main")

      const twin = yield* GitHubTwin.make({ git: bare })
      const api = yield* GitHubApi.make({ apiUrl: twin.url, repo: `${twin.owner}/${twin.repo}`, token: Redacted.make(twin.token) }).pipe(
        Effect.provide(FetchHttpClient.layer)
      )
      for (const head of ["switchyard/GH-1", "switchyard/GH-2"]) {
        yield* Effect.promise(() =>
          fetch(`${twin.url}/repos/${twin.owner}/${twin.repo}/pulls`, {
            method: "POST",
            headers: { authorization: `Bearer ${twin.token}`, "content-type": "application/json" },
            body: JSON.stringify({ title: head, head, base: "main", body: "" })
          })
        )
      }
      const local = { onBase: () => Effect.die("not used") } as never
      const lander = GitHubLander.make({ api, owner: twin.owner, local, fetch: Effect.void, method: "merge" })
      const base = yield* lander.base
      expect(base).toEqual({ branch: "main", commit: git(tmp, "--git-dir", bare, "rev-parse", "main") })
      const refused = yield* Effect.either(lander.land(conflicting, base.commit, { issueId: "GH-1", branch: "switchyard/GH-1", candidate: conflicting, rule: "r" }))
      expect(refused._tag).toBe("Left")
      expect(refused._tag === "Left" ? refused.left.reason : "").toContain("GitHub refused to merge pull request")
      expect(git(tmp, "--git-dir", bare, "rev-parse", "main")).toBe(base.commit)
      // A base that moved since the landing was decided: nothing is merged.
      const moved = yield* Effect.either(lander.land(clean, "0".repeat(40), { issueId: "GH-2", branch: "switchyard/GH-2", candidate: clean, rule: "r" }))
      expect(moved._tag === "Left" ? moved.left.reason : "").toContain("moved to")
      const landed = yield* lander.land(clean, base.commit, { issueId: "GH-2", branch: "switchyard/GH-2", candidate: clean, rule: "r" })
      expect(landed).toMatchObject({ method: "merge", url: expect.stringContaining("/pull/") })
      expect(git(tmp, "--git-dir", bare, "rev-parse", "main")).toBe(landed.commit)
      expect(git(tmp, "--git-dir", bare, "rev-parse", "main^2")).toBe(clean)
      expect(yield* lander.contains(clean)).toBe(true)
      expect(yield* lander.contains(conflicting)).toBe(false)
    }).pipe(Effect.provide(NodeContext.layer)), 30_000)
})
