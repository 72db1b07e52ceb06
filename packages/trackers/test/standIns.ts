/**
 * The real loop, worker pool, line and supervisor over the SQLite stores, with in-memory stand-ins for the sandbox,
 * the agent and the verifier that behave by the issue's title (`hang…` runs until interrupted, `fix…` makes a diff
 * and claims PR_READY, `ask…` escalates, anything else claims NO_OP). For tests of the loop's rules over any
 * `Tracker` Layer (the stores' own, or an external tracker's in their place).
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import {
  AgentStation,
  type BaseResults,
  type EvidenceStore,
  type Orchestrator,
  Candidate,
  Confinement,
  FiberWorkerPool,
  ProcessControl,
  Sandbox,
  SandboxHandle,
  Supervisor,
  Tracker,
  Verifier,
  Workflow
} from "@switchyard/core"
import { CommandResult, WorkflowConfig, WorkflowDefinition } from "@switchyard/domain"
import { Context, Effect, Layer, Option, Ref, Schema } from "effect"
import { standInConfinement as confinement, standInIntegrity as integrity, standInReport as report } from "@switchyard/sqlite/test-helpers"
import { redactorLayer } from "./helpers.js"

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

/**
 * The line over `stores` (a built context holding Tracker, Orchestrator, EvidenceStore, BaseResults, SqlClient)
 * with the workflow config decoded from `config` (merged over fast retries and a 20 ms poll). `runs` counts agent
 * runs per issue; `sandboxes` holds the paths of the sandboxes that exist now.
 */
export const standInLine = (
  stores: Context.Context<Tracker | Orchestrator | EvidenceStore | BaseResults | SqlClient.SqlClient>,
  stateDir: string,
  config: Record<string, unknown> = {}
) =>
  Effect.gen(function*() {
    const runs = yield* Ref.make<ReadonlyMap<string, number>>(new Map())
    const sandboxes = yield* Ref.make<ReadonlySet<string>>(new Set())
    const base = "b".repeat(40)
    const tracker = Context.get(stores, Tracker)
    const titleOf = (id: string) => tracker.get(id).pipe(Effect.map((i) => i.title), Effect.orDie)
    const sandbox = Sandbox.of({
      repoRoot: "/repo",
      workspaceRoot: "/ws",
      resolveBase: Effect.succeed(base),
      deleteBranch: () => Effect.void,
      create: (issueId, attempt, b) =>
        Ref.update(sandboxes, (s) => new Set(s).add(`/ws/${issueId}`)).pipe(Effect.as(SandboxHandle.make({
          issue_id: issueId,
          attempt,
          path: `/ws/${issueId}`,
          branch: `switchyard/${issueId}`,
          base_commit: b,
          home: `/ws/.attempts/${issueId}/home`,
          io: `/ws/.attempts/${issueId}/io`
        }))),
      runHook: () => Effect.succeed(Option.none()),
      snapshot: (handle) =>
        Effect.gen(function*() {
          const title = yield* titleOf(handle.issue_id)
          if (!title.startsWith("fix")) {
            return Candidate.make({ commit: null, tree: null, files: [], stat: "", patch: "", patchTruncated: false })
          }
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
      remove: (path) =>
        Ref.update(sandboxes, (s) => {
          const next = new Set(s)
          next.delete(path)
          return next
        }),
      list: Effect.succeed([]),
      branchHead: () => Effect.succeed(Option.none()),
      branches: Effect.succeed(new Map()),
      knownBranches: Effect.succeed(new Map()),
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
        polling: { interval_ms: 20 },
        ...config
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
      Workflow.layerStatic(def, "/repo", stateDir),
      redactorLayer
    )
    const line = Supervisor.layer.pipe(Layer.provideMerge(FiberWorkerPool.layer), Layer.provideMerge(base_))
    return { line, runs, sandboxes }
  })
