/**
 * Runners on several hosts sharing PostgreSQL (issue 16 items 3-6, docs/scale.md): three `switchyard run` processes
 * of the built CLI, each with its own host id (`SWITCHYARD_HOST_ID`), on one database. Every issue runs exactly
 * once; a runner SIGKILLed mid-agent leaves its issues to be requeued after the lease expires and finished by
 * another host; a server killed and restarted mid-run loses no lease decision and runs nothing twice. A throwaway
 * PostgreSQL server (skipped where the binaries are absent).
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { createDatabase, type PgServer, query, startServer, unavailable } from "@switchyard/pg/test-server"
import { spawn } from "node:child_process"
import * as Crypto from "node:crypto"
import { mkdirSync, readdirSync } from "node:fs"
import { averageRepro, bin, exited, fixerScript, git, join, perTest, pidsMatching, repoRootOfThisProject, sandboxBlock, sleep, syAsync, type TestRepo, until, writeFileSync } from "./harness.js"

const skip = unavailable()
let server: PgServer | undefined
beforeAll(async () => {
  if (skip === null) server = await startServer()
}, 60_000)
afterAll(() => server?.stop())

const { repo, track } = perTest()
let databases = 0
const database = () => createDatabase(server!, `multihost_${process.pid}_${++databases}`)

/** Starts `switchyard run` as host `host` on `url`; its output is collected for failure messages. */
const runner = (r: TestRepo, url: string, host: string) => {
  const child = track(spawn(process.execPath, [bin, "run"], {
    cwd: r.dir,
    env: { ...process.env, SWITCHYARD_LOG: "warning", SWITCHYARD_DATABASE_URL: url, SWITCHYARD_HOST_ID: host }
  }))
  let output = ""
  child.stdout.setEncoding("utf8").on("data", (c: string) => (output += c))
  child.stderr.setEncoding("utf8").on("data", (c: string) => (output += c))
  return { host, child, output: () => output }
}

/** An agent that leaves `<shared>/<issue>.<ns>.started`, sleeps `seconds`, then claims NO_OP. */
const agent = (r: TestRepo, seconds: number) =>
  r.agent("marker.sh", `M=${JSON.stringify(r.shared)}/"$SWITCHYARD_ISSUE_ID.$(date +%s%N)"
touch "$M.started"
sleep ${seconds}
echo '{"claim":"NO_OP","summary":"nothing to do"}' > "$SWITCHYARD_RESULT_FILE"`)

const workflow = (r: TestRepo, seconds: number, leaseTtlMs: number) =>
  r.writeWorkflow(`agent:
  command: ${JSON.stringify(agent(r, seconds))}
  max_concurrent_agents: 2
  max_attempts: 3
  retry_base_delay_ms: 50
polling:
  interval_ms: 30000
orchestrator:
  heartbeat_ms: 200
  lease_ttl_ms: ${leaseTtlMs}
  max_runner_deaths: 3
`)

/** How many times the agent started on each issue (its markers in the shared directory). */
const starts = (r: TestRepo): Map<string, number> => {
  const counts = new Map<string, number>()
  for (const name of readdirSync(r.shared)) {
    const issue = name.split(".")[0]!
    if (name.endsWith(".started")) counts.set(issue, (counts.get(issue) ?? 0) + 1)
  }
  return counts
}

const createIssues = async (r: TestRepo, url: string, n: number) => {
  for (let i = 0; i < n; i += 5) {
    const batch = Array.from({ length: Math.min(5, n - i) }, (_, k) =>
      syAsync(r.dir, ["issue", "create", "--title", `issue ${i + k + 1}`], { SWITCHYARD_DATABASE_URL: url }))
    for (const done of await Promise.all(batch)) expect(done.code, done.stderr).toBe(0)
  }
}

const unfinished = async (url: string) =>
  Number((await query<{ n: number }>(url, "SELECT COUNT(*)::int AS n FROM issues WHERE status <> 'done'"))[0]!.n)

