/**
 * "Every terminal attempt has exactly one bundle, and no issue has more counted attempts than max_attempts"
 * (docs/reliability.md), over every way an attempt ends: the worker (PR_READY, NO_OP, ESCALATE, retries
 * exhausted), the interrupt path (a cancellation), and each supervisor repair (a dead runner's attempt closed, one
 * resumed from its candidate, one completed from its stored bundle, an issue in progress with no lease). The real
 * loop, worker pool, line and supervisor over the SQLite stores; the sandbox, the agent and the verifier are
 * in-memory stand-ins that behave by the issue's title.
 */
import { NodeContext } from "@effect/platform-node"
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import {
  AgentStation,
  AgentTurn,
  Candidate,
  CandidateMade,
  Confinement,
  EvidenceStore,
  FiberWorkerPool,
  Orchestrator,
  Prepared,
  ProcessControl,
  runLine,
  Sandbox,
  SandboxHandle,
  Supervisor,
  Tracker,
  Verifier,
  Workflow
} from "@switchyard/core"
import {
  CommandResult,
  IssueInput,
  TaskPacket,
  WorkflowConfig,
  WorkflowDefinition
} from "@switchyard/domain"
import { Context, Effect, Layer, Option, Ref, Schedule, Schema } from "effect"
import { open, redactorLayer, sampleBundle, scratch, standInConfinement as confinement, standInIntegrity as integrity, standInReport as report } from "./helpers.js"

const result = (command: string, exitCode: number) =>
  new CommandResult({
    command,
    exitCode,
    signal: null,
    timedOut: false,
    environmentFailure: false,
    durationMs: 1,
    outputHead: "",
    outputTail: exitCode === 0 ? "ok" : "FAIL"
  })

