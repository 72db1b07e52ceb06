/**
 * StreamProcess: runs an agent CLI (argv, no shell) and hands its stdout and stderr to the station line by line
 * as they arrive, so the station can decode, record and judge every line while the agent runs, and stop it.
 *
 * A fold over `spawnGroup` (`internal/spawn.ts`), like ProcessRunner: the child leads its own process group; on a
 * timeout, a stop request, interruption, or after a normal exit (to reap what it left behind) the whole group gets
 * SIGTERM, then SIGKILL after a grace period. Memory is bounded by the line limit (10 MiB by default) per stream.
 */
import { Command, type CommandExecutor } from "@effect/platform"
import type { ConfinedSpec, ConfinementShape } from "@switchyard/core"
import type { NetworkInForce } from "@switchyard/domain"
import { Clock, Effect, Either, Option, Stream } from "effect"
import { DEFAULT_KILL_GRACE_MS, spawnGroup } from "../internal/spawn.js"
import { maxLineBytes, type SplitLine, splitLines } from "./AgentEvent.js"

export { DEFAULT_KILL_GRACE_MS }

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

/**
 * Runs the program and feeds its output lines to the callbacks. Never fails: a spawn failure, a signal, a
 * timeout and a stop are described in the `StreamRun`. Interrupting the effect terminates the process group.
 */
export const run = (options: StreamProcessOptions): Effect.Effect<StreamRun, never, CommandExecutor.CommandExecutor> =>
  Effect.scoped(Effect.gen(function*() {
    const startedAt = yield* Clock.currentTimeMillis
    const elapsed = Effect.map(Clock.currentTimeMillis, (now) => now - startedAt)
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
    const group = yield* spawnGroup(command, {
      timeoutMs: options.timeoutMs,
      graceMs: options.killGraceMs ?? DEFAULT_KILL_GRACE_MS
    })
    if (group.pid !== null) yield* options.onSpawn(group.pid)
    yield* group.consume(Stream.runForEach(splitLines(limit)(group.stdout), (line) =>
      options.onOutput.pipe(
        Effect.zipRight(options.onStdout(line)),
        Effect.flatMap((reason) => reason === null ? Effect.void : group.stop(reason))
      )))
    yield* group.consume(Stream.runForEach(
      splitLines(limit)(group.stderr),
      (line) => options.onOutput.pipe(Effect.zipRight(options.onStderr(line)))
    ))
    const exit = yield* group.exit
    if (exit._tag === "SpawnFailed") {
      return yield* notStarted(`cannot start ${options.executable} in ${options.cwd}: ${exit.error.message}`)
    }
    return {
      pid: exit.pid,
      spawnError: null,
      exitCode: exit._tag === "Exited" ? exit.exitCode : null,
      signal: exit.signal,
      timedOut: exit._tag === "TimedOut",
      stopped: Option.getOrNull(yield* group.stopReason),
      durationMs: yield* elapsed,
      network: confined.right.network,
      egress: confined.right.egress
    } satisfies StreamRun
  }))
