/** `switchyard run [--once] [--concurrency N]`: the factory line, with one progress line per stage change. */
import { Confinement, runLine, Sandbox } from "@switchyard/core"
import { Console, Effect, Option } from "effect"
import { lineLayer } from "../../layers.js"
import { confinementLine, printProgress, usageLine } from "../../view/progress.js"
import { repoRoot } from "../shared.js"
import type { RunOptions } from "./options.js"

/**
 * Refuses a dirty base and a confinement that cannot be had (bubblewrap missing or unable to create namespaces:
 * `ConfinementUnavailable`, fail closed), says which confinement is in force, then runs the line until interrupted
 * (or drained with `--once`), printing its progress; prints the usage once the progress has ended (see
 * `printProgress`), however the line ends.
 */
export const run = (o: RunOptions) =>
  repoRoot.pipe(Effect.flatMap((root) =>
    Effect.gen(function*() {
      // Preflight: refuse a dirty base before anything is claimed (each attempt checks again).
      yield* (yield* Sandbox).resolveBase
      const confinement = yield* Confinement
      yield* confinement.check
      const line = confinementLine(confinement.kind, confinement.summary)
      yield* confinement.kind === "none" ? Console.error(line) : Console.log(line)
      yield* printProgress(runLine({ once: o.once, concurrency: Option.getOrUndefined(o.concurrency) }), {
        onEnd: (usage) => Console.log(usageLine(usage))
      })
    }).pipe(Effect.provide(lineLayer(root)))
  ))
