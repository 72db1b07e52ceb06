/**
 * The Linear GraphQL calls the Linear Tracker makes, through `@effect/platform`'s `HttpClient`: one `POST` of
 * `{query, operationName, variables}` to `tracker.api_url` per call. The poll is Symphony's own
 * (`SymphonyLinearPoll`, integrations.md §2: issues of the project by state name, pages of 50 by `endCursor`); the
 * rest are Switchyard's (`SwitchyardLinear*`): the project with its teams' workflow states, one issue by its
 * identifier (with its team's states and newest comments), `issueUpdate` and `commentCreate`.
 *
 * Errors (Symphony SPEC §11.4 categories): transport → `request`; HTTP 401/403 or a GraphQL error coded
 * `AUTHENTICATION_ERROR`/`FORBIDDEN` → `unauthorized`; HTTP 429 or a GraphQL error coded `RATELIMITED` (Linear
 * answers HTTP 400 then) → `rate_limited`, waiting `Retry-After` or until `X-RateLimit-Requests-Reset`; other
 * non-2xx → `status`; a GraphQL `errors` array → `graphql` (`not_found` when Linear says the entity is not found);
 * no `data` → `response`. Throttles and 5xx are retried in place (`Schedule`) while the wait is ≤ 5 s.
 * The key travels as `Redacted`, only in the `Authorization` header (raw, no `Bearer`, as Linear wants a personal
 * API key): no error, log or record holds it.
 */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { Clock, Duration, Effect, Either, Option, Redacted, Ref, Schedule, Schema } from "effect"

/** What went wrong talking to Linear, by Symphony SPEC §11.4's categories (see the module docstring). */
export const LinearErrorCategory = Schema.Literal(
  "unauthorized",
  "not_found",
  "rate_limited",
  "status",
  "request",
  "response",
  "graphql",
  "pagination"
)

/** A failed Linear call: the operation, its category, the HTTP status if any, and why; never the key. */
export class LinearError extends Schema.TaggedError<LinearError>()("LinearError", {
  operation: Schema.String,
  category: LinearErrorCategory,
  status: Schema.NullOr(Schema.Number),
  reason: Schema.String,
  /** For `rate_limited` (and 5xx with `Retry-After`): how long (ms) Linear asked us to wait. */
  retryAfterMs: Schema.NullOr(Schema.Number)
}) {
  override get message() {
    return `Linear ${this.operation} failed${this.status === null ? "" : ` (HTTP ${this.status})`}: ${this.reason}`
  }
}

/** Throttled or failing calls are retried in place only while the wait is at most this long (ms). */
export const MAX_INLINE_WAIT_MS = 5_000
/** Page size of the poll (Symphony's). */
export const PAGE_SIZE = 50
/** How many relations of each issue are read. */
export const RELATION_FIRST = 50

/** The fields of an issue node every query selects (Symphony's poll selection, plus `parent`). */
const ISSUE_FIELDS = `id identifier title description priority state { name } branchName url assignee { id }
      labels { nodes { name } }
      inverseRelations(first: $relationFirst) { nodes { type issue { id identifier state { name } } } }
      parent { identifier }
      createdAt updatedAt`

export const POLL_QUERY = `query SymphonyLinearPoll($projectSlug: String!, $stateNames: [String!]!, $first: Int!, $relationFirst: Int!, $after: String) {
  issues(filter: {project: {slugId: {eq: $projectSlug}}, state: {name: {in: $stateNames}}}, first: $first, after: $after) {
    nodes { ${ISSUE_FIELDS} }
    pageInfo { hasNextPage endCursor }
  }
}`

export const ISSUE_QUERY = `query SwitchyardLinearIssue($id: String!, $relationFirst: Int!) {
  issue(id: $id) {
    ${ISSUE_FIELDS}
    project { slugId }
    team { id key states { nodes { id name type } } }
    comments(last: 50) { nodes { body } }
  }
}`

export const PROJECT_QUERY = `query SwitchyardLinearProject($projectSlug: String!) {
  projects(filter: {slugId: {eq: $projectSlug}}, first: 1) {
    nodes { id name slugId teams { nodes { id key states { nodes { id name type } } } } }
  }
}`

export const MOVE_MUTATION = `mutation SwitchyardLinearMoveIssue($id: String!, $stateId: String!) {
  issueUpdate(id: $id, input: {stateId: $stateId}) { success }
}`

export const COMMENT_MUTATION = `mutation SwitchyardLinearComment($issueId: String!, $body: String!) {
  commentCreate(input: {issueId: $issueId, body: $body}) { success }
}`

const State = Schema.Struct({ id: Schema.String, name: Schema.String, type: Schema.optional(Schema.String) })
const Team = Schema.Struct({ id: Schema.String, key: Schema.String, states: Schema.Struct({ nodes: Schema.Array(State) }) })

/** A project as `SwitchyardLinearProject` returns it. */
export const LinearProject = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  slugId: Schema.String,
  teams: Schema.Struct({ nodes: Schema.Array(Team) })
})
export type LinearProject = typeof LinearProject.Type

