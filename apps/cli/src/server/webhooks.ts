/**
 * `POST /webhooks/github` (docs/api.md, docs/trust.md "Webhooks"): GitHub's deliveries for the events the feedback
 * loop listens to, as a faster trigger than polling (which stays the fallback).
 *
 * Refused, with nothing changed: a body without `X-Hub-Signature-256` or whose HMAC SHA-256 under the secret does not
 * match (401; compared with `timingSafeEqual`), an event type not listed below or a payload that does not decode
 * (400), a route without a configured secret (404: `tracker.webhook_secret_env` unset or empty). A `ping` is
 * answered. Accepted deliveries (202):
 * - `issues` `labeled`: wakes the line (the same poll and dispatch a refresh does);
 * - `check_suite` `completed`: running attempts waiting for hosted CI read their checks now; wakes the line;
 * - `pull_request_review` `submitted`: reads the reviews (the same review tick `switchyard trust` runs), then wakes
 *   the line.
 * Other actions of those events are accepted and ignored. A delivery id (`X-GitHub-Delivery`) seen before is
 * answered 200 `duplicate` and does nothing; the actions themselves are idempotent (a claim is a lease, a review is
 * recorded once by its id), so a webhook and a poll for the same change dispatch once.
 */
import { HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect, Ref, Schema } from "effect"
import { createHmac, timingSafeEqual } from "node:crypto"

/** The path GitHub posts to. */
export const WEBHOOK_PATH = "/webhooks/github"

/** A body larger than this (bytes) is refused (GitHub caps payloads at 25 MB; ours are far smaller). */
export const MAX_WEBHOOK_BYTES = 5 * 1024 * 1024

/** How many delivery ids are remembered for deduplication. */
export const DELIVERIES_REMEMBERED = 1_000

/** The event types handled. */
export const WebhookEventType = Schema.Literal("ping", "issues", "check_suite", "pull_request_review")

const IssuesEvent = Schema.Struct({
  action: Schema.String,
  issue: Schema.Struct({ number: Schema.Number }),
  label: Schema.optional(Schema.Struct({ name: Schema.String }))
})
const CheckSuiteEvent = Schema.Struct({
  action: Schema.String,
  check_suite: Schema.Struct({ head_sha: Schema.String, conclusion: Schema.NullOr(Schema.String) })
})
const PullRequestReviewEvent = Schema.Struct({
  action: Schema.String,
  review: Schema.Struct({ id: Schema.Number, state: Schema.String }),
  pull_request: Schema.Struct({ number: Schema.Number })
})
const PingEvent = Schema.Struct({ zen: Schema.optional(Schema.String) })

/** The answer to a delivery (docs/api.md). */
export const WebhookResponse = Schema.Struct({
  delivery: Schema.String,
  event: Schema.String,
  action: Schema.NullOr(Schema.String),
  /** What it triggered: `wake`, `reviews` then `wake`, or nothing. */
  triggered: Schema.Array(Schema.Literal("wake", "reviews")),
  duplicate: Schema.Boolean
})
export type WebhookResponse = typeof WebhookResponse.Type

/**
 * True when `header` is `sha256=<hex>` and the hex is the HMAC SHA-256 of `body` under `secret` (GitHub's
 * "Validating webhook deliveries"); the comparison takes the same time whatever the bytes.
 */
export const signatureValid = (secret: string, body: Uint8Array, header: string | undefined): boolean => {
  if (header === undefined || !/^sha256=[0-9a-f]{64}$/.test(header)) return false
  const expected = createHmac("sha256", secret).update(body).digest()
  const given = Buffer.from(header.slice(7), "hex")
  return given.length === expected.length && timingSafeEqual(given, expected)
}

export interface WebhookOptions {
  /** The secret (from the variable `tracker.webhook_secret_env` names), or null: the route answers 404. */
  readonly secret: string | null
  /** Wakes the line: a poll and a dispatch now (the refresh queue). */
  readonly wake: Effect.Effect<void>
  /** The review tick (`reviewTick` with the hosted Lander), run in the background. */
  readonly reviews: Effect.Effect<void>
  /** Ends the running attempts' waits for hosted CI, so they read the checks now (`check_suite`). */
  readonly ci: Effect.Effect<void>
}

