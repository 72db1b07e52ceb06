/**
 * ProcessVerifier: the `Verifier` that checks a candidate from outside the agent's reach.
 * - Reproduction and validation commands run with `sh -c` in fresh, clean checkouts from the `Sandbox` (never in
 *   the agent's sandbox), each under its own timeout. A checkout is removed as soon as its commands have run, so
 *   untracked files, caches and background processes the agent left cannot touch the verdict.
 * - Every command runs the candidate's code, so it is confined like the agent (`Confinement`): the checkout and a
 *   throw-away HOME writable, no network (`sandbox.network`), and only `verify.env`'s runner variables on top of
 *   PATH, LANG and friends: never the runner's secrets (GitHub Actions runs fork pull requests the same way).
 * - The anti-cheat guards (docs/guards.md) read the FULL `git diff base..commit`, computed here with git in the
 *   main repository, never the evidence copy of the patch (which is cut to a size limit).
 * - Test counts are parsed from the validation output; with `policy.compareTestCounts` the validation also runs
 *   in a clean checkout of the base, and fewer tests on the candidate fails the `test_count_dropped` guard.
 * - Every output kept is redacted by the `Redactor` (with `policy.secretValues` on top of its values).
 */
import { CommandExecutor } from "@effect/platform"
import {
  BaseResults,
  BaseRun,
  isReusableBaseRun,
  changedPackages,
  changeEnv,
  type Checkout,
  compareTestCounts,
  Confinement,
  countsOf,
  GuardResult,
  type HookFailed,
  parsePatch,
  dependencyPathsOf,
  inconsistentLockfile,
  isFrozenInstall,
  runGuards,
  Sandbox,
  SandboxError,
  sumCounts,
  makeRedactor,
  Redactor,
  type RedactorShape,
  TEST_COUNT_RULE,
  annotate,
  Attr,
  traced,
  type Verification,
  Verifier,
  type VerifierShape,
  type VerifyObserver,
  type VerifyPhase,
  type VerifyPolicy
} from "@switchyard/core"
import type { CommandResult, HooksConfig, TestCounts } from "@switchyard/domain"
import { Clock, Deferred, Effect, Either, Layer, Option, Schema } from "effect"
import picomatch from "picomatch"
import { confinedEnv } from "../AgentStation/AgentEnv.js"
import * as ProcessRunner from "../ProcessRunner/ProcessRunner.js"
import { baseKey } from "./baseKey.js"
import { symlinkFacts } from "./SymlinkFacts.js"

/** The one field of a workspace package's `package.json` the change context needs. */
const decodeManifest = Schema.decodeUnknownOption(Schema.parseJson(Schema.Struct({ name: Schema.String })))

/**
 * Most bytes of `git diff --binary base..commit` read for the guards (64 MiB). A larger diff is cut, and the cut
 * files then fail the `patch_incomplete` guard (a human looks at a change that big anyway).
 */
export const MAX_GUARD_PATCH_BYTES = 64 * 1024 * 1024

/** Options that keep the diff a plain git patch whatever the user's config says (docs/guards.md, "The diff parser"). */
const DIFF_OPTIONS = ["--no-ext-diff", "--no-textconv", "--no-color", "--src-prefix=a/", "--dst-prefix=b/", "-M"]

/** Paths per `git ls-tree` call when measuring added files (keeps the argument list short). */
const LS_TREE_CHUNK = 500

const nulSeparated = (text: string): Array<string> => text.split("\0").filter((entry) => entry.length > 0)

/** Re-exported from @switchyard/core, where the decision table reads them too. */
export { countsOf, sumCounts }

/**
 * The `protected_path` result with the workflow's extra protected globs (`verify.protected_paths`) applied on top
 * of the built-in list `runGuards` checks. `paths` are the changed paths (both sides of renames); a path the issue
 * allows (`allowProtectedPaths`) passes. Pure.
 */
