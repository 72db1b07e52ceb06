/** WORKFLOW.md on disk (`NodeWorkflowFile.layer`, re-read on each `current`) and the workspace-root rules. */
import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { parseWorkflow, Workflow } from "@switchyard/core"
import { Effect, Layer, Logger } from "effect"
import { createHash } from "node:crypto"
import { mkdirSync, unlinkSync, writeFileSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { NodeWorkflowFile, WorkflowProblems } from "../src/index.js"

/** NodeWorkflowFile.layer on the real file system. */
const fileLayer = (options: NodeWorkflowFile.WorkflowFileOptions) =>
  NodeWorkflowFile.layer(options).pipe(Layer.provide(NodeContext.layer))

/** A fresh temp directory, removed when the test's scope closes. */
const tempDir = Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "switchyard-workflow-" })).pipe(
  Effect.provide(NodeContext.layer)
)

/** Collects the messages of warnings logged while `effect` runs. */
const collectWarnings = <A, E, R>(effect: Effect.Effect<A, E, R>, into: Array<string>) =>
  effect.pipe(
    Effect.provide(
      Logger.add(
        Logger.make(({ logLevel, message }) => {
          if (logLevel._tag === "Warning" || logLevel._tag === "Error") into.push(Array.isArray(message) ? message.join(" ") : String(message))
        })
      )
    )
  )

describe("NodeWorkflowFile.resolveWorkspaceRoot", () => {
  const withRoot = (root: string | null, file = "/repo/WORKFLOW.md") =>
    parseWorkflow(file, `---\nworkspace:\n  root: ${JSON.stringify(root)}\n---\nx`)

  it.effect("null means <tmp>/switchyard_workspaces/<repo>-<hash>", () =>
    Effect.gen(function*() {
      const def = yield* withRoot(null)
      const hash = createHash("sha256").update("/work/my repo").digest("hex").slice(0, 8)
      assert.strictEqual(
        NodeWorkflowFile.resolveWorkspaceRoot(def, "/work/my repo", {}),
        path.join(os.tmpdir(), "switchyard_workspaces", `my_repo-${hash}`)
      )
      // two checkouts with the same name get different roots
      assert.notStrictEqual(NodeWorkflowFile.defaultWorkspaceRoot("/a/app"), NodeWorkflowFile.defaultWorkspaceRoot("/b/app"))
      assert.match(NodeWorkflowFile.defaultWorkspaceRoot("/a/app"), /switchyard_workspaces\/app-[0-9a-f]{8}$/)
    }))

  it.effect("expands ~ to the home directory", () =>
    Effect.gen(function*() {
      assert.strictEqual(NodeWorkflowFile.resolveWorkspaceRoot(yield* withRoot("~/sandboxes"), "/repo", {}), path.join(os.homedir(), "sandboxes"))
      assert.strictEqual(NodeWorkflowFile.resolveWorkspaceRoot(yield* withRoot("~"), "/repo", {}), os.homedir())
    }))

  it.effect("expands $VAR and ${VAR} from the environment", () =>
    Effect.gen(function*() {
      const env = { SY_ROOT: "/data/sy", SUB: "ws" }
      assert.strictEqual(NodeWorkflowFile.resolveWorkspaceRoot(yield* withRoot("$SY_ROOT"), "/repo", env), "/data/sy")
      assert.strictEqual(NodeWorkflowFile.resolveWorkspaceRoot(yield* withRoot("${SY_ROOT}/${SUB}-x"), "/repo", env), "/data/sy/ws-x")
      // an unset or empty variable counts as missing: the default applies
      assert.strictEqual(NodeWorkflowFile.resolveWorkspaceRoot(yield* withRoot("$NOPE/ws"), "/repo", env), NodeWorkflowFile.defaultWorkspaceRoot("/repo"))
      assert.strictEqual(
        NodeWorkflowFile.resolveWorkspaceRoot(yield* withRoot("$EMPTY"), "/repo", { EMPTY: "" }),
        NodeWorkflowFile.defaultWorkspaceRoot("/repo")
      )
    }))

  it.effect("resolves a relative path against the directory of WORKFLOW.md and normalizes", () =>
    Effect.gen(function*() {
      assert.strictEqual(NodeWorkflowFile.resolveWorkspaceRoot(yield* withRoot("sandboxes"), "/repo", {}), "/repo/sandboxes")
      assert.strictEqual(
        NodeWorkflowFile.resolveWorkspaceRoot(yield* withRoot("../ws", "/repo/config/WORKFLOW.md"), "/repo", {}),
        "/repo/ws"
      )
      // a relative WORKFLOW.md path is itself relative to the repo root
      assert.strictEqual(NodeWorkflowFile.resolveWorkspaceRoot(yield* withRoot("./ws", "ops/WORKFLOW.md"), "/repo", {}), "/repo/ops/ws")
      assert.strictEqual(NodeWorkflowFile.resolveWorkspaceRoot(yield* withRoot("/abs/./a/../b"), "/repo", {}), "/abs/b")
    }))

  it("workflowPath is <repoRoot>/WORKFLOW.md", () => {
    assert.strictEqual(NodeWorkflowFile.workflowPath("/work/repo"), "/work/repo/WORKFLOW.md")
  })
})

