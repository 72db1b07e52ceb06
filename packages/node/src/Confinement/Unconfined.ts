/**
 * Unconfined: the `Confinement` of `sandbox.confinement: none`. Processes run as ordinary children of the runner,
 * with the host's network and file system; they still get a private HOME and the caller's allow-listed
 * environment, and their evidence says `confinement: none` (docs/security.md). The only choice outside Linux.
 */
import { Confinement, type ConfinementShape } from "@switchyard/core"
import { ConfinementRecord } from "@switchyard/domain"
import { Effect, Layer } from "effect"
import * as NodeOs from "node:os"

/** The sentence every unconfined bundle and `run` carry. */
export const UNCONFINED_DETAIL =
  "UNCONFINED (sandbox.confinement: none): the agent ran as an ordinary process of the runner's user, with the host's network and file system"

export const make: ConfinementShape = Confinement.of({
  kind: "none",
  summary: UNCONFINED_DETAIL,
  check: Effect.void,
  wrap: (argv, env, spec) =>
    Effect.succeed({ argv, env: { ...env, HOME: spec.home, TMPDIR: NodeOs.tmpdir() }, network: "host", egress: null }),
  record: () => ConfinementRecord.make({ kind: "none", network: "host", egress: null, detail: UNCONFINED_DETAIL })
})

/** The unconfined `Confinement` layer. */
export const layer: Layer.Layer<Confinement> = Layer.succeed(Confinement, make)