export const withExtraProtectedPaths = (
  results: ReadonlyArray<GuardResult>,
  paths: ReadonlyArray<string>,
  extra: ReadonlyArray<string>,
  allowed: ReadonlyArray<string>
): ReadonlyArray<GuardResult> => {
  if (extra.length === 0) return results
  const isExtra = picomatch([...extra], { dot: true })
  const isAllowed = allowed.length === 0 ? () => false : picomatch([...allowed], { dot: true })
  const hits = paths.filter((p) => isExtra(p) && !isAllowed(p))
  if (hits.length === 0) return results
  return results.map((r) => {
    if (r.rule !== "protected_path") return r
    const known = new Set(r.lines.map((l) => l.file))
    const lines = [...r.lines, ...hits.filter((p) => !known.has(p)).map((file) => ({ file, line: "changed (verify.protected_paths)" }))]
      .slice(0, 20)
    const shown = hits.slice(0, 5).join(", ") + (hits.length > 5 ? ` and ${hits.length - 5} more` : "")
    const detail = r.passed
      ? `The change edits ${hits.length === 1 ? "a path" : "paths"} protected by verify.protected_paths (${shown}); revert ${
        hits.length === 1 ? "it" : "them"
      } or allow ${hits.length === 1 ? "it" : "them"} in the issue (label allow:path:<glob>).`
      : `${r.detail} Also protected by verify.protected_paths: ${shown}.`
    return new GuardResult({ rule: r.rule, passed: false, detail, lines })
  })
}

/**
 * Builds the verifier. Its checkouts run the caller's `hooks.after_create` (confined, with `verify.env`: the
 * `env` of `reproduce`, `policy.env` of `verify`). `reproduce` runs one command in a checkout labelled
 * `<issueId>-repro`. `verify`:
 * 1. runs the guards on the full `baseCommit..commit` diff read from the main repository (`sandbox.repoRoot`);
 * 2. runs the reproduction (when given) and then every validation command, in order and all of them even after a
 *    failure, in one clean checkout of `commit` labelled `<issueId>-verify`;
 * 3. with `policy.compareTestCounts` and at least one validation command, runs the validation in a clean checkout
 *    of `baseCommit` labelled `<issueId>-base` at the same time as step 2 (or reuses an earlier run on that base
 *    with the same inputs, `policy.baseCache` and a `BaseResults` service), and appends the `test_count_dropped`
 *    result to the guards.
 * Every returned output is redacted. Fails only when git cannot read the diff or a checkout cannot be made
 * (`SandboxError`), or a checkout's `after_create` hook fails (`HookFailed`); command failures are results.
 * Exception: when the candidate checkout's `after_create` is a frozen install that fails (not a timeout) and the
 * change touches a lockfile or a dependency manifest, the result is a verification with no commands run and a
 * failed `protected_path` naming them (`inconsistentLockfile`): the lockfile does not match the manifests.
 */
