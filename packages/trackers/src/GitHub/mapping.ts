/**
 * How a GitHub issue becomes a Switchyard `Issue`, and how a Switchyard status becomes GitHub labels
 * (docs/trackers.md, "GitHub"). Pure. Every payload is decoded with Schema first: tracker payloads are hostile.
 *
 * - id `GH-<number>`; title trimmed (blank: malformed); labels trimmed, lower-cased, deduplicated, blanks and
 *   Switchyard's own state labels dropped (Symphony SPEC §11.3).
 * - status: closed → `done` (`state_reason: completed`) or `cancelled` (anything else); open → from the state label
 *   Switchyard wrote (`<prefix>:running` in_progress, `<prefix>:in-review` in_review, `<prefix>:escalated` blocked,
 *   `<prefix>:no-op` done), else `todo`.
 * - priority from a `priority:critical|high|medium|low` label (default `medium`).
 * - task-packet fields from a fenced block with the info string `switchyard` in the body, holding YAML:
 *   `reproduction` (string), `validation`, `scope`, `non_goals` (lists of strings).
 * - pull requests (the Issues API lists them, with a `pull_request` key) are not issues.
 * - blockers and parent are not in the record: `relations` turns the `blocked_by` and `sub_issues` lists GitHub
 *   serves for an issue into `blocked_by` ids and children's `parent`.
 */
import { Issue, IssueId, type IssueStatus, Priority } from "@switchyard/domain"
import { DateTime, Either, ParseResult, Schema } from "effect"
import * as Yaml from "yaml"

/** A label as the Issues API returns it (an object with `name`; the API also accepts plain strings). */
const GitHubLabel = Schema.Union(Schema.String, Schema.Struct({ name: Schema.String }))

/** The fields of a GitHub issue the tracker reads (GitHub OpenAPI `issue`, subset); extra keys are ignored. */
export const GitHubIssue = Schema.Struct({
  number: Schema.Int.pipe(Schema.positive()),
  title: Schema.String,
  body: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null }),
  state: Schema.Literal("open", "closed"),
  state_reason: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null }),
  labels: Schema.Array(GitHubLabel),
  created_at: Schema.DateTimeUtc,
  updated_at: Schema.DateTimeUtc,
  pull_request: Schema.optional(Schema.Unknown),
  html_url: Schema.optional(Schema.String),
  repository_url: Schema.optional(Schema.String),
  /** Open (`blocked_by`) and all blockers; present where GitHub has issue dependencies. */
  issue_dependencies_summary: Schema.optional(Schema.Struct({ blocked_by: Schema.Int, total_blocked_by: Schema.Int })),
  sub_issues_summary: Schema.optional(Schema.Struct({ total: Schema.Int })),
  /** Who it is assigned to (`tracker.assignee`). */
  assignees: Schema.optionalWith(Schema.NullOr(Schema.Array(Schema.Struct({ login: Schema.String }))), { default: () => null })
})
export type GitHubIssue = typeof GitHubIssue.Type

/** The YAML of a body's ```` ```switchyard ```` block. */
export const PacketSection = Schema.Struct({
  reproduction: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null }),
  validation: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
  scope: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
  non_goals: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] })
})
export type PacketSection = typeof PacketSection.Type

/** The Switchyard statuses that have a state label on GitHub, and the label's suffix. */
const STATE_SUFFIX: Partial<Record<IssueStatus, string>> = {
  in_progress: "running",
  in_review: "in-review",
  blocked: "escalated",
  done: "no-op"
}

/** Every state label under `prefix` (lower-case), e.g. `switchyard:running`. */
export const stateLabels = (prefix: string): ReadonlyArray<string> =>
  Object.values(STATE_SUFFIX).map((suffix) => `${prefix.toLowerCase()}:${suffix}`)

/** The state label an open issue in `status` carries on GitHub, or null (todo and the others carry none). */
export const stateLabelFor = (prefix: string, status: IssueStatus): string | null => {
  const suffix = STATE_SUFFIX[status]
  return suffix === undefined ? null : `${prefix.toLowerCase()}:${suffix}`
}

