/**
 * Starts the API server in the current scope (`switchyard serve`, `switchyard run --port`): the event feed, the
 * refresh queue and the listener. Needs the repo's Tracker, Orchestrator and EvidenceStore (storeLayer or
 * lineLayer) and the platform's FileSystem.
 */
import { Duration, Effect, Stream } from "effect"
import { startFeed, startRefresher } from "./feed.js"
import { OUTCOMES_MAX, readOutcomes, readState } from "./state.js"
import { type ListenOptions, listen, makeApp } from "./server.js"
import { makeWebhookHandler } from "./webhooks.js"

/** How long (ms) one read of the state answers `GET /api/v1/state` requests. */
export const STATE_TTL_MS = 250

/** How long (ms) one read of the outcomes answers `GET /api/v1/outcomes` requests. */
export const OUTCOMES_TTL_MS = 2000

/**
 * Listens (see `listen`) and returns the URL and the refresh requests (one per accepted `POST /api/v1/refresh`).
 * `operations` is what a refresh does in this process: `["poll", "reconcile"]` when a line runs here (each refresh
 * ticks it), `["snapshot"]` for `serve` alone (clients re-read the state).
 */
export const startServer = (options: {
  readonly repoRoot: string
  readonly listen: ListenOptions
  readonly operations: ReadonlyArray<"poll" | "reconcile" | "snapshot">
  /** GitHub webhooks (`POST /webhooks/github`): the secret (null: refused) and the review tick. */
  readonly webhook?: {
    readonly secret: string | null
    readonly reviews: Effect.Effect<void>
    /** Reads the remote tracker now (`TrackerSync`), before the line is woken. */
    readonly sync?: Effect.Effect<void>
    /** Ends the waits for hosted CI (`CiWake`), for `check_suite` deliveries. */
    readonly ci?: Effect.Effect<void>
  }
}) =>
  Effect.gen(function*() {
    const feed = yield* startFeed
    const refresher = yield* startRefresher(Effect.void)
    // Every open page re-reads the state on each event (throttled): the read (statusSnapshot: git, signatures) is
    // shared between the requests of the same STATE_TTL_MS, and the outcomes behind the charts for OUTCOMES_TTL_MS.
    // A new event (any runner's) drops the shared read at once, so a page that re-reads on an event never gets the
    // state from before it.
    const [state, stateChanged] = yield* Effect.cachedInvalidateWithTTL(readState(options.repoRoot), Duration.millis(STATE_TTL_MS))
    const [outcomes, outcomesChanged] = yield* Effect.cachedInvalidateWithTTL(
      readOutcomes(OUTCOMES_MAX),
      Duration.millis(OUTCOMES_TTL_MS)
    )
    yield* Stream.fromPubSub(feed.hub).pipe(
      Stream.runForEach((e) => Effect.zipRight(stateChanged, e.type.startsWith("terminal.") ? outcomesChanged : Effect.void)),
      Effect.forkScoped
    )
    const webhook = yield* makeWebhookHandler({
      secret: options.webhook?.secret ?? null,
      reviews: options.webhook?.reviews ?? Effect.void,
      ci: options.webhook?.ci ?? Effect.void,
      wake: Effect.zipRight(options.webhook?.sync ?? Effect.void, Effect.asVoid(refresher.request))
    })
    const url = yield* listen(options.listen, (lifecycle) =>
      makeApp({ state, outcomes, token: options.listen.token, feed, refresher, operations: options.operations, lifecycle, webhook }))
    return { url, refreshes: refresher.requests }
  })
