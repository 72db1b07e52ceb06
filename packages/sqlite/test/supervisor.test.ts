/**
 * The supervisor's lease rules on a real SQLite file, timed with TestClock: a lease held by a runner on another
 * host is left alone until its heartbeat expires, then broken — its worktree removed, the attempt closed as
 * RETRYABLE_FAILURE with an evidence bundle, and the issue requeued.
 */
import { NodeContext } from "@effect/platform-node"
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import {
  emptyTickMemory,
  EvidenceStore,
  MemoryTracker,
  tick,
  Orchestrator,
  ProcessControl,
  Sandbox,
  settle,
  Supervisor,
  Tracker,
  WorkerPool,
  type WorkerInfo,
  Workflow
} from "@switchyard/core"
import { AgentConfig, IssueId, IssueInput, RetryEntry, WorkflowConfig, WorkflowDefinition } from "@switchyard/domain"
import { Context, Duration, Effect, Layer, Option, Ref, Stream, TestClock } from "effect"
import * as NodeOs from "node:os"
import { open, sampleBundle, type Scratch, scratch } from "./helpers.js"

/**
 * A Sandbox that records what the supervisor removes (`removed`, and `deletedBranches` when given) and lists
 * `worktrees` until they are removed; the line's own operations are not used by these tests.
 */
const stubSandbox = (o: {
  readonly removed: Ref.Ref<ReadonlyArray<string>>
  readonly deletedBranches?: Ref.Ref<ReadonlyArray<string>>
  readonly worktrees: ReadonlyArray<string>
}) =>
  Sandbox.of({
    repoRoot: "/repo",
    workspaceRoot: "/ws",
    resolveBase: Effect.succeed("b".repeat(40)),
    create: () => Effect.die("not used"),
    runHook: () => Effect.succeed(Option.none()),
    snapshot: () => Effect.die("not used"),
    amend: () => Effect.die("not used"),
    formatPatch: () => Effect.succeed([]),
    checkout: () => Effect.die("not used"),
    remove: (path, options) =>
      Ref.update(o.removed, (xs) => [...xs, path]).pipe(
        Effect.zipRight(
          options?.deleteBranch === undefined || o.deletedBranches === undefined
            ? Effect.void
            : Ref.update(o.deletedBranches, (xs) => [...xs, options.deleteBranch!])
        )
      ),
    deleteBranch: (branch) => o.deletedBranches === undefined ? Effect.void : Ref.update(o.deletedBranches, (xs) => [...xs, branch]),
    list: Ref.get(o.removed).pipe(Effect.map((gone) =>
      o.worktrees.filter((path) => !gone.includes(path)).map((path) => ({ path, branch: null, head: "c".repeat(40) }))
    )),
    branchHead: () => Effect.succeed(Option.none()),
    branches: Effect.succeed(new Map<string, string>()),
    knownBranches: Effect.succeed(new Map<string, string>()),
    integrity: Effect.die("not used"),
    restore: () => Effect.die("not used")
  })

