/**
 * How a Linear issue becomes a Switchyard `Issue`, and how a Switchyard status becomes a Linear workflow state
 * (docs/trackers.md, "Linear"). Pure. Every payload is decoded with Schema first: tracker payloads are hostile.
 *
 * - id: the issue's `identifier` (`ABC-12`: the team key, a dash, the number), which already has Switchyard's
 *   `<PREFIX>-<n>` shape; Linear's UUID (`id`) is only used to write back.
 * - status, by the state's name (case-insensitive): a `tracker.state_names` name → the status Switchyard wrote
 *   (`running` in_progress, `review` in_review, `escalated` blocked, `no_op` done, `todo` todo); else a
 *   `terminal_states` name → `cancelled` (Canceled, Cancelled, Duplicate) or `done`; else an `active_states` name →
 *   `todo`; anything else → `backlog` (never dispatched).
 * - priority: Linear's 1 urgent → critical, 2 high, 3 medium, 4 low, 0 (no priority) → none (Symphony SPEC §8.2
 *   sorts it last too).
 * - labels: trimmed, lower-cased, deduplicated, blanks dropped (SPEC §11.3).
 * - blockers: the `inverseRelations` of type `blocks` (Symphony's adapter profile) whose issue is not in a terminal
 *   state; parent: `parent.identifier`.
 * - task-packet fields: the same ```` ```switchyard ```` YAML block in the description as on GitHub.
 */
import { Issue, IssueId, type IssueStatus, type Priority } from "@switchyard/domain"
import { Either, ParseResult, Schema } from "effect"
import { packetOf } from "../GitHub/mapping.js"

const Named = Schema.Struct({ name: Schema.String })

/** The fields of a Linear `Issue` node the tracker reads (Symphony's `SymphonyLinearPoll` selection). */
export const LinearIssue = Schema.Struct({
  id: Schema.String.pipe(Schema.minLength(1)),
  identifier: Schema.String,
  title: Schema.String,
  description: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null }),
  priority: Schema.optionalWith(Schema.NullOr(Schema.Int.pipe(Schema.between(0, 4))), { default: () => null }),
  state: Named,
  url: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null }),
  labels: Schema.optionalWith(Schema.Struct({ nodes: Schema.Array(Named) }), { default: () => ({ nodes: [] }) }),
  inverseRelations: Schema.optionalWith(
    Schema.Struct({
      nodes: Schema.Array(Schema.Struct({
        type: Schema.String,
        issue: Schema.NullOr(Schema.Struct({ identifier: Schema.String, state: Schema.NullOr(Named) }))
      }))
    }),
    { default: () => ({ nodes: [] }) }
  ),
  parent: Schema.optionalWith(Schema.NullOr(Schema.Struct({ identifier: Schema.String })), { default: () => null }),
  createdAt: Schema.DateTimeUtc,
  updatedAt: Schema.DateTimeUtc
})
export type LinearIssue = typeof LinearIssue.Type

/** The state names a mapping needs: `tracker.active_states`, `terminal_states` and `state_names`. */
export interface StateConfig {
  readonly active: ReadonlyArray<string>
  readonly terminal: ReadonlyArray<string>
  readonly names: {
    readonly todo: string
    readonly running: string
    readonly review: string
    readonly escalated: string
    readonly no_op: string
  }
}

const norm = (s: string) => s.trim().toLowerCase()

/** Terminal state names that mean "will not be done" rather than "done". */
const CANCELLED = new Set(["canceled", "cancelled", "duplicate"])

/** The Switchyard status of an issue in the Linear state named `state` (see the module docstring). */
export const statusOf = (state: string, config: StateConfig): IssueStatus => {
  const s = norm(state)
  const n = config.names
  if (s === norm(n.running)) return "in_progress"
  if (s === norm(n.review)) return "in_review"
  if (s === norm(n.escalated)) return "blocked"
  if (s === norm(n.no_op)) return "done"
  if (config.terminal.some((t) => norm(t) === s)) return CANCELLED.has(s) ? "cancelled" : "done"
  if (s === norm(n.todo) || config.active.some((a) => norm(a) === s)) return "todo"
  return "backlog"
}

