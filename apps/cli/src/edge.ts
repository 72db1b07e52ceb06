/**
 * The program's edge, shared by both entry points (main.ts, statusMain.ts): run the parsed command, and turn
 * typed errors into one line on stderr per line of their message, each `switchyard: `-prefixed, and a non-zero exit
 * (2 usage and a refused preflight, 3 violations, 1 anything else).
 * Logs go to stderr (logfmt) so stdout stays clean for `--json`; `SWITCHYARD_LOG=debug|info|warning` sets the level.
 */
import { ValidationError } from "@effect/cli"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, Console, Effect, Logger, LogLevel } from "effect"

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

/**
 * Runs `cli` on `process.argv` until it ends or a signal arrives. Graceful shutdown: the first SIGINT/SIGTERM
 * interrupts the main fiber, so a run stops claiming and every worker's finalizers kill its agent group, return
 * its issue to `todo` and release its lease; the exit code is then 130/143. A second signal exits at once.
 */
export const runCli = <E>(cli: (argv: ReadonlyArray<string>) => Effect.Effect<void, E, NodeContext.NodeContext>) => {
  const program = Effect.suspend(() => cli(process.argv)).pipe(
    Effect.catchAllCause((cause) => {
      if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause)
      const error = Cause.squash(cause)
      // @effect/cli has already printed usage errors with the help text.
      if (ValidationError.isValidationError(error)) return Effect.sync(() => (process.exitCode = 2))
      const tag = typeof error === "object" && error !== null && "_tag" in error ? error._tag : null
      const code = tag === "ViolationsFound" ? 3 : tag === "PreflightFailed" ? 2 : 1
      return Console.error(message(error).split("\n").map((line) => `switchyard: ${line}`).join("\n")).pipe(
        Effect.zipRight(Effect.sync(() => (process.exitCode = code))),
        Effect.zipRight(Effect.logDebug(Cause.pretty(cause)))
      )
    }),
    Effect.provide(Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger))),
    Logger.withMinimumLogLevel(level),
    Effect.provide(NodeContext.layer)
  )

  let signalled: number | undefined
  const onSignal = (code: number) => () => {
    if (signalled !== undefined) process.exit(signalled)
    signalled = code
  }
  process.on("SIGINT", onSignal(130))
  process.on("SIGTERM", onSignal(143))

  NodeRuntime.runMain(program, {
    disablePrettyLogger: true,
    teardown: (exit, onExit) => {
      if (signalled !== undefined) return onExit(signalled)
      return onExit(exit._tag === "Success" ? (process.exitCode as number | undefined) ?? 0 : 1)
    }
  })
}