describe("NodeWorkflowFile.layer", () => {
  it.scoped("a missing file fails the layer with missing_workflow_file", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const error = yield* Workflow.pipe(
        Effect.provide(fileLayer({ repoRoot: dir })),
        Effect.flip
      )
      assert.strictEqual(error.kind, "missing_workflow_file")
      assert.strictEqual(error.path, path.join(dir, "WORKFLOW.md"))
      assert.strictEqual(
        error.reason,
        `no WORKFLOW.md at ${path.join(dir, "WORKFLOW.md")}; run \`switchyard init\` to create one`
      )
    }))

  it.scoped("an invalid file fails the layer", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      writeFileSync(path.join(dir, "WORKFLOW.md"), "---\nagent:\n  max_turns: 0\n---\nbody")
      const error = yield* Workflow.pipe(
        Effect.provide(fileLayer({ repoRoot: dir })),
        Effect.flip
      )
      assert.strictEqual(error.kind, "workflow_invalid_config")
      assert.strictEqual(error.key, "agent.max_turns")
    }))

  it.scoped("loads the file, with default state dir, or the given path and state dir", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      writeFileSync(path.join(dir, "WORKFLOW.md"), "---\nagent:\n  max_attempts: 4\n---\nHello {{ issue.id }}")
      const workflow = yield* Workflow.pipe(Effect.provide(fileLayer({ repoRoot: dir })))
      assert.strictEqual(workflow.repoRoot, dir)
      assert.strictEqual(workflow.stateDir, path.join(dir, ".switchyard"))
      const def = yield* workflow.current
      assert.strictEqual(def.config.agent.max_attempts, 4)
      assert.strictEqual(def.prompt_template, "Hello {{ issue.id }}")
      assert.strictEqual(def.path, path.join(dir, "WORKFLOW.md"))

      const other = path.join(dir, "ops", "flow.md")
      yield* Effect.sync(() => {
        mkdirSync(path.join(dir, "ops"))
        writeFileSync(other, "---\nagent:\n  max_attempts: 9\n---\nOther")
      })
      const explicit = yield* Workflow.pipe(
        Effect.provide(fileLayer({ repoRoot: dir, path: other, stateDir: path.join(dir, "state") }))
      )
      assert.strictEqual(explicit.stateDir, path.join(dir, "state"))
      assert.strictEqual((yield* explicit.current).config.agent.max_attempts, 9)
    }))

  it.scoped("current re-reads the file: an edit on disk applies without a restart", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "WORKFLOW.md")
      writeFileSync(file, "---\npolling:\n  interval_ms: 1000\n---\nfirst")
      const workflow = yield* Workflow.pipe(Effect.provide(fileLayer({ repoRoot: dir })))
      assert.strictEqual((yield* workflow.current).config.polling.interval_ms, 1000)
      writeFileSync(file, "---\npolling:\n  interval_ms: 2000\n---\nsecond")
      const def = yield* workflow.current
      assert.strictEqual(def.config.polling.interval_ms, 2000)
      assert.strictEqual(def.prompt_template, "second")
    }))

  it.scoped("an invalid edit keeps the last good definition and warns once per bad content", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "WORKFLOW.md")
      writeFileSync(file, "---\nagent:\n  max_attempts: 2\n---\ngood")
      const warnings: Array<string> = []
      const workflow = yield* Workflow.pipe(Effect.provide(fileLayer({ repoRoot: dir })))
      const current = collectWarnings(workflow.current, warnings)

      writeFileSync(file, "---\nagent:\n  max_attempts: -1\n---\nbad")
      const kept = yield* current
      assert.strictEqual(kept.config.agent.max_attempts, 2)
      assert.strictEqual(kept.prompt_template, "good")
      yield* current
      yield* current
      assert.strictEqual(warnings.length, 1)
      assert.include(warnings[0], "(agent.max_attempts): expected a positive integer, got -1 [workflow_invalid_config]")
      // ... and recorded for `switchyard status` while it lasts.
      const problems = yield* WorkflowProblems.list(path.join(dir, ".switchyard")).pipe(Effect.provide(NodeContext.layer))
      assert.deepStrictEqual(problems.map((p) => [p.pid, p.path]), [[process.pid, file]])
      assert.include(problems[0]!.message, "[workflow_invalid_config]")

      // a different bad edit warns again
      writeFileSync(file, "---\n- not a map\n---\nbad")
      assert.strictEqual((yield* current).prompt_template, "good")
      assert.strictEqual(warnings.length, 2)
      assert.include(warnings[1], "workflow_front_matter_not_a_map")

      // a deleted file also keeps the last good definition
      unlinkSync(file)
      assert.strictEqual((yield* current).prompt_template, "good")
      assert.strictEqual(warnings.length, 3)
      assert.include(warnings[2], "missing_workflow_file")

      // a fixed file applies again
      writeFileSync(file, "---\nagent:\n  max_attempts: 6\n---\nfixed")
      const fixed = yield* current
      assert.strictEqual(fixed.config.agent.max_attempts, 6)
      assert.strictEqual(fixed.prompt_template, "fixed")
      assert.strictEqual(warnings.length, 3)
      assert.deepStrictEqual(yield* WorkflowProblems.list(path.join(dir, ".switchyard")).pipe(Effect.provide(NodeContext.layer)), [])
    }))
})

