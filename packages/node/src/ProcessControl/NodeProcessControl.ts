/**
 * NodeProcessControl: the Supervisor's `ProcessControl` on Node: this host's name, pid liveness (zombies count as
 * dead on Linux) and process-group signals, so a dead runner's agent group can be killed by its recorded pgid.
 */
import { ProcessControl, type ProcessControlShape } from "@switchyard/core"
import { Effect, Layer } from "effect"
import * as NodeOs from "node:os"
import { groupCarries, isProcessAlive, signalGroup } from "../internal/ProcessGroup.js"

/**
 * Builds the service. `hostname` is `os.hostname()`; `isAlive(pid)` is true when the process exists (also when it
 * belongs to another user) and is not a zombie; `killGroup(pgid, signal)` signals the whole group and ignores a
 * group that is already gone (pgid <= 1 is never signalled); `groupOf` reads the members' start-up environment
 * from /proc.
 */
export const make: Effect.Effect<ProcessControlShape> = Effect.sync(() =>
  ProcessControl.of({
    hostname: NodeOs.hostname(),
    isAlive: isProcessAlive,
    killGroup: signalGroup,
    groupOf: (pgid, { attempt, issueId }) =>
      groupCarries(pgid, [`SWITCHYARD_ISSUE_ID=${issueId}`, `SWITCHYARD_ATTEMPT=${attempt}`])
  })
)

/** The `ProcessControl` layer. */
export const layer: Layer.Layer<ProcessControl> = Layer.effect(ProcessControl, make)
