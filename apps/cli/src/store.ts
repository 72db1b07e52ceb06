/**
 * Where a repo keeps its state, and the store layer the read-only commands need. Kept apart from layers.ts so
 * `status`, `issue` and `evidence` load neither the agent stations nor the workflow modules.
 *
 * The store is SQLite under `<repo>/.switchyard/` unless a PostgreSQL URL is given: `SWITCHYARD_DATABASE_URL`, or
 * `store.url` in WORKFLOW.md (the variable wins). Then the tracker, leases, attempts, retries, events and evidence
 * live in that database, shared by runners on several hosts (docs/scale.md).
 */
import { FileSystem, type Path } from "@effect/platform"
import type { SqlClient } from "@effect/sql"
import {
  type BaseResults,
  type EvidenceSigner,
  type EvidenceStore,
  type Orchestrator,
  type OrchestratorError,
  parseWorkflow,
  type Redactor,
  type Tracker,
  type TrackerError
} from "@switchyard/core"
import type { PgOpenError } from "@switchyard/pg"
import { Ed25519EvidenceSigner, EnvRedactor } from "@switchyard/node"
import { layerAll, type SqliteOpenError } from "@switchyard/sqlite"
import { Config, Effect, Layer, Option, Schema } from "effect"
import * as NodePath from "node:path"

/**
 * Where a repo keeps its state: `<repo>/.switchyard/` with `switchyard.db`, `runs/`, and the runner's evidence key
 * `keys/evidence.ed25519` (docs/evidence.md, "The signature").
 */
export const statePaths = (repoRoot: string) => {
  const stateDir = NodePath.join(repoRoot, ".switchyard")
  return {
    stateDir,
    database: NodePath.join(stateDir, "switchyard.db"),
    keyFile: NodePath.join(stateDir, Ed25519EvidenceSigner.KEY_FILE)
  }
}

/**
 * Makes sure `stateDir` exists and ignores itself (a `.gitignore` of `*`), so whichever command first creates the
 * state (`init`, `issue create`, even `status`) leaves no untracked files in the repo. One `exists` check when it
 * is already there. Fails with the platform error when the directory or the file cannot be written.
 */
export const ensureStateDir = (stateDir: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const ignore = NodePath.join(stateDir, ".gitignore")
    if (yield* fs.exists(ignore)) return
    yield* fs.makeDirectory(stateDir, { recursive: true })
    yield* fs.writeFileString(ignore, "*\n")
  })

/** The store setting is not usable (not a PostgreSQL URL, a `$VAR` it names is unset, a bad host id). */
export class StoreConfigError extends Schema.TaggedError<StoreConfigError>()("StoreConfigError", {
  source: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `${this.source}: ${this.reason}`
  }
}

/** Which store a repo uses: the embedded SQLite file, or a PostgreSQL database (`source` names where the URL came from). */
export type StoreChoice =
  | { readonly kind: "sqlite" }
  | { readonly kind: "postgres"; readonly url: string; readonly source: string; readonly hostId: string | undefined }

/** True for `postgres://` and `postgresql://` URLs (`PgSql.isPostgresUrl`, inlined: @switchyard/pg loads only when chosen). */
const isPostgresUrl = (url: string): boolean => /^postgres(ql)?:\/\//i.test(url)

/** `url` with a password replaced by `***` (`PgSql.redactUrl`). */
const redactUrl = (url: string): string => url.replace(/^([a-z]+:\/\/[^:/@]*):[^@]*@/i, "$1:***@")

const ENV_REFERENCE = /\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g

/** A host id: what the runner id starts with (`<host>:<pid>:<start-ms>`), so no `:` and no spaces. */
const HostId = Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/))

/**
 * `store.url` of the workflow file at `workflowPath` (default `<repo>/WORKFLOW.md`), `$VAR` expanded from `env`;
 * none when the file is absent or sets none. A file that does not parse is left to the command that loads it (`run`
 * fails on it); here it is logged and counts as none.
 */
const workflowStoreUrl = (repoRoot: string, workflowPath: string | undefined, env: Readonly<Record<string, string | undefined>>) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = workflowPath ?? NodePath.join(repoRoot, "WORKFLOW.md")
    const text = yield* fs.readFileString(path).pipe(Effect.option)
    if (Option.isNone(text) || !/^\s*store\s*:/m.test(text.value)) return Option.none<string>()
    const parsed = yield* Effect.either(parseWorkflow(path, text.value))
    if (parsed._tag === "Left") {
      yield* Effect.logWarning(`cannot read store.url from the workflow file: ${parsed.left.message}`)
      return Option.none<string>()
    }
    const configured = parsed.right.config.store.url
    if (configured === null || configured.trim() === "") return Option.none<string>()
    const unset: Array<string> = []
    const url = configured.replace(ENV_REFERENCE, (_, braced: string | undefined, bare: string | undefined) => {
      const name = braced ?? bare ?? ""
      const value = env[name]
      if (value === undefined || value === "") unset.push(name)
      return value ?? ""
    })
    if (unset.length > 0) {
      return yield* new StoreConfigError({
        source: `store.url in ${path}`,
        reason: `it names $${unset[0]}, which is not set`
      })
    }
    return Option.some(url.trim())
  })