const setupWith = (options: { readonly worktrees?: ReadonlyArray<string> } = {}) => Effect.gen(function*() {
  const paths = yield* scratch
  const stores = yield* open(paths)
  const removed = yield* Ref.make<ReadonlyArray<string>>([])
  const deletedBranches = yield* Ref.make<ReadonlyArray<string>>([])
  const killed = yield* Ref.make<ReadonlyArray<number>>([])
  /** What `ProcessControl.groupOf` says of each pgid (absent: `gone`). */
  const groups = yield* Ref.make(new Map<number, "carries" | "foreign" | "gone" | "unknown">())
  const tracker = yield* MemoryTracker.make()
  const sandbox = stubSandbox({ removed, deletedBranches, worktrees: options.worktrees ?? [] })

  const services = Context.empty().pipe(
    Context.add(Tracker, tracker),
    Context.add(Orchestrator, Context.get(stores, Orchestrator)),
    Context.add(EvidenceStore, Context.get(stores, EvidenceStore)),
    Context.add(Sandbox, sandbox),
    Context.add(ProcessControl, ProcessControl.of({
      hostname: "this-host",
      isAlive: () => Effect.succeed(true),
      killGroup: (pgid) => Ref.update(killed, (xs) => [...xs, pgid]),
      groupOf: (pgid) => Ref.get(groups).pipe(Effect.map((g) => g.get(pgid) ?? "gone"))
    })),
    Context.add(WorkerPool, WorkerPool.of({
      dispatch: () => Effect.void,
      workers: Effect.succeed([]),
      interrupt: () => Effect.succeed(false),
      interruptAll: () => Effect.void,
      finished: Stream.empty
    }))
  )
  const def = new WorkflowDefinition({ path: "/repo/WORKFLOW.md", config: new WorkflowConfig({}), prompt_template: "" })
  const supervisor = yield* Supervisor.make.pipe(
    Effect.provide(Layer.merge(Layer.succeedContext(services), Workflow.layerStatic(def, "/repo", paths.stateDir)))
  )
  const workflow = Workflow.layerStatic(def, "/repo", paths.stateDir)
  return { paths, supervisor, tracker, sql: Context.get(stores, SqlClient.SqlClient), orchestrator: Context.get(stores, Orchestrator), evidence: Context.get(stores, EvidenceStore), removed, deletedBranches, killed, groups, workflow }
}).pipe(Effect.provide(NodeContext.layer))
const setup = setupWith()