/** The write-back view of one issue: its UUID, state, project, team states and newest comments. */
export const LinearIssueContext = Schema.Struct({
  id: Schema.String,
  identifier: Schema.String,
  state: Schema.Struct({ name: Schema.String }),
  project: Schema.NullOr(Schema.Struct({ slugId: Schema.String })),
  team: Team,
  comments: Schema.Struct({ nodes: Schema.Array(Schema.Struct({ body: Schema.String })) })
})
export type LinearIssueContext = typeof LinearIssueContext.Type

const PageInfo = Schema.Struct({ hasNextPage: Schema.Boolean, endCursor: Schema.NullOr(Schema.String) })
const PollData = Schema.Struct({
  issues: Schema.Struct({ nodes: Schema.Array(Schema.Unknown), pageInfo: PageInfo })
})
const ProjectData = Schema.Struct({ projects: Schema.Struct({ nodes: Schema.Array(LinearProject) }) })
const IssueData = Schema.Struct({ issue: Schema.NullOr(Schema.Unknown) })
const Success = (field: string) => Schema.Struct({ [field]: Schema.Struct({ success: Schema.Boolean }) })

const GraphQLError = Schema.Struct({
  message: Schema.optionalWith(Schema.String, { default: () => "" }),
  extensions: Schema.optional(Schema.Struct({ code: Schema.optional(Schema.String) }))
})
const Envelope = Schema.Struct({
  data: Schema.optional(Schema.NullOr(Schema.Unknown)),
  errors: Schema.optional(Schema.Array(GraphQLError))
})

/** The rate limit as Linear last reported it (`X-RateLimit-Requests-*`). */
export interface RateLimit {
  readonly remaining: number
  /** Epoch ms. */
  readonly resetAt: number
}

export interface LinearApiOptions {
  /** The GraphQL endpoint, e.g. `https://api.linear.app/graphql` or a twin's `http://127.0.0.1:PORT/graphql`. */
  readonly apiUrl: string
  readonly apiKey: Redacted.Redacted<string>
}

/** Milliseconds to wait before retrying a throttled answer: `Retry-After` (s), else until the reset (epoch ms). */
export const throttleDelayMs = (headers: Readonly<Record<string, string | undefined>>, nowMs: number): number | null => {
  const after = headers["retry-after"]
  if (after !== undefined && /^\d+$/.test(after.trim())) return Number(after) * 1000
  const reset = headers["x-ratelimit-requests-reset"]
  if (reset !== undefined && /^\d+$/.test(reset.trim())) return Math.max(0, Number(reset) - nowMs)
  return null
}