/**
 * Chooses the store: `SWITCHYARD_DATABASE_URL` (when set and not empty), else `store.url` of the workflow file, else
 * SQLite. A URL that is not `postgres://…`/`postgresql://…` fails with `StoreConfigError` naming where it came
 * from. `SWITCHYARD_HOST_ID` (PostgreSQL only) names this host in runner ids and leases (default `os.hostname()`).
 */
export const chooseStore = (
  repoRoot: string,
  options: { readonly workflowPath?: string | undefined; readonly env?: Readonly<Record<string, string | undefined>> } = {}
): Effect.Effect<StoreChoice, StoreConfigError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fromEnv = yield* Config.option(Config.string("SWITCHYARD_DATABASE_URL")).pipe(Effect.orElseSucceed(() => Option.none<string>()))
    const env = yield* Option.match(fromEnv, {
      onSome: (url) => Effect.succeed(url.trim() === "" ? Option.none<{ url: string; source: string }>() : Option.some({ url: url.trim(), source: "SWITCHYARD_DATABASE_URL" })),
      onNone: () => Effect.succeed(Option.none<{ url: string; source: string }>())
    })
    const chosen = Option.isSome(env)
      ? env
      : Option.map(
        yield* workflowStoreUrl(repoRoot, options.workflowPath, options.env ?? process.env),
        (url) => ({ url, source: "store.url" })
      )
    if (Option.isNone(chosen)) return { kind: "sqlite" } as const
    const { source, url } = chosen.value
    if (!isPostgresUrl(url)) {
      return yield* new StoreConfigError({
        source,
        reason: `${JSON.stringify(redactUrl(url))} is not a PostgreSQL URL (postgres://user:password@host:5432/database); leave it unset for the embedded SQLite store`
      })
    }
    const rawHost = yield* Config.option(Config.string("SWITCHYARD_HOST_ID")).pipe(Effect.orElseSucceed(() => Option.none<string>()))
    const hostId = Option.isSome(rawHost) && rawHost.value.trim() !== "" ? rawHost.value.trim() : undefined
    if (hostId !== undefined && !Schema.is(HostId)(hostId)) {
      return yield* new StoreConfigError({
        source: "SWITCHYARD_HOST_ID",
        reason: `${JSON.stringify(hostId)} is not a host id (letters, digits, '.', '_' or '-', at most 63)`
      })
    }
    return { kind: "postgres", url, source, hostId } as const
  })

/**
 * Tracker + Orchestrator + EvidenceStore + BaseResults for a repo (enough for `issue`, `status`, `evidence`) over the
 * store {@link chooseStore} picks, after {@link ensureStateDir}, with the bundles signed and checked by the runner's
 * key (`Ed25519EvidenceSigner`, created on the first stored bundle; reading never creates it), and every stored
 * bundle redacted by the runner's `Redactor` (EnvRedactor over `options.runnerEnv`, default `process.env`; also an
 * output, so the line's stations and verifier share it). Needs `FileSystem` and `Path`, which the CLI's own context
 * provides (edge.ts), so the Node platform layer is not built twice. Fails with `StoreConfigError`, or the store's
 * open error (`SqliteOpenError`, `PgOpenError`: one line naming the database and the reason).
 */
export const storeLayer = (
  repoRoot: string,
  options: {
    readonly runnerEnv?: Readonly<Record<string, string | undefined>> | undefined
    readonly workflowPath?: string | undefined
  } = {}
) => {
  const { database, keyFile, stateDir } = statePaths(repoRoot)
  // @switchyard/pg (and the pg driver) is loaded only when a PostgreSQL store is chosen: SQLite start-up is unchanged.
  // Both stores also give their SqlClient: an external tracker's mirror writes in the store's own transactions
  // (docs/trackers.md; refused on PostgreSQL by its preflight), and `status` reads tracker health through it.
  type Stores = Layer.Layer<
    Tracker | Orchestrator | EvidenceStore | BaseResults | SqlClient.SqlClient,
    SqliteOpenError | PgOpenError | TrackerError | OrchestratorError,
    FileSystem.FileSystem | Path.Path | EvidenceSigner | Redactor
  >
  const stores = Layer.unwrapEffect(Effect.flatMap(
    chooseStore(repoRoot, { workflowPath: options.workflowPath }),
    (choice): Effect.Effect<Stores> =>
      choice.kind === "sqlite"
        ? Effect.succeed(layerAll({ filename: database, stateDir }))
        : Effect.map(
          Effect.promise(() => import("@switchyard/pg")),
          (pg) => pg.layerAll({ url: choice.url, stateDir, hostId: choice.hostId })
        )
  ))
  return stores.pipe(
    Layer.provideMerge(Ed25519EvidenceSigner.layer({ keyFile })),
    Layer.provideMerge(EnvRedactor.layer({ runnerEnv: options.runnerEnv })),
    Layer.provide(Layer.effectDiscard(ensureStateDir(stateDir)))
  )
}
