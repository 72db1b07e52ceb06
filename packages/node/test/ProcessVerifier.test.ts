import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { GuardResult, Sandbox, Verifier, type VerifyPolicy } from "@switchyard/core"
import { CommandResult, IssueId, TestCounts } from "@switchyard/domain"
import { Effect, Layer, Option, Schema, type Scope } from "effect"
import { execFileSync } from "node:child_process"
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import * as NodePath from "node:path"
import { BwrapConfinement, EnvRedactor, GitSandbox, ProcessVerifier, SymlinkFacts } from "../src/index.js"
import { commitOnTop, config, gitSync, makeRepo, policy } from "./helpers.js"

const SY1 = Schema.decodeSync(IssueId)("SY-1")
const REPRO = "grep -q answer=42 src/app.txt"

/** A change made of symlinks: `link` creates links on disk, `blob` stores targets no file system can hold. */
interface LinkChange {
  /** path -> target, written with symlink(2) (a Buffer target keeps its bytes). */
  readonly link?: Record<string, string | Buffer>
  /** path -> raw target bytes, stored with `git hash-object` + `update-index --cacheinfo 120000,...`. */
  readonly blob?: Record<string, Uint8Array>
  /** [from, to]: `git mv`. */
  readonly move?: ReadonlyArray<readonly [string, string]>
  readonly write?: Record<string, string>
}

/** Commits a {@link LinkChange} on top of `base` in a throw-away worktree, like `commitOnTop`. */
const commitLinks = (repo: string, base: string, change: LinkChange): string => {
  const dir = mkdtempSync(NodePath.join(NodePath.dirname(repo), "commit-"))
  rmSync(dir, { recursive: true })
  gitSync(repo, "worktree", "add", "-q", "--detach", dir, base)
  for (const [from, to] of change.move ?? []) {
    mkdirSync(NodePath.dirname(NodePath.join(dir, to)), { recursive: true })
    renameSync(NodePath.join(dir, from), NodePath.join(dir, to))
  }
  for (const [name, text] of Object.entries(change.write ?? {})) writeFileSync(NodePath.join(dir, name), text)
  for (const [name, target] of Object.entries(change.link ?? {})) {
    mkdirSync(NodePath.dirname(NodePath.join(dir, name)), { recursive: true })
    rmSync(NodePath.join(dir, name), { force: true })
    symlinkSync(target, NodePath.join(dir, name))
  }
  gitSync(dir, "add", "-A")
  for (const [name, bytes] of Object.entries(change.blob ?? {})) {
    const oid = execFileSync("git", ["hash-object", "-w", "--stdin"], { cwd: dir, input: bytes, encoding: "utf8" }).trim()
    gitSync(dir, "update-index", "--add", "--cacheinfo", `120000,${oid},${name}`)
  }
  gitSync(dir, "commit", "-q", "-m", "links")
  const commit = gitSync(dir, "rev-parse", "HEAD").trim()
  gitSync(repo, "worktree", "remove", "--force", dir)
  return commit
}

/** The verifier over a real sandbox, confined by bubblewrap as in production. */
const layersFor = (repo: string, workspace: string) =>
  ProcessVerifier.layer.pipe(
    Layer.provideMerge(GitSandbox.layer({ repoRoot: repo, workspaceRoot: workspace })),
    Layer.provideMerge(BwrapConfinement.layer({ repoRoot: repo, workspaceRoot: workspace, sandbox: config({}).sandbox })),
    // The runner's environment as it is when the layer is built (tests that set a secret set it before).
    Layer.provide(EnvRedactor.layer())
  )

/** No hooks (`hooks:` left out of WORKFLOW.md): what most tests pass to the verifier and the sandbox. */
const NO_HOOKS = config({}).hooks

const test = (name: string, body: () => Effect.Effect<void, unknown, Scope.Scope | NodeContext.NodeContext>) =>
  it.live(name, () => body().pipe(Effect.scoped, Effect.provide(NodeContext.layer)), 30_000)

const guard = (guards: ReadonlyArray<GuardResult>, rule: string): GuardResult => {
  const found = guards.find((g) => g.rule === rule)
  assert.isDefined(found, `guard ${rule}`)
  return found!
}

