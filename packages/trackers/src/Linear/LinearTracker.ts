/**
 * The Linear tracker (`tracker.kind: linear`, docs/trackers.md "Linear"): a `MirrorTracker` whose remote is one
 * Linear project's issues through the GraphQL API (`LinearApi`). Ids are Linear's identifiers (`ABC-12`); the id
 * prefixes are the keys of the project's teams, read once when the layer is built.
 *
 * Read: the issues of the project in the active states and the states Switchyard writes (`SymphonyLinearPoll`,
 * pages of 50), mapped by `mapping.ts`; an issue the mirror holds as open that the poll no longer lists is read by
 * identifier: not found, moved to another project, or renumbered → it left scope (its worker is stopped; C24).
 * Write-back (through the outbox, after the transaction that caused it):
 * - `state`: `issueUpdate(stateId)` to the workflow state `tracker.state_names` names for the new status, looked up
 *   by name in the issue's team; nothing when the issue is already there (idempotent);
 * - `comment`: `commentCreate`, once: a marker line makes a retry find it among the newest 50 comments;
 * - an ending: a comment per terminal state with the evidence summary (Linear has no pull requests: for PR_READY
 *   the comment names the branch that `integration.push` pushed).
 */
import type { HttpClient } from "@effect/platform"
import type * as SqlClient from "@effect/sql/SqlClient"
import { PreflightFailed, type PreflightProblem, type Tracker, type TrackerEnding, TrackerError } from "@switchyard/core"
import type { IssueId, IssueStatus } from "@switchyard/domain"
import { Effect, Either, Layer, Option, type Redacted, Schema } from "effect"
import * as MirrorTracker from "../Mirror/MirrorTracker.js"
import { LinearError, type LinearProject, make as makeApi } from "./LinearApi.js"
import { keyOf, mapIssue, polledStates, stateNameFor, type StateConfig } from "./mapping.js"

/** The public API. */
export const DEFAULT_API_URL = "https://api.linear.app/graphql"
/** The variable that holds the key when `tracker.token_env` is not set (Symphony's). */
export const DEFAULT_TOKEN_ENV = "LINEAR_API_KEY"
/** Comment bodies are cut at this many characters (Linear has no documented cap; this keeps comments readable). */
export const MAX_BODY_CHARS = 65_536

export interface LinearTrackerOptions {
  /** The GraphQL endpoint. */
  readonly apiUrl: string
  readonly apiKey: Redacted.Redacted<string>
  /** `tracker.project_slug`. */
  readonly projectSlug: string
  readonly states: StateConfig
  /** `polling.interval_ms`: how often the project is read. */
  readonly pollMs: number
}

/** Id prefixes Switchyard's other trackers use (embedded, GitHub, fp): a Linear team with one of these keys is refused. */
export const RESERVED_KEYS: ReadonlySet<string> = new Set(["SY", "GH", "GHX", "FP"])

/** The marker line that makes a comment findable by its outbox row (Linear keeps it as text; so it is visible). */
export const marker = (rowId: number): string => `switchyard:outbox:${rowId}`

const cut = (text: string): string =>
  text.length <= MAX_BODY_CHARS ? text : `${text.slice(0, MAX_BODY_CHARS - 200)}\n\n[… cut by Switchyard at ${MAX_BODY_CHARS} characters]`

/** The terminal comment of an ending on Linear (ESCALATE's comes from `settle` itself). */
export const endingComment = (ending: TrackerEnding, states: StateConfig): string | null => {
  const b = ending.bundle
  const title = MirrorTracker.endingHeading(b.outcome)
  if (title === null) return null
  const next = b.outcome === "NO_OP"
    ? `\n\n**For a human to decide:** leave it in ${states.names.no_op} if that is right, or say what is still wrong and move it back to ${states.names.todo}.`
    : b.outcome === "PR_READY" && ending.branch !== null
    ? `\n\nThe change is on branch \`${ending.branch}\`; the issue waits in ${states.names.review} for a person.`
    : ""
  return `**${title}** (attempt ${ending.attempt}, \`${b.verdict.cause}\`)\n\n${b.summary}${
    b.verdict.reasons.length > 0 ? `\n\n${b.verdict.reasons.map((r) => `- ${r}`).join("\n")}` : ""
  }${next}\n\nEvidence: \`${ending.evidencePath}\``
}

const Payload = {
  state: Schema.parseJson(Schema.Struct({ status: Schema.String })),
  comment: Schema.parseJson(Schema.Struct({ body: Schema.String }))
}

