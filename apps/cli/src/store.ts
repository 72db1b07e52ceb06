/**
 * Where a repo keeps its state, and the store layer the read-only commands need. Kept apart from layers.ts so
 * `status`, `issue` and `evidence` load neither the agent stations nor the workflow modules.
 */
import { FileSystem } from "@effect/platform"
import { Ed25519EvidenceSigner, EnvRedactor } from "@switchyard/node"
import { layerAll } from "@switchyard/sqlite"
import { Effect, Layer } from "effect"
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

/**
 * Tracker + Orchestrator + EvidenceStore for a repo (enough for `issue`, `status`, `evidence`), after
 * {@link ensureStateDir}, with the bundles signed and checked by the runner's key (`Ed25519EvidenceSigner`, created
 * on the first stored bundle; reading never creates it), and every stored bundle redacted by the runner's
 * `Redactor` (EnvRedactor over `options.runnerEnv`, default `process.env`; also an output, so the line's stations
 * and verifier share it). Needs `FileSystem` and `Path`, which the CLI's own context provides (edge.ts), so the Node
 * platform layer is not built twice.
 */
export const storeLayer = (
  repoRoot: string,
  options: { readonly runnerEnv?: Readonly<Record<string, string | undefined>> | undefined } = {}
) => {
  const { database, keyFile, stateDir } = statePaths(repoRoot)
  return layerAll({ filename: database, stateDir }).pipe(
    Layer.provideMerge(Ed25519EvidenceSigner.layer({ keyFile })),
    Layer.provideMerge(EnvRedactor.layer({ runnerEnv: options.runnerEnv })),
    Layer.provide(Layer.effectDiscard(ensureStateDir(stateDir)))
  )
}