const normalize = (label: string) => label.trim().toLowerCase()

/** The issue id of GitHub issue `number`: `GH-<number>`. */
export const idOf = (number: number): IssueId => IssueId.make(`GH-${number}`)

/** The GitHub issue number of `GH-<n>`, or null for another id. */
export const numberOf = (id: string): number | null => {
  const m = /^GH-([1-9][0-9]{0,8})$/.exec(id)
  return m === null ? null : Number(m[1])
}

/** The status a GitHub issue has for Switchyard (see the module docstring). */
export const statusOf = (issue: Pick<GitHubIssue, "state" | "state_reason">, labels: ReadonlyArray<string>, prefix: string): IssueStatus => {
  if (issue.state === "closed") return issue.state_reason === "completed" ? "done" : "cancelled"
  const have = new Set(labels)
  for (const [status, suffix] of Object.entries(STATE_SUFFIX)) {
    if (have.has(`${prefix.toLowerCase()}:${suffix}`)) return status as IssueStatus
  }
  return "todo"
}

const FENCE = /^(`{3,}|~{3,})[ \t]*switchyard[ \t]*\r?\n([\s\S]*?)\r?\n\1[ \t]*$/m

/**
 * The task-packet fields of a body: the first fenced block whose info string is `switchyard`, as YAML. No block:
 * every field empty. A block that is not YAML or does not decode: `Left` with a sentence naming what is wrong.
 */
export const packetOf = (body: string): Either.Either<PacketSection, string> => {
  const match = FENCE.exec(body)
  if (match === null) return Either.right(Schema.decodeSync(PacketSection)({}))
  const parsed = Either.try(() => Yaml.parse(match[2] ?? "") as unknown)
  if (Either.isLeft(parsed)) return Either.left("its ```switchyard block is not YAML")
  return Schema.decodeUnknownEither(PacketSection)(parsed.right ?? {}).pipe(
    Either.mapLeft((e) => `its \`\`\`switchyard block: ${ParseResult.TreeFormatter.formatErrorSync(e)}`)
  )
}

/** What a raw record of an issue list became: an issue, a pull request (not an issue), or malformed with a reason. */
export type Mapped =
  | {
    readonly _tag: "Issue"
    readonly issue: Issue
    readonly url: string | null
    /** Whether GitHub says it has open blockers / sub-issues (then they are read: `relations`). */
    readonly openBlockers: boolean
    readonly subIssues: boolean
    /** The logins it is assigned to, lower-cased. */
    readonly assignees: ReadonlyArray<string>
  }
  | { readonly _tag: "PullRequest" }
  | { readonly _tag: "Malformed"; readonly id: string; readonly reason: string }

/**
 * Maps one raw record of the Issues API to an `Issue` (`status` as GitHub says; the caller decides whether a local
 * status wins). A record that does not decode, has a blank title or a bad ```switchyard block is `Malformed`
 * (Symphony SPEC §11.1: skipped from lists and reported, a failure for a refresh by id).
 */