const failedRules = (guards: ReadonlyArray<GuardResult>) => guards.filter((g) => !g.passed).map((g) => g.rule)

const tap = (tests: number, pass: number) => `# tests ${tests}\n# suites 0\n# pass ${pass}\n# fail ${tests - pass}\n# cancelled 0\n`

describe("ProcessVerifier", () => {
  test("reproduction fails on the base and passes on the fix; every validation runs in a clean checkout", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const { repo, workspace, base } = yield* makeRepo
      yield* Effect.gen(function*() {
        const sandbox = yield* Sandbox
        const verifier = yield* Verifier

        const before = yield* verifier.reproduce("SY-1", base, REPRO, 10_000, [], NO_HOOKS)
        assert.strictEqual(before.exitCode, 1)
        assert.isFalse(before.environmentFailure)

        // The "agent" fixes the bug, leaves an ignored build artifact, then (after the snapshot) an untracked file.
        const handle = yield* sandbox.create(SY1, 1, base, NO_HOOKS)
        yield* fs.writeFileString(NodePath.join(handle.path, "src", "app.txt"), "answer=42\n")
        yield* fs.writeFileString(NodePath.join(handle.path, "build.log"), "artifact\n")
        const candidate = yield* sandbox.snapshot(handle, "fix")
        yield* fs.writeFileString(NodePath.join(handle.path, "src", "helper.txt"), "only in the sandbox\n")
        // The reproduction also passes in the agent's sandbox, but the verifier must not look there.
        yield* fs.writeFileString(NodePath.join(handle.path, "src", "app.txt"), "answer=41\nanswer=42\n")

        const verification = yield* verifier.verify({
          issueId: "SY-1",
          baseCommit: base,
          policy: policy(),
          commit: candidate.commit!,
          reproduction: REPRO,
          validation: [
            "test ! -e src/helper.txt && test ! -e build.log",
            "grep -c answer src/app.txt | grep -qx 1",
            "echo broken >&2; exit 3",
            "test -e README.md"
          ],
          timeoutMs: 10_000,
          hooks: NO_HOOKS
        })
        assert.isNotNull(verification.reproductionAfter)
        assert.isTrue(verification.reproductionAfter!.passed)
        assert.deepStrictEqual(verification.validation.map((r) => r.exitCode), [0, 0, 3, 0])
        assert.include(verification.validation[2]!.outputTail, "broken")
        assert.deepStrictEqual(failedRules(verification.guards), [])
        // Without compareTestCounts the base is not run and no count guard is added.
        assert.isFalse(verification.guards.some((g) => g.rule === "test_count_dropped"))
        assert.isNull(verification.testCounts.base)

        const noRepro = yield* verifier.verify({
          issueId: "SY-1",
          baseCommit: base,
          policy: policy(),
          commit: base,
          reproduction: null,
          validation: [REPRO],
          timeoutMs: 10_000,
          hooks: NO_HOOKS
        })
        assert.isNull(noRepro.reproductionAfter)
        assert.strictEqual(noRepro.validation[0]!.exitCode, 1)

        // Every verification checkout is gone; only the agent's sandbox is left.
        assert.deepStrictEqual((yield* sandbox.list).map((w) => w.path), [handle.path])
        assert.deepStrictEqual(yield* fs.readDirectory(NodePath.join(workspace, ".verify")), [])
        assert.strictEqual(gitSync(repo, "worktree", "list").trim().split("\n").length, 1)
      }).pipe(Effect.provide(layersFor(repo, workspace)))
    }))

  test("the checkouts run the after_create of the hooks passed in (with verify.env only), not of any config", () =>
    Effect.gen(function*() {
      const { repo, workspace, base } = yield* makeRepo
      // The hook records whether it saw a variable that is in verify.env and one that is only in hooks.env.
      const prepare = config({
        hooks: { after_create: "printf '%s|%s' \"$SY_VERIFY_VAR\" \"$SY_HOOK_VAR\" > .prepared", env: ["SY_HOOK_VAR"] }
      }).hooks
      process.env.SY_VERIFY_VAR = "verify-ok"
      process.env.SY_HOOK_VAR = "hook-only"
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          delete process.env.SY_VERIFY_VAR
          delete process.env.SY_HOOK_VAR
        })
      )
      yield* Effect.gen(function*() {
        const verifier = yield* Verifier
        const check = "test \"$(cat .prepared)\" = 'verify-ok|'"
        const repro = yield* verifier.reproduce("SY-1", base, check, 10_000, ["SY_VERIFY_VAR"], prepare)
        assert.strictEqual(repro.exitCode, 0, repro.outputTail)
        const p = policy({ env: ["SY_VERIFY_VAR"], compareTestCounts: true })
        const input = { issueId: "SY-1", baseCommit: base, policy: p, commit: base, reproduction: check, validation: [check], timeoutMs: 10_000 }
        const prepared = yield* verifier.verify({ ...input, hooks: prepare })
        assert.isTrue(prepared.reproductionAfter!.passed)
        assert.deepStrictEqual(prepared.validation.map((r) => r.exitCode), [0])
        // The same commands without the hook: nothing prepared the checkout.
        const bare = yield* verifier.verify({ ...input, hooks: NO_HOOKS })
        assert.isFalse(bare.reproductionAfter!.passed)
        assert.deepStrictEqual(bare.validation.map((r) => r.exitCode === 0), [false])
      }).pipe(Effect.provide(layersFor(repo, workspace)))
    }))

  test("each command gets its own timeout", () =>
    Effect.gen(function*() {
      const { repo, workspace, base } = yield* makeRepo
      const verification = yield* Effect.flatMap(Verifier, (verifier) =>
        verifier.verify({
          issueId: "SY-1",
          baseCommit: base,
          policy: policy(),
          commit: base,
          reproduction: "sleep 30",
          validation: ["true"],
          timeoutMs: 300,
          hooks: NO_HOOKS
        })).pipe(Effect.provide(layersFor(repo, workspace)))
      assert.isTrue(verification.reproductionAfter!.timedOut)
      assert.isTrue(verification.reproductionAfter!.environmentFailure)
      assert.strictEqual(verification.validation[0]!.exitCode, 0)
    }))

  test("the guards read the full base..commit diff: deleted tests, scope, protected paths, sizes, secrets", () =>
    Effect.gen(function*() {
      const { repo, workspace, base: initial } = yield* makeRepo
      // A base with a test file and a lockfile, committed by the human.
      const base = commitOnTop(repo, initial, {
        "test/app.test.js": "import { test } from \"node:test\"\ntest(\"app\", () => {})\n",
        "pnpm-lock.yaml": "lockfileVersion: '9.0'\n"
      })
      const secret = "sk-live-value-for-the-guard-1234"
      const commit = commitOnTop(repo, base, {
        "test/app.test.js": null,
        "docs/notes.md": "outside the scope\n",
        "pnpm-lock.yaml": "lockfileVersion: '9.1'\n",
        "src/app.txt": `answer=42\nkey=${secret}\n`,
        "src/big.bin.txt": "x".repeat(300),
        "deploy/prod.yaml": "replicas: 3\n"
      })
      const verification = yield* Effect.flatMap(Verifier, (verifier) =>
        verifier.verify({
          issueId: "SY-1",
          baseCommit: base,
          policy: policy({
            scope: ["src/**", "test/**", "deploy/**", "pnpm-lock.yaml"],
            maxAddedFileBytes: 100,
            protectedPaths: ["deploy/**"],
            secretValues: [secret]
          }),
          commit,
          reproduction: null,
          validation: [],
          timeoutMs: 10_000,
          hooks: NO_HOOKS
        })).pipe(Effect.provide(layersFor(repo, workspace)))
      assert.deepStrictEqual(failedRules(verification.guards), [
        "deleted_test_file",
        "removed_test_case",
        "outside_scope",
        "protected_path",
        "added_file_too_large",
        "secret_in_diff"
      ])
      assert.deepStrictEqual(guard(verification.guards, "deleted_test_file").lines.map((l) => l.file), ["test/app.test.js"])
      assert.deepStrictEqual(guard(verification.guards, "outside_scope").lines.map((l) => l.file), ["docs/notes.md"])
      const protectedPath = guard(verification.guards, "protected_path")
      assert.deepStrictEqual(protectedPath.lines.map((l) => l.file).sort(), ["deploy/prod.yaml", "pnpm-lock.yaml"])
      assert.include(protectedPath.detail, "verify.protected_paths: deploy/prod.yaml")
      assert.include(guard(verification.guards, "added_file_too_large").lines[0]!.line, "300 bytes")
      const secretGuard = guard(verification.guards, "secret_in_diff")
      assert.strictEqual(secretGuard.lines[0]!.file, "src/app.txt")
      assert.notInclude(JSON.stringify(verification.guards), secret)
      // The whole patch was read: patch_incomplete passes.
      assert.isTrue(guard(verification.guards, "patch_incomplete").passed)
    }))

  test("an issue may allow a path of verify.protected_paths; a clean change passes every guard", () =>
    Effect.gen(function*() {
      const { repo, workspace, base } = yield* makeRepo
      const commit = commitOnTop(repo, base, { "deploy/prod.yaml": "replicas: 3\n", "src/app.txt": "answer=42\n" })
      const run = (p: VerifyPolicy) =>
        Effect.flatMap(Verifier, (verifier) =>
          verifier.verify({ issueId: "SY-1", baseCommit: base, policy: p, commit, reproduction: null, validation: [], timeoutMs: 10_000, hooks: NO_HOOKS }))
          .pipe(Effect.provide(layersFor(repo, workspace)))
      const blocked = yield* run(policy({ protectedPaths: ["deploy/**"] }))
      assert.deepStrictEqual(failedRules(blocked.guards), ["protected_path"])
      const allowed = yield* run(policy({ protectedPaths: ["deploy/**"], allowProtectedPaths: ["deploy/prod.yaml"] }))
      assert.deepStrictEqual(failedRules(allowed.guards), [])
      assert.strictEqual(allowed.guards.length, 10)
    }))

  test("symlink_outside_tree: the verifier reads both trees' links from git and refuses the ones the change sends out", () =>
    Effect.gen(function*() {
      const { root, repo, workspace, base: initial } = yield* makeRepo
      const outside = NodePath.join(root, "outside-sum.js")
      writeFileSync(outside, "export const sum = (a, b) => a + b\n")
      // The human's base already has a link leaving the tree (vendor) and one inside it (docs/readme).
      const base = commitLinks(repo, initial, { link: { vendor: "/opt/vendor", "docs/readme": "../README.md" } })
      const change: LinkChange = {
        link: {
          "src/abs.js": outside,
          "src/up.js": "../../outside-sum.js",
          "src/lib.js": "../vendor/lib.js",
          "src/ok.txt": "app.txt",
          "src/ff": Buffer.from([0x61, 0xff])
        },
        blob: { "src/nul": new Uint8Array([0x61, 0x00, 0x62]) },
        // A pure rename: the patch shows no mode, but from the root ../README.md leaves the tree.
        move: [["docs/readme", "readme"]]
      }
      const commit = commitLinks(repo, base, change)
      // The links are real: git stores mode 120000, and the relative one reaches the outside file from a checkout.
      assert.match(gitSync(repo, "ls-tree", commit, "src/up.js"), /^120000 blob /)
      assert.strictEqual(gitSync(repo, "cat-file", "blob", `${commit}:src/up.js`), "../../outside-sum.js")

      // A target longer than PATH_MAX cannot even be checked out (git fails ENAMETOOLONG), so only its facts are read.
      const withHuge = commitLinks(repo, base, { ...change, blob: { ...change.blob, "src/huge": new Uint8Array(5000).fill(0x61) } })
      const facts = yield* SymlinkFacts.symlinkFacts(repo, base, withHuge)
      const byPath = new Map(facts.candidate.map((f) => [f.path, f]))
      assert.deepStrictEqual([...byPath.keys()].sort(), [
        "readme",
        "src/abs.js",
        "src/ff",
        "src/huge",
        "src/lib.js",
        "src/nul",
        "src/ok.txt",
        "src/up.js",
        "vendor"
      ])
      assert.deepStrictEqual(facts.base.map((f) => f.path).sort(), ["docs/readme", "vendor"])
      // Targets are the blobs' bytes, undecoded; an oversize one is not read, only sized.
      assert.deepStrictEqual([...(byPath.get("src/ff")!.target as Uint8Array)], [0x61, 0xff])
      assert.deepStrictEqual([...(byPath.get("src/nul")!.target as Uint8Array)], [0x61, 0x00, 0x62])
      assert.deepStrictEqual(byPath.get("src/huge"), { path: "src/huge", target: "", size: 5000 })
      assert.strictEqual(new TextDecoder().decode(byPath.get("src/abs.js")!.target as Uint8Array), outside)
      // A change that touches no link needs no listing at all.
      const plain = commitOnTop(repo, base, { "src/app.txt": "answer=42\n" })
      assert.deepStrictEqual(yield* SymlinkFacts.symlinkFacts(repo, base, plain), { base: [], candidate: [] })

      const run = (candidate: string) =>
        Effect.flatMap(Verifier, (verifier) =>
          verifier.verify({
            issueId: "SY-1",
            baseCommit: base,
            policy: policy(),
            commit: candidate,
            reproduction: null,
            validation: [],
            timeoutMs: 10_000,
            hooks: NO_HOOKS
          })).pipe(Effect.provide(layersFor(repo, workspace)))
      const verification = yield* run(commit)
      assert.deepStrictEqual(failedRules(verification.guards), ["symlink_outside_tree"])
      const symlinks = guard(verification.guards, "symlink_outside_tree")
      assert.deepStrictEqual(symlinks.lines.map((l) => l.file), [
        "readme",
        "src/abs.js",
        "src/ff",
        "src/lib.js",
        "src/nul",
        "src/up.js"
      ])
      const line = (file: string) => symlinks.lines.find((l) => l.file === file)!.line
      assert.include(line("src/abs.js"), "absolute")
      assert.include(line("src/up.js"), "climbs above the tree root")
      assert.include(line("readme"), "climbs above the tree root")
      assert.include(line("src/lib.js"), "through vendor -> \"/opt/vendor\"")
      assert.include(line("src/ff"), "not valid UTF-8")
      assert.include(line("src/nul"), "NUL")

      // Links that stay inside pass, and the base's own outside link is not the change's doing.
      const inside = commitLinks(repo, base, { link: { "src/sum.js": "../docs/../src/app.txt", "src/ok.txt": "app.txt" } })
      const clean = yield* run(inside)
      assert.deepStrictEqual(failedRules(clean.guards), [])
      assert.include(guard(clean.guards, "symlink_outside_tree").detail, "already did in the base")
      assert.isTrue(guard((yield* run(plain)).guards, "symlink_outside_tree").passed)
    }))

  test("test counts: validation also runs on the base, and fewer tests on the candidate fails test_count_dropped", () =>
    Effect.gen(function*() {
      const { repo, workspace, base: initial } = yield* makeRepo
      // The "test runner" prints a node --test TAP summary from a committed file, after 20 KiB of other output,
      // so the summary is only in the kept tail.
      const runner = "yes x | head -c 20000; echo; cat counts.txt"
      const base = commitOnTop(repo, initial, { "counts.txt": tap(5, 5) })
      const fewer = commitOnTop(repo, base, { "counts.txt": tap(3, 3) })
      const more = commitOnTop(repo, base, { "counts.txt": tap(6, 6), "lint.txt": "clean\n" })
      const run = (commit: string, validation: ReadonlyArray<string>, compare = true) =>
        Effect.flatMap(Verifier, (verifier) =>
          verifier.verify({
            issueId: "SY-1",
            baseCommit: base,
            policy: policy({ compareTestCounts: compare }),
            commit,
            reproduction: null,
            validation,
            timeoutMs: 10_000,
            hooks: NO_HOOKS
          })).pipe(Effect.provide(layersFor(repo, workspace)))

      const dropped = yield* run(fewer, [runner])
      assert.deepStrictEqual(dropped.testCounts.base, new TestCounts({ passed: 5, failed: 0, skipped: 0, total: 5, runner: "node-test" }))
      assert.strictEqual(dropped.testCounts.candidate?.total, 3)
      assert.deepStrictEqual(failedRules(dropped.guards), ["test_count_dropped"])
      assert.include(guard(dropped.guards, "test_count_dropped").detail, "3 tests")

      // Counts are summed over the commands that report them; a command without counts adds nothing.
      const grown = yield* run(more, [runner, "cat lint.txt || true", runner])
      assert.strictEqual(grown.testCounts.base?.total, 10)
      assert.strictEqual(grown.testCounts.candidate?.total, 12)
      assert.isTrue(guard(grown.guards, "test_count_dropped").passed)

      const noValidation = yield* run(fewer, [])
      assert.isTrue(guard(noValidation.guards, "test_count_dropped").passed)
      assert.isNull(noValidation.testCounts.base)
    }))

  test("secret values from the environment and the policy are redacted from every output", () =>
    Effect.gen(function*() {
      const { repo, workspace, base } = yield* makeRepo
      const envSecret = "env-secret-value-31337"
      const policySecret = "policy-secret-value-4242"
      const previous = process.env.SWITCHYARD_TEST_API_TOKEN
      yield* Effect.acquireRelease(
        Effect.sync(() => (process.env.SWITCHYARD_TEST_API_TOKEN = envSecret)),
        () =>
          Effect.sync(() => {
            if (previous === undefined) delete process.env.SWITCHYARD_TEST_API_TOKEN
            else process.env.SWITCHYARD_TEST_API_TOKEN = previous
          })
      )
      const commit = commitOnTop(repo, base, { "src/app.txt": `answer=42 ${envSecret}\n` })
      const echo = `echo "token=$SWITCHYARD_TEST_API_TOKEN other=${policySecret}"`
      yield* Effect.gen(function*() {
        const verifier = yield* Verifier
        // By default a verification command never gets the runner's secret (it runs the candidate's code)…
        const withheld = yield* verifier.verify({
          issueId: "SY-1",
          baseCommit: base,
          policy: policy({ secretValues: [policySecret] }),
          commit,
          reproduction: echo,
          validation: [echo],
          timeoutMs: 10_000,
          hooks: NO_HOOKS
        })
        for (const r of [withheld.reproductionAfter!, ...withheld.validation]) assert.include(r.outputTail, "token= other=[REDACTED]")
        // …and one that verify.env passes it to has it redacted from every output kept.
        const verification = yield* verifier.verify({
          issueId: "SY-1",
          baseCommit: base,
          policy: policy({ secretValues: [policySecret], env: ["SWITCHYARD_TEST_API_TOKEN"] }),
          commit,
          reproduction: echo,
          validation: [echo],
          timeoutMs: 10_000,
          hooks: NO_HOOKS
        })
        const kept: Array<CommandResult> = [verification.reproductionAfter!, ...verification.validation]
        for (const r of kept) {
          assert.include(r.outputTail, "token=[REDACTED] other=[REDACTED]")
          assert.include(r.outputHead, "token=[REDACTED]")
        }
        assert.notInclude(JSON.stringify(verification), envSecret)
        assert.notInclude(JSON.stringify(verification), policySecret)
        assert.deepStrictEqual(failedRules(verification.guards), ["secret_in_diff"])
        const repro = yield* verifier.reproduce("SY-1", base, echo, 10_000, ["SWITCHYARD_TEST_API_TOKEN"], NO_HOOKS)
        assert.include(repro.outputTail, "token=[REDACTED]")
      }).pipe(Effect.provide(layersFor(repo, workspace)))
    }))
})

describe("ProcessVerifier helpers", () => {
  it("sumCounts adds the counts of every command that reports them", () => {
    const result = (output: string) =>
      new CommandResult({
        command: "x",
        exitCode: 0,
        signal: null,
        timedOut: false,
        environmentFailure: false,
        durationMs: 1,
        outputHead: output,
        outputTail: output
      })
    const summed = ProcessVerifier.sumCounts([result(tap(2, 1)), result("no counts"), result(" Tests  3 passed (3)")])
    assert.deepStrictEqual(summed, Option.some(new TestCounts({ passed: 4, failed: 1, skipped: 0, total: 5, runner: "vitest" })))
    assert.deepStrictEqual(ProcessVerifier.sumCounts([result("nothing")]), Option.none())
  })
})
