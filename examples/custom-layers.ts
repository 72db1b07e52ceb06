/**
 * Compose the Switchyard line yourself, with one service swapped: issues live in an in-memory Tracker
 * (e.g. because your real issues come from elsewhere) while leases, attempts and evidence stay in SQLite,
 * and the sandbox, agent and verifier are the stock Node layers, confined by bubblewrap (the state directory,
 * outside the repository here, is hidden from the agent too).
 *
 *   pnpm tsx examples/custom-layers.ts            # prints the outcome of each issue
 *
 * It builds a throw-away git repo in a temp dir, so it is safe to run anywhere.
 */
import { FileSystem, Path } from "@effect/platform"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import {
  EvidenceStore,
  FiberWorkerPool,
  MemoryTracker,
  Orchestrator,
  parseWorkflow,
  runLine,
  Supervisor,
  Tracker,
  Workflow
} from "@switchyard/core"
import { IssueInput } from "@switchyard/domain"
import {
  BwrapConfinement,
  CommandAgent,
  Ed25519EvidenceSigner,
  EnvRedactor,
  GitSandbox,
  NodeProcessControl,
  ProcessRunner,
  ProcessVerifier
} from "@switchyard/node"
import { Sql, SqliteEvidenceStore, SqliteOrchestrator } from "@switchyard/sqlite"
import { Console, Effect, Layer, Logger, LogLevel, Option } from "effect"

const workflowText = (worktrees: string) => `---
workspace:
  root: ${JSON.stringify(worktrees)}
agent:
  # A one-line agent: fix the bug and claim PR_READY.
  command: >-
    printf 'export const double = (n) => n * 2\\n' > double.js &&
    echo '{"claim":"PR_READY","summary":"double() doubles"}' > "$SWITCHYARD_RESULT_FILE"
  max_concurrent_agents: 2
verify:
  validation: ["node --input-type=module -e \\"import('./double.js').then(m => process.exit(m.double(2) === 4 ? 0 : 1))\\""]
---
Fix {{ issue.title }}.
`

/** The whole line for `repo`, with `MemoryTracker` in place of `SqliteTracker`. */
const lineFor = (repo: string, worktrees: string, stateDir: string, workflowTextValue: string) => {
  const workflow = Layer.unwrapEffect(
    parseWorkflow(`${repo}/WORKFLOW.md`, workflowTextValue).pipe(
      Effect.map((def) => Workflow.layerStatic(def, repo, stateDir))
    )
  )
  const store = Layer.mergeAll(SqliteOrchestrator.layer, SqliteEvidenceStore.layer({ stateDir })).pipe(
    Layer.provideMerge(Sql.layer({ filename: `${stateDir}/switchyard.db` })),
    Layer.provideMerge(Ed25519EvidenceSigner.layer({ keyFile: `${stateDir}/${Ed25519EvidenceSigner.KEY_FILE}` }))
  )
  // One redactor (the runner's secret env values, token formats) for the agent, the verifier and the store.
  const redactor = EnvRedactor.layer()
  const tracker = MemoryTracker.layer({ prefix: "MEM" }) // ← the swapped service
  const confinement = Layer.unwrapEffect(
    parseWorkflow(`${repo}/WORKFLOW.md`, workflowTextValue).pipe(
      Effect.map((def) =>
        BwrapConfinement.layer({ repoRoot: repo, workspaceRoot: worktrees, sandbox: def.config.sandbox, hide: [stateDir] })
      )
    )
  )
  const sandbox = GitSandbox.layer({ repoRoot: repo, workspaceRoot: worktrees }).pipe(Layer.provideMerge(confinement))
  const stations = Layer.mergeAll(CommandAgent.layer(), ProcessVerifier.layer).pipe(Layer.provideMerge(sandbox))
  return Supervisor.layer.pipe(
    Layer.provideMerge(FiberWorkerPool.layer),
    Layer.provideMerge(stations),
    Layer.provideMerge(NodeProcessControl.layer),
    Layer.provideMerge(Layer.mergeAll(workflow, store, tracker)),
    Layer.provideMerge(redactor),
    Layer.provideMerge(NodeContext.layer)
  )
}

const program = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const tmp = yield* fs.makeTempDirectoryScoped({ prefix: "switchyard-custom-" })
  const repo = path.join(tmp, "repo")
  const worktrees = path.join(tmp, "worktrees")
  yield* fs.makeDirectory(repo, { recursive: true })
  yield* fs.writeFileString(path.join(repo, "double.js"), "export const double = (n) => n + n + 1\n")
  const git = (...args: Array<string>) => ProcessRunner.runGit(args, repo)
  yield* git("init", "-q", "-b", "main")
  yield* git("-c", "user.name=Example", "-c", "user.email=ex@example.com", "commit", "-q", "--allow-empty", "-m", "root")
  yield* git("add", "-A")
  yield* git("-c", "user.name=Example", "-c", "user.email=ex@example.com", "commit", "-q", "-m", "double.js")

  yield* Effect.gen(function*() {
    const tracker = yield* Tracker
    yield* tracker.create(new IssueInput({ title: "double(2) is 5", priority: "high" }))
    yield* runLine({ once: true })
    const evidence = yield* EvidenceStore
    const orchestrator = yield* Orchestrator
    for (const issue of yield* tracker.list()) {
      const bundle = yield* evidence.latest(issue.id)
      const attempts = yield* orchestrator.attempts(issue.id)
      yield* Console.log(
        `${issue.id} ${issue.status} ${Option.match(bundle, { onNone: () => "no evidence", onSome: (b) => b.outcome })} after ${attempts.length} attempt(s)`
      )
    }
  }).pipe(Effect.scoped, Effect.provide(lineFor(repo, worktrees, path.join(tmp, "state"), workflowText(worktrees))))
})

NodeRuntime.runMain(
  program.pipe(Effect.scoped, Effect.provide(NodeContext.layer), Logger.withMinimumLogLevel(LogLevel.Warning))
)
