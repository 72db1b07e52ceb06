/**
 * GitHubCi: the `HostedCi` of `integration.ci: github` (docs/trust.md, "The GitHub half"). Pushes the verified
 * candidate as its branch (`push`, given by the caller: git in the checkout), then reads
 * `GET /repos/{o}/{r}/commits/{sha}/check-runs` and `GET .../commits/{sha}/status` every `pollMs` (Clock time, so
 * TestClock drives it; sooner when `woken`: a `check_suite` webhook) until nothing is pending, and sums them up with
 * `ciStateOf`: the first failed check run or status is the failure, with its output and `details_url`/`html_url`/`target_url`. No checks at all counts as
 * pending (CI may not have started yet) until `timeoutMs`, which is `Unavailable`.
 */
import { HostedCi, type HostedCiResult, type HostedCiShape } from "@switchyard/core"
import { Duration, Effect, Layer } from "effect"
import type { GitHubApi, GitHubError } from "./GitHubApi.js"
import { ciStateOf, type CiState } from "./hosting.js"

export interface GitHubCiOptions {
  readonly api: GitHubApi
  /** Publishes `commit` as `branch` on `remote`; a failure is one sentence. */
  readonly push: (commit: string, branch: string, remote: string) => Effect.Effect<void, string>
  /**
   * Completes when something says the checks may have changed (a `check_suite` webhook): the wait between two
   * reads ends early. Default: never (reads every `pollMs` only).
   */
  readonly woken?: Effect.Effect<void>
}

/** Reads the commit's CI once. */
const readOnce = (api: GitHubApi, commit: string) =>
  Effect.all([api.checkRuns(commit), api.combinedStatus(commit)], { concurrency: 2 }).pipe(
    Effect.map(([runs, status]) => ciStateOf(runs.check_runs, status.statuses))
  )

/** Builds the hosted CI over GitHub (see the module docs). */
export const make = (options: GitHubCiOptions): HostedCiShape =>
  HostedCi.of({
    check: (input) =>
      Effect.gen(function*() {
        const pushed = yield* Effect.either(options.push(input.commit, input.branch, input.remote))
        if (pushed._tag === "Left") return { _tag: "Unavailable", reason: `the candidate could not be pushed: ${pushed.left}` } as const
        // Read, and while anything is pending wait `pollMs` (or less, when woken) and read again.
        const settled: Effect.Effect<CiState, GitHubError> = readOnce(options.api, input.commit).pipe(
          Effect.flatMap((s) =>
            s._tag !== "Pending" && s._tag !== "NoChecks"
              ? Effect.succeed(s)
              : Effect.race(Effect.sleep(Duration.millis(input.pollMs)), options.woken ?? Effect.never).pipe(Effect.zipRight(Effect.suspend(() => settled)))
          )
        )
        const state = yield* settled.pipe(
          Effect.timeoutFail({
            duration: Duration.millis(input.timeoutMs),
            onTimeout: () => `its checks did not complete within integration.ci_timeout_ms (${input.timeoutMs} ms)`
          }),
          Effect.mapError((e) => (typeof e === "string" ? e : e.message)),
          Effect.either
        )
        if (state._tag === "Left") return { _tag: "Unavailable", reason: state.left } as const
        const s = state.right
        return (s._tag === "Failed"
          ? { _tag: "Failed", step: s.step, conclusion: s.conclusion, log: s.log, url: s.url }
          : { _tag: "Passed", checks: s._tag === "Passed" ? s.checks : 0 }) satisfies HostedCiResult
      })
  })

export const layer = (options: GitHubCiOptions): Layer.Layer<HostedCi> => Layer.succeed(HostedCi, make(options))
