/**
 * The GitHub twin's payloads against GitHub's published OpenAPI description (`@octokit/openapi` 23.0.2,
 * api.github.com): every issue, label, comment and user the twin serves over HTTP has every field the schema
 * requires, with the declared type, nullability and enum (a small OpenAPI 3.0 checker below: type, nullable, enum,
 * required, properties, items, oneOf/anyOf/allOf, $ref). The hosting payloads (pull requests, merges, check runs,
 * statuses, reviews, commits, branches, comparisons) are a subset: every field they carry is checked, required ones
 * may be absent. The repository payload is not checked.
 */
import { FetchHttpClient, HttpClient } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createRequire } from "node:module"
import { GitHubTwin } from "../src/index.js"

type Schema = Record<string, any>
const spec = JSON.parse(
  readFileSync(createRequire(import.meta.url).resolve("@octokit/openapi/generated/api.github.com.json"), "utf8")
) as { components: { schemas: Record<string, Schema> } }

const resolve = (s: Schema): Schema =>
  typeof s["$ref"] === "string" ? resolve(spec.components.schemas[String(s["$ref"]).split("/").pop()!]!) : s

/**
 * Where `value` breaks `schema`, as `path: problem` lines (empty: it conforms). `subset`: fields the schema requires
 * may be absent (the hosting payloads carry only what Switchyard reads), but every field present must conform.
 */
const check = (schema: Schema, value: unknown, path = "$", subset = false): Array<string> => {
  const s = resolve(schema)
  if (value === null) return s["nullable"] === true || s["type"] === undefined && s["oneOf"] === undefined && s["anyOf"] === undefined ? [] : [`${path}: null is not allowed`]
  if (Array.isArray(s["allOf"])) return s["allOf"].flatMap((sub: Schema) => check(sub, value, path, subset))
  for (const key of ["oneOf", "anyOf"]) {
    if (Array.isArray(s[key])) {
      return s[key].some((sub: Schema) => check(sub, value, path, subset).length === 0) ? [] : [`${path}: matches none of ${key}`]
    }
  }
  if (Array.isArray(s["enum"]) && !s["enum"].includes(value)) return [`${path}: ${JSON.stringify(value)} is not one of ${s["enum"].join(", ")}`]
  const type = s["type"]
  const actual = Array.isArray(value) ? "array" : typeof value
  if (type === "integer" && !(typeof value === "number" && Number.isInteger(value))) return [`${path}: not an integer`]
  if (type === "number" && typeof value !== "number") return [`${path}: not a number`]
  if ((type === "string" || type === "boolean") && actual !== type) return [`${path}: not a ${type}`]
  if (type === "array") {
    if (!Array.isArray(value)) return [`${path}: not an array`]
    return value.flatMap((item, i) => check(s["items"] ?? {}, item, `${path}[${i}]`, subset))
  }
  if (type === "object" || s["properties"] !== undefined) {
    if (actual !== "object") return [`${path}: not an object`]
    const record = value as Record<string, unknown>
    const missing = subset ? [] : (s["required"] ?? []).filter((k: string) => !(k in record)).map((k: string) => `${path}.${k}: required, missing`)
    const props = Object.entries(s["properties"] ?? {}).flatMap(([k, sub]) =>
      k in record ? check(sub as Schema, record[k], `${path}.${k}`, subset) : []
    )
    return [...missing, ...props]
  }
  return []
}

const schema = (name: string) => spec.components.schemas[name]!

