/**
 * The model twin: a local HTTP server (127.0.0.1, ephemeral port) that speaks the Anthropic Messages API and
 * replays a `Playbook`, so the real `claude` binary runs end to end offline. It is a twin of the model only:
 * the agent's tools, edits and shell commands run for real.
 *
 * Routes:
 * - `HEAD /` → 200 (a connectivity probe).
 * - `POST /v1/messages` (any query, e.g. `?beta=true`) → the next scripted turn, streamed as SSE when the body
 *   has `"stream": true`, else a full message JSON. Requests without `tools` are side requests (titles,
 *   summaries): they get `playbook.sideReply` and use no script turn.
 * - `POST /v1/messages/count_tokens` → `{"input_tokens": ceil(body bytes / 4)}`.
 * - anything else → 404 with an Anthropic error body.
 */
import { FileSystem, HttpIncomingMessage, HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Chunk, Clock, Context, Duration, Effect, HashMap, Layer, Option, Ref, Schema, type Scope, Stream } from "effect"
import { createHash } from "node:crypto"
import * as Http from "node:http"
import * as Messages from "./Messages.js"
import * as Playbook from "./Playbook.js"

/** What the twin did with a request. */
export const RequestKind = Schema.Literal("main", "side", "count_tokens", "probe", "invalid", "not_found")
export type RequestKind = typeof RequestKind.Type

/** What a main-conversation request was answered with. */
export const Served = Schema.Literal("reply", "error", "hang", "exhausted")
export type Served = typeof Served.Type

/** One request as the twin received it, in arrival order. */
export interface RecordedRequest {
  readonly method: string
  /** The request path as received, query included (e.g. `/v1/messages?beta=true`). */
  readonly path: string
  /** The parsed JSON body, or `null` when there was none or it was not JSON. */
  readonly body: unknown
  /** Arrival time, epoch milliseconds. */
  readonly at: number
  readonly kind: RequestKind
  /** For main requests: the conversation key (sha256 of the first user message text, 16 hex digits). */
  readonly conversation: string | null
  /** For main requests: the chosen script's name (`null` when nothing matched). */
  readonly script: string | null
  /** For main requests: the slot index (see `Playbook.turnIndex`). */
  readonly slot: number | null
  readonly served: Served | null
}

/** A running twin. */
export interface TwinShape {
  /** Base URL for `ANTHROPIC_BASE_URL`, e.g. `http://127.0.0.1:41234`. */
  readonly url: string
  readonly port: number
  /** Every request so far, in arrival order. */
  readonly requests: Effect.Effect<ReadonlyArray<RecordedRequest>>
}

/** The twin as a service, for tests that build it with `layer`. */
export class Twin extends Context.Tag("switchyard/twin/Twin")<Twin, TwinShape>() {}

/** Request bodies above this many bytes are refused (64 MiB; a long Claude Code conversation is a few MiB). */
export const maxBodyBytes = 64 * 1024 * 1024

/** The conversation key: sha256 of the first user message text, first 16 hex digits. */
export const conversationKey = (firstUserText: string): string =>
  createHash("sha256").update(firstUserText).digest("hex").slice(0, 16)

const jsonResponse = (body: unknown, status = 200) => HttpServerResponse.unsafeJson(body, { status })

const replyResponse = (reply: Playbook.Reply, request: Messages.MessagesRequest, ids: Messages.ReplyIds) =>
  request.stream === true
    ? HttpServerResponse.stream(
      Stream.fromIterable(Messages.sseFrames(reply, request.model, ids)).pipe(
        Stream.map(Messages.encodeFrame),
        Stream.encodeText
      ),
      { contentType: "text/event-stream", headers: { "cache-control": "no-cache" } }
    )
    : jsonResponse(Messages.messageJson(reply, request.model, ids))

const parseJson = Schema.decodeUnknownOption(Schema.parseJson())
const decodeRequest = Schema.decodeUnknownEither(Messages.MessagesRequest)

/**
 * Start a twin for `playbook` on 127.0.0.1 (port 0: the OS picks a free port). The server stops when the
 * scope closes; open connections (a scripted hang, a streaming reply) are closed first, so closing never
 * waits on a client. Failing to listen on loopback is a defect.
 */