export const mapIssue = (raw: unknown, prefix: string): Mapped => {
  const decoded = Schema.decodeUnknownEither(GitHubIssue)(raw)
  const rawNumber = typeof raw === "object" && raw !== null && "number" in raw ? String((raw as { number: unknown }).number) : "?"
  if (Either.isLeft(decoded)) {
    return { _tag: "Malformed", id: `GH-${rawNumber}`, reason: ParseResult.TreeFormatter.formatErrorSync(decoded.left) }
  }
  const gh = decoded.right
  if (gh.pull_request !== undefined) return { _tag: "PullRequest" }
  const id = `GH-${gh.number}`
  const title = gh.title.trim()
  if (title === "") return { _tag: "Malformed", id, reason: "its title is blank" }
  const body = gh.body ?? ""
  const packet = packetOf(body)
  if (Either.isLeft(packet)) return { _tag: "Malformed", id, reason: packet.left }
  const all = [...new Set(gh.labels.map((l) => normalize(typeof l === "string" ? l : l.name)).filter((l) => l !== ""))]
  const own = new Set(stateLabels(prefix))
  const priorityLabel = all.map((l) => /^priority:(.+)$/.exec(l)?.[1]).find((p) => p !== undefined && Schema.is(Priority)(p))
  const issue = new Issue({
    id: idOf(gh.number),
    title,
    body,
    status: statusOf(gh, all, prefix),
    priority: (priorityLabel as Priority | undefined) ?? "medium",
    labels: all.filter((l) => !own.has(l)),
    parent: null,
    blocked_by: [],
    reproduction: packet.right.reproduction,
    validation: packet.right.validation,
    scope: packet.right.scope,
    non_goals: packet.right.non_goals,
    comments: [],
    created_at: gh.created_at,
    updated_at: gh.updated_at
  })
  return {
    _tag: "Issue",
    issue,
    url: gh.html_url ?? null,
    openBlockers: (gh.issue_dependencies_summary?.blocked_by ?? 0) > 0,
    subIssues: (gh.sub_issues_summary?.total ?? 0) > 0,
    assignees: (gh.assignees ?? []).map((a) => a.login.toLowerCase())
  }
}

/** The next page's URL from a `Link` header (RFC 8288, as GitHub sends it), or null. */
export const nextLink = (link: string | undefined): string | null => {
  if (link === undefined) return null
  for (const part of link.split(",")) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part)
    if (m !== null) return m[1] ?? null
  }
  return null
}

/** Milliseconds to wait before retrying a throttled response: `Retry-After` (seconds), else until `X-RateLimit-Reset`. */
export const throttleDelayMs = (headers: Readonly<Record<string, string | undefined>>, nowMs: number): number | null => {
  const after = headers["retry-after"]
  if (after !== undefined && /^\d+$/.test(after.trim())) return Number(after) * 1000
  if (headers["x-ratelimit-remaining"] === "0") {
    const reset = Number(headers["x-ratelimit-reset"])
    if (Number.isFinite(reset)) return Math.max(0, reset * 1000 - nowMs)
  }
  return null
}

/** Epoch ms of a `DateTime`, for rows. */
export const epochMs = (d: DateTime.Utc): number => DateTime.toEpochMillis(d)

/** Whether a record's `repository_url` is the tracker's repository (GitHub compares owner/name case-insensitively). */
const sameRepository = (url: string | undefined, repositoryUrl: string | undefined): boolean =>
  url === undefined || repositoryUrl === undefined || url.toLowerCase() === repositoryUrl.toLowerCase()

/**
 * The ids of the open issues among a raw `blocked_by` list of an issue of `repositoryUrl` (GitHub's issue
 * dependencies). A blocker in another repository cannot be mirrored: it becomes `GHX-<number>`, an id no issue has,
 * which blocks (an unknown blocker blocks) until GitHub counts no open blocker. Closed blockers do not block.
 */
export const openBlockerIds = (raw: ReadonlyArray<unknown>, repositoryUrl: string | undefined): ReadonlyArray<IssueId> =>
  raw.flatMap((r) => {
    const b = Schema.decodeUnknownOption(GitHubIssue)(r)
    if (b._tag === "None" || b.value.state !== "open") return []
    const same = sameRepository(b.value.repository_url, repositoryUrl)
    return [IssueId.make(`${same ? "GH" : "GHX"}-${b.value.number}`)]
  })

/** The numbers of the issues in a raw `sub_issues` list that belong to the same repository. */
export const subIssueNumbers = (raw: ReadonlyArray<unknown>, repositoryUrl: string | undefined): ReadonlyArray<number> =>
  raw.flatMap((r) => {
    const c = Schema.decodeUnknownOption(GitHubIssue)(r)
    if (c._tag === "None") return []
    return sameRepository(c.value.repository_url, repositoryUrl) ? [c.value.number] : []
  })