describe("Supervisor lease expiry and worktree retention (TestClock)", () => {
  it.scoped("kills the agent groups other hosts left on this host, only while they are still that attempt's", () =>
    Effect.gen(function*() {
      const { supervisor, sql, orchestrator, killed, groups } = yield* setup
      // Three records another host's take-overs left for this host, and one for a third host.
      const host = NodeOs.hostname() // the SQLite orchestrator's host
      yield* sql`INSERT INTO orphans (host, pgid, issue_id, attempt, sandbox_path, recorded_by, recorded_at) VALUES
        (${host}, 501, 'SY-1', 1, '/ws/SY-1', 'b:1:0', 0),
        (${host}, 502, 'SY-2', 3, '/ws/SY-2', 'b:1:0', 0),
        (${host}, 503, 'SY-3', 1, '/ws/SY-3', 'b:1:0', 0),
        ('third-host', 504, 'SY-4', 1, '/ws/SY-4', 'b:1:0', 0)`
      yield* Ref.set(groups, new Map([[501, "carries" as const], [502, "foreign" as const], [503, "unknown" as const], [504, "carries" as const]]))
      expect((yield* orchestrator.orphans).map((o) => o.pgid)).toEqual([501, 502, 503])

      const report = yield* supervisor.reconcile
      // 501 is still SY-1's agent: killed. 502's pgid was reused: left alone. 503 cannot be told: kept for later.
      expect(report.killedOrphans).toEqual(["SY-1"])
      expect(yield* Ref.get(killed)).toEqual([501])
      expect((yield* orchestrator.orphans).map((o) => o.pgid)).toEqual([503])
      const events = yield* orchestrator.events({ issueId: IssueId.make("SY-1") })
      expect(events.map((e) => [e.type, e.data["pgid"]])).toEqual([["reconcile.orphan_killed", 501]])
      // The third host's record is its own runners' business.
      expect((yield* sql<{ pgid: number }>`SELECT pgid FROM orphans WHERE host = 'third-host'`).map((r) => r.pgid)).toEqual([504])

      const again = yield* supervisor.reconcile
      expect(again.killedOrphans).toEqual([])
      expect(yield* Ref.get(killed)).toEqual([501])
    }))

  it.scoped("breaks a lease only after it expires, then requeues the issue with a bundle for the lost attempt", () =>
    Effect.gen(function*() {
      const { supervisor, tracker, sql, orchestrator, evidence, removed, killed } = yield* setup
      const issue = yield* tracker.create(new IssueInput({ title: "held by a runner on another host" }))
      yield* tracker.transition(issue.id, ["todo"], "in_progress")
      // A runner on another host claimed it at t=0 with a 30 s lease, its agent in process group 4242.
      yield* sql`INSERT INTO leases (issue_id, runner_id, host, pid, attempt, stage, acquired_at, heartbeat_at, expires_at, agent_pid, agent_pgid, sandbox_path)
                 VALUES (${issue.id}, 'far:1:0', 'far-host', 1, 1, 'agent', 0, 0, 30000, 4242, 4242, '/ws/SY-1')`
      yield* sql`INSERT INTO attempts (issue_id, attempt, runner_id, started_at, counted) VALUES (${issue.id}, 1, 'far:1:0', 0, 1)`

      yield* TestClock.adjust(Duration.millis(29_999))
      const early = yield* supervisor.reconcile
      expect(early.brokenLeases).toEqual([])
      expect((yield* orchestrator.leases).map((l) => l.issue_id)).toEqual([issue.id])
      expect((yield* tracker.get(issue.id)).status).toBe("in_progress")

      yield* TestClock.adjust(Duration.millis(2))
      const late = yield* supervisor.reconcile
      expect(late.brokenLeases).toEqual([issue.id])
      expect(yield* orchestrator.leases).toEqual([])
      expect((yield* tracker.get(issue.id)).status).toBe("todo")
      expect(yield* Ref.get(removed)).toEqual(["/ws/SY-1"])
      // Another host's process group is not ours to kill: it is recorded, in the take-over's transaction, for its host.
      expect(yield* Ref.get(killed)).toEqual([])
      const recorded = yield* sql<{ host: string; pgid: number; issue_id: string; attempt: number; sandbox_path: string }>`
        SELECT host, pgid, issue_id, attempt, sandbox_path FROM orphans`
      expect(recorded).toEqual([{ host: "far-host", pgid: 4242, issue_id: issue.id, attempt: 1, sandbox_path: "/ws/SY-1" }])
      expect(yield* orchestrator.orphans).toEqual([]) // this runner's host has none
      const [attempt] = yield* orchestrator.attempts(issue.id)
      expect(attempt).toMatchObject({ terminal_state: "RETRYABLE_FAILURE", cause: "lease_expired", counted: false, runner_deaths: 1 })
      const bundle = yield* evidence.get(issue.id, 1)
      expect(Option.map(bundle, (b) => [b.outcome, b.verdict.cause])).toEqual(Option.some(["RETRYABLE_FAILURE", "lease_expired"]))
      const events = yield* orchestrator.events({ issueId: issue.id })
      expect(events.map((e) => e.type)).toContain("lease.expired")
    }))

  it.scoped("a runner that died after ending its attempt keeps its verdict and its branch: only the lease goes (C1)", () =>
    Effect.gen(function*() {
      const { supervisor, tracker, sql, orchestrator, evidence, removed, deletedBranches } = yield* setup
      const issue = yield* tracker.create(new IssueInput({ title: "finished, then its runner died" }))
      yield* tracker.transition(issue.id, ["todo"], "in_progress")
      yield* sql`INSERT INTO leases (issue_id, runner_id, host, pid, attempt, stage, acquired_at, heartbeat_at, expires_at, sandbox_path)
                 VALUES (${issue.id}, 'far:1:0', 'far-host', 1, 1, 'package', 0, 0, 30000, '/ws/SY-1')`
      yield* sql`INSERT INTO attempts (issue_id, attempt, runner_id, started_at, counted) VALUES (${issue.id}, 1, 'far:1:0', 0, 1)`
      // The owner stored its PR_READY bundle, moved the tracker and closed the attempt, then died.
      yield* evidence.put(sampleBundle({ issueId: issue.id, attempt: 1, outcome: "PR_READY" }))
      yield* tracker.transition(issue.id, ["in_progress"], "in_review")
      yield* orchestrator.finishAttempt(issue.id, 1, { terminal_state: "PR_READY", cause: "verified", commit: "c".repeat(40), counted: true })

      yield* TestClock.adjust(Duration.millis(30_001))
      const report = yield* supervisor.reconcile
      expect(report.brokenLeases).toEqual([issue.id])
      expect(yield* orchestrator.leases).toEqual([])
      const [attempt] = yield* orchestrator.attempts(issue.id)
      expect(attempt).toMatchObject({ terminal_state: "PR_READY", cause: "verified" })
      expect(Option.map(yield* evidence.get(issue.id, 1), (b) => b.outcome)).toEqual(Option.some("PR_READY"))
      expect((yield* tracker.get(issue.id)).status).toBe("in_review")
      expect(yield* Ref.get(removed)).toEqual(["/ws/SY-1"])
      expect(yield* Ref.get(deletedBranches)).toEqual([]) // the verified branch stays
      const types = (yield* orchestrator.events({ issueId: issue.id })).map((e) => e.type)
      expect(types).toContain("reconcile.lease_released")
      expect(types).not.toContain("lease.expired")
    }))

  it.scoped("a runner that died between storing its bundle and closing the attempt: the ending is completed from the bundle", () =>
    Effect.gen(function*() {
      const { supervisor, tracker, sql, orchestrator, evidence, deletedBranches } = yield* setup
      const issue = yield* tracker.create(new IssueInput({ title: "bundle stored, then its runner died" }))
      yield* tracker.transition(issue.id, ["todo"], "in_progress")
      yield* sql`INSERT INTO leases (issue_id, runner_id, host, pid, attempt, stage, acquired_at, heartbeat_at, expires_at, sandbox_path)
                 VALUES (${issue.id}, 'far:1:0', 'far-host', 1, 1, 'package', 0, 0, 30000, '/ws/SY-1')`
      yield* sql`INSERT INTO attempts (issue_id, attempt, runner_id, started_at, counted) VALUES (${issue.id}, 1, 'far:1:0', 0, 1)`
      yield* evidence.put(sampleBundle({ issueId: issue.id, attempt: 1, outcome: "PR_READY" }))

      yield* TestClock.adjust(Duration.millis(30_001))
      yield* supervisor.reconcile
      const [attempt] = yield* orchestrator.attempts(issue.id)
      expect(attempt).toMatchObject({ terminal_state: "PR_READY", counted: true })
      expect(Option.map(yield* evidence.get(issue.id, 1), (b) => [b.outcome, b.verdict.cause])).toEqual(
        Option.some(["PR_READY", sampleBundle({}).verdict.cause])
      )
      expect((yield* tracker.get(issue.id)).status).toBe("in_review")
      expect(yield* Ref.get(deletedBranches)).toEqual([])
      const terminal = (yield* orchestrator.events({ issueId: issue.id })).filter((e) => e.type.startsWith("terminal."))
      expect(terminal.map((e) => e.type)).toEqual(["terminal.PR_READY"])
      // Nothing left for the next pass to repair, and the bundle, the row and the event agree (the stub sandbox
      // has no branches, so only the branch check complains).
      const again = yield* supervisor.reconcile
      expect(again.requeued).toEqual([])
      expect(again.violations.map((v) => v.kind)).toEqual(["pr_ready_branch_missing"])
    }))

  it.scoped("an issue in progress with no lease: its open attempt ends with a bundle, once, and no violation is left (C2)", () =>
    Effect.gen(function*() {
      const { supervisor, tracker, sql, orchestrator, evidence } = yield* setup
      const issue = yield* tracker.create(new IssueInput({ title: "its runner died between claim and lease" }))
      yield* tracker.transition(issue.id, ["todo"], "in_progress")
      yield* sql`INSERT INTO attempts (issue_id, attempt, runner_id, started_at, counted) VALUES (${issue.id}, 1, 'gone:1:0', 0, 1)`

      const first = yield* supervisor.reconcile
      expect(first.requeued).toEqual([issue.id])
      expect((yield* tracker.get(issue.id)).status).toBe("todo")
      const [attempt] = yield* orchestrator.attempts(issue.id)
      expect(attempt).toMatchObject({ terminal_state: "RETRYABLE_FAILURE", cause: "no_live_lease", counted: false, runner_deaths: 1 })
      expect(Option.map(yield* evidence.get(issue.id, 1), (b) => [b.outcome, b.verdict.cause])).toEqual(
        Option.some(["RETRYABLE_FAILURE", "no_live_lease"])
      )
      const second = yield* supervisor.reconcile
      expect(second.requeued).toEqual([])
      expect(second.violations).toEqual([])
      expect((yield* orchestrator.events({ issueId: issue.id })).filter((e) => e.type.startsWith("terminal.")).map((e) => e.type))
        .toEqual(["terminal.RETRYABLE_FAILURE"])
    }))

  it.scoped("removes an unowned worktree at once (retention 0), but keeps a verify checkout for an hour", () =>
    Effect.gen(function*() {
      const { supervisor, removed } = yield* setupWith({ worktrees: ["/ws/SY-5", "/ws/.verify/SY-6-head-1"] })
      yield* supervisor.reconcile
      expect(yield* Ref.get(removed)).toEqual(["/ws/SY-5"])
      yield* TestClock.adjust(Duration.millis(Supervisor.VERIFY_CHECKOUT_RETENTION_MS - 1))
      yield* supervisor.reconcile
      expect(yield* Ref.get(removed)).toEqual(["/ws/SY-5"])
      yield* TestClock.adjust(Duration.millis(1))
      yield* supervisor.reconcile
      expect(yield* Ref.get(removed)).toEqual(["/ws/SY-5", "/ws/.verify/SY-6-head-1"])
    }))

})

