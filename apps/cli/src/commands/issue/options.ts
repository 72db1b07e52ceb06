/** The options of `switchyard issue create|list|show|update|comment|check` and their parsed types. */
import { Args, type Command, Options } from "@effect/cli"
import { issueStatuses, priorities } from "@switchyard/domain"
import { id, json, text, workflow } from "../flags.js"

const status = Options.choice("status", issueStatuses)
const priority = Options.choice("priority", priorities)

export const issueDescription = "create, list, show, update, comment on and check issues"

export const issueCreateConfig = {
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
export const issueCreateDescription = "file an issue; prints its id"

export const issueListConfig = { status: status.pipe(Options.optional), json }
export type IssueListOptions = Command.Command.ParseConfig<typeof issueListConfig>
export const issueListDescription = "list issues, oldest first"

export const issueShowConfig = { id, json }
export type IssueShowOptions = Command.Command.ParseConfig<typeof issueShowConfig>
export const issueShowDescription = "one issue with its attempts and comments"

export const issueUpdateConfig = {
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
export const issueUpdateDescription = "change fields of an issue"

export const issueCommentConfig = { id, body: Args.text({ name: "text" }), json }
export type IssueCommentOptions = Command.Command.ParseConfig<typeof issueCommentConfig>
export const issueCommentDescription = "add a comment"

export const issueCheckConfig = { id, json, workflow }
export type IssueCheckOptions = Command.Command.ParseConfig<typeof issueCheckConfig>
export const issueCheckDescription =
  "dry run: run the issue's reproduction on the base (no agent, nothing claimed) and say whether its task packet is ready; exit 1 if not"
