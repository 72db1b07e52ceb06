/**
 * ProcessRunner: runs shell commands (hooks, reproductions, validations, the PR command) and git, as folds over
 * `spawnGroup` (`internal/spawn.ts`).
 *
 * Every child leads its own process group (pgid = pid). When a run times out, is interrupted, or leaves background
 * processes behind, the whole group gets SIGTERM, then SIGKILL after a grace period (stack.md §6: the platform
 * finalizer alone never escalates to SIGKILL). Output is captured with bounded memory: the first and last few KiB
 * plus a byte count, however much the child writes.
 */
import { Command, type CommandExecutor, type Error as PlatformError } from "@effect/platform"
import { type ConfinedSpec, type ConfinementShape, SandboxError } from "@switchyard/core"
import { CommandResult } from "@switchyard/domain"
import { Clock, Effect, Either, Option, type Scope, Stream } from "effect"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { OutputCapture } from "../internal/OutputCapture.js"
import { isGroupAlive, signalGroup } from "../internal/ProcessGroup.js"
import { DEFAULT_KILL_GRACE_MS, type GroupExit, inheritedEnv, spawnGroup } from "../internal/spawn.js"

export { DEFAULT_KILL_GRACE_MS, isGroupAlive, signalGroup }

/** Default bytes kept from the start of the output. */
export const DEFAULT_HEAD_BYTES = 4096
/** Default bytes kept from the end of the output. */
export const DEFAULT_TAIL_BYTES = 4096

export interface ShellOptions {
  /** Run as `sh -c <command>`. */
  readonly command: string
  /** Working directory; a missing one is an environment failure, not a defect. */
  readonly cwd: string
  /** Variables merged over the inherited environment (or the whole environment when `inheritEnv` is false). */
  readonly env?: Readonly<Record<string, string>> | undefined
  /** Inherit `process.env` (minus git location variables such as GIT_DIR). Default true. */
  readonly inheritEnv?: boolean | undefined
  /** Text written to the child's stdin, which is then closed. Default: empty (stdin closed at once). */
  readonly stdin?: string | undefined
  /** Wall-clock limit in ms, from spawn to exit. */
  readonly timeoutMs: number
  /** Time between SIGTERM and SIGKILL to the process group, in ms. Default 2000. */
  readonly killGraceMs?: number | undefined
  /** Bytes kept from the start of the combined output. Default 4096. */
  readonly headBytes?: number | undefined
  /** Bytes kept from the end of the combined output. Default 4096. */
  readonly tailBytes?: number | undefined
  /** Every stdout/stderr chunk is appended to this file as it arrives (parent directories are created). */
  readonly transcriptFile?: string | undefined
  /** Called once, right after spawn, with the pid (which is also the process-group id). */
  readonly onSpawn?: ((pid: number) => Effect.Effect<void>) | undefined
  /** Called after every output chunk (callers throttle what they do with it). */
  readonly onOutput?: Effect.Effect<void> | undefined
  /**
   * Run confined (docs/security.md): `sh -c` goes through `confinement.wrap` with `spec`, and the child gets
   * `env` only, never the runner's environment (`inheritEnv` is ignored). A confinement that cannot be set up is a
   * spawn failure (an environment failure, never a pass).
   */
  readonly confine?: { readonly confinement: ConfinementShape; readonly spec: ConfinedSpec } | undefined
}

/** A finished run: the `CommandResult` plus what does not fit in it. */
export interface ShellRun {
  readonly result: CommandResult
  /** Total bytes of combined stdout+stderr the child wrote (the result keeps only head and tail). */
  readonly outputBytes: number
  /** The child's pid (= its pgid), or null when it never started. */
  readonly pid: number | null
  /** True when `sh` could not be started at all (missing cwd, no `sh` on PATH). */
  readonly spawnFailed: boolean
}

interface Transcript {
  readonly write: (chunk: Uint8Array) => Effect.Effect<void>
}

const noTranscript: Transcript = { write: () => Effect.void }