describe("Supervisor: retries the tracker will never run", () => {
  it.scoped("drops the pending retry of an issue a human took out of todo, with an event, and keeps the rest", () =>
    Effect.gen(function*() {
      const { supervisor, tracker, orchestrator } = yield* setup
      const waiting = yield* tracker.create(new IssueInput({ title: "still waiting for its retry", status: "todo" }))
      const cancelled = yield* tracker.create(new IssueInput({ title: "cancelled meanwhile", status: "todo" }))
      const shelved = yield* tracker.create(new IssueInput({ title: "moved back to backlog", status: "todo" }))
      const running = yield* tracker.create(new IssueInput({ title: "being claimed right now", status: "todo" }))
      for (const issue of [waiting, cancelled, shelved, running]) {
        yield* orchestrator.scheduleRetry(
          RetryEntry.make({ issue_id: issue.id, attempt: 2, due_at: 60_000, error: "agent_exit_nonzero" })
        )
      }
      yield* tracker.update(cancelled.id, { status: "cancelled" })
      yield* tracker.update(shelved.id, { status: "backlog" })
      // A claim moves the issue before it clears the retry: in between, the retry must stay.
      yield* tracker.transition(running.id, ["todo"], "in_progress")

      const report = yield* supervisor.reconcile
      expect([...report.droppedRetries].sort()).toEqual([cancelled.id, shelved.id])
      expect((yield* orchestrator.retries).map((r) => r.issue_id).sort()).toEqual([waiting.id, running.id])
      const dropped = (yield* orchestrator.events({})).filter((e) => e.type === "reconcile.retry_dropped")
      expect(dropped.map((e) => [e.issue_id, e.message])).toEqual([
        [cancelled.id, `${cancelled.id} is cancelled; its pending retry (attempt 2) is dropped`],
        [shelved.id, `${shelved.id} is backlog; its pending retry (attempt 2) is dropped`]
      ])
      expect((yield* supervisor.reconcile).droppedRetries).toEqual([]) // repaired once
    }))
})

