/**
 * Starts the API server in the current scope (`switchyard serve`, `switchyard run --port`): the event feed, the
 * refresh queue and the listener. Needs the repo's Tracker, Orchestrator and EvidenceStore (storeLayer or
 * lineLayer) and the platform's FileSystem.
 */
import { Effect } from "effect"
import { startFeed, startRefresher } from "./feed.js"
import { type ListenOptions, listen, makeApp } from "./server.js"

/**
 * Listens (see `listen`) and returns the URL and the refresh requests (one per accepted `POST /api/v1/refresh`).
 * `operations` is what a refresh does in this process: `["poll", "reconcile"]` when a line runs here (each refresh
 * ticks it), `["snapshot"]` for `serve` alone (clients re-read the state).
 */
export const startServer = (options: {
  readonly repoRoot: string
  readonly listen: ListenOptions
  readonly operations: ReadonlyArray<"poll" | "reconcile" | "snapshot">
}) =>
  Effect.gen(function*() {
    const feed = yield* startFeed
    const refresher = yield* startRefresher(Effect.void)
    const url = yield* listen(options.listen, (lifecycle) =>
      makeApp({ repoRoot: options.repoRoot, token: options.listen.token, feed, refresher, operations: options.operations, lifecycle }))
    return { url, refreshes: refresher.requests }
  })
