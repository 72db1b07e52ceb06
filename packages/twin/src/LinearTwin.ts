/**
 * The Linear twin: a local HTTP server (127.0.0.1, ephemeral port) serving the subset of Linear's GraphQL API the
 * Linear Tracker uses, over one workspace held in memory, so the tracker is tested with real HTTP offline
 * (docs/trackers.md, "Testing against twins"). As integrations.md §2 describes Symphony's own twin, it dispatches
 * on `operationName` (no schema file is published for Linear: `@linear/sdk` ships none); the selections it answers
 * carry the field names of Linear's schema (`slugId`, `inverseRelations`, `pageInfo { hasNextPage endCursor }`).
 *
 * `POST /graphql` with `{query, operationName, variables}` and `Authorization: <key>`:
 * - `SymphonyLinearPoll`: `issues` of the project (`projectSlug`) in the states named in `stateNames`, oldest
 *   first, `first` at a time after the cursor `after`;
 * - `SwitchyardLinearIssue`: `issue(id)` by UUID or identifier, with `project`, `team { states }`, `comments(last)`;
 *   an unknown one is Linear's "Entity not found" error;
 * - `SwitchyardLinearProject`: `projects` whose `slugId` is `projectSlug`, with their teams and workflow states;
 * - `SwitchyardLinearMoveIssue` (`issueUpdate`) and `SwitchyardLinearComment` (`commentCreate`).
 * Another operation is a GraphQL validation error. Every answer carries `X-RateLimit-Requests-Remaining` and
 * `X-RateLimit-Requests-Reset` (epoch ms), as Linear's do.
 *
 * Failure modes, set through the handle: a wrong key (HTTP 400, `AUTHENTICATION_ERROR`, as Linear answers),
 * queued faults for the next requests (`RateLimited`: HTTP 400 with `RATELIMITED`, Linear's way; a status: 429 with
 * `Retry-After`, 5xx; a delay; a page that says it has a next one but gives no cursor; a GraphQL `errors` array), `down` (every request
 * 503), and raw nodes (a malformed issue served as given in polls and by id).
 */
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Context, Duration, Effect, Layer, Ref, type Scope } from "effect"
import * as Http from "node:http"

export interface TwinState {
  readonly id: string
  readonly name: string
  readonly type: "backlog" | "unstarted" | "started" | "completed" | "canceled" | "triage"
}

export interface TwinTeam {
  readonly id: string
  readonly key: string
  readonly states: ReadonlyArray<TwinState>
}

export interface TwinLinearIssue {
  readonly uuid: string
  readonly number: number
  readonly team: string
  readonly title: string
  readonly description: string | null
  /** 0 none, 1 urgent, 2 high, 3 medium, 4 low. */
  readonly priority: number
  readonly state: string
  readonly labels: ReadonlyArray<string>
  /** Identifiers of the issues that block this one (inverse `blocks` relations). */
  readonly blockedBy: ReadonlyArray<string>
  readonly parent: string | null
  /** The project's slug, or null (in no project). */
  readonly project: string | null
  readonly createdAt: string
  readonly updatedAt: string
  readonly deleted: boolean
  /** Served verbatim instead of the node built from these fields (a malformed record). */
  readonly raw: unknown | null
}

export interface TwinLinearComment {
  readonly issue: string
  readonly body: string
  readonly createdAt: string
}

export type LinearFault =
  | { readonly _tag: "Status"; readonly status: number; readonly headers?: Readonly<Record<string, string>> }
  /** Linear's rate limit: HTTP 400, `RATELIMITED`, the reset `resetInMs` (default 1000) from now. */
  | { readonly _tag: "RateLimited"; readonly resetInMs?: number }
  | { readonly _tag: "Delay"; readonly ms: number }
  | { readonly _tag: "NoCursor" }
  /** HTTP 200 with a GraphQL `errors` array and no data (e.g. a query Linear cannot answer). */
  | { readonly _tag: "Errors"; readonly message: string }

export interface LinearTwinState {
  readonly issues: ReadonlyArray<TwinLinearIssue>
  readonly comments: ReadonlyArray<TwinLinearComment>
  readonly faults: ReadonlyArray<LinearFault>
  readonly down: boolean
  readonly remaining: number
  /** Every request as `operationName variables-json`, in arrival order. */
  readonly requests: ReadonlyArray<string>
}

