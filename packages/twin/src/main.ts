/**
 * Manual runs: `tsx packages/twin/src/main.ts <playbook.json>` starts a model twin for the playbook, prints
 * its URL on stdout (one line), logs requests on stderr, and runs until SIGINT/SIGTERM.
 * Point claude at it with `ANTHROPIC_BASE_URL=<url> ANTHROPIC_API_KEY=sk-test`.
 */
import { FileSystem } from "@effect/platform"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer, Logger, LogLevel } from "effect"
import * as Playbook from "./Playbook.js"
import * as Twin from "./Twin.js"

const program = Effect.gen(function*() {
  const file = process.argv[2]
  if (file === undefined) {
    yield* Console.error("usage: main.ts <playbook.json>")
    return yield* Effect.fail("missing playbook path")
  }
  const fs = yield* FileSystem.FileSystem
  const playbook = yield* fs.readFileString(file).pipe(Effect.flatMap(Playbook.decodeJson))
  const twin = yield* Twin.make(playbook)
  yield* Console.log(twin.url)
  return yield* Effect.never
}).pipe(
  Effect.scoped,
  Effect.provide(
    Layer.merge(NodeContext.layer, Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger)))
  ),
  Logger.withMinimumLogLevel(LogLevel.Debug)
)

NodeRuntime.runMain(program, { disablePrettyLogger: true })
