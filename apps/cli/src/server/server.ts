/**
 * The HTTP server of `switchyard serve` and `switchyard run --port` (docs/api.md): the JSON API under `/api/v1/`,
 * the event stream, and the web page, on @effect/platform's HttpRouter served by NodeHttpServer.
 *
 * Security: it binds 127.0.0.1 unless told otherwise; any other host needs `SWITCHYARD_API_TOKEN`, and whenever a
 * token is set every route (page, assets, API, events) wants it as `Authorization: Bearer <token>` or, for the page
 * and its EventSource which cannot send headers, `?token=<token>` (compared in constant time). The API is
 * read-only but for `POST /api/v1/refresh`.
 */
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Sse } from "@effect/experimental"
import type { IssueId } from "@switchyard/domain"
import { Chunk, Console, Deferred, Duration, Effect, Option, Ref, Schedule, Schema, Stream } from "effect"
import { timingSafeEqual } from "node:crypto"
import { createServer, type Server } from "node:http"
import { type ErrorCode, ErrorResponse, EventMessage, EvidenceResponse, IssueResponse, OutcomesResponse, RefreshResponse, StateResponse } from "./api.js"
import { type Feed, KEEPALIVE, type Refresher } from "./feed.js"
import { pageRoutes } from "./page.js"
import { WEBHOOK_PATH } from "./webhooks.js"
import { OUTCOMES_DEFAULT, OUTCOMES_MAX, readEvidence, readIssue } from "./state.js"

/** How long (ms) closing waits for the event streams' responses to finish once they are told to end. */
export const STREAMS_END_MS = 1000

/**
 * The server's lifecycle as the routes see it: `shutdown` completes when it starts closing; `streams` counts the
 * open event streams (closing waits for them to reach 0).
 */
export interface Lifecycle {
  readonly shutdown: Deferred.Deferred<void>
  readonly streams: Ref.Ref<number>
}

/** Where to listen. `port` 0 asks the system for a free port (Symphony SPEC §13.7). */
export interface ListenOptions {
  readonly host: string
  readonly port: number
  /** The bearer token every request must carry, or null (allowed only on a loopback host). */
  readonly token: string | null
}

/** True for the hosts that only this machine reaches: 127.0.0.0/8, ::1, localhost. */
export const isLoopback = (host: string): boolean =>
  host === "localhost" || host === "::1" || host === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)

/** A non-loopback `--host` without `SWITCHYARD_API_TOKEN`: refused before listening (exit 2). */
export class TokenRequired extends Schema.TaggedError<TokenRequired>()("TokenRequired", { host: Schema.String }) {
  override get message() {
    return `--host ${this.host} is reachable from other machines: set SWITCHYARD_API_TOKEN to a secret the clients send as "Authorization: Bearer <token>" (or bind 127.0.0.1)`
  }
}

/** The port is taken, or the host cannot be bound. */
export class ListenFailed extends Schema.TaggedError<ListenFailed>()("ListenFailed", {
  host: Schema.String,
  port: Schema.Number,
  reason: Schema.String
}) {
  override get message() {
    switch (this.reason) {
      case "EADDRINUSE":
        return `port ${this.port} on ${this.host} is already in use: pick another with --port N (or --port 0 for a free one)`
      case "EADDRNOTAVAIL":
        return `cannot listen on ${this.host}: no network interface of this machine has that address (--host)`
      case "EACCES":
        return `cannot listen on port ${this.port}: ports below 1024 need privileges; pick another with --port N`
      case "ENOTFOUND":
        return `cannot listen on ${this.host}: no such host (--host takes an address or a name of this machine)`
      default:
        return `cannot listen on ${this.host}:${this.port}: ${this.reason}`
    }
  }
}

/** A `--port` outside 0–65535. */
export class PortInvalid extends Schema.TaggedError<PortInvalid>()("PortInvalid", { port: Schema.Number }) {
  override get message() {
    return `--port ${this.port}: a port is a whole number from 0 to 65535 (0: a free one)`
  }
}

/** Checks the options before anything listens: a port in range, and a token for a non-loopback host. */
export const checkListen = (o: ListenOptions): Effect.Effect<void, PortInvalid | TokenRequired> =>
  !Number.isInteger(o.port) || o.port < 0 || o.port > 65535
    ? Effect.fail(new PortInvalid({ port: o.port }))
    : !isLoopback(o.host) && o.token === null
    ? Effect.fail(new TokenRequired({ host: o.host }))
    : Effect.void

const errorResponse = (status: number, code: ErrorCode, message: string) =>
  HttpServerResponse.schemaJson(ErrorResponse)({ error: { code, message } }, { status }).pipe(Effect.orDie)

/** The API routes and their methods, for 405 (a known path with another method) against 404 (no such path). */
const API_PATHS: ReadonlyArray<readonly [RegExp, string]> = [
  [/^\/api\/v1\/state$/, "GET"],
  [/^\/api\/v1\/outcomes$/, "GET"],
  [/^\/api\/v1\/events$/, "GET"],
  [/^\/api\/v1\/refresh$/, "POST"],
  [/^\/webhooks\/github$/, "POST"],
  [/^\/api\/v1\/issues\/[^/]+$/, "GET"],
  [/^\/api\/v1\/issues\/[^/]+\/evidence(\/[^/]+)?$/, "GET"]
]