const refuse = (status: number, code: string, message: string) =>
  HttpServerResponse.unsafeJson({ error: { code, message } }, { status })

/** Builds the route's handler (see the module docs); `seen` is created once per server. */
export const makeWebhookHandler = (options: WebhookOptions) =>
  Effect.gen(function*() {
    const seen = yield* Ref.make<ReadonlyArray<string>>([])
    return Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      if (options.secret === null) {
        return refuse(404, "webhooks_disabled", "GitHub webhooks are not configured: set tracker.webhook_secret_env and that variable")
      }
      const length = Number(request.headers["content-length"] ?? "0")
      if (Number.isFinite(length) && length > MAX_WEBHOOK_BYTES) return refuse(413, "too_large", `a webhook body is at most ${MAX_WEBHOOK_BYTES} bytes`)
      const body = new Uint8Array(yield* request.arrayBuffer.pipe(Effect.orElseSucceed(() => new ArrayBuffer(0))))
      if (!signatureValid(options.secret, body, request.headers["x-hub-signature-256"])) {
        yield* Effect.logWarning("webhook refused: missing or wrong X-Hub-Signature-256")
        return refuse(401, "bad_signature", "missing or wrong X-Hub-Signature-256 (HMAC SHA-256 of the body under the webhook secret)")
      }
      const event = Schema.decodeUnknownOption(WebhookEventType)(request.headers["x-github-event"])
      if (event._tag === "None") {
        return refuse(400, "unknown_event", `event ${JSON.stringify(request.headers["x-github-event"] ?? "")} is not handled: send issues, check_suite or pull_request_review`)
      }
      const delivery = request.headers["x-github-delivery"] ?? ""
      if (!/^[A-Za-z0-9-]{1,100}$/.test(delivery)) return refuse(400, "bad_delivery", "X-GitHub-Delivery is missing or malformed")
      const json = Schema.decodeUnknownEither(Schema.parseJson())(new TextDecoder().decode(body))
      if (json._tag === "Left") return refuse(400, "bad_payload", "the body is not JSON")
      const schema = event.value === "issues"
        ? IssuesEvent
        : event.value === "check_suite"
        ? CheckSuiteEvent
        : event.value === "pull_request_review"
        ? PullRequestReviewEvent
        : PingEvent
      const payload = Schema.decodeUnknownEither(schema as Schema.Schema<{ readonly action?: string }, unknown>)(json.right)
      if (payload._tag === "Left") return refuse(400, "bad_payload", `the ${event.value} payload cannot be read: ${payload.left.message.split("\n").slice(-1)[0]}`)
      const action = payload.right.action ?? null
      const duplicate = yield* Ref.modify(seen, (ids) =>
        ids.includes(delivery) ? [true, ids] as const : [false, [...ids, delivery].slice(-DELIVERIES_REMEMBERED)] as const)
      const triggered: Array<"wake" | "reviews"> = []
      if (!duplicate) {
        if (event.value === "check_suite" && action === "completed") yield* options.ci
        if ((event.value === "issues" && action === "labeled") || (event.value === "check_suite" && action === "completed")) triggered.push("wake")
        if (event.value === "pull_request_review" && action === "submitted") triggered.push("reviews", "wake")
        yield* Effect.logInfo(`webhook ${event.value}${action === null ? "" : `.${action}`} (${delivery}): ${triggered.join(", ") || "nothing to do"}`)
        if (triggered.includes("reviews")) {
          yield* options.reviews.pipe(Effect.zipRight(options.wake), Effect.forkDaemon)
        } else if (triggered.includes("wake")) yield* options.wake.pipe(Effect.forkDaemon)
      }
      const answer: WebhookResponse = { delivery, event: event.value, action, triggered, duplicate }
      return HttpServerResponse.unsafeJson(answer, { status: duplicate ? 200 : 202 })
    })
  })
