import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Either, Fiber, Ref, TestClock } from "effect"
import { withStallWatchdog } from "../src/Line/stall.js"

/** A fake agent run: emits output every `everyMs` for `outputs` times, then stays silent until interrupted. */
const fakeRun = (everyMs: number, outputs: number, interrupted: Ref.Ref<boolean>) => (touch: Effect.Effect<void>) =>
  Effect.gen(function*() {
    for (let i = 0; i < outputs; i++) {
      yield* Effect.sleep(Duration.millis(everyMs))
      yield* touch
    }
    yield* Effect.never
    return "finished"
  }).pipe(Effect.onInterrupt(() => Ref.set(interrupted, true)))

describe("stall watchdog (TestClock)", () => {
  it.effect("interrupts an agent silent for stall_timeout_ms after its last output", () =>
    Effect.gen(function*() {
      const interrupted = yield* Ref.make(false)
      const fiber = yield* withStallWatchdog(1_000, fakeRun(400, 5, interrupted)).pipe(Effect.fork)
      // 5 outputs at 400 ms intervals keep it alive until t=2000; it then must survive until t=2999 …
      yield* TestClock.adjust(Duration.millis(2_999))
      expect(yield* Ref.get(interrupted)).toBe(false)
      // … and be stopped by the first check at or after t=3000 (checks every 250 ms).
      yield* TestClock.adjust(Duration.millis(250))
      const result = yield* Fiber.join(fiber)
      expect(Either.isLeft(result)).toBe(true)
      expect(Either.getLeft(result).pipe((o) => o._tag === "Some" && o.value >= 1_000)).toBe(true)
      expect(yield* Ref.get(interrupted)).toBe(true)
    }))

  it.effect("an agent that keeps talking is never interrupted", () =>
    Effect.gen(function*() {
      const interrupted = yield* Ref.make(false)
      const run = (touch: Effect.Effect<void>) =>
        Effect.gen(function*() {
          for (let i = 0; i < 20; i++) {
            yield* Effect.sleep(Duration.millis(900))
            yield* touch
          }
          return "finished"
        })
      const fiber = yield* withStallWatchdog(1_000, run).pipe(Effect.fork)
      yield* TestClock.adjust(Duration.millis(20 * 900))
      expect(yield* Fiber.join(fiber)).toEqual(Either.right("finished"))
      expect(yield* Ref.get(interrupted)).toBe(false)
    }))

  it.effect("stall_timeout_ms <= 0 disables the watchdog", () =>
    Effect.gen(function*() {
      const interrupted = yield* Ref.make(false)
      const fiber = yield* withStallWatchdog(0, fakeRun(10, 1, interrupted)).pipe(Effect.fork)
      yield* TestClock.adjust(Duration.hours(10))
      expect((yield* Fiber.poll(fiber))._tag).toBe("None")
      expect(yield* Ref.get(interrupted)).toBe(false)
      yield* Fiber.interrupt(fiber)
    }))
})