/** Waits until every issue is done (polling the database), failing with the runners' output. */
const drained = async (url: string, runners: ReadonlyArray<ReturnType<typeof runner>>, timeoutMs: number) => {
  const start = Date.now()
  while ((await unfinished(url)) > 0) {
    if (Date.now() - start > timeoutMs) {
      const issues = await query(url, "SELECT id, status FROM issues WHERE status <> 'done' ORDER BY id")
      throw new Error(`not drained after ${timeoutMs} ms: ${JSON.stringify(issues)}\n${runners.map((x) => `--- ${x.host}\n${x.output()}`).join("\n")}`)
    }
    await sleep(200)
  }
}

const hostOf = (runnerId: string) => runnerId.split(":")[0]!

describe.skipIf(skip !== null)("runners on three hosts sharing one PostgreSQL database", () => {
  it("30 issues created while three runners wait: each is run exactly once, spread over the hosts", async () => {
    const url = await database()
    const r = repo()
    workflow(r, 0.2, 5_000)
    const runners = ["host-a", "host-b", "host-c"].map((host) => runner(r, url, host))
    // Issues arrive after the runners started, with a 30 s poll: they are dispatched by LISTEN/NOTIFY.
    await sleep(1_500)
    await createIssues(r, url, 30)
    await drained(url, runners, 150_000)

    const ran = starts(r)
    expect(ran.size).toBe(30)
    expect([...ran.values()].every((n) => n === 1), JSON.stringify([...ran])).toBe(true)
    const attempts = await query<{ issue_id: string; runner_id: string; terminal_state: string | null }>(
      url,
      "SELECT issue_id, runner_id, terminal_state FROM attempts ORDER BY issue_id"
    )
    expect(attempts).toHaveLength(30)
    expect(attempts.every((a) => a.terminal_state === "NO_OP")).toBe(true)
    expect(new Set(attempts.map((a) => hostOf(a.runner_id))).size).toBeGreaterThan(1)
    expect(Number((await query<{ n: number }>(url, "SELECT COUNT(*)::int AS n FROM evidence"))[0]!.n)).toBe(30)
    const hosts = await query<{ host: string }>(url, "SELECT DISTINCT host FROM runners ORDER BY host")
    expect(hosts.map((h) => h.host)).toEqual(["host-a", "host-b", "host-c"])
    expect(await query(url, "SELECT issue_id FROM leases")).toEqual([])
    // `status` from any checkout shows every runner, on every host, with its workers.
    const status = async () => {
      const shown = await syAsync(r.dir, ["status", "--json"], { SWITCHYARD_DATABASE_URL: url })
      expect(shown.code, shown.stderr).toBe(0)
      return JSON.parse(shown.stdout).orchestrator.runners as Array<{ host: string; workers: number }>
    }
    expect((await status()).map((x) => [x.host, x.workers])).toEqual([["host-a", 0], ["host-b", 0], ["host-c", 0]])

    for (const x of runners) x.child.kill("SIGTERM")
    for (const x of runners) expect((await exited(x.child)).code, x.output()).toBe(143)
    // A runner that stops cleanly takes its row with it.
    expect(await status()).toEqual([])
  }, 240_000)

  it("a runner SIGKILLed mid-agent: its issues are requeued after the lease expires and finished on another host", async () => {
    const url = await database()
    const r = repo()
    workflow(r, 2, 1_500)
    await createIssues(r, url, 6)
    const runners = ["host-a", "host-b", "host-c"].map((host) => runner(r, url, host))
    // The first agent to start: kill its runner while that agent sleeps.
    await until(() => readdirSync(r.shared).some((n) => n.endsWith(".started")), 60_000, "an agent to start")
    const leases = await query<{ issue_id: string; host: string }>(url, "SELECT issue_id, host FROM leases WHERE stage = 'agent' OR agent_pid IS NOT NULL")
    const victimHost = leases[0]?.host ?? (await query<{ host: string }>(url, "SELECT host FROM leases LIMIT 1"))[0]!.host
    const victim = runners.find((x) => x.host === victimHost)!
    const orphaned = (await query<{ issue_id: string }>(url, "SELECT issue_id FROM leases WHERE host = $1", [victimHost])).map((l) => l.issue_id)
    expect(orphaned.length).toBeGreaterThan(0)
    victim.child.kill("SIGKILL")
    await exited(victim.child)
    await drained(url, runners, 150_000)

    for (const issue of orphaned) {
      const rows = await query<{ attempt: number; runner_id: string; terminal_state: string | null; cause: string | null; counted: number }>(
        url,
        "SELECT attempt, runner_id, terminal_state, cause, counted FROM attempts WHERE issue_id = $1 ORDER BY attempt",
        [issue]
      )
      // The killed attempt is closed by the supervisor that broke its lease (a bundle, not counted against the
      // agent); the attempt that ended the issue ran on another host.
      const lost = rows.filter((a) => hostOf(a.runner_id) === victimHost)
      expect(lost.length, JSON.stringify(rows)).toBeGreaterThan(0)
      for (const a of lost) expect(a, JSON.stringify(rows)).toMatchObject({ terminal_state: "RETRYABLE_FAILURE", cause: "lease_expired", counted: 0 })
      const last = rows.at(-1)!
      expect(last.terminal_state, JSON.stringify(rows)).toBe("NO_OP")
      expect(hostOf(last.runner_id)).not.toBe(victimHost)
      const expired = await query(url, "SELECT seq FROM events WHERE issue_id = $1 AND type = 'lease.expired'", [issue])
      expect(expired.length, issue).toBeGreaterThan(0)
    }
    // Nothing lost: one NO_OP verdict per issue, and a bundle for every ended attempt.
    const verdicts = await query<{ issue_id: string; n: number }>(
      url,
      "SELECT issue_id, COUNT(*)::int AS n FROM attempts WHERE terminal_state = 'NO_OP' GROUP BY issue_id ORDER BY issue_id"
    )
    expect(verdicts.map((v) => v.n)).toEqual([1, 1, 1, 1, 1, 1])
    const unbundled = await query(
      url,
      `SELECT a.issue_id, a.attempt FROM attempts a LEFT JOIN evidence e ON e.issue_id = a.issue_id AND e.attempt = a.attempt
       WHERE a.terminal_state IS NOT NULL AND e.issue_id IS NULL`
    )
    expect(unbundled).toEqual([])
    expect(await query(url, "SELECT issue_id, attempt FROM attempts WHERE ended_at IS NULL")).toEqual([])
  }, 240_000)

  it("a host's returning runner kills the agent its dead predecessor left; a runner on another host never does", async () => {
    const url = await database()
    const r = repo()
    // The first run sleeps (an orphan to find); a rerun ends at once.
    const first = `${r.shared}/first-run`
    const script = r.agent("orphan-agent.sh", `if [ ! -e ${JSON.stringify(first)} ]; then touch ${JSON.stringify(first)}; sleep 60; fi
echo '{"claim":"NO_OP","summary":"nothing to do"}' > "$SWITCHYARD_RESULT_FILE"`)
    // Unconfined: a bubblewrapped agent dies with its runner (--die-with-parent); only an unconfined one is orphaned.
    r.writeWorkflow(`${sandboxBlock({ confinement: "none", readable: [r.agents], writable: [r.shared] })}agent:
  command: ${JSON.stringify(script)}
  max_attempts: 3
polling:
  interval_ms: 500
orchestrator:
  heartbeat_ms: 200
  lease_ttl_ms: 30000
`)
    await createIssues(r, url, 1)
    const a = runner(r, url, "host-a")
    await until(() => pidsMatching("orphan-agent.sh").length > 0, 60_000, "the agent to start")
    const orphans = pidsMatching("orphan-agent.sh")
    a.child.kill("SIGKILL")
    await exited(a.child)
    // Another host sees a live lease (30 s TTL): it must leave the agent alone.
    const b = runner(r, url, "host-b")
    await sleep(3_000)
    expect(orphans.filter((pid) => pidsMatching("orphan-agent.sh").includes(pid))).toEqual(orphans)
    expect((await query<{ host: string }>(url, "SELECT host FROM leases")).map((l) => l.host)).toEqual(["host-a"])
    // The same host's next runner finds its predecessor's pid dead: it takes the lease over and kills the agent group.
    const again = runner(r, url, "host-a")
    await until(() => pidsMatching("orphan-agent.sh").length === 0, 20_000, "the orphaned agent to be killed")
    await drained(url, [a, b, again], 60_000)
    const rows = await query<{ runner_id: string; cause: string | null; terminal_state: string | null }>(
      url,
      "SELECT runner_id, cause, terminal_state FROM attempts ORDER BY attempt"
    )
    expect(rows[0]).toMatchObject({ cause: "runner_died", terminal_state: "RETRYABLE_FAILURE" })
    expect(hostOf(rows[0]!.runner_id)).toBe("host-a")
    expect(rows.at(-1)?.terminal_state).toBe("NO_OP")
    for (const x of [b, again]) x.child.kill("SIGTERM")
    for (const x of [b, again]) await exited(x.child)
  }, 240_000)

  it("an agent left behind when another host broke its lease by expiry is killed by its own host's next runner", async () => {
    const url = await database()
    const r = repo()
    const first = `${r.shared}/first-run`
    const script = r.agent("stray-agent.sh", `if [ ! -e ${JSON.stringify(first)} ]; then touch ${JSON.stringify(first)}; sleep 120; fi
echo '{"claim":"NO_OP","summary":"nothing to do"}' > "$SWITCHYARD_RESULT_FILE"`)
    // Unconfined (only an unconfined agent outlives its runner); a short lease so host b breaks it by expiry.
    r.writeWorkflow(`${sandboxBlock({ confinement: "none", readable: [r.agents], writable: [r.shared] })}agent:
  command: ${JSON.stringify(script)}
  max_attempts: 3
polling:
  interval_ms: 300
orchestrator:
  heartbeat_ms: 200
  lease_ttl_ms: 2000
`)
    await createIssues(r, url, 1)
    const a = runner(r, url, "host-a")
    await until(() => pidsMatching("stray-agent.sh").length > 0, 60_000, "the agent to start")
    const strays = pidsMatching("stray-agent.sh")
    a.child.kill("SIGKILL")
    await exited(a.child)
    // Host b breaks the lease once it expires, records the agent group for host a, and finishes the issue itself;
    // the agent is host a's process: b never signals it.
    const b = runner(r, url, "host-b")
    await drained(url, [a, b], 60_000)
    const recorded = await query<{ host: string; issue_id: string }>(url, "SELECT host, issue_id FROM orphans")
    expect(recorded).toEqual([{ host: "host-a", issue_id: "SY-1" }])
    expect(strays.filter((pid) => pidsMatching("stray-agent.sh").includes(pid))).toEqual(strays)
    // Host a's next runner kills it on its first pass and forgets the record.
    const again = runner(r, url, "host-a")
    await until(() => pidsMatching("stray-agent.sh").length === 0, 20_000, "the stray agent to be killed")
    for (let waited = 0; (await query(url, "SELECT id FROM orphans")).length > 0; waited += 100) {
      if (waited > 10_000) throw new Error(`the orphan record was not forgotten\n${again.output()}`)
      await sleep(100)
    }
    const events = await query<{ type: string; issue_id: string }>(url, "SELECT type, issue_id FROM events WHERE type = 'reconcile.orphan_killed'")
    expect(events).toEqual([{ type: "reconcile.orphan_killed", issue_id: "SY-1" }])
    const rows = await query<{ cause: string | null; terminal_state: string | null }>(url, "SELECT cause, terminal_state FROM attempts ORDER BY attempt")
    expect(rows[0]).toMatchObject({ cause: "lease_expired", terminal_state: "RETRYABLE_FAILURE" })
    expect(rows.at(-1)?.terminal_state).toBe("NO_OP")
    for (const x of [b, again]) x.child.kill("SIGTERM")
    for (const x of [b, again]) await exited(x.child)
  }, 240_000)

  it("the server killed and restarted mid-run: runners keep going, nothing runs twice, nothing is lost", async () => {
    const url = await database()
    const r = repo()
    workflow(r, 0.5, 15_000)
    await createIssues(r, url, 20)
    const runners = ["host-a", "host-b", "host-c"].map((host) => runner(r, url, host))
    await until(() => [...starts(r).values()].length >= 5, 90_000, "five agents to start")
    server!.kill()
    await sleep(1_500)
    server!.start()
    await drained(url, runners, 150_000)

    for (const x of runners) expect(x.child.exitCode, x.output()).toBeNull()
    // The fault happened: the runners lost the server and reconnected (logged once per wait, at warning level).
    expect(runners.some((x) => x.output().includes("lost the connection to the database; reconnecting"))).toBe(true)
    const ran = starts(r)
    expect(ran.size).toBe(20)
    expect([...ran].filter(([, n]) => n !== 1)).toEqual([])
    const verdicts = await query<{ n: number }>(
      url,
      "SELECT COUNT(*)::int AS n FROM attempts WHERE terminal_state IS NOT NULL GROUP BY issue_id"
    )
    expect(verdicts.map((v) => v.n)).toEqual(Array.from({ length: 20 }, () => 1))
    expect(Number((await query<{ n: number }>(url, "SELECT COUNT(*)::int AS n FROM evidence"))[0]!.n)).toBe(20)
    for (const x of runners) x.child.kill("SIGTERM")
    for (const x of runners) await exited(x.child)
  }, 240_000)
})


