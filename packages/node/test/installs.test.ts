import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Verifier } from "@switchyard/core"
import { Effect, Layer, type Scope } from "effect"
import { existsSync, readdirSync, utimesSync } from "node:fs"
import * as NodePath from "node:path"
import { BwrapConfinement, EnvRedactor, GitSandbox, ProcessVerifier } from "../src/index.js"
import { INSTALL_IDLE_MS, INSTALLS_DIR, installOutputs, installsToPrune, isInstallInput, KEEP_INSTALLS } from "../src/Sandbox/installs.js"
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
  test("old installed bases are pruned once a new one is built: the few most recently used and any used within a day stay", () =>
    Effect.gen(function*() {
      const { repo, workspace, base } = yield* makeRepo
      const installs = NodePath.join(workspace, INSTALLS_DIR)
      // Six install keys, one commit each (a different manifest).
      const commits = Array.from({ length: 7 }, (_, i) => commitOnTop(repo, base, { "package.json": `{"name":"demo-${i}"}\n` }))
      const dayAgo = (days: number) => new Date(Date.now() - days * 24 * 60 * 60 * 1000 - 60_000)
      yield* Effect.gen(function*() {
        const from = new Map<string, string>()
        for (const commit of commits.slice(0, 6)) from.set(commit, (yield* probe(commit, INSTALL))[0]!)
        const keyOf = (commit: string) => NodePath.relative(installs, NodePath.dirname(from.get(commit)!)).split(NodePath.sep)[0]!
        assert.strictEqual(readdirSync(installs).length, 6)
        // All six used within the day: a seventh removes none of them.
        const seventh = (yield* probe(commits[6]!, INSTALL))[0]!
        assert.strictEqual(readdirSync(installs).length, 7)
        // Five of them last used days ago (the first the longest); using the third again marks it used now.
        commits.slice(0, 5).forEach((commit, i) => {
          const marker = NodePath.join(installs, keyOf(commit), "installed.json")
          utimesSync(marker, dayAgo(10 - i), dayAgo(10 - i))
        })
        yield* probe(commits[2]!, INSTALL)
        // A new key: the four most recently used stay (the new one, the seventh, the sixth, the third), and of the
        // others the ones unused for over a day go.
        const eighth = commitOnTop(repo, base, { "package.json": "{\"name\":\"demo-8\"}\n" })
        const newest = (yield* probe(eighth, INSTALL))[0]!
        const left = new Set(readdirSync(installs))
        const kept = [newest, seventh, from.get(commits[5]!)!, from.get(commits[2]!)!]
          .map((f) => NodePath.relative(installs, f).split(NodePath.sep)[0]!)
        assert.deepStrictEqual([...left].sort(), kept.sort())
        // A pruned key is built again when it is needed.
        const again = (yield* probe(commits[0]!, INSTALL))[0]!
        assert.include(again, `/${INSTALLS_DIR}/`)
      }).pipe(Effect.provide(layersFor(repo, workspace)))
    }))
})

describe("installs helpers", () => {
  it("prune order: the most recently used few are kept whatever their age, the others once unused for a day", () => {
    const now = 10 * INSTALL_IDLE_MS
    const at = (ms: number) => now - ms
    const installs = [
      { key: "a", lastUsedMs: at(5 * INSTALL_IDLE_MS) },
      { key: "b", lastUsedMs: at(4 * INSTALL_IDLE_MS) },
      { key: "c", lastUsedMs: at(3 * INSTALL_IDLE_MS) },
      { key: "d", lastUsedMs: at(2 * INSTALL_IDLE_MS) },
      { key: "e", lastUsedMs: at(INSTALL_IDLE_MS / 2) },
      { key: "new", lastUsedMs: now }
    ]
    assert.strictEqual(KEEP_INSTALLS, 4)
    // Kept: new, e, d, c (the four most recent); a and b are older than a day.
    assert.deepStrictEqual([...installsToPrune(installs, "new", now)].sort(), ["a", "b"])
    // Recent ones beyond the four stay.
    const recent = installs.map((i) => ({ ...i, lastUsedMs: at(1_000) }))
    assert.deepStrictEqual(installsToPrune(recent, "new", now), [])
    // The key just built is never pruned, however old its marker says it is.
    assert.notInclude(installsToPrune(installs.map((i) => ({ ...i, lastUsedMs: 0 })), "new", now), "new")
  })
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
