/**
 * How the `switchyard` binary composes the factory for one repo: SQLite (Tracker, Orchestrator, EvidenceStore)
 * under `<repo>/.switchyard/` or a shared PostgreSQL database (store.ts, docs/scale.md), git worktrees under `workspace.root`, the routed agent station (command, claude-code
 * and codex stations picked per issue by `routes:`), the process verifier,
 * the fiber worker pool and the supervisor. Users can build the same thing from the packages (see
 * examples/custom-layers.ts).
 */
import { type CommandExecutor, FetchHttpClient } from "@effect/platform"
import type { SqlClient } from "@effect/sql/SqlClient"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { FiberWorkerPool, PreflightFailed, ProcessControl, Supervisor, Tracker, type TrackerError, trackerProblems, Workflow } from "@switchyard/core"
import {
  BwrapConfinement,
  GitIntegration,
  GitSandbox,
  NodeKillPoints,
  NodeProcessControl,
  NodeWorkflowFile,
  ProcessVerifier,
  RoutedAgentStation,
  Unconfined
} from "@switchyard/node"
import { FpTracker, GitHubTracker, LinearTracker, MirrorTracker } from "@switchyard/trackers"
import { SqliteTracker } from "@switchyard/sqlite"
import { Config, Effect, Layer, Option, Redacted } from "effect"
import { hostedCiLayer } from "./github.js"
import { chooseStore, statePaths, storeLayer } from "./store.js"

export { statePaths, storeLayer }

/** Whether `id` is an embedded tracker's (`SY-<n>`), not a row mirrored from an external tracker. */
export const isEmbeddedId = (id: string): boolean => id.startsWith(`${SqliteTracker.DEFAULT_PREFIX}-`)

/**
 * The `Tracker` of `tracker.kind` (docs/trackers.md), read once when the line starts: for `switchyard` the store's
 * SqliteTracker, dispatching only its own `SY-` issues (not rows an external kind mirrored earlier), the GitHub mirror for `github` after its preflight (the keys, the token in
 * `tracker.token_env`, then the API: the repository and every required label), the Linear mirror for `linear`
 * after its preflight (the key, then the API: the project and every `tracker.state_names` state), the fp mirror for `fp` after
 * `fp issue list` answered in the repository. The mirror and its outbox are the store's tables, SQLite or
 * PostgreSQL. A refusal is `PreflightFailed`
 * (exit 2, nothing claimed). `env` is where the token is read from (default `process.env`); it is never passed on.
 */
export const trackerLayer = (
  repoRoot: string,
  env: Readonly<Record<string, string | undefined>> | undefined
) =>
  Layer.unwrapEffect(
    Effect.gen(function*() {
      const def = yield* (yield* Workflow).current
      const cfg = def.config.tracker
      // The embedded tracker dispatches only its own `SY-` issues: rows an external kind mirrored earlier stay put.
      if (cfg.kind === "switchyard") {
        const embedded: Layer.Layer<Tracker, TrackerError, Tracker | SqlClient | CommandExecutor.CommandExecutor> = Layer.effect(
          Tracker,
          Effect.map(Tracker, (t) => MirrorTracker.dispatchOnly(t, isEmbeddedId))
        )
        return embedded
      }
      // The mirror and its outbox live in the store (SQLite or PostgreSQL), written in its transactions
      // (docs/trackers.md, "Consistency").
      const problems = trackerProblems(cfg)
      if (problems.length > 0) return yield* new PreflightFailed({ path: def.path, problems })
      if (cfg.kind === "fp") {
        const fp = { command: cfg.command ?? "fp", cwd: repoRoot, pollMs: def.config.polling.interval_ms }
        const refused = yield* FpTracker.preflight(fp)
        if (refused !== null) {
          return yield* new PreflightFailed({ path: def.path, problems: [{ key: "tracker.kind", reason: `fp: ${refused}` }] })
        }
        return FpTracker.layer(fp)
      }
      const tokenEnv = cfg.token_env ?? (cfg.kind === "linear" ? LinearTracker.DEFAULT_TOKEN_ENV : GitHubTracker.DEFAULT_TOKEN_ENV)
      const raw = env === undefined
        ? Option.getOrUndefined(yield* Config.option(Config.string(tokenEnv)).pipe(Effect.orElseSucceed(() => Option.none())))
        : env[tokenEnv]
      if (raw === undefined || raw.trim() === "") {
        return yield* new PreflightFailed({
          path: def.path,
          problems: [{
            key: "tracker.token_env",
            reason: cfg.kind === "linear"
              ? `$${tokenEnv} is not set (or empty); it must hold a Linear personal API key that can read and write the project's issues`
              : `$${tokenEnv} is not set (or empty); it must hold a GitHub token that can read and write issues`
          }]
        })
      }
      if (cfg.kind === "linear") {
        const linear: LinearTracker.LinearTrackerOptions = {
          apiUrl: cfg.api_url ?? LinearTracker.DEFAULT_API_URL,
          apiKey: Redacted.make(raw.trim()),
          projectSlug: (cfg.project_slug ?? "").trim(),
          states: { active: cfg.active_states, terminal: cfg.terminal_states, names: cfg.state_names },
          pollMs: def.config.polling.interval_ms
        }
        yield* LinearTracker.preflight({ ...linear, tokenEnv, path: def.path }).pipe(Effect.provide(FetchHttpClient.layer))
        return LinearTracker.layer(linear).pipe(Layer.provide(FetchHttpClient.layer))
      }
      const options = {
        repo: cfg.repo ?? "",
        apiUrl: cfg.api_url ?? GitHubTracker.DEFAULT_API_URL,
        token: Redacted.make(raw.trim()),
        labelPrefix: cfg.label_prefix,
        assignee: cfg.assignee,
        pollMs: def.config.polling.interval_ms
      }
      yield* GitHubTracker.preflight({ ...options, tokenEnv, requiredLabels: cfg.required_labels, path: def.path }).pipe(
        Effect.provide(FetchHttpClient.layer)
      )
      // With TrackerSync: a GitHub webhook makes the mirror read GitHub at once (docs/trust.md).
      return GitHubTracker.layerWithSync(options).pipe(Layer.provide(FetchHttpClient.layer))
    })
  )

