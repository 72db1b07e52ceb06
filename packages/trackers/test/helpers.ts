/** Test helpers: scratch directories with real SQLite files, the stores over them. */
import { FileSystem, Path } from "@effect/platform"
import { staticRedactor } from "@switchyard/core"
import { Ed25519EvidenceSigner } from "@switchyard/node"
import { layerAll } from "@switchyard/sqlite"
import { Effect, Layer, type Scope } from "effect"

export interface Scratch {
  readonly dir: string
  readonly filename: string
  readonly stateDir: string
}

/** A temp directory removed when the scope closes; the database goes in a sub-directory that does not exist yet. */
export const scratch: Effect.Effect<Scratch, never, FileSystem.FileSystem | Path.Path | Scope.Scope> = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const dir = yield* Effect.orDie(fs.makeTempDirectoryScoped({ prefix: "switchyard-trackers-" }))
  return { dir, filename: path.join(dir, "state", "switchyard.db"), stateDir: path.join(dir, "state") }
})

/** The redactor every stored bundle goes through in these tests. */
export const redactorLayer = staticRedactor(["trackers-test-secret-value-314159"])

/** Opens (and migrates) the stores over `filename` for the rest of the current scope. */
export const open = (paths: Scratch) =>
  Layer.build(
    layerAll({ filename: paths.filename, stateDir: paths.stateDir }).pipe(
      Layer.provideMerge(Ed25519EvidenceSigner.layer({ keyFile: `${paths.stateDir}/keys/evidence.ed25519` })),
      Layer.provide(redactorLayer)
    )
  ).pipe(Effect.orDie)
