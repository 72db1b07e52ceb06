/**
 * The `switchyard` command line (@effect/cli). Every query has `--json`; errors go to stderr as one sentence a
 * person can act on, with a non-zero exit (see main.ts).
 *
 * This module only declares the commands. Each handler loads its implementation (`./commands/*`, `./verify`,
 * `./demo`) on first use, so a command evaluates only the modules it needs: `status` never loads the agent
 * stations, the workflow parser or the model twin (docs/benchmarks.md, "status --json").
 */
import { Args, Command, Options } from "@effect/cli"
import { issueStatuses, priorities } from "@switchyard/domain"
import { Effect, Option } from "effect"
import { statusConfig, statusDescription } from "./statusSpec.js"
import { VERSION } from "./version.js"

export type { StatusOptions } from "./statusSpec.js"

/** Runs `f` with the module `load` imports (a dynamic import, evaluated the first time only). */
const lazy = <M, A, E, R>(load: () => Promise<M>, f: (module: M) => Effect.Effect<A, E, R>) =>
  Effect.promise(load).pipe(Effect.flatMap(f))

const json = Options.boolean("json").pipe(Options.withDescription("print JSON instead of text"))
const text = (name: string, description: string) => Options.text(name).pipe(Options.withDescription(description))
const id = Args.text({ name: "id" }).pipe(Args.withDescription("issue id, e.g. SY-12"))

// --- init ------------------------------------------------------------------------------------------------
const init = Command.make("init", {}, () => lazy(() => import("./commands/init.js"), (m) => m.init)).pipe(
  Command.withDescription("create .switchyard/ and a commented WORKFLOW.md (safe to run twice)")
)

// --- issue -----------------------------------------------------------------------------------------------
const status = Options.choice("status", issueStatuses)
const priority = Options.choice("priority", priorities)

const issueCreateConfig = {
  title: text("title", "one-line title"),
  body: text("body", "markdown body").pipe(Options.optional),
  priority: priority.pipe(Options.optional),
  status: Options.choice("status", ["backlog", "todo"] as const).pipe(Options.optional),
  labels: text("label", "a label (repeatable)").pipe(Options.repeated),
  blockedBy: text("blocked-by", "an issue that must be done first (repeatable)").pipe(Options.repeated),
  parent: text("parent", "parent issue id").pipe(Options.optional),
  repro: text("repro", "reproduction command: fails now, passes once fixed").pipe(Options.optional),
  validate: text("validate", "validation command (repeatable)").pipe(Options.repeated),
  scope: text("scope", "path glob the change may touch (repeatable)").pipe(Options.repeated),
  nonGoals: text("non-goal", "something the change must not do (repeatable)").pipe(Options.repeated),
  json
}
export type IssueCreateOptions = Command.Command.ParseConfig<typeof issueCreateConfig>
const issueCreate = Command.make("create", issueCreateConfig, (o) => lazy(() => import("./commands/issue.js"), (m) => m.create(o)))
  .pipe(Command.withDescription("file an issue; prints its id"))

const issueListConfig = { status: status.pipe(Options.optional), json }
export type IssueListOptions = Command.Command.ParseConfig<typeof issueListConfig>
const issueList = Command.make("list", issueListConfig, (o) => lazy(() => import("./commands/issue.js"), (m) => m.list(o)))
  .pipe(Command.withDescription("list issues, oldest first"))

const issueShowConfig = { id, json }
export type IssueShowOptions = Command.Command.ParseConfig<typeof issueShowConfig>
const issueShow = Command.make("show", issueShowConfig, (o) => lazy(() => import("./commands/issue.js"), (m) => m.show(o)))
  .pipe(Command.withDescription("one issue with its attempts and comments"))

