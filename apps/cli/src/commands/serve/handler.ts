/** `switchyard serve [--port N] [--host H]`: the HTTP API and the live page, until interrupted (docs/api.md). */
import { Effect } from "effect"
import { startServer } from "../../server/start.js"
import { apiToken } from "../../server/token.js"
import { withStore } from "../shared.js"
import type { ServeOptions } from "./options.js"

/**
 * Serves the repo's four layers read from its store (any runner's work, live through the event log) until
 * SIGINT/SIGTERM (exit 130/143; open event streams are ended first). Fails `TokenRequired` for a
 * non-loopback host without SWITCHYARD_API_TOKEN and `ListenFailed` (exit 1) when the port is taken.
 */
export const serve = (o: ServeOptions) =>
  withStore((root) =>
    Effect.gen(function*() {
      const token = yield* apiToken
      yield* startServer({ repoRoot: root, listen: { host: o.host, port: o.port, token }, operations: ["snapshot"] })
      return yield* Effect.never
    }).pipe(Effect.scoped)
  )
