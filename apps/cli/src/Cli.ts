/**
 * The `switchyard` command line (@effect/cli). Every query has `--json`; errors go to stderr as one sentence a
 * person can act on, with a non-zero exit (see main.ts).
 */
import { Args, Command, Options } from "@effect/cli"
import { FileSystem } from "@effect/platform"
import {
  defaultWorkflowFile,
  EvidenceStore,
  Orchestrator,
  renderEvidenceMarkdown,
  runLine,
  Sandbox,
  Tracker,
  workflowPath
} from "@switchyard/core"
import {
  EvidenceBundle,
  type FactoryEvent,
  Issue,
  IssueInput,
  IssuePatch,
  issueStatuses,
  priorities
} from "@switchyard/domain"
import { GitWorktreeSandbox } from "@switchyard/node"
import { Console, Effect, Option, Ref, Schedule, Schema, Stream } from "effect"
import { renderEvidenceTerminal } from "./evidenceView.js"
import { lineLayer, statePaths, storeLayer } from "./layers.js"
import { issueDetail, issueTable } from "./render.js"
import { renderStatus, statusJson, statusSnapshot } from "./status.js"
import { verifyCommand } from "./verify.js"

const json = Options.boolean("json").pipe(Options.withDescription("print JSON instead of text"))
const printJson = (value: unknown) => Console.log(JSON.stringify(value, null, 2))
const encodeIssue = Schema.encodeSync(Issue)

/** The git repo the command runs in (NotAGitRepo otherwise). */
const repoRoot = Effect.suspend(() => GitWorktreeSandbox.findRepoRoot(process.cwd()))

const withStore = <A, E, R>(f: (root: string) => Effect.Effect<A, E, R>) =>
  repoRoot.pipe(Effect.flatMap((root) => f(root).pipe(Effect.provide(storeLayer(root)))))

// --- init ------------------------------------------------------------------------------------------------
const init = Command.make("init", {}, () =>
  Effect.gen(function*() {
    const root = yield* repoRoot
    const fs = yield* FileSystem.FileSystem
    const { stateDir } = statePaths(root)
    yield* fs.makeDirectory(stateDir, { recursive: true })
    // The state dir ignores itself, so `init` never dirties the base (no edit to the repo's .gitignore).
    yield* fs.writeFileString(`${stateDir}/.gitignore`, "*\n")
    const wf = workflowPath(root)
    if (yield* fs.exists(wf)) {
      yield* Console.log(`kept existing ${wf}`)
    } else {
      yield* fs.writeFileString(wf, defaultWorkflowFile)
      yield* Console.log(`wrote ${wf} (set agent.command and verify.validation, then commit it)`)
    }
    yield* Effect.provide(Tracker, storeLayer(root))
    yield* Console.log(`state in ${stateDir}`)
  })).pipe(Command.withDescription("create .switchyard/ and a commented WORKFLOW.md (safe to run twice)"))

// --- issue -----------------------------------------------------------------------------------------------
const status = Options.choice("status", issueStatuses)
const priority = Options.choice("priority", priorities)
const text = (name: string, description: string) => Options.text(name).pipe(Options.withDescription(description))

const issueCreate = Command.make("create", {
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
}, (o) =>
  withStore(() =>
    Effect.gen(function*() {
      const input = yield* Schema.decodeUnknown(IssueInput)({
        title: o.title,
        body: Option.getOrUndefined(o.body),
        priority: Option.getOrUndefined(o.priority),
        status: Option.getOrUndefined(o.status),
        labels: o.labels,
        blocked_by: o.blockedBy,
        parent: Option.getOrNull(o.parent),
        reproduction: Option.getOrNull(o.repro),
        validation: o.validate,
        scope: o.scope,
        non_goals: o.nonGoals
      })
      const issue = yield* (yield* Tracker).create(input)
      yield* o.json ? printJson(encodeIssue(issue)) : Console.log(issue.id)
    })
  )).pipe(Command.withDescription("file an issue; prints its id"))

