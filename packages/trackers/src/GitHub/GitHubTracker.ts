/**
 * The GitHub Issues tracker (`tracker.kind: github`, docs/trackers.md): a `MirrorTracker` whose remote is one
 * repository's issues through the REST API (`GitHubApi`). Ids are `GH-<number>`.
 *
 * Read: every open issue (pull requests excluded), mapped by `mapping.ts`; an issue the mirror holds as open that
 * is no longer listed is read by number (404/410: it left scope, its worker is stopped; Symphony C24).
 * Write-back (through the outbox, after the transaction that caused it):
 * - `state`: the one state label for the new status (`<prefix>:running`, `:in-review`, `:escalated`, `:no-op`; none
 *   for `todo`), the other state labels removed;
 * - `comment`: posted once, with a hidden marker that makes a retry find it instead of posting it twice;
 * - an ending: a comment per terminal state (summary, cause, what a human should decide, the evidence path) and,
 *   for PR_READY, a pull request from `switchyard/<id>` to the default branch with `evidence.md` as its body
 *   (looked up by branch first), linked from the issue by a comment.
 */
import type { HttpClient } from "@effect/platform"
import type * as SqlClient from "@effect/sql/SqlClient"
import {
  PreflightFailed,
  type PreflightProblem,
  renderEvidenceMarkdown,
  type Tracker,
  type TrackerEnding,
  TrackerError,
  type TrackerSync
} from "@switchyard/core"
import { Issue, type IssueId } from "@switchyard/domain"
import { Effect, Layer, Option, Redacted, Schema } from "effect"
import * as MirrorTracker from "../Mirror/MirrorTracker.js"
import { GitHubError, make as makeApi } from "./GitHubApi.js"
import { mapIssue, numberOf, openBlockerIds, stateLabelFor, stateLabels, subIssueNumbers } from "./mapping.js"

/** The public API. */
export const DEFAULT_API_URL = "https://api.github.com"
/** The variable that holds the token when `tracker.token_env` is not set. */
export const DEFAULT_TOKEN_ENV = "GITHUB_TOKEN"
/** GitHub caps a pull request or comment body at 65,536 characters. */
export const MAX_BODY_CHARS = 65_536

export interface GitHubTrackerOptions {
  readonly repo: string
  readonly apiUrl: string
  readonly token: Redacted.Redacted<string>
  /** `tracker.label_prefix`. */
  readonly labelPrefix: string
  /** `tracker.assignee`: only issues assigned to this login are in scope; null or absent: every open issue. */
  readonly assignee?: string | null | undefined
  /** `polling.interval_ms`: how often the repository is read. */
  readonly pollMs: number
}

/** A hidden marker that makes a comment findable by its outbox row (so a retry never posts it twice). */
export const marker = (rowId: number, suffix = ""): string => `<!-- switchyard:outbox:${rowId}${suffix} -->`

const cut = (text: string): string =>
  text.length <= MAX_BODY_CHARS ? text : `${text.slice(0, MAX_BODY_CHARS - 200)}\n\n[… cut by Switchyard: GitHub bodies hold at most ${MAX_BODY_CHARS} characters]`

/** The terminal comment of an ending (ESCALATE's comes from `settle` itself). */
export const endingComment = (ending: TrackerEnding): string | null => {
  const b = ending.bundle
  const title = MirrorTracker.endingHeading(b.outcome)
  if (title === null) return null
  const decide = b.outcome === "NO_OP"
    ? "\n\n**For a human to decide:** close the issue if that is right, or say what is still wrong and remove the `no-op` label to send it back."
    : b.outcome === "PR_READY"
    ? "\n\nA pull request with the evidence follows."
    : ""
  return `**${title}** (attempt ${ending.attempt}, \`${b.verdict.cause}\`)\n\n${b.summary}${
    b.verdict.reasons.length > 0 ? `\n\n${b.verdict.reasons.map((r) => `- ${r}`).join("\n")}` : ""
  }${decide}\n\nEvidence: \`${ending.evidencePath}\``
}

const errorOf = (operation: string) => (e: GitHubError) => new TrackerError({ operation, reason: e.message, cause: e })

const Payload = {
  state: Schema.parseJson(Schema.Struct({ status: Schema.String })),
  comment: Schema.parseJson(Schema.Struct({ body: Schema.String })),
  pull: Schema.parseJson(Schema.Struct({ branch: Schema.String, title: Schema.String, body: Schema.String }))
}