export interface LinearTwinShape {
  /** The GraphQL endpoint for `tracker.api_url`, e.g. `http://127.0.0.1:41234/graphql`. */
  readonly url: string
  readonly apiKey: string
  /** The project's `slugId`, for `tracker.project_slug`. */
  readonly projectSlug: string
  readonly team: TwinTeam
  readonly state: Effect.Effect<LinearTwinState>
  /** Creates an issue in the project (state `Todo` unless given) and returns its identifier (`ENG-1`). */
  readonly create: (issue: {
    title: string
    description?: string
    priority?: number
    state?: string
    labels?: ReadonlyArray<string>
    blockedBy?: ReadonlyArray<string>
    parent?: string
    project?: string | null
  }) => Effect.Effect<string>
  /** Edits an issue as a person would (state, labels, project, deleted); bumps `updatedAt`. */
  readonly edit: (identifier: string, patch: Partial<Omit<TwinLinearIssue, "uuid" | "number" | "team">>) => Effect.Effect<void>
  /** Adds a raw node, served verbatim in polls of state `state` (e.g. without a title); returns its identifier. */
  readonly addRaw: (record: unknown, state?: string) => Effect.Effect<string>
  /** Queues faults for the next requests, in order. */
  readonly fault: (...faults: ReadonlyArray<LinearFault>) => Effect.Effect<void>
  readonly setDown: (down: boolean) => Effect.Effect<void>
}

export class LinearTwin extends Context.Tag("switchyard/twin/LinearTwin")<LinearTwin, LinearTwinShape>() {}

const DEFAULT_STATES: ReadonlyArray<readonly [string, TwinState["type"]]> = [
  ["Backlog", "backlog"],
  ["Todo", "unstarted"],
  ["In Progress", "started"],
  ["In Review", "started"],
  ["Done", "completed"],
  ["Canceled", "canceled"],
  ["Duplicate", "canceled"]
]

const gqlError = (message: string, code: string, status = 200, headers: Record<string, string> = {}) =>
  HttpServerResponse.unsafeJson({ data: null, errors: [{ message, extensions: { code } }] }, { status, headers })

/**
 * Starts a twin with one team (`teamKey`, default `ENG`, with Linear's default workflow states plus `states`) and
 * one project (`projectSlug`) for API key `apiKey`. Stopped when the scope closes.
 */
