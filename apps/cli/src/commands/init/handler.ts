/**
 * `switchyard init`: creates `.switchyard/` (ignoring itself) and a commented WORKFLOW.md, with the install hook and
 * validation of a JS repository filled in (detect.ts); safe to run twice.
 */
import { FileSystem } from "@effect/platform"
import { renderWorkflowFile, Tracker } from "@switchyard/core"
import { NodeWorkflowFile } from "@switchyard/node"
import { Console, Effect } from "effect"
import { ensureStateDir, statePaths, storeLayer } from "../../store.js"
import { repoRoot } from "../shared.js"
import { detectSetup } from "./detect.js"

/**
 * Creates `<repo>/.switchyard/` (with a `.gitignore` of `*`, so the base stays clean), writes the commented default
 * WORKFLOW.md unless one exists (its `hooks.after_create` and `verify.validation` from the lockfile and package.json
 * scripts, each choice printed on one line; an existing file is neither read nor changed), and opens (migrates) the store. Fails with `NotAGitRepo` outside a repository,
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
    const detected = yield* detectSetup(root)
    for (const line of detected.warnings) yield* Console.error(line)
    for (const line of detected.chosen) yield* Console.log(line)
    yield* fs.writeFileString(wf, renderWorkflowFile(detected.setup))
    yield* Console.log(
      detected.setup.validation.length === 0
        ? `wrote ${wf} (set agent.command and verify.validation, then commit it)`
        : `wrote ${wf} (set agent.command, check the commands above, then commit it)`
    )
  }
  yield* Effect.provide(Tracker, storeLayer(root))
  yield* Console.log(`state in ${stateDir}`)
})