/** What `tick` needs, from the given services and the static workflow of `setup`. */
const tickServices = (services: {
  readonly tracker: Context.Tag.Service<typeof Tracker>
  readonly orchestrator: Context.Tag.Service<typeof Orchestrator>
  readonly pool: Context.Tag.Service<typeof WorkerPool>
  readonly supervisor: Context.Tag.Service<typeof Supervisor.Supervisor>
  readonly workflow: ReturnType<typeof Workflow.layerStatic>
}) =>
  Layer.merge(
    Layer.succeedContext(Context.empty().pipe(
      Context.add(Tracker, services.tracker),
      Context.add(Orchestrator, services.orchestrator),
      Context.add(WorkerPool, services.pool),
      Context.add(Supervisor.Supervisor, services.supervisor)
    )),
    services.workflow
  )

describe("per-label slots", () => {
  it.scoped("are counted from a running issue's current labels, not the labels it had at dispatch", () =>
    Effect.gen(function*() {
      const { paths, supervisor, tracker, orchestrator } = yield* setup
      const runningIssue = yield* tracker.create(new IssueInput({ title: "running", status: "todo" }))
      yield* tracker.transition(runningIssue.id, ["todo"], "in_progress")
      yield* tracker.create(new IssueInput({ title: "waits", status: "todo", labels: ["Frontend"] }))
      // Dispatched with no label; a human then labels it `frontend`, whose limit is 1.
      yield* tracker.update(runningIssue.id, { labels: ["frontend"] })
      const running: WorkerInfo = {
        issueId: runningIssue.id,
        attempt: 1,
        labels: [],
        stage: "agent",
        startedAt: 0,
        lastOutputAt: null,
        pid: null
      }
      const dispatched = yield* Ref.make<ReadonlyArray<string>>([])
      const pool = WorkerPool.of({
        dispatch: (issue) => Ref.update(dispatched, (xs) => [...xs, issue.id]),
        workers: Effect.succeed([running]),
        interrupt: () => Effect.succeed(false),
        interruptAll: () => Effect.void,
        finished: Stream.empty
      })
      const def = new WorkflowDefinition({
        path: "/repo/WORKFLOW.md",
        config: new WorkflowConfig({ agent: AgentConfig.make({ max_concurrent_agents_by_label: { frontend: 1 } }) }),
        prompt_template: ""
      })
      const workflow = Workflow.layerStatic(def, "/repo", paths.stateDir)
      const result = yield* tick({ once: true, concurrency: 4 }).pipe(
        Effect.provide(tickServices({ tracker, orchestrator, pool, supervisor, workflow }))
      )
      expect(result.started).toEqual([])
      expect(yield* Ref.get(dispatched)).toEqual([])
      // Relabelled away from `frontend`, the slot is free again.
      yield* tracker.update(runningIssue.id, { labels: ["backend"] })
      const next = yield* tick({ once: true, concurrency: 4 }).pipe(
        Effect.provide(tickServices({ tracker, orchestrator, pool, supervisor, workflow }))
      )
      expect(next.started).toEqual(["SY-2"])
    }))
})