export const make = (playbook: Playbook.Playbook): Effect.Effect<TwinShape, never, Scope.Scope> =>
  Effect.gen(function*() {
    const recorded = yield* Ref.make(Chunk.empty<RecordedRequest>())
    /** Errors and hangs served per conversation key. */
    const nonReplies = yield* Ref.make(HashMap.empty<string, number>())

    const record = (entry: Omit<RecordedRequest, "at">) =>
      Clock.currentTimeMillis.pipe(
        Effect.flatMap((at) => Ref.update(recorded, Chunk.append<RecordedRequest>({ ...entry, at })))
      )

    const readBody = HttpServerRequest.HttpServerRequest.pipe(
      Effect.flatMap((request) => request.text),
      HttpIncomingMessage.withMaxBodySize(Option.some(FileSystem.Size(maxBodyBytes))),
      Effect.map((text) => ({ text, json: Option.getOrNull(parseJson(text)) }))
    )

    const base = (method: string, path: string, body: unknown, kind: RequestKind) => ({
      method,
      path,
      body,
      kind,
      conversation: null,
      script: null,
      slot: null,
      served: null
    })

    /** Answer one main-loop request: pick the slot atomically (errors and hangs advance the counter). */
    const mainTurn = (method: string, path: string, body: unknown, request: Messages.MessagesRequest) =>
      Effect.gen(function*() {
        const firstUser = Messages.firstUserText(request)
        const conversation = conversationKey(firstUser)
        const script = Playbook.select(playbook, firstUser, Messages.systemText(request))
        const slots = Option.match(script, { onNone: () => [], onSome: (s) => s.slots })
        const assistants = Messages.assistantCount(request)
        const [index, slot] = yield* Ref.modify(nonReplies, (served) => {
          const already = Option.getOrElse(HashMap.get(served, conversation), () => 0)
          const index = Playbook.turnIndex(assistants, already)
          const slot = Option.fromNullable(slots[index])
          const advances = Option.exists(slot, (s) => !Playbook.isReplySlot(s))
          return [[index, slot] as const, advances ? HashMap.set(served, conversation, already + 1) : served]
        })
        const servedAs: Served = Option.match(slot, {
          onNone: () => "exhausted",
          onSome: (s) => s._tag === "Reply" ? "reply" : s._tag === "Error" ? "error" : "hang"
        })
        const scriptName = Option.match(script, { onNone: () => null, onSome: (s) => s.name })
        yield* record({ method, path, body, kind: "main", conversation, script: scriptName, slot: index, served: servedAs })
        yield* Effect.logDebug("model twin: main request").pipe(
          Effect.annotateLogs({ conversation, script: scriptName ?? "(none)", slot: index, served: servedAs })
        )
        if (Option.isNone(script)) {
          yield* Effect.logWarning("model twin: no playbook entry matched and there is no default").pipe(
            Effect.annotateLogs({ conversation, firstUserText: firstUser.slice(0, 200) })
          )
        }
        const ids: Messages.ReplyIds = {
          messageId: `msg_twin_${conversation}_${index}`,
          toolUseId: `toolu_twin_${conversation}_${index}`
        }
        if (Option.isNone(slot)) {
          return replyResponse(Playbook.textReply(playbook.exhaustedReply), request, ids)
        }
        const s = slot.value
        if (s.delayMs > 0) yield* Effect.sleep(Duration.millis(s.delayMs))
        switch (s._tag) {
          case "Reply":
            return replyResponse(s.reply, request, ids)
          case "Error":
            return jsonResponse(Messages.errorJson(s.status, s.message), s.status)
          case "Hang":
            return yield* Effect.never
        }
      })

    const messages = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const { json } = yield* readBody
      const decoded = decodeRequest(json)
      if (decoded._tag === "Left") {
        yield* record(base(request.method, request.url, json, "invalid"))
        yield* Effect.logWarning("model twin: invalid messages request").pipe(
          Effect.annotateLogs({ error: decoded.left.message.slice(0, 500) })
        )
        return jsonResponse(Messages.errorJson(400, "twin: invalid messages request"), 400)
      }
      const body = decoded.right
      if (!Messages.isMainConversation(body)) {
        yield* record(base(request.method, request.url, json, "side"))
        yield* Effect.logInfo("model twin: side request (no tools), answered with sideReply").pipe(
          Effect.annotateLogs({ model: body.model, system: Messages.systemText(body).slice(0, 200) })
        )
        const key = conversationKey(Messages.firstUserText(body))
        return replyResponse(Playbook.textReply(playbook.sideReply), body, {
          messageId: `msg_twin_side_${key}`,
          toolUseId: `toolu_twin_side_${key}`
        })
      }
      return yield* mainTurn(request.method, request.url, json, body)
    })

    const countTokens = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const { json, text } = yield* readBody
      yield* record(base(request.method, request.url, json, "count_tokens"))
      return jsonResponse({ input_tokens: Math.ceil(Buffer.byteLength(text) / 4) })
    })

    const probe = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      yield* record(base(request.method, request.url, null, "probe"))
      return HttpServerResponse.empty({ status: 200 })
    })

    const notFound = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const { json } = yield* readBody
      yield* record(base(request.method, request.url, json, "not_found"))
      yield* Effect.logInfo("model twin: no route").pipe(
        Effect.annotateLogs({ method: request.method, path: request.url })
      )
      return jsonResponse(Messages.errorJson(404, `twin: no route for ${request.method} ${request.url}`), 404)
    })

    const router = HttpRouter.empty.pipe(
      HttpRouter.head("/", probe),
      HttpRouter.post("/v1/messages", messages),
      HttpRouter.post("/v1/messages/count_tokens", countTokens),
      HttpRouter.all("*", notFound)
    )

    const nodeServer = Http.createServer()
    const server = yield* NodeHttpServer.make(() => nodeServer, { port: 0, host: "127.0.0.1" }).pipe(Effect.orDie)
    // Runs before the server's own close (finalizers run in reverse): close hanging and streaming sockets,
    // which also interrupts their handler fibers, so `server.close` does not wait on them.
    yield* Effect.addFinalizer(() => Effect.sync(() => nodeServer.closeAllConnections()))
    yield* server.serve(router)
    const port = server.address._tag === "TcpAddress" ? server.address.port : 0
    const url = `http://127.0.0.1:${port}`
    yield* Effect.logDebug("model twin: listening").pipe(Effect.annotateLogs({ url }))
    return {
      url,
      port,
      requests: Ref.get(recorded).pipe(Effect.map(Chunk.toReadonlyArray))
    } satisfies TwinShape
  })

/** The twin as a scoped layer: started when the layer is built, stopped when it is released. */
export const layer = (playbook: Playbook.Playbook): Layer.Layer<Twin> => Layer.scoped(Twin, make(playbook))

/**
 * The environment that points `claude` at a twin: `ANTHROPIC_BASE_URL`, a dummy `ANTHROPIC_API_KEY`, and
 * `CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1` (no telemetry or update checks leave the machine).
 */
export const claudeEnv = (twin: Pick<TwinShape, "url">): Readonly<Record<string, string>> => ({
  ANTHROPIC_BASE_URL: twin.url,
  ANTHROPIC_API_KEY: "sk-test",
  CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1"
})
