/**
 * spawnGroup: the one way this package starts a child process (agent CLIs, hooks, verification commands, git).
 *
 * The platform spawns every child detached, so it leads its own process group (pgid = pid), and its
 * `Process.kill(signal)` signals that whole group. On top of that this module adds what the platform lacks
 * (stack.md §6): a wall-clock limit, a stop request, and a kill that ESCALATES — SIGTERM to the group, then
 * SIGKILL once `graceMs` has passed with any member still alive (the platform's own finalizer sends SIGTERM and
 * waits forever). The group is also terminated after a normal exit, which reaps background processes the command
 * left behind (they would otherwise hold its output pipes open).
 *
 * Every wait here is interruptible on its own, so a timeout fires even when the caller runs in an uninterruptible
 * region (the end of an attempt, a finalizer): `Effect.timeout` around an uninterruptible wait cannot interrupt it.
 * @internal
 */
import { Command, type CommandExecutor, type Error as PlatformError } from "@effect/platform"
import { Clock, Data, Deferred, Duration, Effect, Either, Fiber, Option, type Scope, Stream } from "effect"
import { isGroupAlive, waitGroupGone } from "./ProcessGroup.js"

/** Default time between SIGTERM and SIGKILL to the group, in ms. */
export const DEFAULT_KILL_GRACE_MS = 2_000
/**
 * Once the group is gone, how long (ms) to wait for the exit status and for the output consumers to finish. Only
 * a process that left the group (setsid) and kept a pipe open makes this wait run out.
 */
export const DRAIN_MS = 2_000
/** After SIGKILL, how long (ms) to wait for the group to vanish before giving up. */
const AFTER_KILL_WAIT_MS = 2_000

/**
 * Variables that point git at a specific repository. Inherited from a runner that runs inside a git hook, they
 * would make every git command in a sandbox act on the wrong repository, so no child inherits them.
 */
export const GIT_LOCATION_VARS: ReadonlySet<string> = new Set([
  "GIT_DIR",
  "GIT_WORK_TREE",
  "GIT_INDEX_FILE",
  "GIT_COMMON_DIR",
  "GIT_OBJECT_DIRECTORY",
  "GIT_ALTERNATE_OBJECT_DIRECTORIES",
  "GIT_PREFIX"
])

/** The runner's environment (`process.env`) without {@link GIT_LOCATION_VARS}: what an unconfined child inherits. */
export const inheritedEnv: Effect.Effect<Record<string, string>> = Effect.sync(() => {
  const env: Record<string, string> = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !GIT_LOCATION_VARS.has(key)) env[key] = value
  }
  return env
})

/**
 * How a group's run ended. `pid` is the leader's pid (= pgid). `signal` is the signal that ended the leader
 * (`SIGTERM`, `SIGKILL`, …), or null when it exited with a code, or when its status was not seen in time.
 * - `Exited`: the leader ended on its own, with `exitCode` (null when a signal ended it);
 * - `TimedOut`: `timeoutMs` passed first, and the group was terminated;
 * - `Stopped`: `stop(reason)` came first, and the group was terminated;
 * - `SpawnFailed`: the program could not be started (no such program, a missing or unreadable cwd).
 */
export type GroupExit = Data.TaggedEnum<{
  Exited: { readonly pid: number; readonly exitCode: number | null; readonly signal: string | null }
  TimedOut: { readonly pid: number; readonly signal: string | null }
  Stopped: { readonly pid: number; readonly reason: string; readonly signal: string | null }
  SpawnFailed: { readonly error: PlatformError.PlatformError }
}>
export const GroupExit = Data.taggedEnum<GroupExit>()

export interface SpawnOptions {
  /** Wall-clock limit in ms, counted from spawn. Undefined: no limit (e.g. git). */
  readonly timeoutMs?: number | undefined
  /** Time between SIGTERM and SIGKILL to the group, in ms. Default {@link DEFAULT_KILL_GRACE_MS}. */
  readonly graceMs?: number | undefined
}