export const make: Effect.Effect<VerifierShape, never, Sandbox | Confinement | CommandExecutor.CommandExecutor | Redactor> = Effect.gen(
  function*() {
    const sandbox = yield* Sandbox
    const confinement = yield* Confinement
    const executor = yield* CommandExecutor.CommandExecutor
    const redactor = yield* Redactor
    const withExecutor = Effect.provideService(CommandExecutor.CommandExecutor, executor)
    const repoRoot = sandbox.repoRoot
    const baseResults = yield* Effect.serviceOption(BaseResults)
    /** Base runs under way in this process, by `baseKey`: completed (not failed) when the run ends either way. */
    const inFlight = new Map<string, Deferred.Deferred<void>>()
    /** Base runs stored by `prepareBase`, by `baseKey` → the issue they were run ahead for (taken by its verify). */
    const ranAhead = new Map<string, string>()
    /** The environment of a verification command: the `env` names allowed from the runner, then `change`. */
    const commandEnv = (env: ReadonlyArray<string>, change: Readonly<Record<string, string>>) => ({
      ...confinedEnv(env, process.env),
      ...change
    })
    /**
     * Runs `commands` on the base (`phase`) through `run`, or returns an earlier run's results with the same inputs
     * (`baseKey`) when `reuse` is on and a `BaseResults` service is there; a fresh run whose every command ran to
     * an exit code of its own (`isReusableBaseRun`) is stored for the next issue. The same run already under way in
     * this process is awaited instead of run twice. `reusedFrom` is when the returned run happened, when it was not
     * now; `ranAhead` is true when it was made for `owner`'s issue by `prepareBase` (its own run: not a reuse).
     */
    const onBase = <E, R>(
      reuse: boolean,
      inputs: {
        readonly phase: VerifyPhase
        readonly baseCommit: string
        readonly commands: ReadonlyArray<string>
        readonly timeoutMs: number
        readonly hooks: { readonly after_create: string | null }
        readonly env: Readonly<Record<string, string>>
      },
      run: Effect.Effect<ReadonlyArray<CommandResult>, E, R>,
      owner: { readonly issueId: string; readonly ahead: boolean } | null = null
    ): Effect.Effect<
      { readonly results: ReadonlyArray<CommandResult>; readonly reusedFrom: number | null; readonly ranAhead: boolean },
      E,
      R
    > =>
      Effect.gen(function*() {
        if (!reuse || Option.isNone(baseResults)) return { results: yield* run, reusedFrom: null, ranAhead: false }
        const cache = baseResults.value
        const key = baseKey({ ...inputs, afterCreate: inputs.hooks.after_create })
        const lookup = Effect.gen(function*() {
          const hit = yield* cache.lookup(key)
          if (Option.isNone(hit) || hit.value.results.length !== inputs.commands.length) return null
          // Run ahead for this very issue (`prepareBase`): its own run, not a reuse.
          if (owner !== null && !owner.ahead && ranAhead.get(key) === owner.issueId) {
            ranAhead.delete(key)
            return { results: hit.value.results, reusedFrom: null, ranAhead: true }
          }
          yield* Effect.logInfo("base run reused").pipe(
            Effect.annotateLogs({ phase: inputs.phase, ranAt: new Date(hit.value.ran_at).toISOString() })
          )
          return { results: hit.value.results, reusedFrom: hit.value.ran_at, ranAhead: false }
        })
        const found = yield* lookup
        if (found !== null) return found
        // The same run already under way in this process (started ahead by `prepareBase`, or another issue on the
        // base): wait for it and take what it stored; if it stored nothing, run it here.
        const pending = inFlight.get(key)
        if (pending !== undefined) {
          yield* Deferred.await(pending)
          const after = yield* lookup
          if (after !== null) return after
        }
        const done = yield* Deferred.make<void>()
        if (pending === undefined) inFlight.set(key, done)
        return yield* Effect.gen(function*() {
          const results = yield* run
          if (isReusableBaseRun(results)) {
            const now = yield* Clock.currentTimeMillis
            const stored = results.map((r) => redactor.redactResult(r))
            yield* cache.store(key, new BaseRun({ base_commit: inputs.baseCommit, results: stored, ran_at: now }))
            if (owner?.ahead === true) ranAhead.set(key, owner.issueId)
          }
          return { results, reusedFrom: null, ranAhead: false }
        }).pipe(
          Effect.ensuring(Effect.suspend(() => {
            if (inFlight.get(key) === done) inFlight.delete(key)
            return Deferred.succeed(done, undefined)
          }))
        )
      })
    /** One verification command in `checkout`, confined, with the `env` names allowed from the runner. */
    const runIn = (
      checkout: Checkout,
      command: string,
      timeoutMs: number,
      env: ReadonlyArray<string>,
      change: Readonly<Record<string, string>> = {}
    ) =>
      withExecutor(ProcessRunner.runShell({
        command,
        cwd: checkout.path,
        timeoutMs,
        env: commandEnv(env, change),
        confine: {
          confinement,
          spec: { cwd: checkout.path, writable: [checkout.path], home: checkout.home, network: "none", mounts: checkout.mounts }
        }
      }))
    const git = (args: ReadonlyArray<string>) => withExecutor(ProcessRunner.runGit(args, repoRoot))
    /**
     * {@link runIn}, with `observer` told when the command starts and when it ends (its result redacted by
     * `redact`, and the test counts its output reports).
     */
    const observed = (
      observer: VerifyObserver | undefined,
      phase: VerifyPhase,
      index: number,
      redact: RedactorShape,
      run: Effect.Effect<CommandResult>,
      command: string
    ): Effect.Effect<CommandResult> =>
      Effect.gen(function*() {
        if (observer !== undefined) yield* observer.started({ phase, index, command })
        const result = yield* run
        yield* annotate({ [Attr.exitCode]: result.exitCode ?? -1, [Attr.durationMs]: result.durationMs })
        if (observer !== undefined) {
          const shown = redact.redactResult(result)
          yield* observer.done({ phase, index, result: shown, counts: Option.getOrNull(countsOf(shown)) })
        }
        return result
      }).pipe(
        traced("switchyard.verify.command", {
          attributes: { [Attr.phase]: phase, [Attr.command]: redact.redact(command), "switchyard.verify.index": index }
        })
      )

    /** Sizes (bytes) of the files `commit` adds, from `git ls-tree -l`. */
    const addedFileSizes = (range: string, commit: string) =>
      Effect.gen(function*() {
        const added = nulSeparated(yield* git(["diff", "--name-only", "-z", "-M", "--diff-filter=A", range]))
        const sizes: Array<{ path: string; bytes: number }> = []
        for (let i = 0; i < added.length; i += LS_TREE_CHUNK) {
          const chunk = added.slice(i, i + LS_TREE_CHUNK)
          const listing = yield* git(["--literal-pathspecs", "ls-tree", "-r", "-l", "-z", "--full-tree", commit, "--", ...chunk])
          for (const entry of nulSeparated(listing)) {
            const tab = entry.indexOf("\t")
            const [, type, , size] = entry.slice(0, tab).trim().split(/\s+/)
            if (tab > 0 && type === "blob" && size !== undefined && /^\d+$/.test(size)) {
              sizes.push({ path: entry.slice(tab + 1), bytes: Number(size) })
            }
          }
        }
        return sizes
      })

    /**
     * Every diff guard on `base..commit`, with the workflow's extra protected paths applied; the symlinks of both
     * trees (`symlinkFacts`) feed `symlink_outside_tree`.
     */
    const diffGuards = (
      base: string,
      commit: string,
      policy: VerifyPolicy,
      secrets: ReadonlyArray<string>,
      installHook: string | null
    ) =>
      Effect.gen(function*() {
        const range = `${base}..${commit}`
        const patch = yield* withExecutor(
          ProcessRunner.git(["diff", "--binary", ...DIFF_OPTIONS, range], repoRoot, { maxStdoutBytes: MAX_GUARD_PATCH_BYTES })
        )
        if (patch.exitCode !== 0) {
          return yield* new SandboxError({
            operation: `git diff ${range}`,
            reason: patch.stderr.trim() || `exited ${patch.exitCode}`
          })
        }
        if (patch.truncated) {
          yield* Effect.logWarning("diff larger than the guard limit; the cut files fail patch_incomplete").pipe(
            Effect.annotateLogs({ maxBytes: MAX_GUARD_PATCH_BYTES })
          )
        }
        const files = nulSeparated(yield* git(["diff", "--name-only", "-z", "-M", range]))
        const results = runGuards({
          patch: patch.stdout,
          files,
          scope: policy.scope,
          allow: { validationConfig: policy.allowValidationConfig, protectedPaths: policy.allowProtectedPaths },
          installHook,
          maxAddedFileBytes: policy.maxAddedFileBytes,
          addedFileSizes: yield* addedFileSizes(range, commit),
          secretValues: secrets,
          symlinks: yield* withExecutor(symlinkFacts(repoRoot, base, commit))
        })
        const paths = [
          ...new Set([
            ...files,
            ...parsePatch(patch.stdout).flatMap((d) => [d.oldPath, d.newPath]).filter((p): p is string => p !== null)
          ])
        ]
        return {
          results: withExtraProtectedPaths(results, paths, policy.protectedPaths, policy.allowProtectedPaths),
          files,
          patch: patch.stdout
        }
      }).pipe(Effect.withLogSpan("guards"))

    /**
     * The workspace packages of `commit` that own one of `files`: every `package.json` of the tree that is the
     * nearest manifest above a changed file, by its `name` (a manifest without a string `name` is skipped).
     */
    const packagesOf = (commit: string, files: ReadonlyArray<string>) =>
      Effect.gen(function*() {
        if (files.length === 0) return []
        const manifests = nulSeparated(yield* git(["ls-tree", "-r", "--name-only", "-z", commit]))
          .filter((p) => (p === "package.json" || p.endsWith("/package.json")) && !p.split("/").includes("node_modules"))
          .map((p) => p === "package.json" ? "" : p.slice(0, -"/package.json".length))
        const wanted = new Set(files.map((f) => manifests.filter((d) => d === "" || f.startsWith(`${d}/`))
          .sort((a, b) => b.length - a.length)[0]).filter((d): d is string => d !== undefined))
        const named = new Map<string, string>()
        for (const dir of wanted) {
          const text = yield* git(["show", `${commit}:${dir === "" ? "" : `${dir}/`}package.json`]).pipe(
            Effect.orElseSucceed(() => "")
          )
          const manifest = decodeManifest(text)
          if (Option.isSome(manifest)) named.set(dir, manifest.value.name)
        }
        return changedPackages(files, named)
      })

    const reproduce: VerifierShape["reproduce"] = (issueId, commit, command, timeoutMs, env, hooks, observer, reuse) =>
      Effect.gen(function*() {
        const change = changeEnv(commit, commit, [], [])
        const fresh = Effect.scoped(
          Effect.flatMap(
            sandbox.checkout(commit, `${issueId}-repro`, hooks, env),
            (dir) =>
              observed(observer, "reproduction_base", 0, redactor, runIn(dir, command, timeoutMs, env, change), command)
          )
        )
        const run = yield* onBase(
          reuse ?? true,
          {
            phase: "reproduction_base",
            baseCommit: commit,
            commands: [command],
            timeoutMs,
            hooks,
            env: commandEnv(env, change)
          },
          Effect.map(fresh, (r) => [r])
        )
        const result = redactor.redactResult(run.results[0]!)
        if (run.reusedFrom !== null && observer !== undefined) {
          yield* observer.done({ phase: "reproduction_base", index: 0, result, counts: Option.getOrNull(countsOf(result)), reused: true })
        }
        return result
      }).pipe(Effect.annotateLogs({ commit, stage: "reproduce" }))

    /**
     * The base's validation (phase `validation_base`) in a clean checkout of `baseCommit`, with the change variables
     * `change`, through `onBase` (reused, awaited in flight, or run now and stored).
     */
    const baseValidation = (input: {
      readonly issueId: string
      readonly baseCommit: string
      readonly policy: VerifyPolicy
      readonly validation: ReadonlyArray<string>
      readonly timeoutMs: number
      readonly hooks: HooksConfig
      readonly change: Readonly<Record<string, string>>
      readonly redact: RedactorShape
      readonly observer?: VerifyObserver | undefined
      readonly ahead: boolean
    }) =>
      onBase(input.policy.baseCache ?? true, {
        phase: "validation_base",
        baseCommit: input.baseCommit,
        commands: input.validation,
        timeoutMs: input.timeoutMs,
        hooks: input.hooks,
        env: commandEnv(input.policy.env, input.change)
      }, Effect.scoped(Effect.gen(function*() {
        const dir = yield* sandbox.checkout(input.baseCommit, `${input.issueId}-base`, input.hooks, input.policy.env)
        return yield* Effect.forEach(input.validation, (command, i) =>
          observed(
            input.observer,
            "validation_base",
            i,
            input.redact,
            runIn(dir, command, input.timeoutMs, input.policy.env, input.change),
            command
          ))
      })), { issueId: input.issueId, ahead: input.ahead })

    const prepareBase: VerifierShape["prepareBase"] = (input) => {
      const reads = [...input.validation, input.hooks.after_create ?? ""].join("\n").includes("SWITCHYARD_")
      const useful = input.policy.compareTestCounts && input.validation.length > 0 && (input.policy.baseCache ?? true) &&
        Option.isSome(baseResults) && !reads
      if (!useful) return Effect.void
      return baseValidation({
        ...input,
        change: changeEnv(input.baseCommit, input.baseCommit, [], []),
        redact: redactor,
        ahead: true
      }).pipe(
        Effect.asVoid,
        Effect.catchAll((e) => Effect.logInfo("the base's validation ahead of the candidate did not run").pipe(
          Effect.annotateLogs({ reason: e.message })
        )),
        Effect.annotateLogs({ base: input.baseCommit, stage: "prepare base" })
      )
    }

    const verify: VerifierShape["verify"] = (input) =>
      Effect.gen(function*() {
        const redact = input.policy.secretValues.length === 0
          ? redactor
          : makeRedactor([...redactor.secrets, ...input.policy.secretValues])
        const secrets = redact.secrets
        const { files, patch: guardPatch, results: guards } = yield* diffGuards(
          input.baseCommit,
          input.commit,
          input.policy,
          secrets,
          input.hooks.after_create
        )
        // What the change touches, for commands that check only the affected work (same for the base run, so
        // the test counts compare like with like).
        const change = changeEnv(input.baseCommit, input.commit, files, yield* packagesOf(input.commit, files))

        // A frozen install that fails on a change touching the lockfile or its manifests is the candidate's fault
        // (an inconsistent lockfile), not the environment's: it becomes a failed guard instead of HookFailed.
        const deps = dependencyPathsOf(guardPatch)
        const lockfileVerdict = (e: HookFailed) =>
          !e.timedOut && isFrozenInstall(input.hooks.after_create) && deps.lockfiles.length + deps.manifests.length > 0
            ? Effect.succeed<Verification>({
              reproductionAfter: null,
              validation: [],
              guards: [
                ...guards.filter((g) => g.rule !== "protected_path"),
                inconsistentLockfile(deps, redact.redact(e.outputTail))
              ],
              testCounts: { base: null, candidate: null }
            })
            : Effect.fail(e)
        const candidateRun = Effect.scoped(Effect.gen(function*() {
          const dir = yield* sandbox.checkout(input.commit, `${input.issueId}-verify`, input.hooks, input.policy.env)
          const reproductionAfter = input.reproduction === null
            ? null
            : yield* observed(
              input.observer,
              "reproduction_candidate",
              0,
              redact,
              runIn(dir, input.reproduction, input.timeoutMs, input.policy.env, change),
              input.reproduction
            )
          const validation = yield* Effect.forEach(input.validation, (command, i) =>
            observed(input.observer, "validation", i, redact, runIn(dir, command, input.timeoutMs, input.policy.env, change), command))
          return { reproductionAfter, validation }
        })).pipe(Effect.map(Either.right), Effect.catchTag("HookFailed", (e) => Effect.map(lockfileVerdict(e), Either.left)))

        /** The base's validation for the count guard: reused from an earlier run on the base, or run now. */
        const baseRun = Effect.gen(function*() {
          const base = yield* baseValidation({ ...input, change, redact, ahead: false })
          const observer = input.observer
          // A reused run is reported as done (one run ahead for this issue reported itself as it ran).
          if (base.reusedFrom !== null && observer !== undefined) {
            yield* Effect.forEach(base.results, (r, index) => {
              const result = redact.redactResult(r)
              return observer.done({
                phase: "validation_base",
                index,
                result,
                counts: Option.getOrNull(countsOf(result)),
                reused: true
              })
            }, { discard: true })
          }
          return base
        })

        // The candidate and the base run side by side (two checkouts at once); without a count comparison, or
        // without validation to count, the base does not run at all.
        const compare = input.policy.compareTestCounts && input.validation.length > 0
        const [candidateEnded, base] = yield* Effect.all(
          [candidateRun, compare ? Effect.asSome(baseRun) : Effect.succeedNone],
          { concurrency: 2 }
        )
        if (Either.isLeft(candidateEnded)) return candidateEnded.left
        const candidate = candidateEnded.right
        const candidateCounts = sumCounts(candidate.validation)
        const baseCounts: Option.Option<TestCounts> = Option.flatMap(base, (b) => sumCounts(b.results))
        const baseReusedFrom = Option.getOrNull(Option.flatMap(base, (b) => Option.fromNullable(b.reusedFrom)))
        const countGuard: ReadonlyArray<GuardResult> = !input.policy.compareTestCounts
          ? []
          : input.validation.length === 0
          ? [
            new GuardResult({
              rule: TEST_COUNT_RULE,
              passed: true,
              detail: "No validation commands are configured, so there were no test counts to compare.",
              lines: []
            })
          ]
          : [compareTestCounts(baseCounts, candidateCounts)]

        const verification: Verification = {
          reproductionAfter: candidate.reproductionAfter === null ? null : redact.redactResult(candidate.reproductionAfter),
          validation: candidate.validation.map((r) => redact.redactResult(r)),
          guards: [...guards, ...countGuard],
          testCounts: { base: Option.getOrNull(baseCounts), candidate: Option.getOrNull(candidateCounts) },
          ...(baseReusedFrom === null ? {} : { baseReusedFrom })
        }
        return verification
      }).pipe(Effect.annotateLogs({ commit: input.commit, base: input.baseCommit, stage: "verify" }))

    return Verifier.of({ reproduce, verify, prepareBase })
  }
)

/** The `Verifier` layer. */
export const layer: Layer.Layer<Verifier, never, Sandbox | Confinement | CommandExecutor.CommandExecutor | Redactor> = Layer.effect(
  Verifier,
  make
)
