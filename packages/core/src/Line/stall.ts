/**
 * Stall detection (Symphony SPEC §8.5 part A): an agent that shows no output event for `stallTimeoutMs` is
 * interrupted. Interrupting the run interrupts the agent's process runner, whose finalizer sends SIGTERM to
 * the agent's whole process group and SIGKILL after a grace period.
 */
import { Clock, Duration, Effect, Either, Ref } from "effect"

/** How often the watchdog looks at the last output time: a quarter of the limit, at most once a second. */
export const stallCheckEveryMs = (stallTimeoutMs: number): number => Math.max(10, Math.min(1_000, Math.floor(stallTimeoutMs / 4)))

/**
 * Runs `run(touch)` where `touch` must be called on every output event. If no output is seen for
 * `stallTimeoutMs` (counted from the start, then from the last output), `run` is interrupted and the result is
 * `Left(silentMs)`; otherwise `Right` of its result. `stallTimeoutMs <= 0` disables the watchdog (SPEC §5.3.6).
 * Uses the Effect Clock, so TestClock drives it in tests.
 */
export const withStallWatchdog = <A, E, R>(
  stallTimeoutMs: number,
  run: (touch: Effect.Effect<void>) => Effect.Effect<A, E, R>
): Effect.Effect<Either.Either<A, number>, E, R> =>
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    const last = yield* Ref.make(start)
    const touch = Clock.currentTimeMillis.pipe(Effect.flatMap((now) => Ref.set(last, now)))
    if (stallTimeoutMs <= 0) return Either.right(yield* run(touch))
    const every = Duration.millis(stallCheckEveryMs(stallTimeoutMs))
    const watchdog = Effect.gen(function*() {
      while (true) {
        yield* Effect.sleep(every)
        const silent = (yield* Clock.currentTimeMillis) - (yield* Ref.get(last))
        if (silent >= stallTimeoutMs) return silent
      }
    })
    return yield* Effect.raceFirst(run(touch).pipe(Effect.map(Either.right)), watchdog.pipe(Effect.map(Either.left)))
  })