const issueList = Command.make("list", { status: status.pipe(Options.optional), json }, (o) =>
  withStore(() =>
    Effect.gen(function*() {
      const issues = yield* (yield* Tracker).list({ status: Option.getOrUndefined(o.status) })
      yield* o.json ? printJson(issues.map((i) => encodeIssue(i))) : Console.log(issueTable(issues))
    })
  )).pipe(Command.withDescription("list issues, oldest first"))

const id = Args.text({ name: "id" }).pipe(Args.withDescription("issue id, e.g. SY-12"))

const issueShow = Command.make("show", { id, json }, (o) =>
  withStore(() =>
    Effect.gen(function*() {
      const issue = yield* (yield* Tracker).get(o.id)
      const attempts = yield* (yield* Orchestrator).attempts(issue.id)
      const latest = yield* (yield* EvidenceStore).latest(issue.id)
      const ended = attempts.filter((a) => a.terminal_state !== null)
      const last = ended.at(-1)
      const branch = Option.match(latest, { onNone: () => null, onSome: (b) => b.diff?.branch ?? null })
      // Per-issue accounting: tokens and cost summed over every attempt's bundle.
      const store = yield* EvidenceStore
      const bundles = yield* Effect.forEach(yield* store.list(issue.id), (summary) => store.get(issue.id, summary.attempt))
      const usage = totalUsageOf(bundles.flatMap((b) => (Option.isSome(b) ? [b.value.usage] : [])))
      yield* o.json
        ? printJson({
          ...encodeIssue(issue),
          outcome: last?.terminal_state ?? null,
          cause: last?.cause ?? null,
          attempts: attempts.length,
          counted_attempts: attempts.filter((a) => a.counted && a.ended_at !== null).length,
          branch,
          commit: last?.commit ?? null,
          usage
        })
        : Console.log(issueDetail(issue, attempts))
    })
  )).pipe(Command.withDescription("one issue with its attempts and comments"))

const issueUpdate = Command.make("update", {
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
}, (o) =>
  withStore(() =>
    Effect.gen(function*() {
      const patch: Record<string, unknown> = {}
      if (Option.isSome(o.title)) patch.title = o.title.value
      if (Option.isSome(o.body)) patch.body = o.body.value
      if (Option.isSome(o.status)) patch.status = o.status.value
      if (Option.isSome(o.priority)) patch.priority = o.priority.value
      if (Option.isSome(o.repro)) patch.reproduction = o.repro.value === "" ? null : o.repro.value
      if (o.labels.length) patch.labels = o.labels
      if (o.validate.length) patch.validation = o.validate
      if (o.scope.length) patch.scope = o.scope
      if (o.blockedBy.length) patch.blocked_by = o.blockedBy
      const decoded = yield* Schema.decodeUnknown(IssuePatch)(patch)
      const issue = yield* (yield* Tracker).update(o.id, decoded)
      yield* o.json ? printJson(encodeIssue(issue)) : Console.log(`${issue.id} updated (${issue.status})`)
    })
  )).pipe(Command.withDescription("change fields of an issue"))

const issueComment = Command.make("comment", { id, body: Args.text({ name: "text" }), json }, (o) =>
  withStore(() =>
    Effect.gen(function*() {
      const issue = yield* (yield* Tracker).comment(o.id, o.body, process.env.USER ?? "human")
      yield* o.json ? printJson(encodeIssue(issue)) : Console.log(`commented on ${issue.id}`)
    })
  )).pipe(Command.withDescription("add a comment"))

const issue = Command.make("issue").pipe(
  Command.withDescription("create, list, show, update and comment on issues"),
  Command.withSubcommands([issueCreate, issueList, issueShow, issueUpdate, issueComment])
)

