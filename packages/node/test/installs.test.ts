import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Verifier } from "@switchyard/core"
import { Effect, Layer, type Scope } from "effect"
import { existsSync, readdirSync } from "node:fs"
import * as NodePath from "node:path"
import { BwrapConfinement, EnvRedactor, GitSandbox, ProcessVerifier } from "../src/index.js"
import { INSTALLS_DIR, installOutputs, isInstallInput } from "../src/Sandbox/installs.js"
import { commitOnTop, config, makeRepo } from "./helpers.js"

/** An "install": node_modules with a file naming the tree it was installed in. */
const INSTALL = `mkdir -p node_modules/.bin && echo "$SWITCHYARD_WORKSPACE" > node_modules/installed-in`
/** Prints where the install came from, whether node_modules is writable, and whether its scratch dirs are. */
const PROBE = [
  "cat node_modules/installed-in",
  "(echo poison > node_modules/installed-in) 2>/dev/null && echo wrote-install || echo install-read-only",
  "(echo ok > node_modules/.vite/cache) 2>/dev/null && echo scratch-writable || echo no-scratch",
  "pwd"
].join("; ")

const hooks = (afterCreate: string) => config({ hooks: { after_create: afterCreate } }).hooks

const layersFor = (repo: string, workspace: string, reuseInstalls = true) =>
  ProcessVerifier.layer.pipe(
    Layer.provideMerge(GitSandbox.layer({ repoRoot: repo, workspaceRoot: workspace, reuseInstalls })),
    Layer.provideMerge(BwrapConfinement.layer({ repoRoot: repo, workspaceRoot: workspace, sandbox: config({}).sandbox })),
    Layer.provide(EnvRedactor.layer())
  )

const test = (name: string, body: () => Effect.Effect<void, unknown, Scope.Scope | NodeContext.NodeContext>) =>
  it.live(name, () => body().pipe(Effect.scoped, Effect.provide(NodeContext.layer)), 30_000)

/** Runs {@link PROBE} in a clean checkout of `commit`; its output lines. */
const probe = (commit: string, afterCreate: string) =>
  Effect.flatMap(Verifier, (v) => v.reproduce("SY-1", commit, PROBE, 10_000, [], hooks(afterCreate), undefined, false)).pipe(
    Effect.map((r) => r.outputTail.trim().split("\n"))
  )

describe("installs are reused (verify.reuse_install)", () => {
  test("checkouts with the same install inputs share one read-only install; a changed manifest installs again", () =>
    Effect.gen(function*() {
      const { repo, workspace, base: initial } = yield* makeRepo
      const base = commitOnTop(repo, initial, { "package.json": "{\"name\":\"demo\"}\n" })
      const codeOnly = commitOnTop(repo, base, { "src/app.txt": "answer=42\n" })
      const newDependency = commitOnTop(repo, base, { "package.json": "{\"name\":\"demo\",\"dependencies\":{\"x\":\"1\"}}\n" })
      yield* Effect.gen(function*() {
        const [from1, write1, scratch1, cwd1] = yield* probe(base, INSTALL)
        // Installed once, in the installed base's own tree, not in this checkout.
        assert.include(from1, `/${INSTALLS_DIR}/`)
        assert.notStrictEqual(from1, cwd1)
        assert.strictEqual(write1, "install-read-only")
        assert.strictEqual(scratch1, "scratch-writable")
        // A change to code only: the same install, bound into a new checkout.
        const [from2, , , cwd2] = yield* probe(codeOnly, INSTALL)
        assert.strictEqual(from2, from1)
        assert.notStrictEqual(cwd2, cwd1)
        // A changed manifest is another install key.
        const [from3] = yield* probe(newDependency, INSTALL)
        assert.include(from3, `/${INSTALLS_DIR}/`)
        assert.notStrictEqual(from3, from1)
        assert.strictEqual(readdirSync(NodePath.join(workspace, INSTALLS_DIR)).length, 2)
        // Nothing a checkout's command tried to write reached the installed base.
        const [again] = yield* probe(codeOnly, INSTALL)
        assert.strictEqual(again, from1)
      }).pipe(Effect.provide(layersFor(repo, workspace)))
    }))

  test("an install that writes more than node_modules, or reuse turned off, runs after_create in every checkout", () =>
    Effect.gen(function*() {
      const { repo, workspace, base } = yield* makeRepo
      yield* Effect.gen(function*() {
        const build = `${INSTALL} && mkdir -p dist && echo built > dist/out.js`
        const [from, write, , cwd] = yield* probe(base, build)
        assert.strictEqual(from, cwd)
        assert.strictEqual(write, "wrote-install")
        const [from2, , , cwd2] = yield* probe(base, build)
        assert.strictEqual(from2, cwd2)
      }).pipe(Effect.provide(layersFor(repo, workspace)))
      yield* Effect.gen(function*() {
        const [from, , , cwd] = yield* probe(base, INSTALL)
        assert.strictEqual(from, cwd)
        assert.isFalse(existsSync(NodePath.join(workspace, INSTALLS_DIR)) && readdirSync(NodePath.join(workspace, INSTALLS_DIR)).length > 1)
      }).pipe(Effect.provide(layersFor(repo, `${workspace}-off`, false)))
      assert.isFalse(existsSync(NodePath.join(`${workspace}-off`, INSTALLS_DIR)))
    }))
})

describe("installs helpers", () => {
  it("install inputs are manifests, lockfiles and package-manager config, never under node_modules", () => {
    for (const f of ["package.json", "packages/a/package.json", "pnpm-lock.yaml", ".npmrc", "yarn.lock", "bun.lock"]) {
      assert.isTrue(isInstallInput(f), f)
    }
    for (const f of ["src/package.ts", "node_modules/x/package.json", "README.md", "packages/a/src/index.ts"]) {
      assert.isFalse(isInstallInput(f), f)
    }
  })
  it("an install is reusable only when it produced node_modules directories alone", () => {
    assert.deepStrictEqual(installOutputs(["node_modules/", "packages/a/node_modules/"]), {
      reusable: true,
      dirs: ["node_modules", "packages/a/node_modules"]
    })
    assert.deepStrictEqual(installOutputs(["node_modules/", "dist/"]), { reusable: false, others: ["dist/"] })
  })
})