/** A running process group, valid for the life of the scope it was spawned in. */
export interface SpawnedGroup {
  /** The leader's pid (= pgid), or null when the spawn failed. */
  readonly pid: number | null
  /** The leader's stdout. A read error ends the stream (logged at debug). Empty when the spawn failed. */
  readonly stdout: Stream.Stream<Uint8Array>
  /** The leader's stderr, like `stdout`. */
  readonly stderr: Stream.Stream<Uint8Array>
  /**
   * Runs `consumer` (typically a fold over `stdout` or `stderr`) in a fiber of the scope, interruptibly, so that it
   * reads while `exit` waits; `exit` then waits for it to finish (at most {@link DRAIN_MS} after the group is gone).
   * Start consumers before awaiting `exit`: a child whose pipe is not read blocks when the pipe is full.
   */
  readonly consume: (consumer: Effect.Effect<void>) => Effect.Effect<void>
  /** Asks the group to stop: `exit` becomes `Stopped` with the first reason given, unless the leader ended first. */
  readonly stop: (reason: string) => Effect.Effect<void>
  /** The first reason given to `stop`, if any (also when the leader had exited on its own before). */
  readonly stopReason: Effect.Effect<Option.Option<string>>
  /**
   * Waits for the leader to exit, the time limit, or a stop request, whichever comes first; terminates the group
   * (SIGTERM, then SIGKILL after `graceMs`: also after a normal exit, for leftovers); waits for the consumers; and
   * reports how it ended. Never fails. Computed once: awaiting it again returns the same result.
   */
  readonly exit: Effect.Effect<GroupExit>
}

/** The signal name from the platform's "Process interrupted due to receipt of signal: SIGKILL" error. */
const signalFrom = (error: PlatformError.PlatformError): string =>
  /signal:\s*(SIG[A-Z0-9]+)/.exec(error.message)?.[1] ?? "UNKNOWN"

/**
 * Terminates the group of `proc`: SIGTERM (through `Process.kill`, which signals the group), up to `graceMs` (ms)
 * for every member to exit, then SIGKILL. Safe on a group that is already gone; works inside a finalizer.
 */
const terminate = (proc: CommandExecutor.Process, graceMs: number): Effect.Effect<void> =>
  Effect.gen(function*() {
    const pgid = proc.pid
    if (!(yield* isGroupAlive(pgid))) return
    // `kill` resolves when the leader has exited; the rest of the group is polled for.
    const send = (signal: NodeJS.Signals, waitMs: number) =>
      proc.kill(signal).pipe(Effect.ignore, Effect.interruptible, Effect.timeoutOption(Duration.millis(waitMs)))
    const deadline = (yield* Clock.currentTimeMillis) + graceMs
    yield* send("SIGTERM", graceMs)
    if (yield* waitGroupGone(pgid, Math.max(0, deadline - (yield* Clock.currentTimeMillis)))) return
    yield* Effect.logWarning("process group ignored SIGTERM; sending SIGKILL").pipe(Effect.annotateLogs({ pgid, graceMs }))
    yield* send("SIGKILL", AFTER_KILL_WAIT_MS)
    if (!(yield* waitGroupGone(pgid, AFTER_KILL_WAIT_MS))) {
      yield* Effect.logWarning("process group still alive after SIGKILL").pipe(Effect.annotateLogs({ pgid }))
    }
  })

/** Ends a platform stream at its first error, logging it at debug level. */
const quiet = (stream: Stream.Stream<Uint8Array, PlatformError.PlatformError>, name: string): Stream.Stream<Uint8Array> =>
  Stream.catchAll(stream, (error) =>
    Stream.fromEffect(Effect.logDebug(`${name} failed`).pipe(Effect.annotateLogs({ error: error.message }))).pipe(
      Stream.drain
    ))

/**
 * Starts `command` as the leader of its own process group, for the life of the scope: closing the scope before
 * `exit` (interruption, a failure of the caller) terminates the group the same way (SIGTERM, SIGKILL after
 * `graceMs`). The `timeoutMs` clock starts at spawn. Never fails: a spawn failure is an `exit` of `SpawnFailed`.
 */
