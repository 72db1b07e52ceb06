/**
 * The model twin: a local HTTP server (127.0.0.1, ephemeral port) that speaks the Anthropic Messages API and
 * the OpenAI Responses API and replays a `Playbook`, so the real `claude` and `codex` binaries run end to end
 * offline. It is a twin of the model only: the agent's tools, edits and shell commands run for real.
 *
 * Routes:
 * - `HEAD /` → 200 (a connectivity probe).
 * - `POST /v1/messages` (any query, e.g. `?beta=true`) → the next scripted turn, streamed as SSE when the body
 *   has `"stream": true`, else a full message JSON. Requests without `tools` are side requests (titles,
 *   summaries): they get `playbook.sideReply` and use no script turn.
 * - `POST /v1/messages/count_tokens` → `{"input_tokens": ceil(body bytes / 4)}`.
 * - `POST /v1/responses` (and `/responses`) → the next scripted turn for Codex, as Responses API SSE (or JSON
 *   without `"stream": true`). The conversation is keyed by its prompt (the first user message that is not a
 *   context block); requests that offer no tools are side requests. Scripted errors use OpenAI error bodies, and
 *   529 is sent as 503. See Responses.ts.
 * - anything else → 404 with an Anthropic error body.
 */
import { FileSystem, HttpIncomingMessage, HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Chunk, Clock, Context, Duration, Effect, HashMap, Layer, Option, Ref, Schema, type Scope, Stream } from "effect"
import { createHash } from "node:crypto"
import * as Http from "node:http"
import * as Messages from "./Messages.js"
import * as Playbook from "./Playbook.js"
import * as Responses from "./Responses.js"

/** Which API a request used. */
export const Api = Schema.Literal("messages", "responses")
export type Api = typeof Api.Type

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
  /** The API of a model request (`messages` for Claude Code, `responses` for Codex), else null. */
  readonly api: Api | null
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

const responsesReply = (reply: Playbook.Reply, request: Responses.ResponsesRequest, ids: Responses.ReplyIds) =>
  request.stream === true
    ? HttpServerResponse.stream(
      Stream.fromIterable(Responses.sseFrames(reply, request, ids)).pipe(
        Stream.map(Responses.encodeFrame),
        Stream.encodeText
      ),
      { contentType: "text/event-stream", headers: { "cache-control": "no-cache" } }
    )
    : jsonResponse(Responses.responseJson(reply, request, ids))

const responsesIds = (conversation: string, index: number): Responses.ReplyIds => ({
  responseId: `resp_twin_${conversation}_${index}`,
  messageId: `msg_twin_${conversation}_${index}`,
  callId: `call_twin_${conversation}_${index}`,
  toolItemId: `fc_twin_${conversation}_${index}`
})

