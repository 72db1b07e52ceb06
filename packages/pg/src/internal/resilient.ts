/**
 * Riding out a lost connection (issue 16 item 5): a store operation that fails because the server went away
 * (restarted, failed over, the network dropped) is run again with backoff until the server answers or
 * {@link RECONNECT_WITHIN_MS} has passed. The `pg` pool drops a dead connection and opens a new one on the next use,
 * so the retry is the reconnect. While it waits, the caller waits: the run loop's tick (dispatch pauses), a
 * heartbeat, a worker's ending; the agents themselves are processes and keep running.
 *
 * Inside a transaction nothing is retried statement by statement: the transaction is gone with its connection,
 * so the error goes up to the outermost `atomically`, which runs the whole transaction again (it rolled back).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect, Option, Schedule } from "effect"

/** How long (ms) an operation keeps retrying a lost connection before it fails with the store's error. */
export const RECONNECT_WITHIN_MS = 20_000

/** Backoff between attempts: 100 ms doubling, capped at 2 s, jittered, for at most {@link RECONNECT_WITHIN_MS}. */
export const reconnectSchedule = Schedule.exponential("100 millis").pipe(
  Schedule.union(Schedule.spaced("2 seconds")),
  Schedule.jittered,
  Schedule.upTo(`${RECONNECT_WITHIN_MS} millis`)
)

/** SQLSTATE classes and codes of a connection that is gone: 08 (connection exception), 57P01-57P03 (shutdown). */
const LOST_CODES = /^(08...|57P0[123])$/
/** Node and `pg` errors of a socket that is gone or refused. */
const LOST_ERRNO = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND"])
const LOST_MESSAGE = /Connection terminated|connection is closed|Client has encountered a connection error|terminating connection|the database system is (starting up|shutting down)|Connection timed out/i

/** True when `error` (or an error it wraps, through `cause`) says the connection to the server was lost. Pure. */
export const isConnectionLost = (error: unknown): boolean => {
  let current: unknown = error
  for (let depth = 0; depth < 6 && typeof current === "object" && current !== null; depth++) {
    const e = current as { code?: unknown; message?: unknown; cause?: unknown }
    if (typeof e.code === "string" && (LOST_CODES.test(e.code) || LOST_ERRNO.has(e.code))) return true
    if (typeof e.message === "string" && LOST_MESSAGE.test(e.message)) return true
    current = e.cause
  }
  return false
}

/** A defect that is a lost connection (a failed ROLLBACK on a dead connection dies), carried as a failure to retry. */
class LostDefect {
  readonly _tag = "LostDefect"
  constructor(readonly defect: unknown) {}
}

/**
 * `effect` retried on a lost connection ({@link reconnectSchedule}), unless it runs inside a transaction. A lost
 * connection that surfaced as a defect is retried the same way, and dies again with it if the server stays away.
 */
export const retryLost = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(Effect.serviceOption(SqlClient.TransactionConnection), (inTransaction) =>
    Option.isSome(inTransaction)
      ? effect
      : (effect as Effect.Effect<A, E | LostDefect, R>).pipe(
        Effect.catchSomeDefect((defect) => isConnectionLost(defect) ? Option.some(Effect.fail(new LostDefect(defect))) : Option.none()),
        Effect.tapError((error) =>
          isLost(error)
            ? Effect.logWarning("lost the connection to the database; reconnecting").pipe(Effect.annotateLogs({ reason: String(error) }))
            : Effect.void
        ),
        Effect.retry({ schedule: reconnectSchedule, while: isLost }),
        Effect.catchIf((error): error is LostDefect => error instanceof LostDefect, (lost) => Effect.die(lost.defect))
      ))

const isLost = (error: unknown): boolean => error instanceof LostDefect || isConnectionLost(error)

/**
 * `shape` with every operation wrapped in {@link retryLost}: each property that is an Effect, and each function
 * whose result is an Effect. Streams and other values (`changes`, `runnerId`) are left as they are.
 */
export const resilient = <S extends object>(shape: S): S => {
  const wrapped: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(shape)) {
    if (Effect.isEffect(value)) {
      wrapped[key] = retryLost(value)
    } else if (typeof value === "function") {
      wrapped[key] = (...args: Array<unknown>) => {
        const result: unknown = (value as (...a: Array<unknown>) => unknown)(...args)
        return Effect.isEffect(result) ? retryLost(result) : result
      }
    } else {
      wrapped[key] = value
    }
  }
  return wrapped as S
}