describe("tick against another runner (real SQLite orchestrator)", () => {
  it.scoped("a claim lost to another runner between the read and the claim is contested, and the next tick goes on", () =>
    Effect.gen(function*() {
      const { supervisor, tracker, orchestrator, sql, workflow } = yield* setup
      yield* tracker.create(new IssueInput({ title: "first", status: "todo", priority: "high" }))
      yield* tracker.create(new IssueInput({ title: "second", status: "todo" }))
      const dispatched = yield* Ref.make<ReadonlyArray<string>>([])
      const pool = WorkerPool.of({
        dispatch: (issue) => Ref.update(dispatched, (xs) => [...xs, issue.id]),
        workers: Effect.succeed([]),
        interrupt: () => Effect.succeed(false),
        interruptAll: () => Effect.void,
        finished: Stream.empty
      })
      // Another runner takes the issue this runner is about to claim, after this runner's read of the ready set.
      const racing = Orchestrator.of({
        ...orchestrator,
        claim: (issueId, attempt, ttlMs) =>
          sql`INSERT INTO leases (issue_id, runner_id, host, pid, attempt, stage, acquired_at, heartbeat_at, expires_at)
              VALUES (${issueId}, 'other-host:1:0', 'other-host', 1, 1, 'claimed', 0, 0, ${Number.MAX_SAFE_INTEGER})`.pipe(
            Effect.orDie,
            Effect.zipRight(orchestrator.claim(issueId, attempt, ttlMs))
          )
      })
      const run = (o: typeof orchestrator) =>
        tick({ once: true, concurrency: 1 }).pipe(Effect.provide(tickServices({ tracker, orchestrator: o, pool, supervisor, workflow })))
      const lost = yield* run(racing)
      expect(lost.started).toEqual([])
      expect(lost.contested).toBe(1)
      expect(lost.running).toBe(0)
      // Without `contested`, a --once runner would stop here with "second" still eligible. The next tick sees the
      // other runner's lease on "first" and starts "second".
      const next = yield* run(orchestrator)
      expect(next.started).toEqual(["SY-2"])
      expect(next.contested).toBe(0)
      expect(yield* Ref.get(dispatched)).toEqual(["SY-2"])
    }))

  it.scoped("with every slot busy, the ready set is read at most once per poll interval; a free slot reads it at once", () =>
    Effect.gen(function*() {
      const { supervisor, tracker, orchestrator, workflow } = yield* setup
      yield* tracker.create(new IssueInput({ title: "waits for a slot", status: "todo" }))
      const reads = yield* Ref.make(0)
      const counting = Tracker.of({ ...tracker, ready: Effect.zipRight(Ref.update(reads, (n) => n + 1), tracker.ready) })
      const running: WorkerInfo = {
        issueId: IssueId.make("SY-99"),
        attempt: 1,
        labels: [],
        stage: "agent",
        startedAt: 0,
        lastOutputAt: null,
        pid: null
      }
      const workers = yield* Ref.make<ReadonlyArray<WorkerInfo>>([running])
      const dispatched = yield* Ref.make<ReadonlyArray<string>>([])
      const pool = WorkerPool.of({
        dispatch: (issue) => Ref.update(dispatched, (xs) => [...xs, issue.id]),
        workers: Ref.get(workers),
        interrupt: () => Effect.succeed(false),
        interruptAll: () => Effect.void,
        finished: Stream.empty
      })
      const memory = emptyTickMemory()
      const run = tick({ once: false, concurrency: 1 }, memory).pipe(
        Effect.provide(tickServices({ tracker: counting, orchestrator, pool, supervisor, workflow }))
      )
      yield* run // the first tick always reads (and records issue.eligible)
      expect(yield* Ref.get(reads)).toBe(1)
      yield* run
      yield* TestClock.adjust(Duration.millis(29_999))
      yield* run
      expect(yield* Ref.get(reads)).toBe(1) // the only slot is busy and the last read is younger than 30 s
      yield* TestClock.adjust(Duration.millis(1))
      expect((yield* run).started).toEqual([])
      expect(yield* Ref.get(reads)).toBe(2) // one poll interval later it reads again, still nothing can start
      yield* Ref.set(workers, [])
      expect((yield* run).started).toEqual(["SY-1"]) // a free slot: read and dispatch at once, whatever the age
      expect(yield* Ref.get(reads)).toBe(3)
      expect(yield* Ref.get(dispatched)).toEqual(["SY-1"])
    }))
})