describe.skipIf(skip !== null)("two hosts, each with its own clone of one remote", () => {
  it("PR_READY branches are pushed to the shared remote, and either host reads and trusts the other's evidence", async () => {
    const url = await database()
    const a = repo()
    // The shared remote, and host B's own clone of it (its own sandboxes and state directory).
    const remote = join(a.tmp, "remote.git")
    git(a.tmp, "clone", "-q", "--bare", a.dir, remote)
    git(a.dir, "remote", "add", "origin", remote)
    const bDir = join(a.tmp, "host-b")
    git(a.tmp, "clone", "-q", remote, bDir)
    git(bDir, "config", "user.name", "Test Human")
    git(bDir, "config", "user.email", "human@example.com")
    // One evidence key for both hosts (docs/scale.md): made here, copied into each state directory.
    const { privateKey } = Crypto.generateKeyPairSync("ed25519")
    for (const dir of [a.dir, bDir]) {
      mkdirSync(join(dir, ".switchyard/keys"), { recursive: true, mode: 0o700 })
      writeFileSync(join(dir, ".switchyard/.gitignore"), "*\n")
      writeFileSync(join(dir, ".switchyard/keys/evidence.ed25519"), privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 })
    }
    const frontMatter = (worktrees: string) =>
      `workspace:\n  root: ${JSON.stringify(worktrees)}\n${
        sandboxBlock({ readable: [a.agents, repoRootOfThisProject], writable: [a.shared] })
      }agent:\n  command: ${JSON.stringify(a.agent("fixer.sh", fixerScript))}\n  max_concurrent_agents: 1\n` +
      `polling:\n  interval_ms: 500\norchestrator:\n  heartbeat_ms: 200\n  lease_ttl_ms: 10000\nintegration:\n  push: true\n  remote: origin\n`
    writeFileSync(join(a.dir, "WORKFLOW.md"), `---\n${frontMatter(join(a.tmp, "worktrees-a"))}---\nFix {{ issue.id }}: {{ issue.title }}\n`)
    writeFileSync(join(bDir, "WORKFLOW.md"), `---\n${frontMatter(join(a.tmp, "worktrees-b"))}---\nFix {{ issue.id }}: {{ issue.title }}\n`)
    for (let i = 1; i <= 4; i++) {
      const made = await syAsync(a.dir, ["issue", "create", "--title", `average of nothing ${i}`, "--repro", averageRepro], { SWITCHYARD_DATABASE_URL: url })
      expect(made.code, made.stderr).toBe(0)
    }
    const hostA = runner(a, url, "host-a")
    const hostB = { ...runner({ ...a, dir: bDir }, url, "host-b") }
    const start = Date.now()
    while (Number((await query<{ n: number }>(url, "SELECT COUNT(*)::int AS n FROM issues WHERE status <> 'in_review'"))[0]!.n) > 0) {
      if (Date.now() - start > 180_000) throw new Error(`not all in review:\n${hostA.output()}\n${hostB.output()}`)
      await sleep(300)
    }
    const byHost = await query<{ issue_id: string; runner_id: string }>(
      url,
      "SELECT issue_id, runner_id FROM attempts WHERE terminal_state = 'PR_READY' ORDER BY issue_id"
    )
    expect(byHost).toHaveLength(4)
    // Every PR_READY branch is on the remote, whichever host made it.
    const onRemote = git(remote, "branch", "--list", "switchyard/*", "--format=%(refname:short)").split("\n").filter(Boolean)
    expect(onRemote.sort()).toEqual(byHost.map((row) => `switchyard/${row.issue_id}`).sort())
    // Each host's sandboxes stayed under its own workspace root.
    const fromB = byHost.filter((row) => hostOf(row.runner_id) === "host-b").map((row) => row.issue_id)
    const fromA = byHost.filter((row) => hostOf(row.runner_id) === "host-a").map((row) => row.issue_id)
    const sandboxes = await query<{ issue_id: string; sandbox_path: string | null }>(url, "SELECT issue_id, sandbox_path FROM attempts")
    for (const row of sandboxes) {
      if (row.sandbox_path === null) continue
      expect(row.sandbox_path.startsWith(join(a.tmp, fromB.includes(row.issue_id) ? "worktrees-b" : "worktrees-a"))).toBe(true)
    }
    // Host B shows, and trusts, a bundle host A stored (and the other way round), from the database.
    for (const [dir, issue] of [[bDir, fromA[0]], [a.dir, fromB[0]]] as const) {
      if (issue === undefined) continue
      const shown = await syAsync(dir, ["evidence", issue, "--json"], { SWITCHYARD_DATABASE_URL: url })
      expect(shown.code, shown.stderr).toBe(0)
      expect(JSON.parse(shown.stdout)).toMatchObject({ issueId: issue, outcome: "PR_READY" })
    }
    expect(fromA.length + fromB.length).toBe(4)
    // Both hosts check every bundle's signature as their own key's (the key is shared).
    for (const dir of [a.dir, bDir]) {
      const shown = await syAsync(dir, ["status", "--json"], { SWITCHYARD_DATABASE_URL: url })
      expect(shown.code, shown.stderr).toBe(0)
      const recent = JSON.parse(shown.stdout).human.recent as Array<{ issue: string; signature: string | null }>
      expect(recent.map((r) => [r.issue, r.signature]).sort()).toEqual(byHost.map((row) => [row.issue_id, "signed"]).sort())
    }
    for (const x of [hostA, hostB]) x.child.kill("SIGTERM")
    for (const x of [hostA, hostB]) await exited(x.child)
    // After a fetch, each host's status --check finds every PR_READY branch, the other host's as a remote-tracking
    // branch (docs/scale.md): no false pr_ready_branch_missing.
    for (const dir of [a.dir, bDir]) {
      git(dir, "fetch", "-q", "origin")
      const check = await syAsync(dir, ["status", "--check"], { SWITCHYARD_DATABASE_URL: url })
      expect(check.stdout).not.toContain("pr_ready_branch_missing")
      expect(check.code, check.stdout).toBe(0)
    }
  }, 300_000)
})
