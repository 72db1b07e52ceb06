/**
 * The tracker's record of work: an issue, its status and the task-packet fields the factory reads.
 *
 * Field names are snake_case on purpose: they are what WORKFLOW.md prompt templates see
 * (`{{ issue.blocked_by }}`), following Symphony SPEC §4.1.1.
 */
import { Schema } from "effect"

/**
 * An issue id: a short upper-case prefix, a dash and a positive number, e.g. `SY-12`.
 * The pattern also makes ids safe as path segments and branch names (no `/`, `..` or spaces).
 */
export const IssueId = Schema.String.pipe(
  Schema.pattern(/^[A-Z][A-Z0-9]{0,9}-[1-9][0-9]{0,8}$/, {
    message: () => "an issue id is a short upper-case prefix, a dash and a number, e.g. SY-12"
  }),
  Schema.brand("IssueId")
)
export type IssueId = typeof IssueId.Type

/** Tracker statuses. `todo` is the only dispatchable one. */
export const IssueStatus = Schema.Literal("backlog", "todo", "in_progress", "in_review", "blocked", "done", "cancelled")
export type IssueStatus = typeof IssueStatus.Type
export const issueStatuses: ReadonlyArray<IssueStatus> = IssueStatus.literals

/** Statuses that satisfy a `blocked_by` edge and close a child for its parent. */
export const resolvedStatuses: ReadonlySet<IssueStatus> = new Set<IssueStatus>(["done", "cancelled"])

/** Priorities, highest first. Dispatch orders by this rank (Symphony SPEC §8.2: lower rank first). */
export const Priority = Schema.Literal("critical", "high", "medium", "low", "none")
export type Priority = typeof Priority.Type
export const priorities: ReadonlyArray<Priority> = Priority.literals
export const priorityRank = (p: Priority): number => priorities.indexOf(p)

export class IssueComment extends Schema.Class<IssueComment>("IssueComment")({
  author: Schema.String,
  body: Schema.String,
  created_at: Schema.DateTimeUtc
}) {}

export class Issue extends Schema.Class<Issue>("Issue")({
  id: IssueId,
  title: Schema.NonEmptyTrimmedString,
  body: Schema.String,
  status: IssueStatus,
  priority: Priority,
  labels: Schema.Array(Schema.String),
  parent: Schema.NullOr(IssueId),
  blocked_by: Schema.Array(IssueId),
  /** Shell command that fails while the issue is present and passes once it is fixed. */
  reproduction: Schema.NullOr(Schema.String),
  /** Shell commands that must all exit 0 on the candidate (added to the workflow's `verify.validation`). */
  validation: Schema.Array(Schema.String),
  /** Path globs the change may touch; empty means anywhere. */
  scope: Schema.Array(Schema.String),
  non_goals: Schema.Array(Schema.String),
  comments: Schema.Array(IssueComment),
  created_at: Schema.DateTimeUtc,
  updated_at: Schema.DateTimeUtc
}) {}

/** Input for creating an issue. The tracker assigns `id`, timestamps and empty comments. */
export class IssueInput extends Schema.Class<IssueInput>("IssueInput")({
  title: Schema.NonEmptyTrimmedString,
  body: Schema.optionalWith(Schema.String, { default: () => "" }),
  status: Schema.optionalWith(Schema.Literal("backlog", "todo"), { default: () => "todo" as const }),
  priority: Schema.optionalWith(Priority, { default: () => "medium" as const }),
  labels: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
  parent: Schema.optionalWith(Schema.NullOr(IssueId), { default: () => null }),
  blocked_by: Schema.optionalWith(Schema.Array(IssueId), { default: () => [] }),
  reproduction: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null }),
  validation: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
  scope: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
  non_goals: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] })
}) {}

/** A partial update; absent fields are left as they are. */
export const IssuePatch = Schema.Struct({
  title: Schema.optional(Schema.NonEmptyTrimmedString),
  body: Schema.optional(Schema.String),
  status: Schema.optional(IssueStatus),
  priority: Schema.optional(Priority),
  labels: Schema.optional(Schema.Array(Schema.String)),
  parent: Schema.optional(Schema.NullOr(IssueId)),
  blocked_by: Schema.optional(Schema.Array(IssueId)),
  reproduction: Schema.optional(Schema.NullOr(Schema.String)),
  validation: Schema.optional(Schema.Array(Schema.String)),
  scope: Schema.optional(Schema.Array(Schema.String)),
  non_goals: Schema.optional(Schema.Array(Schema.String))
})
export type IssuePatch = typeof IssuePatch.Type
