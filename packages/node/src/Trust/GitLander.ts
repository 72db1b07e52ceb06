/**
 * GitLander: the local `Lander` (docs/trust.md). The base branch is the branch the repository's HEAD is on; landing
 * is `git merge --ff-only` there (work tree included), after checking the branch did not move since the landing was
 * decided. A candidate whose base moved is carried onto the new base by a merge commit made with `git merge-tree
 * --write-tree` and `git commit-tree` (no branch, index or work tree is touched), so it can be verified before it
 * lands. Reverts are read from the base branch's log (`git revert`'s "This reverts commit <sha>.").
 */
import { CommandExecutor } from "@effect/platform"
import { LandError, Lander, type LanderShape } from "@switchyard/core"
import { Duration, Effect, Layer } from "effect"
import * as ProcessRunner from "../ProcessRunner/ProcessRunner.js"

/** Wall-clock limit for pushing the landed base branch, in ms (as `GitIntegration`'s push). */
export const PUSH_TIMEOUT_MS = 300_000

/** How far back the base branch's log is read for reverts, in commits. */
export const REVERT_SCAN_COMMITS = 5_000

/** A fixed identity, no signing, no hooks: the same as the sandbox's commits. */
const COMMIT_CONFIG = [
  "-c",
  "user.name=switchyard",
  "-c",
  "user.email=switchyard@localhost",
  "-c",
  "commit.gpgsign=false",
  "-c",
  "core.hooksPath=/dev/null"
]

/** Builds the local Lander for the repository at `repoRoot`. */
export const make = (repoRoot: string): Effect.Effect<LanderShape, never, CommandExecutor.CommandExecutor> =>
  Effect.gen(function*() {
    const executor = yield* CommandExecutor.CommandExecutor
    const run = (args: ReadonlyArray<string>) =>
      ProcessRunner.git(args, repoRoot).pipe(
        Effect.provideService(CommandExecutor.CommandExecutor, executor),
        Effect.mapError((e) => new LandError({ reason: e.message }))
      )
    const must = (args: ReadonlyArray<string>) =>
      Effect.flatMap(run(args), (out) =>
        out.exitCode === 0
          ? Effect.succeed(out.stdout.trim())
          : Effect.fail(new LandError({ reason: `git ${args[0]} failed: ${out.stderr.trim() || `exit ${out.exitCode}`}` })))

    const base: LanderShape["base"] = Effect.gen(function*() {
      const ref = yield* run(["symbolic-ref", "--short", "-q", "HEAD"])
      if (ref.exitCode !== 0) return yield* new LandError({ reason: "HEAD is detached: check out the base branch to land onto it" })
      return { branch: ref.stdout.trim(), commit: yield* must(["rev-parse", "--verify", "HEAD^{commit}"]) }
    })

    const contains: LanderShape["contains"] = (commit) =>
      Effect.flatMap(run(["merge-base", "--is-ancestor", commit, "HEAD"]), (out) =>
        out.exitCode <= 1
          ? Effect.succeed(out.exitCode === 0)
          : Effect.fail(new LandError({ reason: `cannot tell whether ${commit.slice(0, 10)} is merged: ${out.stderr.trim()}` })))

    const revertsOf: LanderShape["revertsOf"] = (commits) =>
      Effect.gen(function*() {
        const found = new Map<string, string>()
        if (commits.length === 0) return found
        const log = yield* must(["log", `-n${REVERT_SCAN_COMMITS}`, "--format=%H%x1f%B%x1e", "HEAD"])
        for (const entry of log.split("\x1e")) {
          const [sha, body] = entry.trim().split("\x1f")
          if (sha === undefined || body === undefined) continue
          for (const m of body.matchAll(/This reverts commit ([0-9a-f]{7,40})/g)) {
            const target = commits.find((c) => c.startsWith(m[1]!))
            if (target !== undefined && !found.has(target)) found.set(target, sha)
          }
        }
        return found
      })

    const onBase: LanderShape["onBase"] = (commit, baseCommit, message) =>
      Effect.gen(function*() {
        const parent = yield* run(["rev-parse", "--verify", "-q", `${commit}^`])
        if (parent.exitCode === 0 && parent.stdout.trim() === baseCommit) return { _tag: "Carried", commit } as const
        const merged = yield* run(["merge-tree", "--write-tree", "--name-only", baseCommit, commit])
        if (merged.exitCode === 1) {
          const files = merged.stdout.split("\n").slice(1).filter((l) => l.trim() !== "" && !l.startsWith("Auto-merging") && !l.startsWith("CONFLICT"))
          return { _tag: "Conflict", reason: `it conflicts with the current base in ${files.slice(0, 5).join(", ") || "some files"}` } as const
        }
        if (merged.exitCode !== 0) return yield* new LandError({ reason: `git merge-tree failed: ${merged.stderr.trim()}` })
        const tree = merged.stdout.split("\n")[0]!.trim()
        const made = yield* must([...COMMIT_CONFIG, "commit-tree", tree, "-p", baseCommit, "-p", commit, "-m", message])
        return { _tag: "Carried", commit: made } as const
      })

    const land: LanderShape["land"] = (commit, expectedBase) =>
      Effect.gen(function*() {
        const now = yield* base
        if (now.commit !== expectedBase) {
          return yield* new LandError({ reason: `${now.branch} moved to ${now.commit.slice(0, 10)} while landing; nothing was landed` })
        }
        yield* must([...COMMIT_CONFIG, "merge", "--ff-only", "--no-edit", commit])
        return { method: "fast-forward" } as const
      })

    const publish: LanderShape["publish"] = (branch, remote) =>
      run(["push", "--porcelain", remote, `refs/heads/${branch}:refs/heads/${branch}`]).pipe(
        Effect.timeoutFail({ duration: Duration.millis(PUSH_TIMEOUT_MS), onTimeout: () => new LandError({ reason: `git push to ${remote} timed out after ${PUSH_TIMEOUT_MS} ms` }) }),
        Effect.map((out) =>
          out.exitCode === 0
            ? { pushed: true, error: null }
            : { pushed: false, error: `git push ${remote} ${branch} exited ${out.exitCode}: ${out.stderr.trim().slice(-1_000)}` }
        ),
        Effect.catchAll((e) => Effect.succeed({ pushed: false, error: e.reason }))
      )

    return Lander.of({ base, contains, revertsOf, onBase, land, publish })
  })

/** The local Lander layer for the repository at `repoRoot`. */
export const layer = (repoRoot: string): Layer.Layer<Lander, never, CommandExecutor.CommandExecutor> =>
  Layer.effect(Lander, make(repoRoot))
