import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { BaseResultsMemory, Verifier, type VerifyObserver, type VerifyPolicy } from "@switchyard/core"
import { Effect, Layer, Ref, type Scope } from "effect"
import { BwrapConfinement, EnvRedactor, GitSandbox, ProcessVerifier } from "../src/index.js"
import { baseKey } from "../src/Verifier/baseKey.js"
import { commitOnTop, config, makeRepo, policy as basePolicy } from "./helpers.js"

/** The policy these tests verify with: test counts compared (the base's validation is what is reused). */
const policy = (overrides: Partial<VerifyPolicy> = {}): VerifyPolicy => basePolicy({ compareTestCounts: true, ...overrides })
const NO_HOOKS = config({}).hooks
/** A validation that reports two passing tests in TAP form (what the count parser reads). */
const VALIDATION = "printf '# tests 2\\n# suites 0\\n# pass 2\\n# fail 0\\n# cancelled 0\\n'"

const layersFor = (repo: string, workspace: string) =>
  ProcessVerifier.layer.pipe(
    Layer.provideMerge(GitSandbox.layer({ repoRoot: repo, workspaceRoot: workspace })),
    Layer.provideMerge(BwrapConfinement.layer({ repoRoot: repo, workspaceRoot: workspace, sandbox: config({}).sandbox })),
    Layer.provideMerge(BaseResultsMemory),
    Layer.provide(EnvRedactor.layer())
  )

/** An observer that records `<phase>:started` and `<phase>:done[:reused]` in order. */
const recording = Effect.map(Ref.make<ReadonlyArray<string>>([]), (log) => {
  const observer: VerifyObserver = {
    started: ({ phase }) => Ref.update(log, (l) => [...l, `${phase}:started`]),
    done: ({ phase, reused }) => Ref.update(log, (l) => [...l, `${phase}:done${reused === true ? ":reused" : ""}`])
  }
  return { observer, take: Ref.getAndSet(log, []) }
})

const test = (name: string, body: () => Effect.Effect<void, unknown, Scope.Scope | NodeContext.NodeContext>) =>
  it.live(name, () => body().pipe(Effect.scoped, Effect.provide(NodeContext.layer)), 30_000)

