/**
 * What the platform does not have for process groups: zombie-aware liveness read from /proc, and signalling a group
 * by a pgid someone else recorded (the supervisor killing a dead runner's orphaned agent). Children this runner
 * spawns itself are signalled through their `Process` handle (`internal/spawn.ts`).
 * @internal
 */
import { Clock, Effect } from "effect"
import * as NodeFs from "node:fs"

const POLL_MS = 25

/** A pgid we may signal: `process.kill(-1)` would signal every process we own and `-0` our own group. */
const signallable = (pgid: number): boolean => Number.isInteger(pgid) && pgid > 1

/** Whether /proc/<pid>/stat describes a live (not zombie, not dead) member of group `pgid`. */
const isLiveMember = (pid: string, pgid: number): Effect.Effect<boolean> =>
  Effect.try(() => NodeFs.readFileSync(`/proc/${pid}/stat`, "latin1")).pipe(
    Effect.map((stat) => {
      // "pid (comm) state ppid pgrp ...": comm may contain spaces and parentheses, so parse after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      const state = fields[0] ?? "Z"
      return Number(fields[2]) === pgid && state !== "Z" && state !== "X" && state !== "x"
    }),
    // The process vanished between readdir and read.
    Effect.orElseSucceed(() => false)
  )

/** Portable fallback: signal 0 to the group. Counts unreaped zombies as alive. */
const probeWithSignal = (pgid: number): Effect.Effect<boolean> =>
  Effect.try(() => process.kill(-pgid, 0)).pipe(Effect.as(true), Effect.orElseSucceed(() => false))

/**
 * Whether any live process is left in group `pgid`. On Linux this reads /proc and ignores zombies (an init that
 * does not reap orphans would otherwise make a killed group look alive forever); elsewhere it sends signal 0.
 */
export const isGroupAlive = (pgid: number): Effect.Effect<boolean> =>
  signallable(pgid)
    // Signal 0 first: when it says "no such group" (the common case) there is no need to scan /proc.
    ? Effect.flatMap(probeWithSignal(pgid), (maybeAlive) =>
      maybeAlive
        ? Effect.try(() => NodeFs.readdirSync("/proc")).pipe(
          Effect.flatMap((entries) =>
            Effect.exists(entries.filter((name) => /^\d+$/.test(name)), (pid) => isLiveMember(pid, pgid))
          ),
          Effect.orElseSucceed(() => true)
        )
        : Effect.succeed(false))
    : Effect.succeed(false)

/**
 * Whether process `pid` exists and is not a zombie. A process we may not signal (EPERM) exists. Zombies are
 * detected through /proc on Linux; elsewhere an unreaped zombie counts as alive.
 */
export const isProcessAlive = (pid: number): Effect.Effect<boolean> =>
  !(Number.isInteger(pid) && pid > 0) ? Effect.succeed(false) : Effect.try({
    try: () => process.kill(pid, 0),
    catch: (error) => (error as NodeJS.ErrnoException).code === "EPERM"
  }).pipe(
    Effect.as(true),
    Effect.merge,
    Effect.flatMap((exists) =>
      exists
        ? Effect.try(() => NodeFs.readFileSync(`/proc/${pid}/stat`, "latin1")).pipe(
          Effect.map((stat) => {
            const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0]
            return state !== "Z" && state !== "X" && state !== "x"
          }),
          Effect.orElseSucceed(() => true)
        )
        : Effect.succeed(false)
    )
  )

/** Sends `signal` to every process in group `pgid`; a group that no longer exists is not an error. */
export const signalGroup = (pgid: number, signal: NodeJS.Signals): Effect.Effect<void> =>
  signallable(pgid) ? Effect.try(() => process.kill(-pgid, signal)).pipe(Effect.ignore) : Effect.void

/**
 * Polls /proc (every 25 ms) until no live process is left in group `pgid`, or `waitMs` (ms) passed. Returns true when
 * the group is gone. Sleeps rather than racing a timeout, so it also works inside an uninterruptible finalizer.
 */
export const waitGroupGone = (pgid: number, waitMs: number): Effect.Effect<boolean> =>
  Effect.gen(function*() {
    const deadline = (yield* Clock.currentTimeMillis) + waitMs
    while (yield* isGroupAlive(pgid)) {
      if ((yield* Clock.currentTimeMillis) >= deadline) return false
      yield* Effect.sleep(POLL_MS)
    }
    return true
  })

/**
 * What group `pgid` is now, judged by the environment its live members started with (`/proc/<pid>/environ`, which
 * a process cannot rewrite): `carries` when some member started with every `marks` entry (`NAME=value`), `foreign`
 * when it has live members and none does (the pgid was reused), `gone` when no live member is left, `unknown`
 * where /proc cannot be read (not Linux): the caller must not signal then.
 */
export const groupCarries = (
  pgid: number,
  marks: ReadonlyArray<string>
): Effect.Effect<"carries" | "foreign" | "gone" | "unknown"> =>
  !signallable(pgid) ? Effect.succeed("gone") : Effect.try(() => NodeFs.readdirSync("/proc")).pipe(
    Effect.flatMap((entries) =>
      Effect.filter(entries.filter((name) => /^\d+$/.test(name)), (pid) => isLiveMember(pid, pgid))
    ),
    Effect.flatMap((members) =>
      members.length === 0 ? Effect.succeed("gone" as const) : Effect.exists(members, (pid) =>
        Effect.try(() => NodeFs.readFileSync(`/proc/${pid}/environ`, "utf8").split("\0")).pipe(
          Effect.map((environ) => marks.every((mark) => environ.includes(mark))),
          Effect.orElseSucceed(() => false)
        )).pipe(Effect.map((found) => found ? "carries" as const : "foreign" as const))
    ),
    Effect.orElseSucceed(() => "unknown" as const)
  )
