/**
 * `switchyard trust [--json]` and `switchyard land [--json]` (docs/trust.md): one tick of the trust ladder
 * (`trustTick`), with the local `GitLander`. `trust` records human merges and reverts and shows the ladder; `land`
 * does the same and lands what has earned it. A landing is recorded in the event log (`trust.landed`), the tracker
 * (a comment naming the rule) and the run directory of its evidence (`landed.json`).
 */
import { CommandExecutor, FetchHttpClient, FileSystem } from "@effect/platform"
import { EvidenceStore, LandError, Lander, Orchestrator, reviewTick, trustTick, type TrustReport, WorkerPool, Workflow } from "@switchyard/core"
import type { IssueId } from "@switchyard/domain"
import { GitLander, ProcessRunner } from "@switchyard/node"
import { GitHubApi, GitHubLander, GitHubTracker } from "@switchyard/trackers"
import { Config, Console, Effect, Layer, Option, Redacted, Schema } from "effect"
import * as NodePath from "node:path"
import { NodeContext } from "@effect/platform-node"
import { lineLayer } from "../../layers.js"
import { repoRoot, workflowPathOf } from "../shared.js"
import { evidenceTrust } from "../verify/handler.js"
import type { LandOptions, TrustOptions } from "./options.js"

/** The ladder as text: one line per class, then one per change waiting in review. */
const textOf = (r: TrustReport): string => {
  const lines: Array<string> = [`base: ${r.base.branch} at ${r.base.commit.slice(0, 10)}`]
  if (r.classes.length === 0) lines.push("no trust classes: every change waits for review (add `trust.classes` to WORKFLOW.md)")
  for (const c of r.classes) {
    lines.push(
      `class ${c.className}: ${c.rung} (policy ${c.policyRung}) · merged ${c.merged}, landed ${c.landed}, reverted ${c.reverted} · ${c.reason}`
    )
  }
  for (const m of r.merged) lines.push(`merged by a human: ${m.issueId}${m.className ? ` (${m.className})` : ""}`)
  for (const m of r.reverted) lines.push(`reverted: ${m.issueId}${m.className ? ` (${m.className} demoted to review)` : ""}: ${m.reason}`)
  for (const c of r.changes) lines.push(`${c.issueId}: ${c.decision}${c.className ? ` [${c.className}]` : ""}: ${c.reason}`)
  return lines.join("\n")
}

/**
 * The Lander `integration.land` names (docs/trust.md): the local `GitLander`, or with `github` (or `auto` and
 * `tracker.kind: github`) the `GitHubLander`, which merges pull requests through the API with the token in
 * `tracker.token_env` and carries candidates onto a moved base with the local one after `git fetch
 * <integration.remote>`. A missing token is a `LandError` naming the variable.
 */
export const landerLayer = (root: string) =>
  Layer.unwrapEffect(Effect.gen(function*() {
    const cfg = (yield* (yield* Workflow).current).config
    const local = GitLander.layer(root)
    const hosted = cfg.integration.land === "github" || (cfg.integration.land === "auto" && cfg.tracker.kind === "github")
    if (!hosted) return local
    const tokenEnv = cfg.tracker.token_env ?? GitHubTracker.DEFAULT_TOKEN_ENV
    const token = Option.getOrUndefined(yield* Config.option(Config.string(tokenEnv)).pipe(Effect.orElseSucceed(() => Option.none())))
    if (token === undefined || token.trim() === "" || cfg.tracker.repo === null) {
      return yield* new LandError({
        reason: token === undefined || token.trim() === ""
          ? `integration.land is github but $${tokenEnv} is not set (tracker.token_env): it must hold a token that can merge pull requests`
          : "integration.land is github but tracker.repo is not set"
      })
    }
    return Layer.effect(
      Lander,
      Effect.gen(function*() {
        const api = yield* GitHubApi.make({ apiUrl: cfg.tracker.api_url ?? GitHubTracker.DEFAULT_API_URL, repo: cfg.tracker.repo!, token: Redacted.make(token.trim()) })
        const executor = yield* CommandExecutor.CommandExecutor
        const fetch = ProcessRunner.git(["fetch", "-q", cfg.integration.remote], root).pipe(
          Effect.provideService(CommandExecutor.CommandExecutor, executor),
          Effect.mapError((e) => new LandError({ reason: e.message })),
          Effect.flatMap((out) =>
            out.exitCode === 0 ? Effect.void : Effect.fail(new LandError({ reason: `git fetch ${cfg.integration.remote} failed: ${out.stderr.trim()}` })))
        )
        return GitHubLander.make({
          api,
          owner: cfg.tracker.repo!.split("/")[0] ?? "",
          local: yield* GitLander.make(root),
          fetch,
          method: cfg.integration.merge_method
        })
      })
    ).pipe(Layer.provide(FetchHttpClient.layer))
  }))

/**
 * One round of the trust ladder over the line's services and a `Lander` (docs/trust.md): the reviews first (a
 * "changes requested" sends its issue back to the line before anything could land it), then `trustTick` with
 * `land`; each landing is written next to its evidence (`landed.json`), each approval too (`reviews.json`).
 * Returns the ladder's report and the reviews read. Fails with the services' errors (`trustTick`).
 */