export const make = (options: {
  readonly apiKey?: string
  readonly projectSlug?: string
  readonly teamKey?: string
  /** Extra workflow states of the team. */
  readonly states?: ReadonlyArray<string>
  /** Workflow states to leave out of Linear's defaults. */
  readonly without?: ReadonlyArray<string>
  /** Clock for `createdAt`/`updatedAt` (epoch ms); default `Date.now`. */
  readonly now?: () => number
}): Effect.Effect<LinearTwinShape, never, Scope.Scope> =>
  Effect.gen(function*() {
    const apiKey = options.apiKey ?? "lin_api_twin_0123456789abcdef"
    const projectSlug = options.projectSlug ?? "widgets-0a1b2c3d"
    const key = options.teamKey ?? "ENG"
    const now = options.now ?? (() => Date.now())
    const names = [...DEFAULT_STATES.filter(([n]) => !(options.without ?? []).includes(n)), ...(options.states ?? []).map((n) => [n, "started"] as const)]
    const team: TwinTeam = {
      id: `team-${key.toLowerCase()}`,
      key,
      states: names.map(([name, type], i) => ({ id: `state-${i + 1}`, name, type }))
    }
    const project = { id: "project-1", name: "Widgets", slugId: projectSlug }
    const state = yield* Ref.make<LinearTwinState>({ issues: [], comments: [], faults: [], down: false, remaining: 1500, requests: [] })
    let clockStep = 0
    // Strictly increasing times, a second apart, so creation order is unambiguous.
    const iso = () => new Date(now() + 1000 * clockStep++).toISOString()

    const nodeServer = Http.createServer()
    const server = yield* NodeHttpServer.make(() => nodeServer, { port: 0, host: "127.0.0.1" }).pipe(Effect.orDie)
    yield* Effect.addFinalizer(() => Effect.sync(() => nodeServer.closeAllConnections()))
    const port = server.address._tag === "TcpAddress" ? server.address.port : 0
    const base = `http://127.0.0.1:${port}`
    const reset = now() + 3_600_000

    const identifier = (i: TwinLinearIssue) => `${i.team}-${i.number}`
    const find = (s: LinearTwinState, id: string) => s.issues.find((i) => !i.deleted && (i.uuid === id || identifier(i) === id))
    const node = (s: LinearTwinState, i: TwinLinearIssue) => {
      if (i.raw !== null) return i.raw
      return {
        id: i.uuid,
        identifier: identifier(i),
        title: i.title,
        description: i.description,
        priority: i.priority,
        state: { name: i.state },
        branchName: `eng/${identifier(i).toLowerCase()}`,
        url: `${base}/issue/${identifier(i)}`,
        assignee: null,
        labels: { nodes: i.labels.map((name) => ({ name })) },
        inverseRelations: {
          nodes: i.blockedBy.flatMap((b) => {
            const blocker = find(s, b)
            return blocker === undefined ? [] : [{
              type: "blocks",
              issue: { id: blocker.uuid, identifier: identifier(blocker), state: { name: blocker.state } }
            }]
          })
        },
        parent: i.parent === null ? null : { identifier: i.parent },
        createdAt: i.createdAt,
        updatedAt: i.updatedAt
      }
    }
    const teamJson = { id: team.id, key: team.key, states: { nodes: team.states } }

    const rateHeaders = (remaining: number) => ({
      "x-ratelimit-requests-limit": "1500",
      "x-ratelimit-requests-remaining": String(remaining),
      "x-ratelimit-requests-reset": String(reset)
    })

    const graphql = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const body = yield* request.json.pipe(Effect.orElseSucceed(() => null))
      const b = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>
      const query = typeof b["query"] === "string" ? b["query"] : ""
      const op = typeof b["operationName"] === "string"
        ? b["operationName"]
        : /^\s*(?:query|mutation)\s+(\w+)/.exec(query)?.[1] ?? ""
      const vars = (typeof b["variables"] === "object" && b["variables"] !== null ? b["variables"] : {}) as Record<string, unknown>
      yield* Ref.update(state, (s) => ({ ...s, requests: [...s.requests, `${op} ${JSON.stringify(vars)}`] }))
      const s0 = yield* Ref.get(state)
      if (s0.down) return HttpServerResponse.text("Service Unavailable", { status: 503 })
      let noCursor = false
      const fault = s0.faults[0]
      if (fault !== undefined) {
        yield* Ref.update(state, (s) => ({ ...s, faults: s.faults.slice(1) }))
        if (fault._tag === "Delay") yield* Effect.sleep(Duration.millis(fault.ms))
        else if (fault._tag === "NoCursor") noCursor = true
        else if (fault._tag === "Errors") return gqlError(fault.message, "INTERNAL_ERROR", 200, rateHeaders(s0.remaining))
        else if (fault._tag === "RateLimited") {
          return gqlError("Rate limit exceeded", "RATELIMITED", 400, { ...rateHeaders(0), "x-ratelimit-requests-reset": String(now() + (fault.resetInMs ?? 1000)) })
        } else {
          return HttpServerResponse.unsafeJson(
            { errors: [{ message: fault.status === 429 ? "Too many requests" : "Internal server error" }] },
            { status: fault.status, headers: { ...rateHeaders(s0.remaining), ...fault.headers } }
          )
        }
      }
      if ((request.headers["authorization"] ?? "") !== apiKey) {
        return gqlError("Authentication required, not authenticated", "AUTHENTICATION_ERROR", 400)
      }
      const remaining = Math.max(0, (yield* Ref.updateAndGet(state, (s) => ({ ...s, remaining: s.remaining - 1 }))).remaining)
      const ok = (data: unknown) => HttpServerResponse.unsafeJson({ data }, { headers: rateHeaders(remaining) })
      const notFound = (what: string) => gqlError(`Entity not found: ${what}`, "INVALID_INPUT", 200, rateHeaders(remaining))
      const s = yield* Ref.get(state)
      switch (op) {
        case "SymphonyLinearPoll": {
          const states = Array.isArray(vars["stateNames"]) ? vars["stateNames"].filter((x): x is string => typeof x === "string") : []
          const first = Math.min(250, Math.max(1, Number(vars["first"] ?? 50)))
          const after = typeof vars["after"] === "string" ? Number(Buffer.from(vars["after"], "base64url").toString()) : 0
          const all = s.issues.filter((i) => !i.deleted && i.project === vars["projectSlug"] && states.includes(i.state))
          const page = all.slice(after, after + first)
          const hasNextPage = after + first < all.length
          return ok({
            issues: {
              nodes: page.map((i) => node(s, i)),
              pageInfo: {
                hasNextPage,
                endCursor: noCursor || page.length === 0 ? null : Buffer.from(String(after + page.length)).toString("base64url")
              }
            }
          })
        }
        case "SwitchyardLinearIssue": {
          const i = find(s, String(vars["id"] ?? ""))
          if (i === undefined) return notFound("Issue")
          const raw = node(s, i)
          return ok({
            issue: {
              ...(typeof raw === "object" && raw !== null ? raw : {}),
              project: i.project === null ? null : { slugId: i.project },
              team: teamJson,
              comments: { nodes: s.comments.filter((c) => c.issue === i.uuid).slice(-50).map((c) => ({ body: c.body })) }
            }
          })
        }
        case "SwitchyardLinearProject":
          return ok({
            projects: { nodes: vars["projectSlug"] === projectSlug ? [{ ...project, teams: { nodes: [teamJson] } }] : [] }
          })
        case "SwitchyardLinearMoveIssue": {
          const i = find(s, String(vars["id"] ?? ""))
          if (i === undefined) return notFound("Issue")
          const target = team.states.find((st) => st.id === vars["stateId"])
          if (target === undefined) return notFound("WorkflowState")
          const at = iso()
          yield* Ref.update(state, (st) => ({
            ...st,
            issues: st.issues.map((x) => (x.uuid === i.uuid ? { ...x, state: target.name, updatedAt: at } : x))
          }))
          return ok({ issueUpdate: { success: true } })
        }
        case "SwitchyardLinearComment": {
          const i = find(s, String(vars["issueId"] ?? ""))
          if (i === undefined) return notFound("Issue")
          if (typeof vars["body"] !== "string") return gqlError("Argument Validation Error", "INVALID_INPUT", 400)
          const comment = { issue: i.uuid, body: vars["body"], createdAt: iso() }
          yield* Ref.update(state, (st) => ({ ...st, comments: [...st.comments, comment] }))
          return ok({ commentCreate: { success: true } })
        }
        default:
          return gqlError(`Unknown operation ${JSON.stringify(op)}: the twin serves only the tracker's subset`, "GRAPHQL_VALIDATION_FAILED", 400)
      }
    })

    const router = HttpRouter.empty.pipe(
      HttpRouter.post("/graphql", graphql),
      HttpRouter.all("*", Effect.succeed(HttpServerResponse.text("Not Found", { status: 404 })))
    )
    yield* server.serve(router)

    const add = (record: Omit<TwinLinearIssue, "uuid" | "number" | "team" | "createdAt" | "updatedAt">) =>
      Ref.modify(state, (s) => {
        const number = s.issues.length + 1
        const at = iso()
        const issue: TwinLinearIssue = {
          ...record,
          uuid: `00000000-0000-4000-8000-${String(number).padStart(12, "0")}`,
          number,
          team: key,
          createdAt: at,
          updatedAt: at
        }
        return [`${key}-${number}`, { ...s, issues: [...s.issues, issue] }] as const
      })

    return {
      url: `${base}/graphql`,
      apiKey,
      projectSlug,
      team,
      state: Ref.get(state),
      create: (issue) =>
        add({
          title: issue.title,
          description: issue.description ?? null,
          priority: issue.priority ?? 0,
          state: issue.state ?? "Todo",
          labels: issue.labels ?? [],
          blockedBy: issue.blockedBy ?? [],
          parent: issue.parent ?? null,
          project: issue.project === undefined ? projectSlug : issue.project,
          deleted: false,
          raw: null
        }),
      edit: (id, patch) =>
        Ref.update(state, (s) => ({
          ...s,
          issues: s.issues.map((i) => (identifier(i) === id ? { ...i, ...patch, updatedAt: iso() } : i))
        })),
      addRaw: (record, st = "Todo") =>
        add({
          title: "",
          description: null,
          priority: 0,
          state: st,
          labels: [],
          blockedBy: [],
          parent: null,
          project: projectSlug,
          deleted: false,
          raw: record
        }),
      fault: (...faults) => Ref.update(state, (s) => ({ ...s, faults: [...s.faults, ...faults] })),
      setDown: (down) => Ref.update(state, (s) => ({ ...s, down }))
    } satisfies LinearTwinShape
  })

/** The twin as a scoped layer. */
export const layer = (options: Parameters<typeof make>[0] = {}): Layer.Layer<LinearTwin> =>
  Layer.scoped(LinearTwin, make(options))
