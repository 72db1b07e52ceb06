import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Sandbox, Verifier } from "@switchyard/core"
import { IssueId } from "@switchyard/domain"
import { Effect, Layer, Schema } from "effect"
import * as NodePath from "node:path"
import { GitWorktreeSandbox, ProcessVerifier } from "../src/index.js"
import { config, gitSync, makeRepo, workflowLayer } from "./helpers.js"

const SY1 = Schema.decodeSync(IssueId)("SY-1")
const REPRO = "grep -q answer=42 src/app.txt"

describe("ProcessVerifier", () => {
  it.live("reproduction fails on the base and passes on the fix; every validation runs in a clean checkout", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const { repo, workspace, base } = yield* makeRepo
      const layers = ProcessVerifier.layer.pipe(
        Layer.provideMerge(GitWorktreeSandbox.layer({ repoRoot: repo, workspaceRoot: workspace })),
        Layer.provide(workflowLayer(repo, config({})))
      )
      yield* Effect.gen(function*() {
        const sandbox = yield* Sandbox
        const verifier = yield* Verifier

        const before = yield* verifier.reproduce("SY-1", base, REPRO, 10_000)
        assert.strictEqual(before.exitCode, 1)
        assert.isFalse(before.environmentFailure)

        // The "agent" fixes the bug, leaves an ignored build artifact, then (after the snapshot) an untracked file.
        const handle = yield* sandbox.create(SY1, 1, base)
        yield* fs.writeFileString(NodePath.join(handle.path, "src", "app.txt"), "answer=42\n")
        yield* fs.writeFileString(NodePath.join(handle.path, "build.log"), "artifact\n")
        const candidate = yield* sandbox.snapshot(handle, "fix")
        yield* fs.writeFileString(NodePath.join(handle.path, "src", "helper.txt"), "only in the sandbox\n")
        // The reproduction also passes in the agent's sandbox, but the verifier must not look there.
        yield* fs.writeFileString(NodePath.join(handle.path, "src", "app.txt"), "answer=41\nanswer=42\n")

        const verification = yield* verifier.verify({
          issueId: "SY-1",
          commit: candidate.commit!,
          reproduction: REPRO,
          validation: [
            "test ! -e src/helper.txt && test ! -e build.log",
            "grep -c answer src/app.txt | grep -qx 1",
            "echo broken >&2; exit 3",
            "test -e README.md"
          ],
          timeoutMs: 10_000
        })
        assert.isNotNull(verification.reproductionAfter)
        assert.isTrue(verification.reproductionAfter!.passed)
        assert.deepStrictEqual(verification.validation.map((r) => r.exitCode), [0, 0, 3, 0])
        assert.include(verification.validation[2]!.outputTail, "broken")

        const noRepro = yield* verifier.verify({ issueId: "SY-1", commit: base, reproduction: null, validation: [REPRO], timeoutMs: 10_000 })
        assert.isNull(noRepro.reproductionAfter)
        assert.strictEqual(noRepro.validation[0]!.exitCode, 1)

        // Every verification checkout is gone; only the agent's sandbox is left.
        assert.deepStrictEqual((yield* sandbox.list).map((w) => w.path), [handle.path])
        assert.deepStrictEqual(yield* fs.readDirectory(NodePath.join(workspace, ".verify")), [])
        assert.strictEqual(gitSync(repo, "worktree", "list").trim().split("\n").length, 2)
      }).pipe(Effect.provide(layers))
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)), 30_000)

  it.live("each command gets its own timeout", () =>
    Effect.gen(function*() {
      const { repo, workspace, base } = yield* makeRepo
      const layers = ProcessVerifier.layer.pipe(
        Layer.provide(GitWorktreeSandbox.layer({ repoRoot: repo, workspaceRoot: workspace })),
        Layer.provide(workflowLayer(repo, config({})))
      )
      const verification = yield* Effect.flatMap(Verifier, (verifier) =>
        verifier.verify({ issueId: "SY-1", commit: base, reproduction: "sleep 30", validation: ["true"], timeoutMs: 300 })).pipe(
          Effect.provide(layers)
        )
      assert.isTrue(verification.reproductionAfter!.timedOut)
      assert.isTrue(verification.reproductionAfter!.environmentFailure)
      assert.strictEqual(verification.validation[0]!.exitCode, 0)
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)), 30_000)
})
