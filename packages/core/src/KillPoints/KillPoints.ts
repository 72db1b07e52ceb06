/**
 * KillPoints: fault injection for recovery tests. The line and the supervisor call `reached(point)` at named
 * points (`KillPoint` in @switchyard/domain); the default does nothing, and `NodeKillPoints` (@switchyard/node)
 * SIGKILLs the runner at the point named by `SWITCHYARD_KILL_AT` (docs/reliability.md). Optional: code that
 * finds no `KillPoints` in its context skips the call.
 */
import type { KillPoint } from "@switchyard/domain"
import { Context, Effect, Layer } from "effect"

export interface KillPointsShape {
  /** Called when the line or the supervisor passes `point`. */
  readonly reached: (point: KillPoint) => Effect.Effect<void>
}

export class KillPoints extends Context.Tag("switchyard/KillPoints")<KillPoints, KillPointsShape>() {}

/** Does nothing at every point. */
export const layerNoop: Layer.Layer<KillPoints> = Layer.succeed(KillPoints, { reached: () => Effect.void })

/** `reached(point)` through the optional service in the context. */
export const reached = (point: KillPoint): Effect.Effect<void> =>
  Effect.flatMap(Effect.serviceOption(KillPoints), (k) => k._tag === "Some" ? k.value.reached(point) : Effect.void)
