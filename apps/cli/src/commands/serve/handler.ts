/** `switchyard serve [--port N] [--host H]`: the HTTP API and the live page, until interrupted (docs/api.md). */
import { NodeContext } from "@effect/platform-node"
import { Workflow } from "@switchyard/core"
import { NodeWorkflowFile } from "@switchyard/node"
import { Effect } from "effect"
import { webhookSecret } from "../../github.js"
import { statePaths } from "../../layers.js"
import { startServer } from "../../server/start.js"
import { apiToken } from "../../server/token.js"
import { withStore } from "../shared.js"
import { reviewsNow } from "../trust/handler.js"
import type { ServeOptions } from "./options.js"

/**
 * The webhook secret of the repo's WORKFLOW.md (`tracker.webhook_secret_env`); null when the workflow cannot be
 * read or names none (webhooks refused, the API served as before).
 */
const secretOf = (root: string) =>
  Effect.gen(function*() {
    const def = yield* (yield* Workflow).current
    return yield* webhookSecret(def.config)
  }).pipe(
    Effect.provide(NodeWorkflowFile.layer({ repoRoot: root, stateDir: statePaths(root).stateDir, path: undefined })),
    Effect.provide(NodeContext.layer),
    Effect.orElseSucceed(() => null)
  )

/**
 * Serves the repo's four layers read from its store (any runner's work, live through the event log) until
 * SIGINT/SIGTERM (exit 130/143; open event streams are ended first). Fails `TokenRequired` for a
 * non-loopback host without SWITCHYARD_API_TOKEN and `ListenFailed` (exit 1) when the port is taken. GitHub
 * webhooks (`POST /webhooks/github`) are accepted when `tracker.webhook_secret_env` names a set variable; a review
 * delivery runs the review tick here, and the line (a `switchyard run` elsewhere) sees its result on its next poll.
 */
export const serve = (o: ServeOptions) =>
  withStore((root) =>
    Effect.gen(function*() {
      const token = yield* apiToken
      const secret = yield* secretOf(root)
      yield* startServer({
        repoRoot: root,
        listen: { host: o.host, port: o.port, token },
        operations: ["snapshot"],
        webhook: { secret, reviews: reviewsNow(root, undefined) }
      })
      return yield* Effect.never
    }).pipe(Effect.scoped)
  )
