/**
 * ProcessControl: the process table, for the supervisor to tell a dead runner from a live one and to kill a dead
 * runner's orphaned agent group by its recorded pgid, while the supervisor itself stays platform-free.
 * Implementation: `NodeProcessControl` (@switchyard/node).
 */
import { Context, type Effect } from "effect"

/** Process-table access, so the supervisor stays platform-free. Implementation: `NodeProcessControl`. */
export interface ProcessControlShape {
  readonly hostname: string
  /** True when a process with `pid` exists on this host. */
  readonly isAlive: (pid: number) => Effect.Effect<boolean>
  /** Sends `signal` to the whole process group `pgid`; a group that is already gone is not an error. */
  readonly killGroup: (pgid: number, signal: "SIGTERM" | "SIGKILL") => Effect.Effect<void>
}
export class ProcessControl extends Context.Tag("switchyard/ProcessControl")<ProcessControl, ProcessControlShape>() {}