describe("two supervisors at once (fencing)", () => {
  /** One "process": its own SQLite client on the shared file, its own runner id, its own supervisor. */
  const processOn = (paths: Scratch, removed: Ref.Ref<ReadonlyArray<string>>) =>
    Effect.gen(function*() {
      const stores = yield* open(paths)
      const sandbox = stubSandbox({ removed, worktrees: [] })

      const def = new WorkflowDefinition({ path: "/repo/WORKFLOW.md", config: new WorkflowConfig({}), prompt_template: "" })
      const services = Context.empty().pipe(
        Context.add(Tracker, Context.get(stores, Tracker)),
        Context.add(Orchestrator, Context.get(stores, Orchestrator)),
        Context.add(EvidenceStore, Context.get(stores, EvidenceStore)),
        Context.add(Sandbox, sandbox),
        Context.add(ProcessControl, ProcessControl.of({ hostname: "this-host", isAlive: () => Effect.succeed(true), killGroup: () => Effect.void, groupOf: () => Effect.succeed("gone") })),
        Context.add(WorkerPool, WorkerPool.of({
          dispatch: () => Effect.void,
          workers: Effect.succeed([]),
          interrupt: () => Effect.succeed(false),
          interruptAll: () => Effect.void,
          finished: Stream.empty
        }))
      )
      const supervisor = yield* Supervisor.make.pipe(
        Effect.provide(Layer.merge(Layer.succeedContext(services), Workflow.layerStatic(def, "/repo", paths.stateDir)))
      )
      return { supervisor, stores }
    })

  it.scoped("both find the same expired lease: one takes it over and ends the attempt once; the other does nothing", () =>
    Effect.gen(function*() {
      const paths = yield* scratch
      const removed = yield* Ref.make<ReadonlyArray<string>>([])
      const a = yield* processOn(paths, removed)
      yield* TestClock.adjust(Duration.millis(1)) // a different start time: a different runner id
      const b = yield* processOn(paths, removed)
      const tracker = Context.get(a.stores, Tracker)
      const sql = Context.get(a.stores, SqlClient.SqlClient)
      const orchestrator = Context.get(a.stores, Orchestrator)
      expect(orchestrator.runnerId).not.toBe(Context.get(b.stores, Orchestrator).runnerId)
      const issue = yield* tracker.create(new IssueInput({ title: "its runner's lease expired" }))
      yield* tracker.transition(issue.id, ["todo"], "in_progress")
      yield* sql`INSERT INTO leases (issue_id, runner_id, host, pid, attempt, stage, acquired_at, heartbeat_at, expires_at, sandbox_path, epoch)
                 VALUES (${issue.id}, 'far:1:0', 'far-host', 1, 1, 'agent', 0, 0, 30000, '/ws/SY-1', 1)`
      yield* sql`INSERT INTO issue_epochs (issue_id, epoch) VALUES (${issue.id}, 1)`
      yield* sql`INSERT INTO attempts (issue_id, attempt, runner_id, started_at, counted) VALUES (${issue.id}, 1, 'far:1:0', 0, 1)`
      yield* TestClock.adjust(Duration.millis(30_001))

      const [ra, rb] = yield* Effect.all([a.supervisor.reconcile, b.supervisor.reconcile], { concurrency: 2 })
      expect([...ra.brokenLeases, ...rb.brokenLeases]).toEqual([issue.id])
      const bundles = yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM evidence WHERE issue_id = ${issue.id}`
      expect(bundles[0]!.n).toBe(1)
      const terminal = (yield* orchestrator.events({ issueId: issue.id })).filter((e) => e.type.startsWith("terminal."))
      expect(terminal).toHaveLength(1)
      expect(yield* orchestrator.attempts(issue.id)).toMatchObject([
        { attempt: 1, terminal_state: "RETRYABLE_FAILURE", cause: "lease_expired", counted: false, runner_deaths: 1 }
      ])
      expect((yield* tracker.get(issue.id)).status).toBe("todo")
      expect(yield* orchestrator.leases).toEqual([])
      // A second pass of either finds nothing to repair.
      const again = yield* Effect.all([a.supervisor.reconcile, b.supervisor.reconcile])
      expect(again.flatMap((r) => [...r.brokenLeases, ...r.requeued])).toEqual([])
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("a stale owner cannot end an attempt it lost: its fenced settle writes nothing", () =>
    Effect.gen(function*() {
      const paths = yield* scratch
      const removed = yield* Ref.make<ReadonlyArray<string>>([])
      const a = yield* processOn(paths, removed)
      const orchestrator = Context.get(a.stores, Orchestrator)
      const tracker = Context.get(a.stores, Tracker)
      const evidence = Context.get(a.stores, EvidenceStore)
      const issue = yield* tracker.create(new IssueInput({ title: "claimed, then taken over" }))
      const lease = Option.getOrThrow(yield* orchestrator.claim(issue.id, 1, 1_000))
      yield* tracker.transition(issue.id, ["todo"], "in_progress")
      yield* orchestrator.startAttempt({ issue_id: issue.id, attempt: 1, branch: null, sandbox_path: null, base_commit: null })
      // Someone took the lease over (the epoch moved on): the owner's ending must be refused.
      yield* orchestrator.takeOver(lease, 1_000)
      const bundle = sampleBundle({ issueId: issue.id, attempt: 1, outcome: "PR_READY" })
      const refused = yield* Effect.flip(
        settle({ issueId: issue.id, attempt: 1, epoch: lease.epoch, bundle, store: true, commit: null, counted: true, retry: null, endedBy: "worker" })
          .pipe(Effect.provide(a.stores))
      )
      expect(refused._tag).toBe("LeaseFenced")
      expect(yield* evidence.get(issue.id, 1)).toEqual(Option.none())
      expect(yield* orchestrator.attempts(issue.id)).toMatchObject([{ ended_at: null }])
      expect((yield* tracker.get(issue.id)).status).toBe("in_progress")
    }).pipe(Effect.provide(NodeContext.layer)))
})