// --- run -------------------------------------------------------------------------------------------------
const clock = (at: number) => new Date(at).toISOString().slice(11, 19)
const progressLine = (e: FactoryEvent): string | null => {
  if (e.type === "agent.output") return null
  return `${clock(e.at)} ${(e.issue_id ?? "").padEnd(7)} ${e.type.padEnd(26)} ${e.message}`
}

/** Tokens and cost of the attempts this process finished, summed from its `terminal.*` events. */
export interface RunUsage {
  readonly attempts: number
  readonly inputTokens: number
  readonly outputTokens: number
  readonly costUsd: number | null
}

const TerminalUsage = Schema.Struct({
  usage: Schema.Struct({ inputTokens: Schema.Number, outputTokens: Schema.Number, costUsd: Schema.NullOr(Schema.Number) })
})
const decodeTerminalUsage = Schema.decodeUnknownOption(TerminalUsage)

/**
 * Prints one line per stage change of this runner, as events are recorded, and returns a Ref with the usage
 * of this run (per-run token and cost accounting).
 */
export const printProgress = Effect.gen(function*() {
  const orchestrator = yield* Orchestrator
  const usage = yield* Ref.make<RunUsage>({ attempts: 0, inputTokens: 0, outputTokens: 0, costUsd: null })
  yield* orchestrator.changes.pipe(
    Stream.tap((e) =>
      e.type.startsWith("terminal.")
        ? Option.match(decodeTerminalUsage(e.data), {
          onNone: () => Effect.void,
          onSome: ({ usage: u }) =>
            Ref.update(usage, (r) => ({
              attempts: r.attempts + 1,
              inputTokens: r.inputTokens + u.inputTokens,
              outputTokens: r.outputTokens + u.outputTokens,
              costUsd: u.costUsd === null ? r.costUsd : (r.costUsd ?? 0) + u.costUsd
            }))
        })
        : Effect.void
    ),
    Stream.map(progressLine),
    Stream.filter((l): l is string => l !== null),
    Stream.runForEach((l) => Console.log(l)),
    Effect.forkScoped
  )
  return usage
})

/** Sums per-attempt usage (cost null when no attempt reported one). */
const totalUsageOf = (
  usages: ReadonlyArray<{ readonly inputTokens: number; readonly outputTokens: number; readonly costUsd: number | null }>
) => ({
  inputTokens: usages.reduce((n, u) => n + u.inputTokens, 0),
  outputTokens: usages.reduce((n, u) => n + u.outputTokens, 0),
  costUsd: usages.some((u) => u.costUsd !== null) ? usages.reduce((n, u) => n + (u.costUsd ?? 0), 0) : null
})

/** One line: what this run used. */
export const usageLine = (u: RunUsage): string =>
  `this run: ${u.attempts} attempt(s), ${u.inputTokens} input + ${u.outputTokens} output tokens${
    u.costUsd === null ? "" : `, $${u.costUsd.toFixed(4)}`
  }`

const run = Command.make("run", {
  once: Options.boolean("once").pipe(Options.withDescription("drain: return when nothing is eligible, waiting or running")),
  concurrency: Options.integer("concurrency").pipe(Options.optional, Options.withDescription("override agent.max_concurrent_agents"))
}, (o) =>
  repoRoot.pipe(Effect.flatMap((root) =>
    Effect.gen(function*() {
      // Preflight: refuse a dirty base before anything is claimed (each attempt checks again).
      yield* (yield* Sandbox).resolveBase
      const usage = yield* printProgress
      yield* runLine({ once: o.once, concurrency: Option.getOrUndefined(o.concurrency) }).pipe(
        Effect.ensuring(Effect.sleep("50 millis").pipe(Effect.zipRight(Ref.get(usage)), Effect.flatMap((u) => Console.log(usageLine(u)))))
      )
    }).pipe(Effect.scoped, Effect.provide(lineLayer(root)))
  ))).pipe(Command.withDescription("run the factory line on the eligible issues"))

