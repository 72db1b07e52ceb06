/**
 * StreamProcess: runs an agent CLI (argv, no shell) and hands its stdout and stderr to the station line by line
 * as they arrive, so the station can decode, record and judge every line while the agent runs, and stop it.
 *
 * Like ProcessRunner (whose rules it follows, stack.md §6): the child leads its own process group; on a timeout,
 * a stop request, interruption, or after a normal exit (to reap what it left behind) the whole group gets
 * SIGTERM, then SIGKILL after a grace period. Memory is bounded by the line limit (10 MiB by default) per stream.
 */
import { Command, type CommandExecutor, type Error as PlatformError } from "@effect/platform"
import type { ConfinedSpec, ConfinementShape } from "@switchyard/core"
import type { NetworkInForce } from "@switchyard/domain"
import { Clock, Deferred, Duration, Effect, Either, Fiber, Option, Stream } from "effect"
import { terminateGroup } from "../internal/ProcessGroup.js"
import { maxLineBytes, type SplitLine, splitLines } from "./AgentEvent.js"

/** Default time between SIGTERM and SIGKILL, in ms. */
export const DEFAULT_KILL_GRACE_MS = 2_000
/** After the group is gone, how long to wait (ms) for the exit status and the output pipes to close. */
const DRAIN_MS = 2_000

export interface StreamProcessOptions {
  /** The program (a path, or a name looked up on the child's PATH). */
  readonly executable: string
  readonly args: ReadonlyArray<string>
  readonly cwd: string
  /** The child's whole environment (nothing is inherited). */
  readonly env: Readonly<Record<string, string>>
  /** Written to stdin, which is then closed (an empty string closes it at once). */
  readonly stdin: string
  /** Wall-clock limit in ms, from spawn. */
  readonly timeoutMs: number
  /** Time between SIGTERM and SIGKILL in ms; default 2000. */
  readonly killGraceMs?: number | undefined
  /** Longest line kept whole, in bytes; a longer one arrives as `TooLong`. Default 10 MiB. */
  readonly maxLineBytes?: number | undefined
  /** Each stdout line, in order. A non-null result is a stop reason: the process group is terminated. */
  readonly onStdout: (line: SplitLine) => Effect.Effect<string | null>
  /** Each stderr line, in order. */
  readonly onStderr: (line: SplitLine) => Effect.Effect<void>
  /** Called once, right after spawn, with the pid (= the process-group id). */
  readonly onSpawn: (pid: number) => Effect.Effect<void>
  /** Called for every output line, on either stream (liveness for stall detection). */
  readonly onOutput: Effect.Effect<void>
  /**
   * Runs the program confined by `confinement` (docs/security.md), with `spec` (its `network` is what the station
   * asks for). Required: a station never starts an agent without deciding its confinement.
   */
  readonly confine: { readonly confinement: ConfinementShape; readonly spec: ConfinedSpec }
}

/** How a run ended. */
export interface StreamRun {
  /** The pid (= pgid), or null when the process never started. */
  readonly pid: number | null
  /** Why the process could not be started, or null. */
  readonly spawnError: string | null
  /** The exit code, or null when it was killed (timeout, stop, signal) or never started. */
  readonly exitCode: number | null
  /** The signal that ended it, e.g. `SIGTERM`, or null. */
  readonly signal: string | null
  readonly timedOut: boolean
  /** The first stop reason `onStdout` returned, or null. Set even when the process exited first on its own. */
  readonly stopped: string | null
  /** Spawn to end, in ms (Effect `Clock`). */
  readonly durationMs: number
  /** The network the process got, and the one `host:port` it could reach (null for none or the host's). */
  readonly network: NetworkInForce | null
  readonly egress: string | null
}

/** The signal name from the platform's "Process interrupted due to receipt of signal: SIGKILL" error. */
const signalFrom = (error: PlatformError.PlatformError): string =>
  /signal:\s*(SIG[A-Z0-9]+)/.exec(error.message)?.[1] ?? "UNKNOWN"

type First =
  | { readonly _tag: "Exited"; readonly exitCode: number | null; readonly signal: string | null }
  | { readonly _tag: "Stopped" }
  | { readonly _tag: "TimedOut" }

/**
 * Runs the program and feeds its output lines to the callbacks. Never fails: a spawn failure, a signal, a
 * timeout and a stop are described in the `StreamRun`. Interrupting the effect terminates the process group.
 */