/** Opens `file` for appending for the life of the scope. A file that cannot be opened is logged and skipped. */
const openTranscript = (file: string | undefined): Effect.Effect<Transcript, never, Scope.Scope> =>
  file === undefined ? Effect.succeed(noTranscript) : Effect.acquireRelease(
    Effect.try(() => {
      NodeFs.mkdirSync(NodePath.dirname(file), { recursive: true })
      return NodeFs.openSync(file, "a")
    }).pipe(
      Effect.map((fd) => {
        let broken = false
        const transcript: Transcript & { readonly fd: number } = {
          fd,
          write: (chunk) =>
            broken ? Effect.void : Effect.try(() => NodeFs.writeSync(fd, chunk)).pipe(
              Effect.asVoid,
              Effect.catchAll((cause) => {
                broken = true
                return Effect.logWarning("transcript write failed; the rest of the output is not recorded").pipe(
                  Effect.annotateLogs({ file, cause: String(cause) })
                )
              })
            )
        }
        return Option.some(transcript)
      }),
      Effect.catchAll((cause) =>
        Effect.logWarning("cannot open transcript file; output is not recorded").pipe(
          Effect.annotateLogs({ file, cause: String(cause) }),
          Effect.as(Option.none())
        )
      )
    ),
    (opened) =>
      Option.match(opened, {
        onNone: () => Effect.void,
        onSome: ({ fd }) => Effect.try(() => NodeFs.closeSync(fd)).pipe(Effect.ignore)
      })
  ).pipe(Effect.map(Option.getOrElse((): Transcript => noTranscript)))

const describeSpawnFailure = (options: ShellOptions, error: PlatformError.PlatformError): string =>
  error._tag === "SystemError" && error.module === "FileSystem"
    ? `cannot run \`${options.command}\`: working directory ${options.cwd} ${
      error.reason === "NotFound" ? "does not exist" : `is not accessible (${error.reason})`
    }`
    : `cannot start \`sh -c ${options.command}\`: ${error.message}`

const buildCommand = (options: ShellOptions): Effect.Effect<Either.Either<Command.Command, string>, never, Scope.Scope> => {
  const make = (argv: ReadonlyArray<string>, env: Readonly<Record<string, string>>) =>
    Command.make(argv[0]!, ...argv.slice(1)).pipe(
      Command.workingDirectory(options.cwd),
      Command.env(env, { extendEnv: false }),
      Command.feed(options.stdin ?? "")
    )
  const argv = ["sh", "-c", options.command]
  if (options.confine !== undefined) {
    return options.confine.confinement.wrap(argv, options.env ?? {}, options.confine.spec).pipe(
      Effect.map((confined) => Either.right(make(confined.argv, confined.env))),
      Effect.catchAll((error) => Effect.succeed(Either.left(`cannot run \`${options.command}\` confined: ${error.message}`)))
    )
  }
  return Effect.map(
    options.inheritEnv === false ? Effect.succeed({}) : inheritedEnv,
    (base) => Either.right(make(argv, { ...base, ...options.env }))
  )
}

/** `sh -c <command>` as a process group; a confinement that cannot be set up is a spawn failure (a Left reason). */
const runScoped = (options: ShellOptions, capture: OutputCapture) =>
  Effect.gen(function*() {
    const transcript = yield* openTranscript(options.transcriptFile)
    const built = yield* buildCommand(options)
    if (Either.isLeft(built)) return Either.left(built.left)
    const group = yield* spawnGroup(built.right, { timeoutMs: options.timeoutMs, graceMs: options.killGraceMs })
    if (group.pid !== null && options.onSpawn !== undefined) yield* options.onSpawn(group.pid)
    const onOutput = options.onOutput ?? Effect.void
    yield* group.consume(Stream.runForEach(
      Stream.merge(group.stdout, group.stderr),
      (chunk) =>
        Effect.sync(() => capture.push(chunk)).pipe(
          Effect.zipRight(transcript.write(chunk)),
          Effect.zipRight(onOutput)
        )
    ))
    const exit = yield* group.exit
    return exit._tag === "SpawnFailed" ? Either.left(describeSpawnFailure(options, exit.error)) : Either.right(exit)
  })

const resultOf = (
  options: ShellOptions,
  exit: Exclude<GroupExit, { readonly _tag: "SpawnFailed" }>,
  capture: OutputCapture,
  durationMs: number
): CommandResult => {
  const timedOut = exit._tag === "TimedOut"
  const exitCode = exit._tag === "Exited" ? exit.exitCode : null
  return CommandResult.make({
    command: options.command,
    exitCode,
    signal: exit.signal,
    timedOut,
    environmentFailure: exitCode === 126 || exitCode === 127 || timedOut || exit.signal !== null,
    durationMs,
    outputHead: capture.headText(),
    outputTail: capture.tailText()
  })
}

/**
 * Runs `sh -c <command>` and reports everything about the run, including the total output size.
 *
 * Never fails: a missing cwd or `sh`, a non-zero exit, a signal and a timeout are all described in the
 * `CommandResult` (`exitCode` null when the process did not exit on its own; `environmentFailure` for spawn
 * failures, exit 126/127, signals and timeouts). `durationMs` is measured with the Effect `Clock` (ms).
 * Interrupting the effect terminates the child's whole process group (SIGTERM, then SIGKILL after
 * `killGraceMs`); so does a timeout, and so does a normal exit for background processes the command left running
 * (they would otherwise hold the output pipe open). The timeout holds inside an uninterruptible region too (the end
 * of an attempt runs `before_remove` there). Memory is bounded by `headBytes + tailBytes`.
 */