/**
 * An issue id from a path segment: 400 `invalid_id` for anything path-like or out of the id alphabet (slashes,
 * dots in a row, control characters, more than 64 characters); anything else is looked up (404 when unknown).
 */
export const pathId = (raw: string | undefined): Option.Option<IssueId> =>
  raw !== undefined && /^[A-Za-z0-9][A-Za-z0-9_:-]{0,63}$/.test(raw) ? Option.some(raw as IssueId) : Option.none()

const tokenOk = (expected: string, request: HttpServerRequest.HttpServerRequest): boolean => {
  const header = request.headers["authorization"] ?? ""
  const bearer = header.startsWith("Bearer ") ? header.slice(7) : null
  const query = new URL(request.url, "http://x").searchParams.get("token")
  const given = bearer ?? query
  if (given === null) return false
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}

/**
 * The routes. `shutdown` completes when the server is closing: every open event stream ends then, so closing does
 * not wait for the clients (an open response blocks Node's `server.close`; integrations.md §3).
 */
export const makeApp = <E1, R1, E2, R2>(options: {
  /** The state (`readState`), shared between requests for a moment (see start.ts). */
  readonly state: Effect.Effect<StateResponse, E1, R1>
  /** The newest OUTCOMES_MAX outcomes (`readOutcomes`), shared likewise; a request takes the first `limit`. */
  readonly outcomes: Effect.Effect<OutcomesResponse, E2, R2>
  readonly token: string | null
  readonly feed: Feed
  readonly refresher: Refresher
  readonly operations: ReadonlyArray<"poll" | "reconcile" | "snapshot">
  readonly lifecycle: Lifecycle
  /** `POST /webhooks/github` (webhooks.ts): authenticated by its HMAC signature, not by the API token. */
  readonly webhook?: Effect.Effect<HttpServerResponse.HttpServerResponse, never, HttpServerRequest.HttpServerRequest>
}) => {
  const { feed, refresher } = options
  const idOr400 = <A, E, R>(f: (id: IssueId) => Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
    HttpRouter.params.pipe(Effect.flatMap((p) =>
      Option.match(pathId(p.id), {
        onNone: () => errorResponse(400, "invalid_id", "an issue id is letters, digits, '-', '_' or ':' (at most 64)"),
        onSome: f
      })
    ))
  const notFound = (id: string) => errorResponse(404, "issue_not_found", `no issue ${id}`)
  const events = Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const last = Number(request.headers["last-event-id"] ?? Number.NaN)
    const body = feed.follow(Number.isSafeInteger(last) && last >= 0 ? last : null).pipe(
      Stream.map((e) =>
        Sse.encoder.write({
          _tag: "Event",
          event: "factory",
          id: String(e.seq),
          data: JSON.stringify(Schema.encodeSync(EventMessage)(e))
        })
      ),
      Stream.merge(Stream.fromSchedule(KEEPALIVE).pipe(Stream.as(": keepalive\n\n"))),
      // A first chunk at once, so the client has the response headers before the first event.
      Stream.prepend(Chunk.of(": connected\n\n")),
      Stream.interruptWhenDeferred(options.lifecycle.shutdown),
      Stream.encodeText,
      Stream.ensuring(Ref.update(options.lifecycle.streams, (n) => n - 1))
    )
    yield* Ref.update(options.lifecycle.streams, (n) => n + 1)
    return HttpServerResponse.stream(body, {
      contentType: "text/event-stream",
      headers: { "cache-control": "no-cache", "x-accel-buffering": "no" }
    })
  })
  const router = HttpRouter.empty.pipe(
    HttpRouter.get(
      "/api/v1/state",
      options.state.pipe(Effect.flatMap((s) => HttpServerResponse.schemaJson(StateResponse)(s)))
    ),
    HttpRouter.get(
      "/api/v1/issues/:id",
      idOr400((id) =>
        readIssue(id).pipe(
          Effect.flatMap((s) => HttpServerResponse.schemaJson(IssueResponse)(s)),
          Effect.catchTag("IssueNotFound", () => notFound(id))
        )
      )
    ),
    HttpRouter.get("/api/v1/issues/:id/evidence", idOr400((id) => evidenceOf(id, Option.none()))),
    HttpRouter.get(
      "/api/v1/issues/:id/evidence/:attempt",
      idOr400((id) =>
        HttpRouter.params.pipe(Effect.flatMap((p) =>
          /^[1-9][0-9]{0,8}$/.test(p.attempt ?? "")
            ? evidenceOf(id, Option.some(Number(p.attempt)))
            : errorResponse(400, "invalid_attempt", "an attempt is a positive integer")
        ))
      )
    ),
    HttpRouter.get(
      "/api/v1/outcomes",
      Effect.gen(function*() {
        const request = yield* HttpServerRequest.HttpServerRequest
        const raw = new URL(request.url, "http://x").searchParams.get("limit")
        if (raw !== null && !/^[1-9][0-9]{0,3}$/.test(raw)) {
          return yield* errorResponse(400, "invalid_limit", `limit is a whole number from 1 to ${OUTCOMES_MAX}`)
        }
        const limit = Math.min(OUTCOMES_MAX, raw === null ? OUTCOMES_DEFAULT : Number(raw))
        return yield* options.outcomes.pipe(
          Effect.flatMap((o) => HttpServerResponse.schemaJson(OutcomesResponse)({ outcomes: o.outcomes.slice(0, limit) }))
        )
      })
    ),
    HttpRouter.get("/api/v1/events", events),
    HttpRouter.post(
      "/api/v1/refresh",
      refresher.request.pipe(Effect.flatMap(({ coalesced, requestedAt }) =>
        HttpServerResponse.schemaJson(RefreshResponse)({
          queued: true,
          coalesced,
          requested_at: new Date(requestedAt).toISOString(),
          operations: options.operations
        }, { status: 202 })
      ))
    ),
    pageRoutes
  )
  function evidenceOf(id: IssueId, attempt: Option.Option<number>) {
    return readEvidence(id, attempt).pipe(
      Effect.flatMap(Option.match({
        onNone: () =>
          errorResponse(
            404,
            "evidence_not_found",
            Option.match(attempt, {
              onNone: () => `${id} has no attempt yet`,
              onSome: (n) => `${id} has no attempt ${n}`
            })
          ),
        onSome: (e) => HttpServerResponse.schemaJson(EvidenceResponse)(e)
      })),
      Effect.catchTag("IssueNotFound", () => notFound(id))
    )
  }
  return Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    // GitHub cannot send the API token: a webhook delivery proves itself with its signature instead.
    if (options.webhook !== undefined && request.method === "POST" && new URL(request.url, "http://x").pathname === WEBHOOK_PATH) {
      return yield* options.webhook
    }
    if (options.token !== null && !tokenOk(options.token, request)) {
      return yield* errorResponse(401, "unauthorized", "missing or wrong token: send Authorization: Bearer <SWITCHYARD_API_TOKEN>")
    }
    return yield* router.pipe(
      Effect.catchTag("RouteNotFound", () => {
        const path = new URL(request.url, "http://x").pathname
        const known = API_PATHS.find(([re]) => re.test(path))
        return known !== undefined
          ? errorResponse(405, "method_not_allowed", `${request.method} ${path} is not supported: use ${known[1]}`).pipe(
            Effect.map(HttpServerResponse.setHeader("allow", known[1]))
          )
          : errorResponse(404, "not_found", `no route ${request.method} ${path}`)
      }),
      Effect.catchAllCause((cause) =>
        Effect.logError("api request failed", cause).pipe(
          Effect.zipRight(errorResponse(500, "internal_error", "the request failed; the server log has the details"))
        )
      )
    )
  })
}