// --- status / evidence -----------------------------------------------------------------------------------
const statusCommand = Command.make("status", {
  json,
  watch: Options.boolean("watch").pipe(Options.withDescription("refresh every second until interrupted")),
  check: Options.boolean("check").pipe(Options.withDescription("exit 3 when there is any violation (for scripts)"))
}, (o) =>
  repoRoot.pipe(Effect.flatMap((root) => {
    const once = statusSnapshot(root).pipe(
      Effect.tap((s) =>
        o.json
          ? printJson(statusJson(s))
          : Console.log(`${o.watch ? "\x1b[2J\x1b[H" : ""}${renderStatus(s)}`)
      )
    )
    if (o.watch) {
      return once.pipe(Effect.repeat(Schedule.spaced("1 second")), Effect.asVoid, Effect.provide(storeLayer(root)))
    }
    return once.pipe(
      Effect.flatMap((s) =>
        o.check && s.human.violations.length > 0
          ? Effect.fail(new ViolationsFound({ count: s.human.violations.length }))
          : Effect.void
      ),
      Effect.provide(storeLayer(root))
    )
  }))).pipe(Command.withDescription("the four layers: tracker, orchestrator, workers, human"))

/** `status --check` found violations; exits 3 so scripts can tell it from an error (1). */
export class ViolationsFound extends Schema.TaggedError<ViolationsFound>()("ViolationsFound", { count: Schema.Number }) {
  override get message() {
    return `${this.count} violation(s): the four layers disagree in a way the supervisor cannot repair`
  }
}

const evidence = Command.make("evidence", {
  id,
  json,
  md: Options.boolean("md").pipe(Options.withDescription("print the markdown bundle")),
  attempt: Options.integer("attempt").pipe(Options.optional)
}, (o) =>
  withStore(() =>
    Effect.gen(function*() {
      const issue = yield* (yield* Tracker).get(o.id)
      const store = yield* EvidenceStore
      const bundle = yield* Option.match(o.attempt, {
        onNone: () => store.latest(issue.id),
        onSome: (n) => store.get(issue.id, n)
      })
      if (Option.isNone(bundle)) {
        return yield* Effect.fail(new NoEvidence({ id: issue.id }))
      }
      yield* o.json
        ? printJson(Schema.encodeSync(EvidenceBundle)(bundle.value))
        : o.md
        ? Console.log(renderEvidenceMarkdown(bundle.value))
        : Console.log(renderEvidenceTerminal(bundle.value, { color: process.stdout.isTTY === true && !process.env.NO_COLOR }))
    })
  )).pipe(Command.withDescription("the evidence bundle of an issue's latest (or --attempt N) attempt"))

// --- demo ------------------------------------------------------------------------------------------------
const demo = Command.make("demo", {
  keep: Options.boolean("keep").pipe(Options.withDescription("keep the example repo (its path is printed)")),
  agent: Options.choice("agent", ["command", "claude-code"] as const).pipe(
    Options.optional,
    Options.withDescription("which agent runs the demo (default: claude-code when its binary runs here)")
  )
}, (o) =>
  // Loaded on demand: the demo pulls in the model twin (an HTTP server) that no other command needs.
  Effect.promise(() => import("./demo.js")).pipe(Effect.flatMap((demo) => demo.runDemo({ keep: o.keep, agent: Option.getOrUndefined(o.agent) })))).pipe(
  Command.withDescription("build an example monorepo in a temp dir and run the factory on it")
)

export class NoEvidence extends Schema.TaggedError<NoEvidence>()("NoEvidence", { id: Schema.String }) {
  override get message() {
    return `${this.id} has no evidence bundle yet (it has not reached a terminal state)`
  }
}

export const switchyard = Command.make("switchyard").pipe(
  Command.withDescription("Switchyard: issues in, validated change out"),
  Command.withSubcommands([init, issue, run, statusCommand, evidence, verifyCommand, demo])
)

export const cli = Command.run(switchyard, { name: "switchyard", version: "0.1.0" })
