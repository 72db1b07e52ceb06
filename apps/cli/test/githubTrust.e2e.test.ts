/**
 * The GitHub half of the trust ladder end to end (docs/trust.md): the built CLI against the GitHub twin, whose
 * storage is a real bare repository (the checkout's `origin`). A pull request a person merges with squash counts as
 * merged-without-revert and earns the class its rung; `switchyard land` then merges the next change's pull request
 * through `PUT /pulls/{n}/merge` with the verified head sha (a head pushed to since is refused, 409, and nothing
 * lands); a change verified on a base GitHub moved past is verified again on GitHub's main before its pull request is
 * merged; a revert of the squash commit on GitHub's main demotes the class. A "changes requested" review sends the
 * change back for one more turn with the review; an approval is recorded next to the evidence.
 */
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { GitHubTwin } from "@switchyard/twin"
import Database from "better-sqlite3"
import { Effect, Schedule, type Scope } from "effect"
import { spawn } from "node:child_process"
import { bin, git, join, perTest, readFileSync, syAsync, type TestRepo } from "./harness.js"

const { repo, track } = perTest()

const live = (name: string, body: () => Effect.Effect<void, unknown, Scope.Scope | NodeContext.NodeContext>) =>
  it.live(name, () => body().pipe(Effect.scoped, Effect.provide(NodeContext.layer)), 240_000)

/** Adds `src/<issue id>.js`, then claims PR_READY. */
const agentScript = `set -e
echo "export const id = '$SWITCHYARD_ISSUE_ID'" > "src/$SWITCHYARD_ISSUE_ID.js"
echo '{"claim":"PR_READY","summary":"add the file"}' > "$SWITCHYARD_RESULT_FILE"`

const workflow = (twin: GitHubTwin.GitHubTwinShape, agentPath: string) => `tracker:
  kind: github
  repo: ${twin.owner}/${twin.repo}
  api_url: ${twin.url}
  required_labels: [ready]
agent:
  command: ${JSON.stringify(agentPath)}
  max_attempts: 1
  max_revisions: 0
verify:
  validation:
    - node --test
integration:
  push: true
polling:
  interval_ms: 200
trust:
  classes:
    - name: small
      paths: ["src/**"]
      max_files: 2
      rung: auto_land
      promote_after: 1
`

/** A checkout whose origin is a bare repository the twin serves as GitHub's storage; main pushed. */
const setUp = (r: TestRepo) => {
  const bare = join(r.tmp, "remote.git")
  git(r.tmp, "init", "-q", "--bare", "-b", "main", "remote.git")
  git(r.dir, "remote", "add", "origin", bare)
  return bare
}

const events = (r: TestRepo, id: string) => {
  const db = new Database(join(r.dir, ".switchyard/switchyard.db"), { readonly: true })
  const rows = db.prepare("SELECT type, data FROM events WHERE issue_id = ? ORDER BY seq").all(id) as Array<{ type: string; data: string }>
  db.close()
  return rows.map((row) => ({ type: row.type, data: JSON.parse(row.data) as Record<string, unknown> }))
}