/**
 * `NodeProcessControl`, naming this host as the store's leases do: with a PostgreSQL store and `SWITCHYARD_HOST_ID`
 * set, that id (a lease is "this host's", and its owner's pid checked, only when the host ids match); otherwise
 * `os.hostname()`.
 */
const processControl = (repoRoot: string, workflowPath: string | undefined) =>
  Layer.effect(
    ProcessControl,
    Effect.gen(function*() {
      const base = yield* NodeProcessControl.make
      const choice = yield* chooseStore(repoRoot, { workflowPath })
      return choice.kind === "postgres" && choice.hostId !== undefined ? ProcessControl.of({ ...base, hostname: choice.hostId }) : base
    })
  )

/**
 * Everything `switchyard run` needs, for the repo at `repoRoot` (the workflow file must exist and parse: by default
 * `<repo>/WORKFLOW.md`, or `options.workflowPath`, absolute or relative to the process cwd, from `--workflow`).
 * The sandbox is told which file that is, so its uncommitted edits do not make the base dirty.
 * `options.runnerEnv` replaces `process.env` as the environment the agent stations pass variables from and the one
 * `Redactor` (EnvRedactor, built in storeLayer) takes the secret values from, for the stations, the verifier and the
 * evidence store alike (the demo uses it to give Claude Code a dummy key and a private HOME).
 */
export const lineLayer = (
  repoRoot: string,
  options: {
    readonly runnerEnv?: Readonly<Record<string, string | undefined>> | undefined
    readonly workflowPath?: string | undefined
  } = {}
) => {
  const { stateDir } = statePaths(repoRoot)
  const workflow = NodeWorkflowFile.layer({ repoRoot, stateDir, path: options.workflowPath }).pipe(
    Layer.provide(NodeContext.layer)
  )
  // Where sandboxes live and how they are confined are read once, when the line starts (docs/security.md).
  const sandbox = Layer.unwrapEffect(
    Effect.gen(function*() {
      const wf = yield* Workflow
      const def = yield* wf.current
      const workspaceRoot = NodeWorkflowFile.resolveWorkspaceRoot(def, repoRoot)
      // SWITCHYARD_BWRAP: where bwrap is, when it is not `bwrap` on PATH.
      const bwrap = yield* Config.string("SWITCHYARD_BWRAP").pipe(Config.withDefault("bwrap"))
      const confinement = def.config.sandbox.confinement === "none"
        ? Unconfined.layer
        : BwrapConfinement.layer({ repoRoot, workspaceRoot, sandbox: def.config.sandbox, bwrap })
      return GitSandbox.layer({ repoRoot, workspaceRoot, workflowFile: def.path, reuseInstalls: def.config.verify.reuse_install })
        .pipe(Layer.provideMerge(confinement))
    })
  )
  const agent = RoutedAgentStation.layer({ runnerEnv: options.runnerEnv })
  const stations = Layer.mergeAll(agent, ProcessVerifier.layer, GitIntegration.layer({ repoRoot })).pipe(
    Layer.provideMerge(sandbox)
  )
  const services = Supervisor.layer.pipe(
    Layer.provideMerge(FiberWorkerPool.layer),
    Layer.provideMerge(stations),
    Layer.provideMerge(processControl(repoRoot, options.workflowPath)),
    // SWITCHYARD_KILL_AT: recovery tests only (docs/reliability.md); unset, every kill point is a no-op.
    Layer.provideMerge(NodeKillPoints.layer)
  )
  return services.pipe(
    // Hosted CI (`integration.ci: github`), read by the line when present (docs/trust.md).
    Layer.provideMerge(hostedCiLayer(repoRoot, options.runnerEnv)),
    // The tracker of `tracker.kind` replaces the store's SqliteTracker for the whole line (the outermost wins).
    Layer.provideMerge(trackerLayer(repoRoot, options.runnerEnv)),
    Layer.provideMerge(workflow),
    Layer.provideMerge(storeLayer(repoRoot, { runnerEnv: options.runnerEnv, workflowPath: options.workflowPath })),
    Layer.provideMerge(NodeContext.layer)
  )
}