export const spawnGroup = (
  command: Command.Command,
  options: SpawnOptions = {}
): Effect.Effect<SpawnedGroup, never, CommandExecutor.CommandExecutor | Scope.Scope> =>
  Effect.gen(function*() {
    const graceMs = options.graceMs ?? DEFAULT_KILL_GRACE_MS
    const stopped = yield* Deferred.make<string>()
    const stop = (reason: string) => Deferred.succeed(stopped, reason).pipe(Effect.asVoid)
    const stopReason = Effect.flatMap(Deferred.poll(stopped), Option.match({
      onNone: () => Effect.succeed(Option.none<string>()),
      onSome: (reason) => Effect.map(reason, Option.some)
    }))
    const started = yield* Effect.either(Command.start(command))
    if (Either.isLeft(started)) {
      const failed: SpawnedGroup = {
        pid: null,
        stdout: Stream.empty,
        stderr: Stream.empty,
        consume: () => Effect.void,
        stop,
        stopReason,
        exit: Effect.succeed(GroupExit.SpawnFailed({ error: started.left }))
      }
      return failed
    }
    const proc = started.right
    const pid: number = proc.pid
    // Added after the platform's own finalizer, so it runs first (reverse order): by then the group is gone.
    yield* Effect.addFinalizer(() => terminate(proc, graceMs))

    const timedOut = yield* Deferred.make<void>()
    if (options.timeoutMs !== undefined) {
      yield* Effect.sleep(Duration.millis(Math.max(0, options.timeoutMs))).pipe(
        Effect.zipRight(Deferred.succeed(timedOut, undefined)),
        Effect.interruptible,
        Effect.forkScoped
      )
    }
    const scope = yield* Effect.scope
    const consumers: Array<Fiber.RuntimeFiber<void>> = []
    const consume = (consumer: Effect.Effect<void>) =>
      Effect.map(Effect.forkIn(Effect.interruptible(consumer), scope), (fiber) => {
        consumers.push(fiber)
      })

    const status = proc.exitCode.pipe(
      Effect.map((code) => ({ exitCode: code as number | null, signal: null as string | null })),
      Effect.catchAll((error) => Effect.succeed({ exitCode: null, signal: signalFrom(error) }))
    )
    const exit = Effect.gen(function*() {
      const first = yield* Effect.raceAll<Effect.Effect<GroupExit>>([
        Effect.interruptible(Effect.map(status, (s) => GroupExit.Exited({ pid, ...s }))),
        Effect.interruptible(Effect.map(Deferred.await(stopped), (reason) => GroupExit.Stopped({ pid, reason, signal: null }))),
        Effect.interruptible(Effect.as(Deferred.await(timedOut), GroupExit.TimedOut({ pid, signal: null })))
      ])
      if (first._tag === "TimedOut") {
        yield* Effect.logWarning("command timed out; terminating its process group").pipe(
          Effect.annotateLogs({ pid, timeoutMs: options.timeoutMs })
        )
      } else if (first._tag === "Stopped") {
        yield* Effect.logWarning("command stopped; terminating its process group").pipe(
          Effect.annotateLogs({ pid, reason: first.reason })
        )
      }
      yield* terminate(proc, graceMs)
      let ended = first
      if (first._tag !== "Exited") {
        // The signal the kill ended the leader with (null when its status did not arrive in time).
        const late = yield* status.pipe(Effect.interruptible, Effect.timeoutOption(Duration.millis(DRAIN_MS)))
        const signal = Option.match(late, { onNone: () => null, onSome: (s) => s.signal })
        ended = first._tag === "Stopped"
          ? GroupExit.Stopped({ pid, reason: first.reason, signal })
          : GroupExit.TimedOut({ pid, signal })
      }
      const deadline = (yield* Clock.currentTimeMillis) + DRAIN_MS
      let cut = false
      for (const fiber of consumers) {
        const left = Math.max(0, deadline - (yield* Clock.currentTimeMillis))
        const drained = yield* Fiber.join(fiber).pipe(Effect.interruptible, Effect.timeoutOption(Duration.millis(left)))
        if (Option.isNone(drained)) {
          cut = true
          yield* Fiber.interrupt(fiber)
        }
      }
      if (cut) {
        yield* Effect.logWarning("output pipe still open after the process group ended; output may be cut").pipe(
          Effect.annotateLogs({ pid })
        )
      }
      return ended
    })
    const group: SpawnedGroup = {
      pid,
      stdout: quiet(proc.stdout, "stdout"),
      stderr: quiet(proc.stderr, "stderr"),
      consume,
      stop,
      stopReason,
      exit: yield* Effect.cached(exit)
    }
    return group
  })
