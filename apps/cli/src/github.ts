/**
 * The GitHub pieces the trust ladder and the feedback loop add to the line (docs/trust.md, "The GitHub half"): the
 * API client with the token of `tracker.token_env`, and the hosted CI of `integration.ci: github` (the candidate
 * pushed as `switchyard/<id>` with `git push --force-with-lease`, then its check runs and statuses read).
 */
import { CommandExecutor, FetchHttpClient } from "@effect/platform"
import { HostedCi, Workflow } from "@switchyard/core"
import type { WorkflowConfig } from "@switchyard/domain"
import { ProcessRunner } from "@switchyard/node"
import { GitHubApi, GitHubCi, GitHubTracker } from "@switchyard/trackers"
import { Config, Context, Deferred, Effect, Layer, Option, Redacted, Ref } from "effect"

/**
 * A signal that the hosted CI of running attempts may have changed (a `check_suite` `completed` webhook): `fire`
 * ends every wait between two reads of the checks at once (GitHubCi's `woken`).
 */
export class CiWake extends Context.Tag("switchyard/cli/CiWake")<CiWake, { readonly fire: Effect.Effect<void>; readonly woken: Effect.Effect<void> }>() {}

/** A fresh `CiWake`: `woken` waits for the next `fire`. */
export const makeCiWake = Effect.gen(function*() {
  const current = yield* Ref.make(yield* Deferred.make<void>())
  return CiWake.of({
    woken: Effect.flatMap(Ref.get(current), Deferred.await),
    fire: Effect.flatMap(Deferred.make<void>(), (next) => Effect.flatMap(Ref.getAndSet(current, next), (d) => Deferred.succeed(d, undefined)))
  })
})

/**
 * The GitHub API client of `tracker:` (repo, api_url, the token in `tracker.token_env` read from `env` or the
 * process's Config). Fails with one sentence naming the key to fix.
 */
export const githubApi = (cfg: WorkflowConfig, env?: Readonly<Record<string, string | undefined>>) =>
  Effect.gen(function*() {
    const tokenEnv = cfg.tracker.token_env ?? GitHubTracker.DEFAULT_TOKEN_ENV
    const raw = env === undefined
      ? Option.getOrUndefined(yield* Config.option(Config.string(tokenEnv)).pipe(Effect.orElseSucceed(() => Option.none())))
      : env[tokenEnv]
    if (raw === undefined || raw.trim() === "") return yield* Effect.fail(`$${tokenEnv} is not set (tracker.token_env): it must hold a GitHub token`)
    if (cfg.tracker.repo === null) return yield* Effect.fail("tracker.repo is not set")
    return yield* GitHubApi.make({
      apiUrl: cfg.tracker.api_url ?? GitHubTracker.DEFAULT_API_URL,
      repo: cfg.tracker.repo,
      token: Redacted.make(raw.trim())
    }).pipe(Effect.provide(FetchHttpClient.layer))
  })

/** `git push --force-with-lease` of `commit` as `branch` (Switchyard's own branch) to `remote`, from `repoRoot`. */
export const pushBranch = (repoRoot: string) => (commit: string, branch: string, remote: string) =>
  Effect.gen(function*() {
    const ref = `refs/heads/${branch}`
    const out = yield* ProcessRunner.git(["push", "--porcelain", `--force-with-lease=${ref}`, remote, `${commit}:${ref}`], repoRoot).pipe(
      Effect.mapError((e) => e.message)
    )
    if (out.exitCode !== 0) return yield* Effect.fail(`git push ${remote} ${branch} exited ${out.exitCode}: ${out.stderr.trim().slice(-500)}`)
  })

/**
 * `HostedCi` for the line when `integration.ci: github` and `tracker.kind: github` (else nothing: the line escalates
 * `ci_failed` saying hosted CI is missing). A token problem leaves it out the same way; the tracker's preflight
 * already refused a missing token.
 */
export const hostedCiLayer = (repoRoot: string, env?: Readonly<Record<string, string | undefined>>) =>
  Layer.unwrapEffect(Effect.gen(function*() {
    const cfg = (yield* (yield* Workflow).current).config
    if (cfg.integration.ci !== "github" || cfg.tracker.kind !== "github") return Layer.empty
    const api = yield* Effect.either(githubApi(cfg, env))
    if (api._tag === "Left") return Layer.empty
    const executor = yield* CommandExecutor.CommandExecutor
    const push = (commit: string, branch: string, remote: string) =>
      pushBranch(repoRoot)(commit, branch, remote).pipe(Effect.provideService(CommandExecutor.CommandExecutor, executor))
    const wake = yield* makeCiWake
    return Layer.succeedContext(
      Context.make(HostedCi, GitHubCi.make({ api: api.right, push, woken: wake.woken })).pipe(Context.add(CiWake, wake))
    )
  }).pipe(Effect.orElseSucceed(() => Layer.empty)))

/** The webhook secret: the value of the variable `tracker.webhook_secret_env` names, trimmed; null when unset or empty. */
export const webhookSecret = (cfg: WorkflowConfig) =>
  Effect.gen(function*() {
    const name = cfg.tracker.webhook_secret_env
    if (name === null) return null
    const raw = Option.getOrUndefined(yield* Config.option(Config.string(name)).pipe(Effect.orElseSucceed(() => Option.none())))
    return raw === undefined || raw.trim() === "" ? null : raw.trim()
  })