const issueUpdateConfig = {
  id,
  title: text("title", "new title").pipe(Options.optional),
  body: text("body", "new body").pipe(Options.optional),
  status: status.pipe(Options.optional),
  priority: priority.pipe(Options.optional),
  labels: text("label", "replace the labels (repeatable)").pipe(Options.repeated),
  repro: text("repro", "new reproduction command").pipe(Options.optional),
  validate: text("validate", "replace the validation commands (repeatable)").pipe(Options.repeated),
  scope: text("scope", "replace the scope globs (repeatable)").pipe(Options.repeated),
  blockedBy: text("blocked-by", "replace the blockers (repeatable)").pipe(Options.repeated),
  json
}
export type IssueUpdateOptions = Command.Command.ParseConfig<typeof issueUpdateConfig>
const issueUpdate = Command.make("update", issueUpdateConfig, (o) => lazy(() => import("./commands/issue.js"), (m) => m.update(o)))
  .pipe(Command.withDescription("change fields of an issue"))

const issueCommentConfig = { id, body: Args.text({ name: "text" }), json }
export type IssueCommentOptions = Command.Command.ParseConfig<typeof issueCommentConfig>
const issueComment = Command.make(
  "comment",
  issueCommentConfig,
  (o) => lazy(() => import("./commands/issue.js"), (m) => m.comment(o))
).pipe(Command.withDescription("add a comment"))

const issue = Command.make("issue").pipe(
  Command.withDescription("create, list, show, update and comment on issues"),
  Command.withSubcommands([issueCreate, issueList, issueShow, issueUpdate, issueComment])
)

// --- run -------------------------------------------------------------------------------------------------
const runConfig = {
  once: Options.boolean("once").pipe(Options.withDescription("drain: return when nothing is eligible, waiting or running")),
  concurrency: Options.integer("concurrency").pipe(Options.optional, Options.withDescription("override agent.max_concurrent_agents"))
}
export type RunOptions = Command.Command.ParseConfig<typeof runConfig>
const run = Command.make("run", runConfig, (o) => lazy(() => import("./commands/run.js"), (m) => m.run(o)))
  .pipe(Command.withDescription("run the factory line on the eligible issues"))

// --- status / evidence / verify --------------------------------------------------------------------------
const statusCommand = Command.make("status", statusConfig, (o) => lazy(() => import("./commands/status.js"), (m) => m.status(o)))
  .pipe(Command.withDescription(statusDescription))

const evidenceConfig = {
  id,
  json,
  md: Options.boolean("md").pipe(Options.withDescription("print the markdown bundle")),
  attempt: Options.integer("attempt").pipe(Options.optional)
}
export type EvidenceOptions = Command.Command.ParseConfig<typeof evidenceConfig>
const evidence = Command.make("evidence", evidenceConfig, (o) => lazy(() => import("./commands/evidence.js"), (m) => m.evidence(o)))
  .pipe(Command.withDescription("the evidence bundle of an issue's latest (or --attempt N) attempt"))

const verifyConfig = { id, json }
export type VerifyOptions = Command.Command.ParseConfig<typeof verifyConfig>
const verify = Command.make("verify", verifyConfig, (o) => lazy(() => import("./verify.js"), (m) => m.verify(o))).pipe(
  Command.withDescription(
    "check that an issue's evidence still holds: fresh (branch head, tree and base unchanged) and re-verified now; exit 1 if not"
  )
)

// --- demo ------------------------------------------------------------------------------------------------
const demo = Command.make("demo", {
  keep: Options.boolean("keep").pipe(Options.withDescription("keep the example repo (its path is printed)")),
  agent: Options.choice("agent", ["command", "claude-code"] as const).pipe(
    Options.optional,
    Options.withDescription("which agent runs the demo (default: claude-code when its binary runs here)")
  )
}, (o) => lazy(() => import("./demo.js"), (m) => m.runDemo({ keep: o.keep, agent: Option.getOrUndefined(o.agent) })))
  .pipe(Command.withDescription("build an example monorepo in a temp dir and run the factory on it"))

export const switchyard = Command.make("switchyard").pipe(
  Command.withDescription("Switchyard: issues in, validated change out"),
  Command.withSubcommands([init, issue, run, statusCommand, evidence, verify, demo])
)

export const cli = Command.run(switchyard, { name: "switchyard", version: VERSION })