const errorOf = (operation: string) => (e: LinearError) => new TrackerError({ operation, reason: e.message, cause: e })

/** The workflow states of `project`'s teams, by team key. */
const statesByTeam = (project: LinearProject) => new Map(project.teams.nodes.map((t) => [t.key, t.states.nodes]))

/**
 * The Linear remote of a mirror, over the `HttpClient` in context. Reads the project once (its teams' keys are the
 * id prefixes); fails `TrackerError` when it cannot be read or does not exist.
 */
export const remote = (options: LinearTrackerOptions) =>
  Effect.gen(function*() {
    const api = yield* makeApi({ apiUrl: options.apiUrl, apiKey: options.apiKey })
    const project = yield* api.project(options.projectSlug).pipe(
      Effect.mapError(errorOf("read the project")),
      Effect.flatMap(Option.match({
        onNone: () =>
          Effect.fail(new TrackerError({ operation: "read the project", reason: `Linear has no project ${JSON.stringify(options.projectSlug)}` })),
        onSome: Effect.succeed
      }))
    )
    const keys = project.teams.nodes.map((t) => t.key)
    // Linear's `in` filter compares exactly; Symphony's state names compare case-insensitively: poll the teams' own
    // spellings of the configured names (a name no team has is sent as written).
    const spelled = project.teams.nodes.flatMap((t) => t.states.nodes.map((st) => st.name))
    const stateNames = [...new Set(polledStates(options.states).flatMap((n) => {
      const found = spelled.filter((a) => a.trim().toLowerCase() === n.trim().toLowerCase())
      return found.length > 0 ? found : [n]
    }))]
    const deliveryError = (reason: string) => ({ message: reason, retryAfterMs: null })
    const norm = (s: string) => s.trim().toLowerCase()

    /** The issue's write-back view, or None when it is gone or left the project. */
    const contextOf = (id: string) =>
      Effect.gen(function*() {
        const raw = yield* api.issue(id)
        if (Option.isNone(raw)) return Option.none()
        const ctx = yield* api.context(raw.value)
        return ctx.project?.slugId === project.slugId ? Option.some(ctx) : Option.none()
      })

    const deliver = (row: MirrorTracker.OutboxRow): Effect.Effect<void, MirrorTracker.DeliveryError> =>
      Effect.gen(function*() {
        if (row.op === "state") {
          const { status } = yield* Schema.decodeUnknown(Payload.state)(row.payload).pipe(Effect.mapError((e) => deliveryError(e.message)))
          const want = stateNameFor(status as IssueStatus, options.states)
          if (want === null) return
          const ctx = yield* contextOf(row.issue_id)
          // The issue is gone: there is nothing left to move.
          if (Option.isNone(ctx)) return
          if (norm(ctx.value.state.name) === norm(want)) return
          const state = ctx.value.team.states.nodes.find((s) => norm(s.name) === norm(want))
          if (state === undefined) {
            return yield* Effect.fail(deliveryError(`team ${ctx.value.team.key} has no workflow state ${JSON.stringify(want)} (tracker.state_names)`))
          }
          yield* api.moveIssue(ctx.value.id, state.id)
          return
        }
        if (row.op === "comment") {
          const { body } = yield* Schema.decodeUnknown(Payload.comment)(row.payload).pipe(Effect.mapError((e) => deliveryError(e.message)))
          const ctx = yield* contextOf(row.issue_id)
          if (Option.isNone(ctx)) return
          const tag = marker(row.id)
          if (ctx.value.comments.nodes.some((c) => c.body.includes(tag))) return
          yield* api.comment(ctx.value.id, `${cut(body)}\n\n${tag}`)
          return
        }
        return yield* Effect.fail(deliveryError(`unknown write-back ${JSON.stringify(row.op)}`))
      }).pipe(
        Effect.catchIf(
          (e): e is LinearError => e instanceof LinearError,
          (e) => Effect.fail({ message: e.message, retryAfterMs: e.retryAfterMs })
        )
      )

    return {
      kind: "linear",
      prefix: keys[0] ?? "LIN",
      prefixes: keys,
      pull: api.poll(project.slugId, stateNames).pipe(
        Effect.mapError(errorOf("read issues")),
        Effect.map((nodes) => {
          const issues = []
          const invalid = []
          for (const raw of nodes) {
            const mapped = mapIssue(raw, options.states)
            if (mapped._tag === "Malformed") invalid.push({ id: mapped.id, reason: mapped.reason })
            else if (keys.includes(keyOf(mapped.issue.id))) issues.push(mapped.issue)
          }
          return Option.some({ issues, invalid })
        })
      ),
      refresh: (id: IssueId) =>
        Effect.gen(function*() {
          const raw = yield* api.issue(id).pipe(Effect.mapError(errorOf(`refresh ${id}`)))
          if (Option.isNone(raw)) return Option.none()
          const slug = typeof raw.value === "object" && raw.value !== null
            ? (raw.value as { project?: { slugId?: unknown } | null }).project?.slugId
            : undefined
          // Moved to another project: it left scope.
          if (slug !== project.slugId) return Option.none()
          const mapped = mapIssue(raw.value, options.states)
          if (mapped._tag === "Malformed") {
            return yield* new TrackerError({ operation: `refresh ${id}`, reason: `Linear's record cannot be read: ${mapped.reason}` })
          }
          // Moved to another team (a new identifier): the old id left scope.
          return mapped.issue.id === id ? Option.some(mapped.issue) : Option.none()
        }),
      deliver,
      endingWrites: (ending) => {
        const body = endingComment(ending, options.states)
        return body === null ? [] : [{ op: "comment", payload: { body } }]
      },
      rateLimit: api.rate
    } satisfies MirrorTracker.Remote
  })

