/** `switchyard issue create|list|show|update|comment`: the tracker from the command line. */
import { EvidenceStore, Orchestrator, PreflightFailed, Tracker } from "@switchyard/core"
import { NodeWorkflowFile } from "@switchyard/node"
import { IssueInput, IssuePatch } from "@switchyard/domain"
import { Console, Effect, Option, ParseResult, Schema } from "effect"
import { print } from "../../view/doc.js"
import { issueDetail, issueTable } from "../../view/issue.js"
import { encodeIssue, printJson, withStore, workflowTracker } from "../shared.js"
import type { IssueCommentOptions, IssueCreateOptions, IssueListOptions, IssueShowOptions, IssueUpdateOptions } from "./options.js"

/** The command-line option of each IssueInput / IssuePatch field. */
const OPTION_OF: Readonly<Record<string, string>> = {
  title: "--title",
  body: "--body",
  status: "--status",
  priority: "--priority",
  labels: "--label",
  blocked_by: "--blocked-by",
  parent: "--parent",
  reproduction: "--repro",
  validation: "--validate",
  scope: "--scope",
  non_goals: "--non-goal"
}

/** An option's value was refused (empty or too long title, too long body, bad id): one line naming the option. */
export class InvalidIssueOption extends Schema.TaggedError<InvalidIssueOption>()("InvalidIssueOption", {
  option: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `${this.option}: ${this.reason}`
  }
}

/** Decodes the options with `schema`; the first problem becomes an `InvalidIssueOption` (one line, not a tree). */
const decodeOptions = <A, I>(schema: Schema.Schema<A, I>, input: unknown): Effect.Effect<A, InvalidIssueOption> =>
  Schema.decodeUnknown(schema)(input).pipe(
    Effect.mapError((error) => {
      const first = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
      const field = String(first?.path[0] ?? "")
      return new InvalidIssueOption({ option: OPTION_OF[field] ?? field, reason: first?.message ?? "invalid value" })
    })
  )

/**
 * Files an issue (decoded with `IssueInput`); prints its id, or the issue with `--json`. A refused value (e.g. an
 * empty title, a title over `MAX_TITLE_BYTES`) fails with `InvalidIssueOption`, one line naming the option.
 * With an external `tracker.kind` (github, linear, fp) it refuses (`PreflightFailed`, exit 2): the issue would
 * land in the embedded tracker, which that kind does not read; it must be opened in the tracker.
 */
export const create = (o: IssueCreateOptions) =>
  withStore((root) =>
    Effect.gen(function*() {
      const kind = (yield* workflowTracker(root)).kind
      if (kind !== "switchyard") {
        return yield* new PreflightFailed({
          path: NodeWorkflowFile.workflowPath(root),
          problems: [{
            key: "tracker.kind",
            reason: `is ${kind}: issues come from ${kind === "github" ? "GitHub" : kind === "linear" ? "Linear" : "fp"}, so open it there (switchyard issue create files into the embedded tracker, which ${kind} does not read)`
          }]
        })
      }
      const input = yield* decodeOptions(IssueInput, {
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
  )

/** Lists issues, oldest first, optionally of one status. */
export const list = (o: IssueListOptions) =>
  withStore(() =>
    Effect.gen(function*() {
      const issues = yield* (yield* Tracker).list({ status: Option.getOrUndefined(o.status) })
      yield* o.json ? printJson(issues.map((i) => encodeIssue(i))) : print(issueTable(issues))
    })
  )

/** Sums per-attempt usage (cost null when no attempt reported one). */
const totalUsageOf = (
  usages: ReadonlyArray<{ readonly inputTokens: number; readonly outputTokens: number; readonly costUsd: number | null }>
) => ({
  inputTokens: usages.reduce((n, u) => n + u.inputTokens, 0),
  outputTokens: usages.reduce((n, u) => n + u.outputTokens, 0),
  costUsd: usages.some((u) => u.costUsd !== null) ? usages.reduce((n, u) => n + (u.costUsd ?? 0), 0) : null
})

/** One issue with its attempts; `--json` adds the outcome, branch, commit and token usage summed over attempts. */
export const show = (o: IssueShowOptions) =>
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
        : print(issueDetail(issue, attempts))
    })
  )

/** Changes the given fields (decoded with `IssuePatch`); repeatable options replace the whole list. */
export const update = (o: IssueUpdateOptions) =>
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
      const decoded = yield* decodeOptions(IssuePatch, patch)
      const issue = yield* (yield* Tracker).update(o.id, decoded)
      yield* o.json ? printJson(encodeIssue(issue)) : Console.log(`${issue.id} updated (${issue.status})`)
    })
  )

/** Adds a comment by `$USER` (or "human"). */
export const comment = (o: IssueCommentOptions) =>
  withStore(() =>
    Effect.gen(function*() {
      const issue = yield* (yield* Tracker).comment(o.id, o.body, process.env.USER ?? "human")
      yield* o.json ? printJson(encodeIssue(issue)) : Console.log(`commented on ${issue.id}`)
    })
  )