export const execute = (options: ShellOptions): Effect.Effect<ShellRun, never, CommandExecutor.CommandExecutor> =>
  Effect.gen(function*() {
    const startedAt = yield* Clock.currentTimeMillis
    const capture = new OutputCapture(
      options.headBytes ?? DEFAULT_HEAD_BYTES,
      options.tailBytes ?? DEFAULT_TAIL_BYTES
    )
    const outcome = yield* Effect.scoped(runScoped(options, capture))
    const durationMs = (yield* Clock.currentTimeMillis) - startedAt
    if (Either.isLeft(outcome)) {
      return {
        result: CommandResult.make({
          command: options.command,
          exitCode: null,
          signal: null,
          timedOut: false,
          environmentFailure: true,
          durationMs,
          outputHead: outcome.left,
          outputTail: outcome.left
        }),
        outputBytes: 0,
        pid: null,
        spawnFailed: true
      }
    }
    return {
      result: resultOf(options, outcome.right, capture, durationMs),
      outputBytes: capture.total,
      pid: outcome.right.pid,
      spawnFailed: false
    }
  }).pipe(Effect.annotateLogs({ command: options.command, cwd: options.cwd }))

/**
 * Runs `sh -c <command>` in `cwd` and returns its `CommandResult` (see `execute` for the rules). Never fails;
 * interruption and timeouts kill the whole process group.
 */
export const runShell = (options: ShellOptions): Effect.Effect<CommandResult, never, CommandExecutor.CommandExecutor> =>
  Effect.map(execute(options), (run) => run.result)

/** Output of one git invocation. */
export interface GitOutput {
  readonly exitCode: number
  readonly stdout: string
  /** The last 16 KiB of stderr. */
  readonly stderr: string
  /** True when stdout was cut at `maxStdoutBytes`. */
  readonly truncated: boolean
}

const GIT_STDERR_BYTES = 16 * 1024

const gitFailure = (args: ReadonlyArray<string>, reason: string, cause?: unknown) =>
  new SandboxError({ operation: `git ${args.join(" ")}`, reason, ...(cause === undefined ? {} : { cause }) })

/** Options of {@link git} and {@link gitBytes}. */
export interface GitOptions {
  /** Most stdout bytes kept; the rest is drained and dropped (`truncated`). Default: all. */
  readonly maxStdoutBytes?: number | undefined
  /** Variables merged over the inherited environment. */
  readonly env?: Readonly<Record<string, string>> | undefined
  /** Text written to git's stdin, then closed (e.g. object names for `cat-file --batch`). Default: empty. */
  readonly stdin?: string | undefined
}

/** {@link GitOutput} with stdout as raw bytes (for blobs that need not be text). */
export interface GitBytesOutput extends Omit<GitOutput, "stdout"> {
  readonly stdout: Uint8Array
}

/**
 * `-c` options every git command Switchyard runs gets: no hooks at all (an agent that could write a repository's
 * hooks must not get code run by the runner: threat model A3), no fsmonitor command.
 */
export const GIT_SAFETY = ["-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false"]

/**
 * The environment of git in a repository Switchyard made itself (a sandbox's or a checkout's private repository):
 * no global or system config, so only the config Switchyard wrote counts (no user filters, no `url.*` rewrites).
 */
export const ISOLATED_GIT_ENV: Readonly<Record<string, string>> = { GIT_CONFIG_GLOBAL: "/dev/null", GIT_CONFIG_NOSYSTEM: "1" }

/**
 * Like {@link git}, but stdout is returned as raw bytes, undecoded (a symlink target or a blob may be any bytes,
 * and a UTF-8 decode would replace the invalid ones). Same failures.
 */