/** The Linear state name Switchyard writes for `status`, or null (backlog and cancelled are never written). */
export const stateNameFor = (status: IssueStatus, config: StateConfig): string | null => {
  switch (status) {
    case "todo":
      return config.names.todo
    case "in_progress":
      return config.names.running
    case "in_review":
      return config.names.review
    case "blocked":
      return config.names.escalated
    case "done":
      return config.names.no_op
    default:
      return null
  }
}

/**
 * The state names a poll asks for: the active ones and the ones Switchyard writes for a running or waiting issue
 * (so the mirror sees its own issues), deduplicated case-insensitively, in that order. Terminal ones are not
 * polled: an issue that reaches one drops out of the poll and is read by id (Symphony SPEC §11.1).
 */
export const polledStates = (config: StateConfig): ReadonlyArray<string> => {
  const out: Array<string> = []
  const seen = new Set<string>()
  for (const s of [...config.active, config.names.todo, config.names.running, config.names.review, config.names.escalated]) {
    const k = norm(s)
    if (k === "" || seen.has(k) || config.terminal.some((t) => norm(t) === k)) continue
    seen.add(k)
    out.push(s)
  }
  return out
}

/** Linear's priority (0 none, 1 urgent … 4 low) as a Switchyard priority. */
export const priorityOf = (p: number | null): Priority =>
  p === 1 ? "critical" : p === 2 ? "high" : p === 3 ? "medium" : p === 4 ? "low" : "none"

/** What a raw node became: an issue or malformed with a reason. */
export type Mapped =
  | { readonly _tag: "Issue"; readonly issue: Issue; readonly uuid: string }
  | { readonly _tag: "Malformed"; readonly id: string; readonly reason: string }

const isId = Schema.is(IssueId)

/**
 * Maps one raw `Issue` node. A node that does not decode, has a blank title, an identifier that is not
 * `<KEY>-<n>` or a bad ```switchyard block is `Malformed` (Symphony SPEC §11.1: skipped from polls and reported, a
 * failure for a refresh by id).
 */
export const mapIssue = (raw: unknown, config: StateConfig): Mapped => {
  const rawId = typeof raw === "object" && raw !== null && "identifier" in raw
    ? String((raw as { identifier: unknown }).identifier)
    : typeof raw === "object" && raw !== null && "id" in raw
    ? String((raw as { id: unknown }).id)
    : "?"
  const decoded = Schema.decodeUnknownEither(LinearIssue)(raw)
  if (Either.isLeft(decoded)) {
    return { _tag: "Malformed", id: rawId, reason: ParseResult.TreeFormatter.formatErrorSync(decoded.left) }
  }
  const li = decoded.right
  if (!isId(li.identifier)) {
    return { _tag: "Malformed", id: rawId, reason: `its identifier ${JSON.stringify(li.identifier)} is not <TEAM>-<number>` }
  }
  const title = li.title.trim()
  if (title === "") return { _tag: "Malformed", id: li.identifier, reason: "its title is blank" }
  const body = li.description ?? ""
  const packet = packetOf(body)
  if (Either.isLeft(packet)) return { _tag: "Malformed", id: li.identifier, reason: packet.left }
  const terminal = new Set(config.terminal.map(norm))
  const blockers = li.inverseRelations.nodes.flatMap((r) =>
    r.type === "blocks" && r.issue !== null && isId(r.issue.identifier) &&
      !(r.issue.state !== null && terminal.has(norm(r.issue.state.name)))
      ? [r.issue.identifier]
      : []
  )
  const parent = li.parent !== null && isId(li.parent.identifier) ? li.parent.identifier : null
  const issue = new Issue({
    id: li.identifier,
    title,
    body,
    status: statusOf(li.state.name, config),
    priority: priorityOf(li.priority),
    labels: [...new Set(li.labels.nodes.map((l) => norm(l.name)).filter((l) => l !== ""))],
    parent,
    blocked_by: [...new Set(blockers)],
    reproduction: packet.right.reproduction,
    validation: packet.right.validation,
    scope: packet.right.scope,
    non_goals: packet.right.non_goals,
    comments: [],
    created_at: li.createdAt,
    updated_at: li.updatedAt
  })
  return { _tag: "Issue", issue, uuid: li.id }
}

/** The team key of an id (`ABC` of `ABC-12`). */
export const keyOf = (id: string): string => id.slice(0, id.lastIndexOf("-"))