/** The GitHub remote of a mirror, over the `HttpClient` in context. */
export const remote = (options: GitHubTrackerOptions) =>
  Effect.gen(function*() {
    const api = yield* makeApi({ apiUrl: options.apiUrl, repo: options.repo, token: options.token })
    const owner = options.repo.split("/")[0] ?? ""
    const own = new Set(stateLabels(options.labelPrefix))
    const deliveryError = (reason: string) => ({ message: reason, retryAfterMs: null })
    const labelsOf = (raw: unknown): ReadonlyArray<string> =>
      typeof raw === "object" && raw !== null && Array.isArray((raw as { labels?: unknown }).labels)
        ? ((raw as { labels: Array<unknown> }).labels).flatMap((l) =>
          typeof l === "string" ? [l] : typeof l === "object" && l !== null && typeof (l as { name?: unknown }).name === "string" ? [(l as { name: string }).name] : []
        )
        : []

    const deliver = (row: MirrorTracker.OutboxRow): Effect.Effect<void, MirrorTracker.DeliveryError> =>
      Effect.gen(function*() {
        const number = numberOf(row.issue_id)
        if (number === null) return
        const since = new Date(row.created_at - 60_000).toISOString()
        if (row.op === "state") {
          const { status } = yield* Schema.decodeUnknown(Payload.state)(row.payload).pipe(Effect.mapError((e) => deliveryError(e.message)))
          const current = yield* api.getIssue(number)
          // The issue is gone: there is nothing left to label.
          if (Option.isNone(current)) return
          const want = stateLabelFor(options.labelPrefix, status as never)
          const have = labelsOf(current.value)
          for (const label of have) {
            if (own.has(label.toLowerCase()) && label.toLowerCase() !== want) yield* api.removeLabel(number, label)
          }
          if (want !== null && !have.some((l) => l.toLowerCase() === want)) yield* api.addLabels(number, [want])
          return
        }
        if (row.op === "comment") {
          const { body } = yield* Schema.decodeUnknown(Payload.comment)(row.payload).pipe(Effect.mapError((e) => deliveryError(e.message)))
          const tag = marker(row.id)
          if ((yield* api.commentsSince(number, since)).some((c) => c.includes(tag))) return
          yield* api.addComment(number, `${cut(body)}\n\n${tag}`)
          return
        }
        if (row.op === "pull") {
          const pull = yield* Schema.decodeUnknown(Payload.pull)(row.payload).pipe(Effect.mapError((e) => deliveryError(e.message)))
          const existing = yield* api.findPull(owner, pull.branch)
          const url = Option.isSome(existing) ? existing.value : yield* Effect.gen(function*() {
            const repo = yield* api.getRepo
            const baseBranch = typeof repo === "object" && repo !== null && typeof (repo as { default_branch?: unknown }).default_branch === "string"
              ? (repo as { default_branch: string }).default_branch
              : "main"
            return yield* api.createPull({ title: pull.title, head: pull.branch, base: baseBranch, body: cut(pull.body) })
          })
          const tag = marker(row.id, ":pr")
          if ((yield* api.commentsSince(number, since)).some((c) => c.includes(tag))) return
          yield* api.addComment(number, `Pull request: ${url}\n\n${tag}`)
          return
        }
        return yield* Effect.fail(deliveryError(`unknown write-back ${JSON.stringify(row.op)}`))
      }).pipe(Effect.catchIf((e): e is GitHubError => e instanceof GitHubError, (e) => Effect.fail({ message: e.message, retryAfterMs: e.retryAfterMs })))

    const assignee = options.assignee?.trim().toLowerCase() ?? ""
    /** `tracker.assignee`: in scope when unset, or when the issue is assigned to that login. */
    const inScope = (m: { readonly assignees: ReadonlyArray<string> }) => assignee === "" || m.assignees.includes(assignee)

    return {
      kind: "github",
      prefix: "GH",
      pull: Effect.gen(function*() {
        const { changed, items } = yield* api.listOpen
        if (!changed) return Option.none()
        const mapped = []
        const invalid = []
        for (const raw of items) {
          const m = mapIssue(raw, options.labelPrefix)
          if (m._tag === "Issue" && !inScope(m)) continue
          if (m._tag === "Issue") mapped.push(m)
          else if (m._tag === "Malformed") invalid.push({ id: m.id, reason: m.reason })
        }
        // Blockers (issue dependencies) and sub-issues: read only for the issues GitHub says have them.
        const repositoryUrl = api.repoUrl
        const blockers = new Map<string, ReadonlyArray<IssueId>>()
        const parents = new Map<number, IssueId>()
        for (const m of mapped) {
          const n = numberOf(m.issue.id)
          if (n === null) continue
          if (m.openBlockers) blockers.set(m.issue.id, openBlockerIds(yield* api.blockedBy(n), repositoryUrl))
          if (m.subIssues) for (const child of subIssueNumbers(yield* api.subIssues(n), repositoryUrl)) parents.set(child, m.issue.id)
        }
        const issues = mapped.map(({ issue }) => {
          const blockedBy = blockers.get(issue.id) ?? []
          const parent = parents.get(numberOf(issue.id) ?? 0) ?? null
          return blockedBy.length === 0 && parent === null ? issue : new Issue({ ...issue, blocked_by: blockedBy, parent })
        })
        return Option.some({ issues, invalid })
      }).pipe(Effect.mapError(errorOf("read issues"))),
      refresh: (id: IssueId) =>
        Effect.gen(function*() {
          const number = numberOf(id)
          if (number === null) return Option.none()
          const raw = yield* api.getIssue(number).pipe(Effect.mapError(errorOf(`refresh ${id}`)))
          if (Option.isNone(raw)) return Option.none()
          const mapped = mapIssue(raw.value, options.labelPrefix)
          if (mapped._tag === "Malformed") {
            return yield* new TrackerError({ operation: `refresh ${id}`, reason: `GitHub's record cannot be read: ${mapped.reason}` })
          }
          // Reassigned to someone else: out of scope, as if it were gone (the line stops its worker).
          return mapped._tag === "Issue" && inScope(mapped) ? Option.some(mapped.issue) : Option.none()
        }),
      deliver,
      endingWrites: (ending) => {
        // The terminal comment first, then the pull request (whose delivery links it from the issue).
        const writes: Array<MirrorTracker.OutboxWrite> = []
        const body = endingComment(ending)
        if (body !== null) writes.push({ op: "comment", payload: { body } })
        if (ending.branch !== null && ending.bundle.outcome === "PR_READY") {
          writes.push({
            op: "pull",
            payload: {
              branch: ending.branch,
              title: `${ending.bundle.task.title} (${ending.issueId})`,
              body: `Closes #${numberOf(ending.issueId)}\n\n${renderEvidenceMarkdown(ending.bundle)}`
            }
          })
        }
        return writes
      },
      rateLimit: api.rate
    } satisfies MirrorTracker.Remote
  })