/** Builds the client over the `HttpClient` in context. */
export const make = (options: LinearApiOptions) =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const rate = yield* Ref.make<RateLimit | null>(null)
    const fail = (
      operation: string,
      category: typeof LinearErrorCategory.Type,
      status: number | null,
      reason: string,
      retryAfterMs: number | null = null
    ) => new LinearError({ operation, category, status, reason, retryAfterMs })

    /** One POST, no retry: the `data` of the answer, or the categorized failure. */
    const once = (operation: string, operationName: string, query: string, variables: Record<string, unknown>) =>
      Effect.gen(function*() {
        const response = yield* client.execute(
          HttpClientRequest.post(options.apiUrl).pipe(
            HttpClientRequest.setHeader("authorization", Redacted.value(options.apiKey)),
            HttpClientRequest.setHeader("user-agent", "switchyard"),
            HttpClientRequest.bodyUnsafeJson({ query, operationName, variables })
          )
        ).pipe(Effect.mapError((e) => fail(operation, "request", null, e.message.replace(/lin_api_\w+/g, "lin_api_***"))))
        const headers = response.headers as Record<string, string | undefined>
        const now = yield* Clock.currentTimeMillis
        const remaining = headers["x-ratelimit-requests-remaining"]
        const reset = headers["x-ratelimit-requests-reset"]
        if (remaining !== undefined && reset !== undefined && /^\d+$/.test(remaining) && /^\d+$/.test(reset)) {
          yield* Ref.set(rate, { remaining: Number(remaining), resetAt: Number(reset) })
        }
        const status = response.status
        const raw = yield* response.json.pipe(Effect.orElseSucceed(() => null))
        const envelope = Schema.decodeUnknownOption(Envelope)(raw)
        const errors = Option.match(envelope, { onNone: () => [], onSome: (e) => e.errors ?? [] })
        const codes = errors.map((e) => e.extensions?.code ?? "")
        const said = errors.map((e) => e.message).filter((m) => m !== "").join("; ")
        if (status === 429 || codes.includes("RATELIMITED")) {
          return yield* fail(operation, "rate_limited", status, said || "rate limited", throttleDelayMs(headers, now) ?? 60_000)
        }
        if (status === 401 || status === 403 || codes.includes("AUTHENTICATION_ERROR") || codes.includes("FORBIDDEN")) {
          return yield* fail(operation, "unauthorized", status, `the API key was refused (${said || "authentication required"})`)
        }
        if (status >= 500) {
          // Only `Retry-After` counts here: the rate-limit reset says nothing about when a failing server is back.
          const after = headers["retry-after"]
          return yield* fail(operation, "status", status, said || "server error", after !== undefined && /^\d+$/.test(after.trim()) ? Number(after) * 1000 : null)
        }
        if (errors.length > 0) {
          return yield* fail(operation, /not found/i.test(said) ? "not_found" : "graphql", status === 200 ? null : status, said || "GraphQL errors")
        }
        if (status < 200 || status >= 300) return yield* fail(operation, "status", status, "unexpected status")
        if (Option.isNone(envelope) || envelope.value.data === undefined || envelope.value.data === null) {
          return yield* fail(operation, "response", status, "the answer has no data")
        }
        return envelope.value.data
      })

    const retryable = (e: LinearError) =>
      (e.category === "request" || e.category === "rate_limited" || (e.category === "status" && (e.status ?? 0) >= 500)) &&
      (e.retryAfterMs ?? 0) <= MAX_INLINE_WAIT_MS

    /** `once` retried while retryable: waits what Linear asked, else 200 ms doubling; 3 retries. */
    const call = <A, I>(
      operation: string,
      operationName: string,
      query: string,
      variables: Record<string, unknown>,
      schema: Schema.Schema<A, I>
    ) =>
      once(operation, operationName, query, variables).pipe(
        Effect.retry({
          schedule: Schedule.identity<LinearError>().pipe(
            Schedule.addDelay((e) => Duration.millis(e.retryAfterMs ?? 0)),
            Schedule.intersect(Schedule.exponential("200 millis")),
            Schedule.intersect(Schedule.recurs(3))
          ),
          while: retryable
        }),
        Effect.flatMap((data) =>
          Schema.decodeUnknown(schema)(data).pipe(
            Effect.mapError((e) => fail(operation, "response", null, `the answer does not have the expected shape: ${e.message}`))
          )
        )
      )

    /**
     * Every issue of project `projectSlug` in a state named in `stateNames`, raw (Symphony's poll), following
     * `pageInfo` 50 at a time. Atomic: any page's failure, or `hasNextPage` without an `endCursor`, fails it all.
     */
    const poll = (projectSlug: string, stateNames: ReadonlyArray<string>) =>
      Effect.gen(function*() {
        if (stateNames.length === 0) return []
        const nodes: Array<unknown> = []
        let after: string | null = null
        for (let page = 1;; page++) {
          if (page > 1000) return yield* fail("read issues", "pagination", null, "more than 1000 pages: the cursor loops")
          const data: typeof PollData.Type = yield* call("read issues", "SymphonyLinearPoll", POLL_QUERY, {
            projectSlug,
            stateNames,
            first: PAGE_SIZE,
            relationFirst: RELATION_FIRST,
            after
          }, PollData)
          nodes.push(...data.issues.nodes)
          if (!data.issues.pageInfo.hasNextPage) return nodes
          if (data.issues.pageInfo.endCursor === null) {
            return yield* fail("read issues", "pagination", null, "a page says there is a next one but has no endCursor")
          }
          after = data.issues.pageInfo.endCursor
        }
      })

    /** One issue by identifier or UUID, raw (its fields, `project`, `team` and `comments`), or None when not found. */
    const issue = (id: string) =>
      call(`read issue ${id}`, "SwitchyardLinearIssue", ISSUE_QUERY, { id, relationFirst: RELATION_FIRST }, IssueData).pipe(
        Effect.map((d) => Option.fromNullable(d.issue)),
        Effect.catchIf((e) => e.category === "not_found", () => Effect.succeed(Option.none()))
      )

    /** The project with this slug (its teams and their workflow states), or None. */
    const project = (projectSlug: string) =>
      call("read the project", "SwitchyardLinearProject", PROJECT_QUERY, { projectSlug }, ProjectData).pipe(
        Effect.map((d) => Option.fromNullable(d.projects.nodes[0]))
      )

    const ensure = (operation: string) => (r: Readonly<Record<string, { readonly success: boolean }>>) =>
      Object.values(r).every((v) => v.success) ? Effect.void : Effect.fail(fail(operation, "response", null, "Linear answered success: false"))

    return {
      rate: Ref.get(rate),
      poll,
      issue,
      project,
      /** Moves issue `uuid` to workflow state `stateId`. */
      moveIssue: (uuid: string, stateId: string) =>
        call("move an issue", "SwitchyardLinearMoveIssue", MOVE_MUTATION, { id: uuid, stateId }, Success("issueUpdate")).pipe(
          Effect.flatMap(ensure("move an issue"))
        ),
      /** Comments `body` (markdown) on issue `uuid`. */
      comment: (uuid: string, body: string) =>
        call("comment", "SwitchyardLinearComment", COMMENT_MUTATION, { issueId: uuid, body }, Success("commentCreate")).pipe(
          Effect.flatMap(ensure("comment"))
        ),
      /** Decodes an `issue` answer's write-back view. */
      context: (raw: unknown) =>
        Schema.decodeUnknownEither(LinearIssueContext)(raw).pipe(
          Either.mapLeft((e) => fail("read issue", "response", null, `the issue does not have the expected shape: ${e.message}`))
        )
    }
  })

export type LinearApi = Effect.Effect.Success<ReturnType<typeof make>>
