/**
 * The server's live parts: the event feed behind `GET /api/v1/events` (Server-Sent Events) and the refresh queue
 * behind `POST /api/v1/refresh`.
 *
 * The feed is one fiber per server that follows the event log (the `events` table, so the events of every runner on
 * the repo, not only this process's) and publishes each new event on a PubSub; every SSE client subscribes to it
 * before reading its backlog, so no event falls between the two (integrations.md §3: "snapshot, then deltas").
 */
import { Orchestrator, Tracker } from "@switchyard/core"
import type { FactoryEvent } from "@switchyard/domain"
import { Clock, Duration, Effect, PubSub, Queue, Ref, Schedule, Stream } from "effect"

/** How often (ms) the feed reads the log when nothing woke it (other processes' writes wake it within 200 ms). */
export const FEED_POLL_MS = 1000

/** How many past events a new SSE client gets first (fewer when it sends `Last-Event-ID`). */
export const FEED_BACKLOG = 100

/** At most this many events are replayed to a client that reconnects with an old `Last-Event-ID`. */
export const FEED_RESUME_MAX = 5000

/** The window (ms) in which a second `POST /api/v1/refresh` is coalesced into the one already queued. */
export const REFRESH_COALESCE_MS = 1000

/**
 * The seq of the newest event in the log (0 when empty), found with `events({afterSeq, limit: 1})` probes only
 * (the Orchestrator reads forward): doubling to an upper bound, then bisecting; ~2·log2(seq) indexed reads.
 */
export const newestSeq = Effect.gen(function*() {
  const orchestrator = yield* Orchestrator
  const after = (seq: number) => orchestrator.events({ afterSeq: seq, limit: 1 }).pipe(Effect.map((p) => p.length > 0))
  if (!(yield* after(0))) return 0
  let low = 0 // some event is after `low`
  let high = 1
  while (yield* after(high)) {
    low = high
    high *= 2
  }
  // An event is after `low`, none after `high`.
  while (high - low > 1) {
    const mid = Math.floor((low + high) / 2)
    if (yield* after(mid)) low = mid
    else high = mid
  }
  return high
})

export interface Feed {
  /** Every event recorded from now on (any runner), as the log has it. */
  readonly hub: PubSub.PubSub<FactoryEvent>
  /**
   * The events for one SSE client: the `FEED_BACKLOG` newest before it connected (or those after `lastEventId`, at
   * most `FEED_RESUME_MAX`), then each new one, every event once and in seq order. Subscribes before reading the
   * backlog.
   */
  readonly follow: (lastEventId: number | null) => Stream.Stream<FactoryEvent>
}

/**
 * Starts the feed in the current scope: reads the log from its current end, on every change this process or
 * another makes (`Tracker.changes`, `Orchestrator.changes`) and at least every `FEED_POLL_MS`. A failed read is
 * logged and retried on the next wake-up (observability never stops the line: Symphony SPEC §13.2).
 */
export const startFeed = Effect.gen(function*() {
  const orchestrator = yield* Orchestrator
  const tracker = yield* Tracker
  const hub = yield* PubSub.sliding<FactoryEvent>(4096)
  const cursor = yield* Ref.make(yield* newestSeq)
  const wake = yield* Queue.sliding<void>(1)
  const drain = Effect.gen(function*() {
    while (true) {
      const after = yield* Ref.get(cursor)
      const page = yield* orchestrator.events({ afterSeq: after, limit: 500 })
      if (page.length === 0) return
      yield* PubSub.publishAll(hub, page)
      yield* Ref.set(cursor, page[page.length - 1]!.seq)
      if (page.length < 500) return
    }
  })
  yield* Stream.merge(tracker.changes, Stream.map(orchestrator.changes, () => undefined)).pipe(
    Stream.runForEach(() => Queue.offer(wake, undefined)),
    Effect.forkScoped
  )
  yield* drain.pipe(
    Effect.catchAll((e) => Effect.logWarning(`event feed: ${e.message}`)),
    Effect.zipRight(Effect.race(Queue.take(wake), Effect.sleep(Duration.millis(FEED_POLL_MS)))),
    Effect.forever,
    Effect.forkScoped
  )
  const follow = (lastEventId: number | null): Stream.Stream<FactoryEvent> =>
    Stream.unwrapScoped(Effect.gen(function*() {
      const subscription = yield* PubSub.subscribe(hub)
      const end = yield* Ref.get(cursor)
      const from = lastEventId === null ? Math.max(0, end - FEED_BACKLOG) : Math.max(lastEventId, end - FEED_RESUME_MAX)
      // Everything up to the feed's cursor (later events come through the subscription), in pages.
      const backlog: Array<FactoryEvent> = []
      let after = from
      while (after < end) {
        const page = yield* orchestrator.events({ afterSeq: after, limit: 500 }).pipe(
          Effect.orElseSucceed((): ReadonlyArray<FactoryEvent> => [])
        )
        if (page.length === 0) break
        backlog.push(...page)
        after = page[page.length - 1]!.seq
      }
      let sent = from
      return Stream.concat(Stream.fromIterable(backlog), Stream.fromQueue(subscription)).pipe(
        Stream.filter((e) => {
          if (e.seq <= sent) return false
          sent = e.seq
          return true
        })
      )
    }))
  return { hub, follow } satisfies Feed
})

export interface Refresher {
  /** Queues a refresh; `coalesced` when one is already queued or ran less than `REFRESH_COALESCE_MS` ago. */
  readonly request: Effect.Effect<{ readonly coalesced: boolean; readonly requestedAt: number }>
  /** One element per refresh to carry out (`switchyard run --port` ticks the line on each). */
  readonly requests: Stream.Stream<void>
}

/**
 * The refresh queue (Symphony SPEC §13.7 `POST /api/v1/refresh`, "MAY coalesce"): a request while another is
 * pending is coalesced; a request is pending from when it is queued until `REFRESH_COALESCE_MS` after it was
 * handed on, so a burst of requests causes one tick. `onRefresh` runs for each (the feed's read, for instance).
 */
export const startRefresher = <R>(onRefresh: Effect.Effect<void, never, R>) =>
  Effect.gen(function*() {
    const pending = yield* Ref.make(false)
    const queue = yield* Queue.sliding<void>(1)
    const out = yield* PubSub.sliding<void>(1)
    yield* Queue.take(queue).pipe(
      Effect.zipRight(PubSub.publish(out, undefined)),
      Effect.zipRight(onRefresh),
      Effect.zipRight(Effect.sleep(Duration.millis(REFRESH_COALESCE_MS))),
      Effect.zipRight(Ref.set(pending, false)),
      Effect.forever,
      Effect.forkScoped
    )
    const request = Effect.gen(function*() {
      const requestedAt = yield* Clock.currentTimeMillis
      const coalesced = yield* Ref.getAndSet(pending, true)
      if (!coalesced) yield* Queue.offer(queue, undefined)
      return { coalesced, requestedAt }
    })
    return { request, requests: Stream.fromPubSub(out) } satisfies Refresher
  })

/** Keeps an idle SSE connection open through proxies: a comment line every 15 s. */
export const KEEPALIVE = Schedule.spaced(Duration.seconds(15))