/** The GitHub tracker as the `Tracker` service (see `MirrorTracker.layer`). */
export const layer = (options: GitHubTrackerOptions): Layer.Layer<Tracker, TrackerError, SqlClient.SqlClient | Tracker | HttpClient.HttpClient> =>
  Layer.unwrapEffect(Effect.map(remote(options), (r) => MirrorTracker.layer(r, { pollMs: options.pollMs })))

/** The GitHub tracker with `TrackerSync` (a webhook's "read GitHub now", docs/trust.md). */
export const layerWithSync = (
  options: GitHubTrackerOptions
): Layer.Layer<Tracker | TrackerSync, TrackerError, SqlClient.SqlClient | Tracker | HttpClient.HttpClient> =>
  Layer.unwrapEffect(Effect.map(remote(options), (r) => MirrorTracker.layerWithSync(r, { pollMs: options.pollMs })))

/**
 * What `switchyard run` checks against GitHub before it claims anything (docs/trackers.md, "Preflight"): the API
 * answers, the token is accepted, the repository exists and the token can see it, every `tracker.required_labels`
 * label exists there. Fails `PreflightFailed` (exit 2, one line per problem) naming the key to fix; `path` is the
 * workflow file's. Makes at most 1 + labels requests, each retried only for a short throttle.
 */
export const preflight = (
  options: GitHubTrackerOptions & { readonly tokenEnv: string; readonly requiredLabels: ReadonlyArray<string>; readonly path: string }
): Effect.Effect<void, PreflightFailed, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const api = yield* makeApi({ apiUrl: options.apiUrl, repo: options.repo, token: options.token })
    const refused = (problems: ReadonlyArray<PreflightProblem>) => new PreflightFailed({ path: options.path, problems })
    const repo = yield* Effect.either(api.getRepo)
    if (repo._tag === "Left") {
      const e = repo.left
      const problem: PreflightProblem = e.category === "unauthorized"
        ? { key: "tracker.token_env", reason: `GitHub refused the token in $${options.tokenEnv} (HTTP 401): set a valid token` }
        : e.category === "not_found"
        ? { key: "tracker.repo", reason: `${options.repo} does not exist on ${options.apiUrl}, or the token in $${options.tokenEnv} cannot see it` }
        : e.category === "request"
        ? { key: "tracker.api_url", reason: `${options.apiUrl} cannot be reached: ${e.reason}` }
        : { key: "tracker.api_url", reason: e.message }
      return yield* refused([problem])
    }
    const missing: Array<PreflightProblem> = []
    for (const label of options.requiredLabels) {
      const name = label.trim()
      const has = name === "" ? false : yield* api.hasLabel(name).pipe(Effect.orElseSucceed(() => true))
      if (!has) {
        missing.push({
          key: "tracker.required_labels",
          reason: name === ""
            ? "holds a blank label, which no issue can carry"
            : `label ${JSON.stringify(name)} does not exist in ${options.repo}; no issue can carry it yet: create it there`
        })
      }
    }
    if (missing.length > 0) return yield* refused(missing)
  })