describe("trust ladder through GitHub (built CLI, GitHub twin over a bare repository)", () => {
  live("a squash merge by a person earns the rung; land merges the pull request through the API at the verified head; a revert of the squash demotes", () =>
    Effect.gen(function*() {
      const r = repo()
      const bare = setUp(r)
      const twin = yield* GitHubTwin.make({ labels: ["ready"], git: bare })
      const env = { GITHUB_TOKEN: twin.token }
      const sy = (...args: Array<string>) => Effect.promise(() => syAsync(r.dir, args, env))
      const syJson = (...args: Array<string>) =>
        Effect.map(sy(...args, "--json"), (out) => {
          expect(out.code, out.stderr).toBe(0)
          return JSON.parse(out.stdout)
        })
      r.writeWorkflow(workflow(twin, r.agent("adder.sh", agentScript)))
      git(r.dir, "add", "WORKFLOW.md")
      git(r.dir, "commit", "-q", "-m", "workflow")
      git(r.dir, "push", "-q", "origin", "main")
      const issue = (title: string) =>
        Effect.gen(function*() {
          const n = yield* twin.open({ title, labels: ["ready"] })
          yield* twin.edit(n, { body: `\`\`\`switchyard\nreproduction: "test -f src/GH-${n}.js"\n\`\`\`\n` })
          const ran = yield* sy("run", "--once")
          expect(ran.code, ran.stderr).toBe(0)
          const pull = (yield* twin.state).pulls.find((p) => p.head === `switchyard/GH-${n}`)
          expect(pull, "the pull request of the PR_READY change").toBeDefined()
          return { n, pull: pull!.number }
        })

      // 1. The first change waits for review: the class has no history yet.
      const first = yield* issue("add file one")
      const before = yield* syJson("land")
      expect(before.changes).toMatchObject([{ issueId: `GH-${first.n}`, decision: "review", className: "small" }])
      expect((yield* twin.hosting).mergeRequests).toEqual([])

      // 2. A person squash-merges its pull request on GitHub: merged without revert, though the candidate commit
      //    never becomes part of main.
      const squash = yield* twin.mergeByHand(first.pull, "squash")
      expect(squash._tag).toBe("Merged")
      const squashSha = squash._tag === "Merged" ? squash.sha : ""
      const candidate1 = git(r.dir, "rev-parse", `switchyard/GH-${first.n}`)
      expect(() => git(r.tmp, "--git-dir", bare, "merge-base", "--is-ancestor", candidate1, "main")).toThrow()
      const earned = yield* syJson("trust")
      expect(earned.merged).toMatchObject([{ issueId: `GH-${first.n}`, className: "small" }])
      expect(earned.classes[0]).toMatchObject({ className: "small", rung: "auto_land", merged: 1 })

      // 3. The next change: the checkout follows GitHub's main first, so its evidence is fresh.
      git(r.dir, "pull", "-q", "--ff-only", "origin", "main")
      const second = yield* issue("add file two")
      const candidate2 = git(r.dir, "rev-parse", `switchyard/GH-${second.n}`)

      // Someone pushes to the pull request's branch after verification: GitHub refuses the merge (409), nothing lands.
      const other = join(r.tmp, "other")
      git(r.tmp, "clone", "-q", bare, "other")
      git(other, "checkout", "-q", `switchyard/GH-${second.n}`)
      git(other, "-c", "user.name=x", "-c", "user.email=x@x", "commit", "-q", "--allow-empty", "-m", "unverified")
      git(other, "push", "-q", "origin", `switchyard/GH-${second.n}`)
      const refused = yield* syJson("land")
      expect(refused.changes).toMatchObject([{ issueId: `GH-${second.n}`, decision: "blocked" }])
      expect(refused.changes[0].reason).toContain(`no longer the verified ${candidate2.slice(0, 10)}`)
      expect((yield* twin.hosting).mergeRequests.filter((m) => m.number === second.pull)).toMatchObject([{ sha: candidate2, status: 409 }])
      expect((yield* twin.hosting).merges.has(second.pull)).toBe(false)
      git(other, "push", "-q", "-f", "origin", `${candidate2}:refs/heads/switchyard/GH-${second.n}`)

      // 4. Landed through the API, at the verified head, and recorded: who, what, under which rule.
      const mainBefore = git(r.tmp, "--git-dir", bare, "rev-parse", "main")
      const landed = yield* syJson("land")
      expect(landed.changes).toMatchObject([{ issueId: `GH-${second.n}`, decision: "landed", rule: expect.stringContaining("trust.classes.small") }])
      const merge = (yield* twin.hosting).merges.get(second.pull)
      expect(merge).toMatchObject({ headSha: candidate2, method: "merge", by: "switchyard-bot" })
      expect(git(r.tmp, "--git-dir", bare, "rev-parse", "main")).toBe(merge!.sha)
      expect(git(r.tmp, "--git-dir", bare, "rev-parse", "main^1")).toBe(mainBefore)
      expect(git(r.tmp, "--git-dir", bare, "rev-parse", "main^2")).toBe(candidate2)
      const landedEvent = events(r, `GH-${second.n}`).find((e) => e.type === "trust.landed")
      expect(landedEvent?.data).toMatchObject({
        landedBy: "switchyard",
        method: "merge",
        commit: candidate2,
        landedCommit: merge!.sha,
        className: "small",
        url: expect.stringContaining(`/pull/${second.pull}`)
      })
      const record = JSON.parse(readFileSync(join(r.dir, `.switchyard/runs/GH-${second.n}/1/landed.json`), "utf8"))
      expect(record).toMatchObject({ landedBy: "switchyard", commit: merge!.sha, url: expect.stringContaining(`/pull/${second.pull}`) })
      const comments = (yield* twin.state).comments.filter((c) => c.issue === second.n).map((c) => c.body)
      expect(comments.some((c) => c.includes("Switchyard landed this change") && c.includes("trust.classes.small"))).toBe(true)

      // 5. A change verified on a base GitHub has moved past (the checkout did not pull the landing): it is carried
      //    onto GitHub's main and verified again before its pull request is merged, and GitHub's merge has the tree
      //    that was verified.
      const third = yield* issue("add file three")
      const candidate3 = git(r.dir, "rev-parse", `switchyard/GH-${third.n}`)
      const stale = yield* syJson("land")
      expect(stale.changes).toMatchObject([{ issueId: `GH-${third.n}`, decision: "landed" }])
      const types3 = events(r, `GH-${third.n}`)
      const reverified = types3.find((e) => e.type === "trust.reverified")
      expect(reverified?.data).toMatchObject({ base: merge!.sha })
      const landed3 = types3.find((e) => e.type === "trust.landed")!.data
      expect(landed3).toMatchObject({ commit: candidate3, verifiedCommit: reverified!.data["commit"], base: merge!.sha })
      const merge3 = (yield* twin.hosting).merges.get(third.pull)!
      expect(merge3.headSha).toBe(candidate3)
      expect(git(r.tmp, "--git-dir", bare, "rev-parse", "main")).toBe(merge3.sha)
      expect(git(r.dir, "rev-parse", `${String(landed3["verifiedCommit"])}^{tree}`)).toBe(git(r.tmp, "--git-dir", bare, "rev-parse", `${merge3.sha}^{tree}`))

      // 6. A person reverts the squash commit on GitHub's main: the class is demoted.
      git(other, "checkout", "-q", "main")
      git(other, "pull", "-q", "--ff-only", "origin", "main")
      git(other, "-c", "user.name=x", "-c", "user.email=x@x", "revert", "--no-edit", squashSha)
      git(other, "push", "-q", "origin", "main")
      const demoted = yield* syJson("trust")
      expect(demoted.reverted).toMatchObject([{ issueId: `GH-${first.n}`, className: "small" }])
      expect(demoted.reverted[0].reason).toContain("reverts")
      expect(demoted.classes[0]).toMatchObject({ rung: "review", reverted: 1 })
    }))

  live("a \"changes requested\" review sends the change back for one more turn with the review; an approval is recorded with the evidence", () =>
    Effect.gen(function*() {
      const r = repo()
      const bare = setUp(r)
      const twin = yield* GitHubTwin.make({ labels: ["ready"], git: bare })
      const env = { GITHUB_TOKEN: twin.token }
      const sy = (...args: Array<string>) => Effect.promise(() => syAsync(r.dir, args, env))
      const syJson = (...args: Array<string>) =>
        Effect.map(sy(...args, "--json"), (out) => {
          expect(out.code, out.stderr).toBe(0)
          return JSON.parse(out.stdout)
        })
      const reviewed = join(r.shared, "review-prompts")
      const agent = r.agent(
        "reviewed.sh",
        `set -e
echo "export const id = '$SWITCHYARD_ISSUE_ID'" > "src/$SWITCHYARD_ISSUE_ID.js"
if grep -q "Review feedback on your previous change" "$SWITCHYARD_PROMPT_FILE"; then
  cat "$SWITCHYARD_PROMPT_FILE" >> ${JSON.stringify(reviewed)}
  echo "// addressed the review" >> "src/$SWITCHYARD_ISSUE_ID.js"
fi
echo '{"claim":"PR_READY","summary":"add the file"}' > "$SWITCHYARD_RESULT_FILE"`
      )
      r.writeWorkflow(workflow(twin, agent))
      git(r.dir, "add", "WORKFLOW.md")
      git(r.dir, "commit", "-q", "-m", "workflow")
      git(r.dir, "push", "-q", "origin", "main")
      const n = yield* twin.open({ title: "add a file", labels: ["ready"] })
      yield* twin.edit(n, { body: `\`\`\`switchyard\nreproduction: "test -f src/GH-${n}.js"\n\`\`\`\n` })
      expect((yield* sy("run", "--once")).code).toBe(0)
      const pull = (yield* twin.state).pulls.find((p) => p.head === `switchyard/GH-${n}`)!.number

      yield* twin.review(pull, {
        user: "alice",
        state: "CHANGES_REQUESTED",
        body: "Please mark the change as reviewed (REVIEW-MARKER).",
        comments: [{ path: `src/GH-${n}.js`, line: 1, body: "say what this file is for (COMMENT-MARKER)" }]
      })
      const sent = yield* syJson("trust")
      expect(sent.reviews.changesRequested).toMatchObject([{ issueId: `GH-${n}`, reviewer: "alice", sentBack: true }])
      expect(yield* syJson("issue", "show", `GH-${n}`)).toMatchObject({ status: "todo" })
      // Recorded once: a second look (a poll after a webhook) sends nothing back again.
      expect((yield* syJson("trust")).reviews.changesRequested).toEqual([])

      expect((yield* sy("run", "--once")).code).toBe(0)
      const prompts = readFileSync(reviewed, "utf8")
      expect(prompts.split("Review feedback on your previous change").length - 1).toBe(1)
      expect(prompts).toContain("A reviewer (alice) requested changes on pull request")
      expect(prompts).toContain("REVIEW-MARKER")
      expect(prompts).toContain(`src/GH-${n}.js:1: say what this file is for (COMMENT-MARKER)`)
      const evidence = JSON.parse((yield* sy("evidence", `GH-${n}`, "--json")).stdout)
      expect(evidence).toMatchObject({ outcome: "PR_READY", attempt: 2 })
      expect(events(r, `GH-${n}`).filter((e) => e.type === "agent.revision" && e.data["cause"] === "review_changes_requested")).toHaveLength(1)
      // Nothing more to do: one turn per review.
      expect((yield* sy("run", "--once")).code).toBe(0)
      expect(events(r, `GH-${n}`).filter((e) => e.type === "agent.started")).toHaveLength(2)

      yield* twin.review(pull, { user: "bob", state: "APPROVED", body: "LGTM" })
      const ok = yield* syJson("trust")
      expect(ok.reviews.approved).toMatchObject([{ issueId: `GH-${n}`, attempt: 2, reviewer: "bob", pull: expect.stringContaining(`/pull/${pull}`) }])
      const recorded = JSON.parse(readFileSync(join(r.dir, `.switchyard/runs/GH-${n}/2/reviews.json`), "utf8"))
      expect(recorded).toMatchObject([{ reviewer: "bob", at: expect.any(String), commit: git(r.tmp, "--git-dir", bare, "rev-parse", `switchyard/GH-${n}`) }])
    }))

  live("without webhooks, a running `switchyard run` polls the reviews: changes requested sends the change back and the line runs it again", () =>
    Effect.gen(function*() {
      const r = repo()
      const bare = setUp(r)
      const twin = yield* GitHubTwin.make({ labels: ["ready"], git: bare })
      const env = { GITHUB_TOKEN: twin.token }
      const reviewed = join(r.shared, "review-prompts")
      const agent = r.agent(
        "reviewed.sh",
        `set -e
echo "export const id = '$SWITCHYARD_ISSUE_ID'" > "src/$SWITCHYARD_ISSUE_ID.js"
if grep -q "Review feedback on your previous change" "$SWITCHYARD_PROMPT_FILE"; then cat "$SWITCHYARD_PROMPT_FILE" >> ${JSON.stringify(reviewed)}; fi
echo '{"claim":"PR_READY","summary":"add the file"}' > "$SWITCHYARD_RESULT_FILE"`
      )
      r.writeWorkflow(workflow(twin, agent).replace("interval_ms: 200", "interval_ms: 500"))
      git(r.dir, "add", "WORKFLOW.md")
      git(r.dir, "commit", "-q", "-m", "workflow")
      git(r.dir, "push", "-q", "origin", "main")
      const n = yield* twin.open({ title: "add a file", labels: ["ready"], body: `\`\`\`switchyard\nreproduction: "test -f src/GH-1.js"\n\`\`\`\n` })
      const once = yield* Effect.promise(() => syAsync(r.dir, ["run", "--once"], env))
      expect(once.code, once.stderr).toBe(0)
      const pull = (yield* twin.state).pulls.find((p) => p.head === `switchyard/GH-${n}`)!.number
      yield* twin.review(pull, { user: "carol", state: "CHANGES_REQUESTED", body: "Polled review (POLL-MARKER)" })
      const child = track(spawn(process.execPath, [bin, "run"], { cwd: r.dir, env: { ...process.env, SWITCHYARD_LOG: "warning", ...env } }))
      const started = () => events(r, `GH-${n}`).filter((e) => e.type === "terminal.PR_READY").length
      yield* Effect.sync(started).pipe(
        Effect.repeat({ until: (c) => c === 2, schedule: Schedule.spaced("200 millis") }),
        Effect.timeoutFail({ duration: "60 seconds", onTimeout: () => new Error("the polled review never sent the change back") })
      )
      yield* Effect.sleep("2 seconds")
      child.kill("SIGTERM")
      expect(events(r, `GH-${n}`).filter((e) => e.type === "review.changes_requested")).toHaveLength(1)
      expect(events(r, `GH-${n}`).filter((e) => e.type === "agent.started")).toHaveLength(2)
      expect(readFileSync(reviewed, "utf8")).toContain("POLL-MARKER")
    }))
})