const trustRound = (root: string, land: boolean) =>
  Effect.gen(function*() {
    const def = yield* (yield* Workflow).current
    const services = yield* Effect.context<EvidenceStore | Orchestrator>()
    const reviews = yield* reviewTick
    const report = yield* trustTick({
      cfg: def.config,
      workflowPath: NodePath.relative(root, def.path).split(NodePath.sep).join("/"),
      land,
      distrust: (issueId: IssueId, attempt: number) =>
        evidenceTrust(issueId, attempt).pipe(
          Effect.map((t) => (t.seal === null ? [...t.problems, "no seal"] : t.problems)),
          Effect.catchAll((e) => Effect.succeed([`the evidence could not be read: ${e.message}`])),
          Effect.provide(services)
        )
    })
    const store = yield* EvidenceStore
    const fs = yield* FileSystem.FileSystem
    for (const c of report.changes.filter((c) => c.decision === "landed")) {
      const dir = yield* store.runDir(c.issueId as IssueId, c.attempt)
      const record = { issueId: c.issueId, attempt: c.attempt, className: c.className, rule: c.rule, landedBy: "switchyard", base: report.base, commit: c.landedCommit, url: c.url }
      yield* fs.writeFileString(NodePath.join(dir, "landed.json"), `${JSON.stringify(record, null, 2)}\n`)
    }
    // An approval is recorded next to the evidence it approved (reviewer, time, commit, pull request).
    for (const a of reviews.approved) {
      const file = NodePath.join(yield* store.runDir(a.issueId as IssueId, a.attempt), "reviews.json")
      const before = (yield* fs.exists(file))
        ? yield* fs.readFileString(file).pipe(
          Effect.flatMap(Schema.decodeUnknown(Schema.parseJson(Schema.Array(Schema.Unknown)))),
          Effect.orElseSucceed(() => [] as ReadonlyArray<unknown>)
        )
        : []
      yield* fs.writeFileString(file, `${JSON.stringify([...before, a], null, 2)}\n`)
    }
    return { report, reviews }
  })

const tick = (o: TrustOptions, land: boolean) =>
  repoRoot.pipe(Effect.flatMap((root) =>
    trustRound(root, land).pipe(
      Effect.flatMap(({ report, reviews }) => {
        const reviewLines = [
          ...reviews.approved.map((a) => `approved: ${a.issueId} by ${a.reviewer}${a.at === null ? "" : ` at ${a.at}`}`),
          ...reviews.changesRequested.map((c) => `changes requested: ${c.issueId} by ${c.reviewer}${c.sentBack ? " (sent back to the line)" : ""}`)
        ]
        return Console.log(o.json ? JSON.stringify({ ...report, reviews }, null, 2) : [textOf(report), ...reviewLines].join("\n"))
      }),
      Effect.provide(Layer.provideMerge(landerLayer(root), lineLayer(root, { workflowPath: workflowPathOf(o.workflow) })))
    )
  ))

/**
 * The review tick alone, with the same layers as `switchyard trust` (for `pull_request_review` webhooks): reads the
 * reviews of the pull requests waiting in review and records them once. Never fails: a problem is logged.
 */
export const reviewsNow = (root: string, workflowPath: string | undefined) =>
  reviewTick.pipe(
    Effect.asVoid,
    Effect.provide(Layer.provideMerge(landerLayer(root), lineLayer(root, { workflowPath }))),
    Effect.catchAllCause((cause) => Effect.logWarning("the review tick after a webhook failed", cause)),
    Effect.provide(NodeContext.layer)
  )

/**
 * The review tick inside a running line (`switchyard run`), with the hosted Lander built over the line's services:
 * the polling fallback of `pull_request_review` webhooks, and what such a webhook runs under `run --port`. Never
 * fails: a problem is logged and the next round tries again.
 */
export const reviewsInLine = (root: string) =>
  reviewTick.pipe(
    Effect.asVoid,
    Effect.provide(landerLayer(root)),
    Effect.catchAllCause((cause) => Effect.logWarning("reading the pull requests' reviews failed", cause))
  )

/**
 * Landing from a running line (`switchyard run`, docs/trust.md "Landing"): a `trustRound` that lands, with the
 * Lander of `integration.land`, run every poll interval while some class's policy allows `auto_land`. Under
 * `sandbox.confinement: none` a round waits until no worker runs: moving the base branch while an unconfined agent
 * runs would read as that agent's escape (the integrity check); under bubblewrap the agents cannot see the repo,
 * so a round runs at any time. Never fails: a problem is logged and the next round tries again.
 */
export const landingInLine = (root: string, confinement: "bwrap" | "none") =>
  Effect.gen(function*() {
    if (confinement === "none" && (yield* (yield* WorkerPool).workers).length > 0) return
    const { report } = yield* trustRound(root, true)
    const landed = report.changes.filter((c) => c.decision === "landed")
    if (landed.length > 0) {
      yield* Effect.logInfo(`landed ${landed.map((c) => c.issueId).join(", ")}`)
    }
  }).pipe(
    Effect.provide(landerLayer(root)),
    Effect.catchAllCause((cause) => Effect.logWarning("the landing round failed", cause))
  )

/** `switchyard trust`: records human merges and reverts, then shows the ladder. */
export const trust = (o: TrustOptions) => tick(o, false)

/** `switchyard land`: records human merges and reverts, then lands what has earned it. */
export const land = (o: LandOptions) => tick(o, true)