/** The Linear tracker as the `Tracker` service (see `MirrorTracker.layer`). */
export const layer = (options: LinearTrackerOptions): Layer.Layer<Tracker, TrackerError, SqlClient.SqlClient | Tracker | HttpClient.HttpClient> =>
  Layer.unwrapEffect(Effect.map(remote(options), (r) => MirrorTracker.layer(r, { pollMs: options.pollMs })))

/**
 * What `switchyard run` checks against Linear before it claims anything (docs/trackers.md, "Preflight"): the API
 * answers, the key is accepted, the project exists, and every state in `tracker.state_names` exists in each of the
 * project's teams. Fails `PreflightFailed` (exit 2, one line per problem) naming the key to fix; `path` is the
 * workflow file's. One request (retried only for a short throttle).
 */
export const preflight = (
  options: LinearTrackerOptions & { readonly tokenEnv: string; readonly path: string }
): Effect.Effect<void, PreflightFailed, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const api = yield* makeApi({ apiUrl: options.apiUrl, apiKey: options.apiKey })
    const refused = (problems: ReadonlyArray<PreflightProblem>) => new PreflightFailed({ path: options.path, problems })
    const read = yield* Effect.either(api.project(options.projectSlug))
    if (Either.isLeft(read)) {
      const e = read.left
      const problem: PreflightProblem = e.category === "unauthorized"
        ? { key: "tracker.token_env", reason: `Linear refused the API key in $${options.tokenEnv}: set a valid personal API key` }
        : e.category === "request"
        ? { key: "tracker.api_url", reason: `${options.apiUrl} cannot be reached: ${e.reason}` }
        : { key: "tracker.api_url", reason: e.message }
      return yield* refused([problem])
    }
    if (Option.isNone(read.right)) {
      return yield* refused([{
        key: "tracker.project_slug",
        reason: `Linear has no project ${JSON.stringify(options.projectSlug)} that the key in $${options.tokenEnv} can see (the slug is the last part of the project's URL)`
      }])
    }
    const project = read.right.value
    if (project.teams.nodes.length === 0) {
      return yield* refused([{ key: "tracker.project_slug", reason: `project ${JSON.stringify(project.name)} belongs to no team` }])
    }
    const missing: Array<PreflightProblem> = []
    for (const key of project.teams.nodes.map((t) => t.key)) {
      if (RESERVED_KEYS.has(key)) {
        missing.push({
          key: "tracker.project_slug",
          reason: `team ${key} of project ${JSON.stringify(project.name)} has a key whose ids (${key}-<n>) are another tracker's in Switchyard; rename the team key`
        })
      }
    }
    for (const [key, states] of statesByTeam(project)) {
      const have = new Set(states.map((s) => s.name.trim().toLowerCase()))
      for (const [moment, name] of Object.entries(options.states.names)) {
        if (!have.has(name.trim().toLowerCase())) {
          missing.push({
            key: `tracker.state_names.${moment}`,
            reason: `team ${key} has no workflow state ${JSON.stringify(name)}: create it in Linear or name another`
          })
        }
      }
    }
    if (missing.length > 0) return yield* refused(missing)
  })
