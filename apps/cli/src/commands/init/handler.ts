/** `switchyard init`: creates `.switchyard/` (ignoring itself) and a commented WORKFLOW.md; safe to run twice. */
import { FileSystem } from "@effect/platform"
import { defaultWorkflowFile, Tracker } from "@switchyard/core"
import { NodeWorkflowFile } from "@switchyard/node"
import { Console, Effect } from "effect"
import { ensureStateDir, statePaths, storeLayer } from "../../store.js"
import { repoRoot } from "../shared.js"

/**
 * Creates `<repo>/.switchyard/` (with a `.gitignore` of `*`, so the base stays clean), writes the commented default
 * WORKFLOW.md unless one exists, and opens (migrates) the store. Fails with `NotAGitRepo` outside a repository,
 * or a platform/store error when the directory or database cannot be written.
 */
export const init = Effect.gen(function*() {
  const root = yield* repoRoot
  const fs = yield* FileSystem.FileSystem
  const { stateDir } = statePaths(root)
  // The state dir ignores itself, so `init` never dirties the base (no edit to the repo's .gitignore).
  yield* ensureStateDir(stateDir)
  const wf = NodeWorkflowFile.workflowPath(root)
  if (yield* fs.exists(wf)) {
    yield* Console.log(`kept existing ${wf}`)
  } else {
    yield* fs.writeFileString(wf, defaultWorkflowFile)
    yield* Console.log(`wrote ${wf} (set agent.command and verify.validation, then commit it)`)
  }
  yield* Effect.provide(Tracker, storeLayer(root))
  yield* Console.log(`state in ${stateDir}`)
})