describe("GitHub twin payloads vs GitHub's OpenAPI description", () => {
  it.live("issues (and the labels and users in them), labels and comments conform", () =>
    Effect.gen(function*() {
      const twin = yield* GitHubTwin.make({ labels: ["ready"] })
      const n = yield* twin.open({ title: "t", body: "b", labels: ["ready", "bug"] })
      yield* twin.open({ title: "a pull request", isPull: true })
      yield* twin.edit(n, { state: "closed", state_reason: "completed" })
      const client = yield* HttpClient.HttpClient
      const get = (path: string) =>
        client.get(`${twin.url}/repos/${twin.owner}/${twin.repo}${path}`, { headers: { authorization: `Bearer ${twin.token}` } }).pipe(
          Effect.flatMap((r) => r.json)
        )
      const issues = (yield* get("/issues?state=all")) as Array<unknown>
      expect(issues.length).toBe(2)
      expect(issues.flatMap((i) => check(schema("issue"), i))).toEqual([])
      expect(check(schema("issue"), yield* get(`/issues/${n}`))).toEqual([])
      expect(check(schema("label"), yield* get("/labels/ready"))).toEqual([])
      // A comment, posted through the API.
      yield* Effect.tryPromise(() =>
        fetch(`${twin.url}/repos/${twin.owner}/${twin.repo}/issues/${n}/comments`, {
          method: "POST",
          headers: { authorization: `Bearer ${twin.token}`, "content-type": "application/json" },
          body: JSON.stringify({ body: "hello" })
        })
      )
      const comments = (yield* get(`/issues/${n}/comments`)) as Array<unknown>
      expect(comments.length).toBe(1)
      expect(comments.flatMap((c) => check(schema("issue-comment"), c))).toEqual([])
      // The checker can fail: a record without a title is caught.
      expect(check(schema("issue"), { ...(issues[0] as object), title: undefined, state: 3 }).length).toBeGreaterThan(0)
    }).pipe(Effect.provide(FetchHttpClient.layer), Effect.provide(NodeContext.layer), Effect.scoped), 60_000)

  it.live("issue dependencies (blocked_by) and sub-issues conform, with their summaries", () =>
    Effect.gen(function*() {
      const twin = yield* GitHubTwin.make({})
      const blocker = yield* twin.open({ title: "blocker", assignees: ["someone-else"] }) // with assignees: checked too
      const parent = yield* twin.open({ title: "parent" })
      const blocked = yield* twin.open({ title: "blocked", blockedBy: [blocker], parent })
      const client = yield* HttpClient.HttpClient
      const get = (path: string) =>
        client.get(`${twin.url}/repos/${twin.owner}/${twin.repo}${path}`, { headers: { authorization: `Bearer ${twin.token}` } }).pipe(
          Effect.flatMap((r) => r.json)
        )
      const blockers = (yield* get(`/issues/${blocked}/dependencies/blocked_by`)) as Array<{ number: number }>
      expect(blockers.map((b) => b.number)).toEqual([blocker])
      expect(blockers.flatMap((b) => check(schema("issue"), b))).toEqual([])
      const children = (yield* get(`/issues/${parent}/sub_issues`)) as Array<{ number: number }>
      expect(children.map((c) => c.number)).toEqual([blocked])
      expect(children.flatMap((c) => check(schema("issue"), c))).toEqual([])
      const one = (yield* get(`/issues/${blocked}`)) as Record<string, any>
      expect(check(schema("issue"), one)).toEqual([])
      expect(one["issue_dependencies_summary"]).toEqual({ blocked_by: 1, blocking: 0, total_blocked_by: 1, total_blocking: 0 })
      expect(((yield* get(`/issues/${parent}`)) as Record<string, any>)["sub_issues_summary"]).toEqual({
        total: 1,
        completed: 0,
        percent_completed: 0
      })
      yield* twin.edit(blocker, { state: "closed" })
      expect(((yield* get(`/issues/${blocked}`)) as Record<string, any>)["issue_dependencies_summary"].blocked_by).toBe(0)
    }).pipe(Effect.provide(FetchHttpClient.layer), Effect.provide(NodeContext.layer), Effect.scoped), 60_000)

  it.live("the hosting payloads (pull request, merge, check runs, status, reviews, review comments, commits, branch, comparison): every field they carry conforms", () =>
    Effect.gen(function*() {
      const tmp = mkdtempSync(join(tmpdir(), "twin-hosting-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(tmp, { recursive: true, force: true })))
      const git = (cwd: string, ...args: Array<string>) => execFileSync("git", args, { cwd, encoding: "utf8" }).trim()
      git(tmp, "init", "-q", "--bare", "-b", "main", "remote.git")
      git(tmp, "init", "-q", "-b", "main", "work")
      const work = join(tmp, "work")
      const commit = (msg: string) => git(work, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", msg)
      commit("base")
      git(work, "push", "-q", join(tmp, "remote.git"), "main")
      git(work, "checkout", "-q", "-b", "feature")
      commit("change")
      git(work, "push", "-q", join(tmp, "remote.git"), "feature")
      const head = git(work, "rev-parse", "HEAD")
      const twin = yield* GitHubTwin.make({ git: join(tmp, "remote.git") })
      const client = yield* HttpClient.HttpClient
      const get = (path: string) =>
        client.get(`${twin.url}/repos/${twin.owner}/${twin.repo}${path}`, { headers: { authorization: `Bearer ${twin.token}` } }).pipe(
          Effect.flatMap((r) => r.json)
        )
      const send = (method: string, path: string, body: unknown) =>
        Effect.promise(async () => {
          const r = await fetch(`${twin.url}/repos/${twin.owner}/${twin.repo}${path}`, {
            method,
            headers: { authorization: `Bearer ${twin.token}`, "content-type": "application/json" },
            body: JSON.stringify(body)
          })
          return { status: r.status, body: await r.json() as unknown }
        })
      const pr = yield* send("POST", "/pulls", { title: "t", head: "feature", base: "main", body: "b" })
      const n = (pr.body as { number: number }).number
      yield* twin.setChecks(head, {
        checkRuns: [{ name: "lint", status: "completed", conclusion: "failure", summary: "s", text: "t" }],
        statuses: [{ context: "ci", state: "pending", description: "d" }]
      })
      yield* twin.review(n, { state: "CHANGES_REQUESTED", body: "fix", comments: [{ path: "a.ts", line: 1, body: "here" }] })
      const subset = (name: string, value: unknown) => check(schema(name), value, "$", true)
      expect(subset("pull-request", yield* get(`/pulls/${n}`))).toEqual([])
      const runs = (yield* get(`/commits/${head}/check-runs`)) as { check_runs: Array<unknown> }
      expect(runs.check_runs.length).toBe(1)
      expect(runs.check_runs.flatMap((r) => subset("check-run", r))).toEqual([])
      expect(subset("combined-commit-status", yield* get(`/commits/${head}/status`))).toEqual([])
      expect(((yield* get(`/pulls/${n}/reviews`)) as Array<unknown>).flatMap((r) => subset("pull-request-review", r))).toEqual([])
      expect(((yield* get(`/pulls/${n}/comments`)) as Array<unknown>).flatMap((r) => subset("pull-request-review-comment", r))).toEqual([])
      expect(((yield* get(`/commits?sha=main`)) as Array<unknown>).flatMap((r) => subset("commit", r))).toEqual([])
      expect(subset("branch-with-protection", yield* get(`/branches/main`))).toEqual([])
      expect(subset("commit-comparison", yield* get(`/compare/main...feature`))).toEqual([])
      // Merges: a head that moved is 409, a merge is 200 with the merge result, a second one 405.
      expect((yield* send("PUT", `/pulls/${n}/merge`, { sha: "0".repeat(40) })).status).toBe(409)
      const merged = yield* send("PUT", `/pulls/${n}/merge`, { sha: head, merge_method: "squash" })
      expect(merged.status).toBe(200)
      expect(subset("pull-request-merge-result", merged.body)).toEqual([])
      expect(git(tmp, "--git-dir", join(tmp, "remote.git"), "rev-parse", "main")).toBe((merged.body as { sha: string }).sha)
      expect(git(tmp, "--git-dir", join(tmp, "remote.git"), "rev-parse", "main^")).not.toBe(head)
      expect((yield* send("PUT", `/pulls/${n}/merge`, { sha: head })).status).toBe(405)
      expect(subset("pull-request", yield* get(`/pulls/${n}`))).toEqual([])
      // The subset checker can fail: a conclusion GitHub does not know is caught.
      expect(subset("check-run", { ...(runs.check_runs[0] as object), conclusion: "exploded" }).length).toBeGreaterThan(0)
    }).pipe(Effect.provide(FetchHttpClient.layer), Effect.provide(NodeContext.layer), Effect.scoped), 60_000)
})
