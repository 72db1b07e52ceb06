/**
 * Choosing the store (issue 16 item 1, docs/scale.md): `SWITCHYARD_DATABASE_URL` or `store.url` in WORKFLOW.md
 * (the variable wins) puts a repo's tracker and orchestrator in a PostgreSQL database, so two checkouts (two hosts)
 * see the same issues; bad settings and an unreachable server are one line each. The built CLI, a throwaway
 * PostgreSQL server (skipped where the binaries are absent).
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { createDatabase, type PgServer, query, startServer, unavailable } from "@switchyard/pg/test-server"
import { NodeContext } from "@effect/platform-node"
import { GitHubTwin } from "@switchyard/twin"
import { Effect } from "effect"
import { averageRepro, existsSync, fixerScript, join, perTest, syAsync } from "./harness.js"

const skip = unavailable()
let server: PgServer | undefined
beforeAll(async () => {
  if (skip === null) server = await startServer()
}, 60_000)
afterAll(() => server?.stop())

const { repo } = perTest()
let databases = 0
const database = () => createDatabase(server!, `cli_${process.pid}_${++databases}`)

describe.skipIf(skip !== null)("a PostgreSQL store", () => {
  it("SWITCHYARD_DATABASE_URL puts the issues in PostgreSQL: another checkout sees them, no SQLite file is made", async () => {
    const url = await database()
    const a = repo()
    const b = repo()
    const created = await syAsync(a.dir, ["issue", "create", "--title", "shared work"], { SWITCHYARD_DATABASE_URL: url })
    expect(created.code, created.stderr).toBe(0)
    expect(created.stdout.trim()).toBe("SY-1")
    const listed = await syAsync(b.dir, ["issue", "list", "--json"], { SWITCHYARD_DATABASE_URL: url })
    expect(listed.code, listed.stderr).toBe(0)
    expect(JSON.parse(listed.stdout).map((i: { id: string; title: string }) => [i.id, i.title])).toEqual([["SY-1", "shared work"]])
    expect(await query(url, "SELECT id, status FROM issues")).toEqual([{ id: "SY-1", status: "todo" }])
    expect(existsSync(join(a.dir, ".switchyard/switchyard.db"))).toBe(false)
    // Without the variable, the same checkout is back on its own (empty) SQLite store.
    const local = await syAsync(a.dir, ["issue", "list", "--json"])
    expect(JSON.parse(local.stdout)).toEqual([])
  }, 60_000)

  it("store.url in WORKFLOW.md ($VAR expanded) selects PostgreSQL; SWITCHYARD_DATABASE_URL wins over it", async () => {
    const fromFile = await database()
    const fromEnv = await database()
    const r = repo()
    r.writeWorkflow(`store:\n  url: "\${SY_TEST_DB}"\nagent:\n  command: "true"\n`)
    const first = await syAsync(r.dir, ["issue", "create", "--title", "via workflow"], { SY_TEST_DB: fromFile })
    expect(first.code, first.stderr).toBe(0)
    const second = await syAsync(r.dir, ["issue", "create", "--title", "via env"], { SY_TEST_DB: fromFile, SWITCHYARD_DATABASE_URL: fromEnv })
    expect(second.code, second.stderr).toBe(0)
    expect((await query(fromFile, "SELECT title FROM issues")).map((row) => row.title)).toEqual(["via workflow"])
    expect((await query(fromEnv, "SELECT title FROM issues")).map((row) => row.title)).toEqual(["via env"])
    // A $VAR that is not set is named, not silently replaced by SQLite.
    const unset = await syAsync(r.dir, ["issue", "list"], {})
    expect(unset.code).toBe(1)
    expect(unset.stderr.trim()).toBe(`switchyard: store.url in ${join(r.dir, "WORKFLOW.md")}: it names $SY_TEST_DB, which is not set`)
  }, 60_000)

  it("an unreachable database is one line naming it (password hidden) and the reason; a URL of another kind too", async () => {
    const r = repo()
    const down = await syAsync(r.dir, ["status"], { SWITCHYARD_DATABASE_URL: "postgres://me:s3cret@127.0.0.1:1/nowhere" })
    expect(down.code).toBe(1)
    const lines = down.stderr.trim().split("\n")
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/^switchyard: cannot open the switchyard database postgres:\/\/me:\*\*\*@127\.0\.0\.1:1\/nowhere: .*ECONNREFUSED/)
    expect(down.stderr).not.toContain("s3cret")
    const other = await syAsync(r.dir, ["issue", "list"], { SWITCHYARD_DATABASE_URL: "mysql://db/x" })
    expect(other.code).toBe(1)
    expect(other.stderr.trim()).toBe(
      `switchyard: SWITCHYARD_DATABASE_URL: "mysql://db/x" is not a PostgreSQL URL (postgres://user:password@host:5432/database); leave it unset for the embedded SQLite store`
    )
  }, 60_000)

  it("tracker.kind github on a PostgreSQL store: the mirror and its outbox are the database's; a labelled issue becomes a pull request", async () => {
    const url = await database()
    const twin = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const twin = yield* GitHubTwin.make({ labels: ["ready"] })
      const r = repo()
      const agent = r.agent("fixer.sh", fixerScript)
      r.writeWorkflow(`tracker:
  kind: github
  repo: ${twin.owner}/${twin.repo}
  api_url: ${twin.url}
  required_labels: [ready]
agent:
  command: ${JSON.stringify(agent)}
  max_attempts: 1
verify:
  validation:
    - node --test
polling:
  interval_ms: 200
`)
      const fix = yield* twin.open({
        title: "average of an empty list is NaN",
        body: `average([]) should be 0.\n\n\`\`\`switchyard\nreproduction: ${JSON.stringify(averageRepro)}\n\`\`\`\n`,
        labels: ["ready"]
      })
      const result = yield* Effect.promise(() => syAsync(r.dir, ["run", "--once"], { GITHUB_TOKEN: twin.token, SWITCHYARD_DATABASE_URL: url }))
      expect(result.code, result.stderr).toBe(0)
      expect(existsSync(join(r.dir, ".switchyard/switchyard.db"))).toBe(false)
      return { state: yield* twin.state, fix }
    }).pipe(Effect.provide(NodeContext.layer))))
    expect(twin.state.pulls.map((p) => p.head)).toEqual([`switchyard/GH-${twin.fix}`])
    expect([...(twin.state.issues.get(twin.fix)?.labels ?? [])].sort()).toEqual(["ready", "switchyard:in-review"])
    // The mirror row, the attempt and the delivered write-backs are in PostgreSQL.
    expect(await query(url, "SELECT id, status FROM issues")).toEqual([{ id: `GH-${twin.fix}`, status: "in_review" }])
    expect(await query(url, "SELECT terminal_state FROM attempts")).toEqual([{ terminal_state: "PR_READY" }])
    const outbox = await query<{ op: string; delivered: boolean }>(url, "SELECT op, delivered_at IS NOT NULL AS delivered FROM tracker_outbox ORDER BY id")
    expect(outbox.length).toBeGreaterThan(0)
    expect(outbox.filter((row) => !row.delivered)).toEqual([])
    expect(outbox.map((row) => row.op)).toContain("pull")
  }, 120_000)
})

