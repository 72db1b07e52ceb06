import { describe, expect, it } from "@effect/vitest"
import { Clock, Duration, Effect, Fiber, TestClock } from "effect"
import { retryDelayMs } from "../src/Orchestrator/backoff.js"

describe("retryDelayMs", () => {
  it("doubles from the base and caps at the maximum (Symphony SPEC §8.4)", () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((a) => retryDelayMs(a, 10_000, 300_000))).toEqual([
      10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000
    ])
  })
  it("never overflows on huge attempt numbers", () => {
    expect(retryDelayMs(10_000, 1_000, 3_600_000)).toBe(1_000 * 2 ** 10)
  })

  it.effect("a retry scheduled from the clock falls due exactly after its delay", () =>
    Effect.gen(function*() {
      const start = yield* Clock.currentTimeMillis
      const dueAt = start + retryDelayMs(2, 1_000, 60_000)
      const waiter = yield* Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        yield* Effect.sleep(Duration.millis(dueAt - now))
        return yield* Clock.currentTimeMillis
      }).pipe(Effect.fork)
      yield* TestClock.adjust(Duration.millis(1_999))
      expect(yield* Fiber.poll(waiter)).toMatchObject({ _tag: "None" })
      yield* TestClock.adjust(Duration.millis(1))
      expect(yield* Fiber.join(waiter)).toBe(start + 2_000)
    }))
})
