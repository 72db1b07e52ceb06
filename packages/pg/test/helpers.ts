/** Test helpers: a fresh database on the throwaway server per test, and the stores opened over it. */
import type { FileSystem, Path } from "@effect/platform"
import { Ed25519EvidenceSigner } from "@switchyard/node"
import { redactorLayer, scratch } from "@switchyard/sqlite/test-helpers"
import { Effect, Layer, type Scope } from "effect"
import * as NodePath from "node:path"
import * as Pg from "pg"
import { inject } from "vitest"
import { layerAll } from "../src/index.js"

/** The throwaway server's admin URL, or null where PostgreSQL is not installed (the suites skip). */
export const serverUrl: string | null = inject("pgUrl")

/** Why the PostgreSQL suites are skipped, or null. */
export const skipReason: string | null = serverUrl === null
  ? "PostgreSQL binaries are not installed (initdb, pg_ctl); `apt-get install -y postgresql`"
  : null

let counter = 0

/** Runs one statement on the admin database (`CREATE/DROP DATABASE`). */
const admin = (statement: string) =>
  Effect.promise(async () => {
    const client = new Pg.Client({ connectionString: serverUrl ?? "" })
    await client.connect()
    await client.query(statement).finally(() => client.end())
  })

/** A new, empty database on the server for the rest of the scope (dropped, connections and all, when it closes). */
export const freshDatabase: Effect.Effect<string, never, Scope.Scope> = Effect.acquireRelease(
  Effect.suspend(() => {
    counter += 1
    const name = `t_${process.pid}_${Date.now()}_${counter}`
    return Effect.as(admin(`CREATE DATABASE ${name}`), name)
  }),
  (name) => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).pipe(Effect.ignore)
).pipe(Effect.map((name) => (serverUrl ?? "").replace(/\/postgres$/, `/${name}`)))

/**
 * A fresh database and a scratch state directory; `connect` opens the stores over them (a new pool each call, as
 * another runner), signing with a key in the scratch directory and redacting with the sqlite tests' redactor.
 */
export const fresh: Effect.Effect<
  { readonly url: string; readonly stateDir: string; readonly connect: (prefix?: string, hostId?: string) => ReturnType<typeof open> },
  never,
  Scope.Scope | FileSystem.FileSystem | Path.Path
> = Effect.gen(function*() {
  const url = yield* freshDatabase
  const paths = yield* scratch
  return {
    url,
    stateDir: paths.stateDir,
    connect: (prefix?: string, hostId?: string) => open({ url, stateDir: paths.stateDir, prefix, hostId })
  }
})

/** Opens the stores over `url` for the rest of the scope. */
export const open = (options: { readonly url: string; readonly stateDir: string; readonly prefix?: string | undefined; readonly hostId?: string | undefined }) =>
  Layer.build(
    layerAll(options).pipe(
      Layer.provideMerge(Ed25519EvidenceSigner.layer({ keyFile: NodePath.join(options.stateDir, Ed25519EvidenceSigner.KEY_FILE) })),
      Layer.provide(redactorLayer)
    )
  ).pipe(Effect.orDie)
