/** `switchyard run [--once] [--concurrency N] [--workflow PATH]`: the factory line, with one progress line per stage change. */
import type { CommandExecutor } from "@effect/platform"
import { Confinement, EvidenceStore, Orchestrator, preflight, runLine, Sandbox, Tracker, TrackerSync, WorkerPool, Workflow } from "@switchyard/core"
import { ProgramProbe } from "@switchyard/node"
import { Console, Duration, Effect, Option, Schedule } from "effect"
import { startServer } from "../../server/start.js"
import { telemetryLayer } from "../../telemetry.js"
import { apiToken } from "../../server/token.js"
import { CiWake, webhookSecret } from "../../github.js"
import { lineLayer } from "../../layers.js"
import { landingInLine, reviewsInLine } from "../trust/handler.js"
import { confinementLine, printProgress, usageLine } from "../../view/progress.js"
import { repoRoot, workflowPathOf } from "../shared.js"
import type { RunOptions } from "./options.js"

/**
 * Preflight, before anything is claimed: refuses a workflow that cannot work (`PreflightFailed`, exit 2: an empty,
 * missing or placeholder agent command, an agent or validation program that is not there, a route to an unknown
 * station; nothing is run), a dirty base (`DirtyBase`; the workflow file's own edits do not count) and a confinement
 * that cannot be had (bubblewrap missing or unable to create namespaces: `ConfinementUnavailable`, fail closed). Then
 * says which confinement is in force and runs the line until interrupted (or drained with `--once`), printing its
 * progress; prints the usage once the progress has ended (see `printProgress`), however the line ends. With
 * `--port`, serves the API and the page while the line runs (server/start.ts; each refresh ticks the line). With the
 * OTEL_* variables, exports its traces and metrics (telemetry.ts).
 */
export const run = (o: RunOptions) =>
  repoRoot.pipe(Effect.flatMap((root) =>
    Effect.gen(function*() {
      const def = yield* (yield* Workflow).current
      yield* preflight(def, (program) => ProgramProbe.found(program, { cwd: root }))
      // Each attempt checks the base again.
      yield* (yield* Sandbox).resolveBase
      const confinement = yield* Confinement
      yield* confinement.check
      const services = yield* Effect.context<Tracker | Orchestrator | EvidenceStore | Workflow | CommandExecutor.CommandExecutor | WorkerPool>()
      // With the GitHub Lander, reviews of the pull requests are read every poll interval (the fallback of
      // `pull_request_review` webhooks; docs/trust.md "Review feedback").
      // With a class whose policy allows `auto_land`, the same round also lands what has earned it (the reviews
      // first), every poll interval: `switchyard land` from the loop itself (docs/trust.md "Landing").
      const hosted = def.config.integration.land === "github" || (def.config.integration.land === "auto" && def.config.tracker.kind === "github")
      const landing = def.config.trust.classes.some((c) => c.rung === "auto_land")
      if (hosted || landing) {
        yield* (landing ? landingInLine(root, confinement.kind) : reviewsInLine(root)).pipe(
          Effect.provide(services),
          Effect.repeat(Schedule.spaced(Duration.millis(def.config.polling.interval_ms))),
          Effect.forkScoped
        )
      }
      // `--port`: the API and the page, served while the line runs (the first line on stdout says where).
      const refresh = Option.isSome(o.port)
        ? (yield* startServer({
          repoRoot: root,
          listen: { host: o.host, port: o.port.value, token: yield* apiToken },
          operations: ["poll", "reconcile"],
          webhook: {
            secret: yield* webhookSecret(def.config),
            reviews: reviewsInLine(root).pipe(Effect.provide(services)),
            sync: Option.match(yield* Effect.serviceOption(TrackerSync), { onNone: () => Effect.void, onSome: (s) => s.syncNow }),
            ci: Option.match(yield* Effect.serviceOption(CiWake), { onNone: () => Effect.void, onSome: (w) => w.fire })
          }
        })).refreshes
        : undefined
      const line = confinementLine(confinement.kind, confinement.summary)
      yield* confinement.kind === "none" ? Console.error(line) : Console.log(line)
      yield* printProgress(runLine({ once: o.once, concurrency: Option.getOrUndefined(o.concurrency), refresh }), {
        onEnd: (usage) => Console.log(usageLine(usage))
      })
    }).pipe(
      Effect.scoped,
      Effect.provide(lineLayer(root, { workflowPath: workflowPathOf(o.workflow) })),
      // OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_*: spans and metrics exported (telemetry.ts); unset, nothing is loaded.
      Effect.provide(telemetryLayer)
    )
  ))