/**
 * Listens on `options.host:port` in the current scope and serves `app`; prints `listening on http://HOST:PORT` (the
 * bound port, when 0 was asked for) as the first line on stdout. Returns the URL. When the scope closes, `shutdown`
 * is completed first (ending the event streams), then the server closes.
 */
export const listen = <E, R>(
  options: ListenOptions,
  app: (lifecycle: Lifecycle) => Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
) =>
  Effect.gen(function*() {
    yield* checkListen(options)
    let node: Server | undefined
    const server = yield* NodeHttpServer.make(() => (node = createServer()), { port: options.port, host: options.host }).pipe(
      Effect.mapError((e) => {
        const cause = e.cause as { code?: string; message?: string } | undefined
        return new ListenFailed({ host: options.host, port: options.port, reason: cause?.code ?? cause?.message ?? String(e) })
      })
    )
    const shutdown = yield* Deferred.make<void>()
    const streams = yield* Ref.make(0)
    // Added after the server: finalizers run in reverse, so this runs before `server.close` waits for every open
    // response. It ends the event streams, waits (at most STREAMS_END_MS) for their responses to finish, then closes
    // the connections left idle, so closing waits for no client.
    yield* Effect.addFinalizer(() =>
      Deferred.succeed(shutdown, undefined).pipe(
        Effect.zipRight(
          Ref.get(streams).pipe(
            Effect.repeat({ until: (n) => n === 0, schedule: Schedule.spaced(Duration.millis(10)) }),
            Effect.timeout(Duration.millis(STREAMS_END_MS)),
            Effect.ignore
          )
        ),
        Effect.zipRight(Effect.sleep(Duration.millis(20))),
        Effect.zipRight(Effect.sync(() => node?.closeIdleConnections()))
      )
    )
    yield* server.serve(app({ shutdown, streams }))
    const address = server.address
    const port = address._tag === "TcpAddress" ? address.port : options.port
    const host = options.host.includes(":") && !options.host.startsWith("[") ? `[${options.host}]` : options.host
    const url = `http://${host}:${port}`
    yield* Console.log(`listening on ${url}`)
    return url
  })
