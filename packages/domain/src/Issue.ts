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

/**
 * The longest issue title, in UTF-8 bytes: 1 KiB. GitHub caps titles at 256 characters, which is at most 1 KiB
 * in UTF-8, so any title imported from there fits.
 */
export const MAX_TITLE_BYTES = 1024
/**
 * The longest issue body, and comment body, in UTF-8 bytes: 256 KiB. GitHub caps bodies at 65,536 characters,
 * which is at most 256 KiB in UTF-8. A body goes into every prompt, task file and evidence bundle of the issue.
 */
export const MAX_BODY_BYTES = 256 * 1024

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** The length of `text` in UTF-8 bytes. */
export const utf8Length = (text: string): number => text.length === 0 ? 0 : encoder.encode(text).length

/**
 * `text` cut to at most `maxBytes` UTF-8 bytes, the marker included: the longest prefix that fits (cut at a
 * character boundary) followed by `marker(bytes)`, where `bytes` is the UTF-8 length of the whole `text`.
 * `text` itself when it fits. Pure.
 */
export const cutText = (text: string, maxBytes: number, marker: (bytes: number) => string): string => {
  if (text.length * 3 <= maxBytes) return text
  const bytes = encoder.encode(text)
  if (bytes.length <= maxBytes) return text
  const suffix = marker(bytes.length)
  let end = Math.max(0, maxBytes - utf8Length(suffix))
  // Back up over continuation bytes (10xxxxxx) so the cut lands on the start of a character.
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--
  return decoder.decode(bytes.subarray(0, end)) + suffix
}

const kib = (bytes: number): string => `${Math.round(bytes / 1024)} KiB`

/** A size check with a message a person can act on: `the title is 1500 bytes (UTF-8), over the limit of ...`. */
const maxUtf8 = (what: string, max: number) => <S extends Schema.Schema<string, string, never>>(self: S) =>
  self.pipe(
    // A UTF-16 code unit is at most 3 UTF-8 bytes: most texts pass without being encoded.
    Schema.filter((text: string) => text.length * 3 <= max || utf8Length(text) <= max, {
      message: (issue) =>
        `the ${what} is ${utf8Length(String(issue.actual))} bytes (UTF-8), over the limit of ${max} bytes (${kib(max)}); shorten it`
    })
  )

/**
 * A title as a write sets it: not blank, no leading or trailing whitespace, at most {@link MAX_TITLE_BYTES}.
 * Each failure is one sentence (`the title is empty`). Stored titles are read with `Issue`, which has no size
 * limit, so a row written past the limit by hand still reads (see `boundIssue`).
 */
export const IssueTitle = Schema.String.pipe(
  Schema.filter((text) => text.trim() !== "", { message: () => "the title is empty" }),
  Schema.filter((text) => text === text.trim(), { message: () => "the title starts or ends with whitespace" }),
  maxUtf8("title", MAX_TITLE_BYTES)
)

/** A body (or comment body) as a write sets it: at most {@link MAX_BODY_BYTES}. */
export const IssueBody = Schema.String.pipe(maxUtf8("body", MAX_BODY_BYTES))

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

/**
 * `issue` with its title, body and comment bodies cut to {@link MAX_TITLE_BYTES} / {@link MAX_BODY_BYTES}, each cut
 * one ending with a marker that says how long it was; `issue` itself when nothing is over. Writes refuse
 * oversized text (`IssueTitle`, `IssueBody`), but a row edited by hand (sqlite3) can hold anything: the line cuts
 * it when the issue is read into an attempt instead of failing, or carrying megabytes into every prompt and
 * bundle. Pure.
 */
export const boundIssue = (issue: Issue): Issue => {
  const title = cutText(issue.title, MAX_TITLE_BYTES, (bytes) => ` [… cut by Switchyard: the title is ${bytes} bytes]`)
  const body = cutText(
    issue.body,
    MAX_BODY_BYTES,
    (bytes) => `\n\n[… cut by Switchyard: the body is ${bytes} bytes, over the limit of ${MAX_BODY_BYTES}; the rest is not shown]`
  )
  const comments = issue.comments.map((comment) => {
    const text = cutText(
      comment.body,
      MAX_BODY_BYTES,
      (bytes) => `\n\n[… cut by Switchyard: the comment is ${bytes} bytes, over the limit of ${MAX_BODY_BYTES}]`
    )
    return text === comment.body ? comment : new IssueComment({ ...comment, body: text })
  })
  return title === issue.title && body === issue.body && comments.every((c, i) => c === issue.comments[i])
    ? issue
    : new Issue({ ...issue, title, body, comments })
}

/** Input for creating an issue. The tracker assigns `id`, timestamps and empty comments. */
export class IssueInput extends Schema.Class<IssueInput>("IssueInput")({
  title: IssueTitle,
  body: Schema.optionalWith(IssueBody, { default: () => "" }),
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
  title: Schema.optional(IssueTitle),
  body: Schema.optional(IssueBody),
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
