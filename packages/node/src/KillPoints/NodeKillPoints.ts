/**
 * NodeKillPoints: the `KillPoints` of a runner under a recovery test. `SWITCHYARD_KILL_AT=<point>[:<n>]` makes the
 * process SIGKILL itself the `n`th time (default 1st) it passes `<point>`; unset, every point is a no-op. A real
 * SIGKILL: no finalizer, no flush, exactly what a crash or the OOM killer leaves behind (docs/reliability.md).
 */
import { KillPoints } from "@switchyard/core"
import { KillPoint } from "@switchyard/domain"
import { Config, Effect, Layer, Option, Ref, Schema } from "effect"

const Spec = Schema.Struct({ point: KillPoint, nth: Schema.Int })

/** Parses `<point>[:<n>]`; a malformed value fails the layer naming the variable. */
const parse = (raw: string) =>
  Schema.decodeUnknown(Spec)({
    point: raw.split(":")[0],
    nth: raw.includes(":") ? Number(raw.split(":")[1]) : 1
  })

/** The layer, from the `SWITCHYARD_KILL_AT` environment variable. */
export const layer: Layer.Layer<KillPoints, Error> = Layer.effect(
  KillPoints,
  Effect.gen(function*() {
    const raw = yield* Config.option(Config.string("SWITCHYARD_KILL_AT"))
    if (Option.isNone(raw)) return { reached: () => Effect.void }
    const spec = yield* parse(raw.value).pipe(
      Effect.mapError((e) => new Error(`SWITCHYARD_KILL_AT=${raw.value} is not <point>[:<n>]: ${e.message}`))
    )
    const seen = yield* Ref.make(0)
    return {
      reached: (point: KillPoint) =>
        point !== spec.point ? Effect.void : Ref.updateAndGet(seen, (n) => n + 1).pipe(
          Effect.flatMap((n) =>
            n === spec.nth
              ? Effect.logWarning(`SWITCHYARD_KILL_AT: killing this runner at ${point}`).pipe(
                Effect.zipRight(Effect.sync(() => process.kill(process.pid, "SIGKILL")))
              )
              : Effect.void
          )
        )
    }
  }).pipe(Effect.mapError((e) => e instanceof Error ? e : new Error(String(e))))
)