describe("every ending has exactly one bundle", () => {
  it.live("worker, interrupt path and every supervisor repair; no issue over agent.max_attempts", () =>
    Effect.gen(function*() {
      const paths = yield* scratch
      const stores = yield* open(paths)
      const tracker = Context.get(stores, Tracker)
      const orchestrator = Context.get(stores, Orchestrator)
      const evidence = Context.get(stores, EvidenceStore)
      const sql = Context.get(stores, SqlClient.SqlClient)
      const branches = yield* Ref.make<ReadonlyMap<string, string>>(new Map())
      const runs = yield* Ref.make<ReadonlyMap<string, number>>(new Map())
      const base = "b".repeat(40)

      const titleOf = (id: string) => tracker.get(id as never).pipe(Effect.map((i) => i.title), Effect.orDie)
      const sandbox = Sandbox.of({
        repoRoot: "/repo",
        workspaceRoot: "/ws",
        resolveBase: Effect.succeed(base),
        create: (issueId, attempt, b) =>
          Ref.update(branches, (m) => new Map(m).set(`switchyard/${issueId}`, b)).pipe(Effect.as(SandboxHandle.make({
            issue_id: issueId,
            attempt,
            path: `/ws/${issueId}`,
            branch: `switchyard/${issueId}`,
            base_commit: b,
            home: `/ws/.attempts/${issueId}/home`,
            io: `/ws/.attempts/${issueId}/io`
          }))),
        runHook: () => Effect.succeed(Option.none()),
        deleteBranch: (branch) =>
          Ref.update(branches, (m) => {
            const next = new Map(m)
            next.delete(branch)
            return next
          }),
        snapshot: (handle) =>
          Effect.gen(function*() {
            const title = yield* titleOf(handle.issue_id)
            if (!title.startsWith("fix")) {
              return Candidate.make({ commit: null, tree: null, files: [], stat: "", patch: "", patchTruncated: false })
            }
            yield* Ref.update(branches, (m) => new Map(m).set(handle.branch, "c".repeat(40)))
            return Candidate.make({
              commit: "c".repeat(40),
              tree: "d".repeat(40),
              files: ["src/a.ts"],
              stat: " src/a.ts | 1 +",
              patch: "diff --git a/src/a.ts b/src/a.ts\n+x\n",
              patchTruncated: false
            })
          }),
        amend: () => Effect.succeed("e".repeat(40)),
        formatPatch: () => Effect.succeed([]),
        checkout: () => Effect.die("the stand-in verifier checks out nothing"),
        remove: (_path, options) =>
          options?.deleteBranch === undefined
            ? Effect.void
            : Ref.update(branches, (m) => {
              const next = new Map(m)
              next.delete(options.deleteBranch!)
              return next
            }),
        list: Effect.succeed([]),
        branchHead: (b) => Effect.map(Ref.get(branches), (m) => Option.fromNullable(m.get(b))),
        branches: Ref.get(branches),
        knownBranches: Ref.get(branches),
        integrity: Effect.succeed(integrity),
        restore: () => Effect.succeed([])
      })
      const station = AgentStation.of({
        kind: "command",
        run: (input) =>
          Effect.gen(function*() {
            yield* Ref.update(runs, (m) => new Map(m).set(input.issue.id, (m.get(input.issue.id) ?? 0) + 1))
            const title = input.issue.title
            if (title.startsWith("hang")) return yield* Effect.never
            if (title.startsWith("crash")) return report(null, true)
            if (title.startsWith("ask")) return report("ESCALATE")
            if (title.startsWith("fix")) return report("PR_READY")
            return report("NO_OP")
          })
      })
      const verifier = Verifier.of({
        reproduce: (_id, _commit, command) => Effect.succeed(result(command, 1)),
        prepareBase: () => Effect.void,
        verify: (input) =>
          Effect.succeed({
            reproductionAfter: input.reproduction === null ? null : result(input.reproduction, 0),
            validation: input.validation.map((c) => result(c, 0)),
            guards: [],
            testCounts: { base: null, candidate: null }
          })
      })
      const def = new WorkflowDefinition({
        path: "/repo/WORKFLOW.md",
        config: Schema.decodeUnknownSync(WorkflowConfig)({
          agent: { max_attempts: 3, retry_base_delay_ms: 1, max_retry_backoff_ms: 5, max_concurrent_agents: 10 },
          polling: { interval_ms: 20 }
        }),
        prompt_template: "do {{ issue.title }}"
      })
      const base_ = Layer.mergeAll(
        Layer.succeedContext(stores),
        Layer.succeed(Sandbox, sandbox),
        Layer.succeed(AgentStation, station),
        Layer.succeed(Verifier, verifier),
        Layer.succeed(Confinement, confinement),
        Layer.succeed(ProcessControl, ProcessControl.of({
          hostname: "this-host",
          isAlive: () => Effect.succeed(true),
          killGroup: () => Effect.void,
          groupOf: () => Effect.succeed("gone" as const)
        })),
        Workflow.layerStatic(def, "/repo", paths.stateDir),
        redactorLayer
      )
      const line = Supervisor.layer.pipe(Layer.provideMerge(FiberWorkerPool.layer), Layer.provideMerge(base_))

      const create = (title: string, repro = false) =>
        tracker.create(new IssueInput({ title, ...(repro ? { reproduction: "repro" } : {}) }))
      // The worker's endings.
      const fix = yield* create("fix the bug", true)
      const noop = yield* create("noop: nothing to do")
      const ask = yield* create("ask a human")
      const crash = yield* create("crash every time")
      const hang = yield* create("hang until cancelled")
      // A dead runner on another host left each of these in progress with an expired lease.
      const dead = yield* create("noop after its runner died")
      const resumable = yield* create("fix, resumed from its candidate", true)
      const bundled = yield* create("noop whose bundle was stored")
      const orphan = yield* create("noop left in progress without a lease")
      for (const issue of [dead, resumable, bundled, orphan]) {
        yield* tracker.transition(issue.id, ["todo"], "in_progress")
        yield* sql`INSERT INTO attempts (issue_id, attempt, runner_id, started_at, counted) VALUES (${issue.id}, 1, 'far:1:0', 0, 1)`
      }
      for (const issue of [dead, resumable, bundled]) {
        yield* sql`INSERT INTO leases (issue_id, runner_id, host, pid, attempt, stage, acquired_at, heartbeat_at, expires_at, epoch)
                   VALUES (${issue.id}, 'far:1:0', 'far-host', 1, 1, 'verify', 0, 0, 1, 1)`
        yield* sql`INSERT INTO issue_epochs (issue_id, epoch) VALUES (${issue.id}, 1)`
      }
      const packet = new TaskPacket({
        issue_id: resumable.id,
        title: resumable.title,
        intent: "",
        source: { tracker: "switchyard", issue_id: resumable.id, labels: [] },
        attempt: 1,
        scope: [],
        non_goals: [],
        reproduction: "repro",
        validation: [],
        no_op_rules: [],
        evidence_required: [],
        output_contract: { result_file: "", format: "json" }
      })
      yield* evidence.putStage(resumable.id, 1, 1, new Prepared({
        base,
        branch: `switchyard/${resumable.id}`,
        sandboxPath: `/ws/${resumable.id}`,
        home: "/h",
        io: "/io",
        runDir: yield* evidence.runDir(resumable.id, 1),
        packet
      }))
      yield* evidence.putStage(resumable.id, 1, 1, new AgentTurn({ turn: 1, report: report("PR_READY"), escapes: [], restored: [], noted: [] }))
      yield* evidence.putStage(resumable.id, 1, 1, new CandidateMade({
        turn: 1,
        candidate: Candidate.make({ commit: "c".repeat(40), tree: "d".repeat(40), files: ["src/a.ts"], stat: "", patch: "+x\n", patchTruncated: false })
      }))
      yield* Ref.update(branches, (m) => new Map(m).set(`switchyard/${resumable.id}`, "c".repeat(40)))
      yield* evidence.put(sampleBundle({ issueId: bundled.id, attempt: 1, outcome: "NO_OP", withDiff: false }))

      const runner = yield* runLine({ once: true }).pipe(Effect.provide(line), Effect.fork)
      // The interrupt path: cancel the hanging issue once its agent runs.
      yield* Effect.repeat(Ref.get(runs), { until: (m) => (m.get(hang.id) ?? 0) > 0, schedule: Schedule.spaced("10 millis") })
      yield* tracker.transition(hang.id, ["in_progress"], "cancelled")
      const drained = yield* runner.await.pipe(Effect.timeoutOption("20 seconds"))
      if (Option.isNone(drained)) {
        const log = yield* orchestrator.events({ limit: 500 })
        console.log(log.map((e) => `${e.issue_id} ${e.type} ${e.message}`).join("\n"))
      }
      expect(Option.isSome(drained)).toBe(true)

      // Every terminal attempt has exactly one bundle, and no bundle belongs to an attempt that has no row.
      const terminal = yield* sql<{ issue_id: string; attempt: number }>`
        SELECT issue_id, attempt FROM attempts WHERE terminal_state IS NOT NULL ORDER BY issue_id, attempt`
      const stored = yield* sql<{ issue_id: string; attempt: number }>`
        SELECT issue_id, attempt FROM evidence ORDER BY issue_id, attempt`
      expect(stored).toEqual(terminal)
      const events = yield* sql<{ issue_id: string; attempt: number; n: number }>`
        SELECT issue_id, json_extract(data, '$.attempt') AS attempt, COUNT(*) AS n FROM events
        WHERE type GLOB 'terminal.*' GROUP BY issue_id, attempt ORDER BY issue_id, attempt`
      expect(events.map((e) => ({ issue_id: e.issue_id, attempt: e.attempt }))).toEqual(terminal)
      expect(events.every((e) => e.n === 1)).toBe(true)
      // No issue has more counted attempts than max_attempts; nothing is left open or held.
      const over = yield* sql`SELECT issue_id FROM attempts WHERE counted = 1 GROUP BY issue_id HAVING COUNT(*) > 3`
      expect(over).toEqual([])
      expect(yield* sql`SELECT issue_id FROM attempts WHERE ended_at IS NULL`).toEqual([])
      expect(yield* orchestrator.leases).toEqual([])

      const rows = (id: string) => orchestrator.attempts(id as never)
      const status = (id: string) => tracker.get(id as never).pipe(Effect.map((i) => i.status))
      expect(yield* status(fix.id)).toBe("in_review")
      expect(yield* status(noop.id)).toBe("done")
      expect(yield* status(ask.id)).toBe("blocked")
      expect((yield* rows(crash.id)).map((a) => [a.terminal_state, a.cause, a.counted])).toEqual([
        ["RETRYABLE_FAILURE", "agent_crashed", true],
        ["RETRYABLE_FAILURE", "agent_crashed", true],
        ["ESCALATE", "retries_exhausted", true]
      ])
      expect((yield* rows(hang.id)).map((a) => [a.terminal_state, a.cause, a.counted])).toEqual([
        [null, "canceled_by_reconciliation", false]
      ])
      // The repairs: a runner death is not charged to the agent, and the next attempt runs.
      expect((yield* rows(dead.id)).map((a) => [a.terminal_state, a.cause, a.counted, a.runner_deaths])).toEqual([
        ["RETRYABLE_FAILURE", "lease_expired", false, 1],
        ["NO_OP", "agent_no_op", true, 0]
      ])
      expect((yield* rows(orphan.id)).map((a) => [a.terminal_state, a.cause, a.counted])).toEqual([
        ["RETRYABLE_FAILURE", "no_live_lease", false],
        ["NO_OP", "agent_no_op", true]
      ])
      // Resumed: verified, packaged and settled as one attempt; its agent never ran again.
      expect((yield* rows(resumable.id)).map((a) => [a.terminal_state, a.cause, a.runner_deaths])).toEqual([
        ["PR_READY", "verified", 1]
      ])
      expect((yield* Ref.get(runs)).get(resumable.id)).toBeUndefined()
      expect(Option.map(yield* evidence.get(resumable.id, 1), (b) => b.resumed?.fromStage)).toEqual(Option.some("verify candidate"))
      // Completed from the bundle its runner stored: the bundle's verdict, not a runner death.
      expect((yield* rows(bundled.id)).map((a) => [a.terminal_state, a.runner_deaths])).toEqual([["NO_OP", 0]])
      expect(yield* status(bundled.id)).toBe("done")
      // Branches only where a kept result needs them.
      expect([...(yield* Ref.get(branches)).keys()].sort()).toEqual([`switchyard/${fix.id}`, `switchyard/${resumable.id}`].sort())
    }).pipe(Effect.provide(NodeContext.layer), Effect.scoped), 60_000)
})
