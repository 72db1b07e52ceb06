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
  /**
   * Whether group `pgid` is still the agent of `issueId`'s attempt `attempt` (the guard against pid reuse before an
   * orphan recorded by another host is killed): `carries` when a live member started with that attempt's
   * `SWITCHYARD_ISSUE_ID`/`SWITCHYARD_ATTEMPT`, `foreign` when its members are someone else's, `gone` when it has
   * none, `unknown` when this platform cannot tell (then nothing is signalled).
   */
  readonly groupOf: (
    pgid: number,
    attempt: { readonly issueId: string; readonly attempt: number }
  ) => Effect.Effect<"carries" | "foreign" | "gone" | "unknown">
}
export class ProcessControl extends Context.Tag("switchyard/ProcessControl")<ProcessControl, ProcessControlShape>() {}