export const gitBytes = (
  args: ReadonlyArray<string>,
  cwd: string,
  options?: GitOptions
): Effect.Effect<GitBytesOutput, SandboxError, CommandExecutor.CommandExecutor> =>
  Effect.scoped(Effect.gen(function*() {
    const base = yield* inheritedEnv
    const command = Command.make("git", ...GIT_SAFETY, ...args).pipe(
      Command.workingDirectory(cwd),
      Command.env({ ...base, GIT_TERMINAL_PROMPT: "0", LC_ALL: "C", ...options?.env }, { extendEnv: false }),
      Command.feed(options?.stdin ?? "")
    )
    const group = yield* spawnGroup(command)
    const max = options?.maxStdoutBytes ?? Number.POSITIVE_INFINITY
    const chunks: Array<Uint8Array> = []
    let kept = 0
    let truncated = false
    const stderr = new OutputCapture(0, GIT_STDERR_BYTES)
    yield* group.consume(Stream.runForEach(group.stdout, (chunk) =>
      Effect.sync(() => {
        if (kept >= max) {
          truncated = truncated || chunk.length > 0
          return
        }
        const take = Math.min(chunk.length, max - kept)
        chunks.push(take === chunk.length ? chunk : chunk.subarray(0, take))
        kept += take
        if (take < chunk.length) truncated = true
      })))
    yield* group.consume(Stream.runForEach(group.stderr, (chunk) => Effect.sync(() => stderr.push(chunk))))
    const exit = yield* group.exit
    if (exit._tag === "SpawnFailed") {
      return yield* gitFailure(args, `cannot run git in ${cwd}: ${exit.error.message}`, exit.error)
    }
    if (exit._tag !== "Exited" || exit.exitCode === null) {
      return yield* gitFailure(args, `git was killed: ${exit.signal ?? "no exit status"}`)
    }
    return { exitCode: exit.exitCode, stdout: Buffer.concat(chunks), stderr: stderr.tailText(), truncated }
  }))

/**
 * Runs `git <args>` in `cwd` (no shell, hooks off: `GIT_SAFETY`) with GIT_TERMINAL_PROMPT=0 and LC_ALL=C, and returns its exit code,
 * stdout (cut at `maxStdoutBytes` when given, the rest is drained and dropped) and stderr.
 * A non-zero exit is not a failure here. Fails `SandboxError` only when git cannot be started (or cwd is missing),
 * or dies from a signal. Interruption terminates the git process group.
 */
export const git = (
  args: ReadonlyArray<string>,
  cwd: string,
  options?: GitOptions
): Effect.Effect<GitOutput, SandboxError, CommandExecutor.CommandExecutor> =>
  Effect.map(gitBytes(args, cwd, options), (out) => ({
    ...out,
    stdout: new TextDecoder().decode(out.stdout, { stream: true })
  }))

/**
 * Runs `git <args>` in `cwd` and returns its stdout. Fails `SandboxError` (operation `git <args>`, reason = git's
 * stderr) when git exits non-zero or cannot be started.
 */
export const runGit = (
  args: ReadonlyArray<string>,
  cwd: string
): Effect.Effect<string, SandboxError, CommandExecutor.CommandExecutor> =>
  Effect.flatMap(git(args, cwd), (out) =>
    out.exitCode === 0
      ? Effect.succeed(out.stdout)
      : Effect.fail(gitFailure(args, out.stderr.trim() === "" ? `exited ${out.exitCode}` : out.stderr.trim())))

/**
 * The local branches of the repo at `cwd` with the commit each points at: short name (`switchyard/SY-1`) → full
 * commit hash, from one `git for-each-ref` (refname + objectname): one process for any number of lookups, so a
 * caller can tell a missing branch from a rewritten one. With `remotes`, a remote-tracking branch no local branch
 * shadows counts too, under its branch name (`refs/remotes/origin/switchyard/SY-1` → `switchyard/SY-1`): on a
 * runner host where a PR_READY branch was pushed from another host and only fetched (docs/scale.md). Fails
 * `SandboxError` like {@link runGit}.
 */
export const localBranches = (
  cwd: string,
  options: { readonly remotes?: boolean | undefined } = {}
): Effect.Effect<ReadonlyMap<string, string>, SandboxError, CommandExecutor.CommandExecutor> =>
  Effect.map(
    runGit(["for-each-ref", "--format=%(objectname) %(refname)", "refs/heads/", ...(options.remotes === true ? ["refs/remotes/"] : [])], cwd),
    (out) => {
      const local = new Map<string, string>()
      const remote = new Map<string, string>()
      for (const line of out.split("\n")) {
        const space = line.indexOf(" ")
        if (space <= 0) continue
        const ref = line.slice(space + 1)
        const commit = line.slice(0, space)
        if (ref.startsWith("refs/heads/")) local.set(ref.slice("refs/heads/".length), commit)
        else if (ref.startsWith("refs/remotes/")) {
          // refs/remotes/<remote>/<branch>: the first remote seen names the branch (HEAD pointers skipped).
          const rest = ref.slice("refs/remotes/".length)
          const name = rest.slice(rest.indexOf("/") + 1)
          if (rest.includes("/") && name !== "HEAD" && !remote.has(name)) remote.set(name, commit)
        }
      }
      for (const [name, commit] of remote) if (!local.has(name)) local.set(name, commit)
      return local
    }
  )