describe("base results (verify.base_cache)", () => {
  test("the second issue on a base reuses the base's validation; another command or base_cache: false runs it", () =>
    Effect.gen(function*() {
      const { repo, workspace, base } = yield* makeRepo
      const first = commitOnTop(repo, base, { "src/one.txt": "one\n" })
      const second = commitOnTop(repo, base, { "src/two.txt": "two\n" })
      yield* Effect.gen(function*() {
        const verifier = yield* Verifier
        const { observer, take } = yield* recording
        const verify = (commit: string, issueId: string, validation: string, p: VerifyPolicy = policy()) =>
          verifier.verify({
            issueId,
            baseCommit: base,
            policy: p,
            commit,
            reproduction: null,
            validation: [validation],
            timeoutMs: 10_000,
            hooks: NO_HOOKS,
            observer
          })

        const a = yield* verify(first, "SY-1", VALIDATION)
        // The candidate and the base run side by side: each phase in order, the two interleaved.
        const firstEvents = yield* take
        assert.deepStrictEqual(firstEvents.filter((e) => e.startsWith("validation:")), ["validation:started", "validation:done"])
        assert.deepStrictEqual(firstEvents.filter((e) => e.startsWith("validation_base:")), [
          "validation_base:started",
          "validation_base:done"
        ])
        assert.isUndefined(a.baseReusedFrom)
        assert.strictEqual(a.testCounts.base?.total, 2)

        const b = yield* verify(second, "SY-2", VALIDATION)
        assert.deepStrictEqual([...(yield* take)].sort(), ["validation:done", "validation:started", "validation_base:done:reused"])
        assert.isNumber(b.baseReusedFrom)
        assert.deepStrictEqual(b.testCounts.base, a.testCounts.base)
        assert.isTrue(b.guards.find((g) => g.rule === "test_count_dropped")!.passed)

        // A different command is a different key.
        yield* verify(second, "SY-2", `${VALIDATION}; true`)
        assert.include(yield* take, "validation_base:started")
        // verify.base_cache: false always runs the base.
        const off = yield* verify(second, "SY-3", VALIDATION, policy({ baseCache: false }))
        assert.include(yield* take, "validation_base:started")
        assert.isUndefined(off.baseReusedFrom)
      }).pipe(Effect.provide(layersFor(repo, workspace)))
    }))

  test("the base reproduction is reused across attempts, but a tool that could not start is run again", () =>
    Effect.gen(function*() {
      const { repo, workspace, base } = yield* makeRepo
      yield* Effect.gen(function*() {
        const verifier = yield* Verifier
        const { observer, take } = yield* recording
        const repro = (command: string, reuse?: boolean) => verifier.reproduce("SY-1", base, command, 10_000, [], NO_HOOKS, observer, reuse)

        const first = yield* repro("grep -q answer=42 src/app.txt")
        assert.strictEqual(first.exitCode, 1)
        assert.deepStrictEqual(yield* take, ["reproduction_base:started", "reproduction_base:done"])
        const again = yield* repro("grep -q answer=42 src/app.txt")
        assert.strictEqual(again.exitCode, 1)
        assert.deepStrictEqual(yield* take, ["reproduction_base:done:reused"])
        // Without reuse (verify.base_cache: false) it runs.
        yield* repro("grep -q answer=42 src/app.txt", false)
        assert.deepStrictEqual(yield* take, ["reproduction_base:started", "reproduction_base:done"])

        // 127: the tool is missing (an install hook the user can still add); never remembered.
        const missing = yield* repro("no-such-tool-switchyard --run")
        assert.isTrue(missing.environmentFailure)
        yield* take
        yield* repro("no-such-tool-switchyard --run")
        assert.deepStrictEqual(yield* take, ["reproduction_base:started", "reproduction_base:done"])
      }).pipe(Effect.provide(layersFor(repo, workspace)))
    }))
})

describe("baseKey", () => {
  const inputs = {
    phase: "validation_base",
    baseCommit: "a".repeat(40),
    commands: ["pnpm test"],
    timeoutMs: 600_000,
    afterCreate: "pnpm install --frozen-lockfile",
    env: { PATH: "/usr/bin", SWITCHYARD_CHANGED_FILES: "src/a.ts", SWITCHYARD_HEAD_SHA: "b".repeat(40) }
  }
  it("ignores the change variables when no command names them", () => {
    assert.strictEqual(
      baseKey(inputs),
      baseKey({ ...inputs, env: { ...inputs.env, SWITCHYARD_CHANGED_FILES: "src/b.ts", SWITCHYARD_HEAD_SHA: "c".repeat(40) } })
    )
  })
  it("keys on the change variables when a command names one", () => {
    const filtered = { ...inputs, commands: ["pnpm --filter \"...[$SWITCHYARD_BASE_SHA]\" test"] }
    assert.notStrictEqual(baseKey(filtered), baseKey({ ...filtered, env: { ...filtered.env, SWITCHYARD_CHANGED_FILES: "src/b.ts" } }))
  })
  it("changes with every other input", () => {
    const key = baseKey(inputs)
    for (
      const other of [
        { ...inputs, phase: "reproduction_base" },
        { ...inputs, baseCommit: "d".repeat(40) },
        { ...inputs, commands: ["pnpm test", "pnpm lint"] },
        { ...inputs, timeoutMs: 1_000 },
        { ...inputs, afterCreate: null },
        { ...inputs, env: { ...inputs.env, PATH: "/opt/bin:/usr/bin" } }
      ]
    ) assert.notStrictEqual(baseKey(other), key, JSON.stringify(other))
  })
})
