/**
 * The program's edge: parse argv, run, and turn typed errors into one line on stderr and a non-zero exit.
 * Logs go to stderr (logfmt) so stdout stays clean for `--json`; `SWITCHYARD_LOG=debug|info|warning` sets the level.
 */
import { ValidationError } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Cause, Console, Effect, Logger, LogLevel } from "effect"
import { cli } from "./Cli.js"

const level = (() => {
  switch ((process.env.SWITCHYARD_LOG ?? "warning").toLowerCase()) {
    case "debug":
      return LogLevel.Debug
    case "info":
      return LogLevel.Info
    case "error":
      return LogLevel.Error
    default:
      return LogLevel.Warning
  }
})()

const message = (e: unknown): string =>
  typeof e === "object" && e !== null && "message" in e && typeof e.message === "string" && e.message !== ""
    ? e.message
    : String(e)

const program = Effect.suspend(() => cli(process.argv)).pipe(
  Effect.catchAllCause((cause) => {
    if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause)
    const error = Cause.squash(cause)
    // @effect/cli has already printed usage errors with the help text.
    if (ValidationError.isValidationError(error)) return Effect.sync(() => (process.exitCode = 2))
    return Console.error(`switchyard: ${message(error)}`).pipe(
      Effect.zipRight(Effect.sync(() => (process.exitCode = 1))),
      Effect.zipRight(Effect.logDebug(Cause.pretty(cause)))
    )
  }),
  Effect.provide(Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger))),
  Logger.withMinimumLogLevel(level),
  Effect.provide(NodeContext.layer)
)

NodeRuntime.runMain(program, { disablePrettyLogger: true })