export const run = (options: StreamProcessOptions): Effect.Effect<StreamRun, never, CommandExecutor.CommandExecutor> =>
  Effect.scoped(Effect.gen(function*() {
    const startedAt = yield* Clock.currentTimeMillis
    const elapsed = Effect.map(Clock.currentTimeMillis, (now) => now - startedAt)
    const graceMs = options.killGraceMs ?? DEFAULT_KILL_GRACE_MS
    const limit = options.maxLineBytes ?? maxLineBytes
    const notStarted = (reason: string) =>
      Effect.map(elapsed, (durationMs): StreamRun => ({
        pid: null,
        spawnError: reason,
        exitCode: null,
        signal: null,
        timedOut: false,
        stopped: null,
        durationMs,
        network: null,
        egress: null
      }))
    const confined = yield* Effect.either(
      options.confine.confinement.wrap([options.executable, ...options.args], options.env, options.confine.spec)
    )
    if (Either.isLeft(confined)) return yield* notStarted(`cannot start ${options.executable} confined: ${confined.left.message}`)
    const [program, ...args] = confined.right.argv
    const command = Command.make(program!, ...args).pipe(
      Command.workingDirectory(options.cwd),
      Command.env(confined.right.env, { extendEnv: false }),
      Command.feed(options.stdin)
    )
    const started = yield* Effect.either(Command.start(command))
    if (started._tag === "Left") {
      return yield* notStarted(`cannot start ${options.executable} in ${options.cwd}: ${started.left.message}`)
    }
    const proc = started.right
    const pid: number = proc.pid
    // Runs before the platform's own finalizer (finalizers run in reverse order), so by then the group is gone.
    yield* Effect.addFinalizer(() => terminateGroup(pid, graceMs))
    yield* options.onSpawn(pid)

    const stop = yield* Deferred.make<string>()
    const stopReason = Effect.flatMap(Deferred.isDone(stop), (done) =>
      done ? Effect.map(Deferred.await(stop), Option.some) : Effect.succeed(Option.none<string>()))
    const stdout = yield* proc.stdout.pipe(
      splitLines(limit),
      Stream.runForEach((line) =>
        options.onOutput.pipe(
          Effect.zipRight(options.onStdout(line)),
          Effect.flatMap((reason) => reason === null ? Effect.void : Deferred.succeed(stop, reason))
        )
      ),
      Effect.catchAll((error) => Effect.logDebug("agent stdout failed").pipe(Effect.annotateLogs({ error: error.message }))),
      Effect.forkScoped
    )
    const stderr = yield* proc.stderr.pipe(
      splitLines(limit),
      Stream.runForEach((line) => options.onOutput.pipe(Effect.zipRight(options.onStderr(line)))),
      Effect.catchAll((error) => Effect.logDebug("agent stderr failed").pipe(Effect.annotateLogs({ error: error.message }))),
      Effect.forkScoped
    )

    const exitInfo = proc.exitCode.pipe(
      Effect.map((code) => ({ exitCode: code as number | null, signal: null as string | null })),
      Effect.catchAll((error) => Effect.succeed({ exitCode: null, signal: signalFrom(error) }))
    )
    const first: First = yield* Effect.raceAll<Effect.Effect<First>>([
      Effect.map(exitInfo, (info): First => ({ _tag: "Exited", ...info })),
      Effect.as(Deferred.await(stop), { _tag: "Stopped" } as First),
      Effect.as(Effect.sleep(Duration.millis(Math.max(0, options.timeoutMs))), { _tag: "TimedOut" } as First)
    ])
    if (first._tag === "TimedOut") {
      yield* Effect.logWarning("agent timed out; terminating its process group").pipe(
        Effect.annotateLogs({ pid, timeoutMs: options.timeoutMs })
      )
    }
    if (first._tag === "Stopped") {
      yield* Effect.logWarning("agent stopped; terminating its process group").pipe(
        Effect.annotateLogs({ pid, reason: Option.getOrElse(yield* stopReason, () => "") })
      )
    }
    // Also reaps background processes the agent left behind after it exited.
    yield* terminateGroup(pid, graceMs)
    const info = first._tag === "Exited"
      ? first
      : Option.getOrElse(yield* Effect.timeoutOption(exitInfo, Duration.millis(DRAIN_MS)), () => ({
        exitCode: null,
        signal: null
      }))
    for (const fiber of [stdout, stderr]) {
      const drained = yield* Effect.timeoutOption(Fiber.join(fiber), Duration.millis(DRAIN_MS))
      if (Option.isNone(drained)) {
        yield* Effect.logWarning("agent output pipe still open after its process group ended; output may be cut").pipe(
          Effect.annotateLogs({ pid })
        )
        yield* Fiber.interrupt(fiber)
      }
    }
    const stopped = yield* stopReason
    const timedOut = first._tag === "TimedOut"
    return {
      pid,
      spawnError: null,
      exitCode: timedOut || first._tag === "Stopped" ? null : info.exitCode,
      signal: info.signal,
      timedOut,
      stopped: Option.getOrNull(stopped),
      durationMs: yield* elapsed,
      network: confined.right.network,
      egress: confined.right.egress
    } satisfies StreamRun
  }))