const parseJson = Schema.decodeUnknownOption(Schema.parseJson())
const decodeRequest = Schema.decodeUnknownEither(Messages.MessagesRequest)
const decodeResponsesRequest = Schema.decodeUnknownEither(Responses.ResponsesRequest)

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

    const base = (method: string, path: string, body: unknown, kind: RequestKind, api: Api | null = null) => ({
      method,
      path,
      body,
      kind,
      api,
      conversation: null,
      script: null,
      slot: null,
      served: null
    })

    /** How a main-loop request of one API is read and answered. */
    interface Conversation {
      readonly api: Api
      readonly prompt: string
      readonly system: string
      readonly replies: number
      readonly reply: (reply: Playbook.Reply, conversation: string, index: number) => HttpServerResponse.HttpServerResponse
      readonly error: (status: Playbook.ErrorStatus, message: string | undefined) => HttpServerResponse.HttpServerResponse
    }

    /** Answer one main-loop request: pick the slot atomically (errors and hangs advance the counter). */
    const mainTurn = (method: string, path: string, body: unknown, c: Conversation) =>
      Effect.gen(function*() {
        const conversation = conversationKey(c.prompt)
        const script = Playbook.select(playbook, c.prompt, c.system)
        const slots = Option.match(script, { onNone: () => [], onSome: (s) => s.slots })
        const [index, slot] = yield* Ref.modify(nonReplies, (served) => {
          const already = Option.getOrElse(HashMap.get(served, conversation), () => 0)
          const index = Playbook.turnIndex(c.replies, already)
          const slot = Option.fromNullable(slots[index])
          const advances = Option.exists(slot, (s) => !Playbook.isReplySlot(s))
          return [[index, slot] as const, advances ? HashMap.set(served, conversation, already + 1) : served]
        })
        const servedAs: Served = Option.match(slot, {
          onNone: () => "exhausted",
          onSome: (s) => s._tag === "Reply" ? "reply" : s._tag === "Error" ? "error" : "hang"
        })
        const scriptName = Option.match(script, { onNone: () => null, onSome: (s) => s.name })
        yield* record({
          method,
          path,
          body,
          kind: "main",
          api: c.api,
          conversation,
          script: scriptName,
          slot: index,
          served: servedAs
        })
        yield* Effect.logDebug("model twin: main request").pipe(
          Effect.annotateLogs({ api: c.api, conversation, script: scriptName ?? "(none)", slot: index, served: servedAs })
        )
        if (Option.isNone(script)) {
          yield* Effect.logWarning("model twin: no playbook entry matched and there is no default").pipe(
            Effect.annotateLogs({ conversation, firstUserText: c.prompt.slice(0, 200) })
          )
        }
        if (Option.isNone(slot)) return c.reply(Playbook.textReply(playbook.exhaustedReply), conversation, index)
        const s = slot.value
        if (s.delayMs > 0) yield* Effect.sleep(Duration.millis(s.delayMs))
        switch (s._tag) {
          case "Reply":
            return c.reply(s.reply, conversation, index)
          case "Error":
            return c.error(s.status, s.message)
          case "Hang":
            return yield* Effect.never
        }
      })

    const responses = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const { json } = yield* readBody
      const decoded = decodeResponsesRequest(json)
      if (decoded._tag === "Left") {
        yield* record(base(request.method, request.url, json, "invalid", "responses"))
        yield* Effect.logWarning("model twin: invalid responses request").pipe(
          Effect.annotateLogs({ error: decoded.left.message.slice(0, 500) })
        )
        return jsonResponse(Responses.errorJson(400, "twin: invalid responses request"), 400)
      }
      const body = decoded.right
      if (!Responses.isMainConversation(body)) {
        yield* record(base(request.method, request.url, json, "side", "responses"))
        const key = conversationKey(Responses.promptText(body))
        return responsesReply(Playbook.textReply(playbook.sideReply), body, responsesIds(`side${key}`, 0))
      }
      return yield* mainTurn(request.method, request.url, json, {
        api: "responses",
        prompt: Responses.promptText(body),
        system: Responses.systemText(body),
        replies: Responses.replyCount(body),
        reply: (reply, conversation, index) => responsesReply(reply, body, responsesIds(conversation, index)),
        error: (status, message) => jsonResponse(Responses.errorJson(status, message), Responses.httpStatus(status))
      })
    })

    const messages = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const { json } = yield* readBody
      const decoded = decodeRequest(json)
      if (decoded._tag === "Left") {
        yield* record(base(request.method, request.url, json, "invalid", "messages"))
        yield* Effect.logWarning("model twin: invalid messages request").pipe(
          Effect.annotateLogs({ error: decoded.left.message.slice(0, 500) })
        )
        return jsonResponse(Messages.errorJson(400, "twin: invalid messages request"), 400)
      }
      const body = decoded.right
      if (!Messages.isMainConversation(body)) {
        yield* record(base(request.method, request.url, json, "side", "messages"))
        yield* Effect.logInfo("model twin: side request (no tools), answered with sideReply").pipe(
          Effect.annotateLogs({ model: body.model, system: Messages.systemText(body).slice(0, 200) })
        )
        const key = conversationKey(Messages.firstUserText(body))
        return replyResponse(Playbook.textReply(playbook.sideReply), body, {
          messageId: `msg_twin_side_${key}`,
          toolUseId: `toolu_twin_side_${key}`
        })
      }
      return yield* mainTurn(request.method, request.url, json, {
        api: "messages",
        prompt: Messages.firstUserText(body),
        system: Messages.systemText(body),
        replies: Messages.assistantCount(body),
        reply: (reply, conversation, index) =>
          replyResponse(reply, body, { messageId: `msg_twin_${conversation}_${index}`, toolUseId: `toolu_twin_${conversation}_${index}` }),
        error: (status, message) => jsonResponse(Messages.errorJson(status, message), status)
      })
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
      HttpRouter.post("/v1/responses", responses),
      HttpRouter.post("/responses", responses),
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
 * The `-c` options that point `codex exec` at a twin: a `switchyard` model provider speaking the Responses API at
 * `<url>/v1`, reading its key from `OPENAI_API_KEY` (any value; the twin checks none). The same provider the
 * Switchyard codex station defines from `agent.base_url`.
 */
export const codexConfigArgs = (twin: Pick<TwinShape, "url">): ReadonlyArray<string> => [
  "-c",
  "model_provider=\"switchyard\"",
  "-c",
  "model_providers.switchyard.name=\"switchyard\"",
  "-c",
  `model_providers.switchyard.base_url=${JSON.stringify(`${twin.url}/v1`)}`,
  "-c",
  "model_providers.switchyard.wire_api=\"responses\"",
  "-c",
  "model_providers.switchyard.env_key=\"OPENAI_API_KEY\""
]

/**
 * The environment that points `claude` at a twin: `ANTHROPIC_BASE_URL`, a dummy `ANTHROPIC_API_KEY`, and
 * `CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1` (no telemetry or update checks leave the machine).
 */
export const claudeEnv = (twin: Pick<TwinShape, "url">): Readonly<Record<string, string>> => ({
  ANTHROPIC_BASE_URL: twin.url,
  ANTHROPIC_API_KEY: "sk-test",
  CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1"
})
