/**
 * The run transcript: `<runDir>/transcript.jsonl`, one JSON object per line, appended while the agent runs.
 * Secrets are redacted before a line is written. A revision turn appends to the same file, so every turn of an
 * attempt is in it.
 *
 * Line shapes (all have `at`, epoch ms, and `turn`: 0 for the first run, then the revision number):
 * - `{"type":"run.started","station","command","resume"}`: the command line (shell-quoted) and the session
 *   resumed, or null;
 * - `{"type":"event","event":{"_tag":...}}`: one decoded `AgentEvent`;
 * - `{"type":"stdout"|"stderr","text"}`: a raw output line (the command station's output, the CLIs' stderr);
 * - `{"type":"cut","lines","bytes"}`: output lines left out between the head and the tail (see below);
 * - `{"type":"run.ended","exitCode","signal","timedOut","stopped"}`.
 *
 * Bounded (threat model A17: a flood of 200 MB left 166 MB on disk, read at ~1 MB/s): each run keeps the first
 * `headBytes` of its output lines as they come, then only the last `tailBytes` in memory, written when the run
 * ends after one `cut` line; `run.started`, `run.ended` and the `cut` line itself are always written. A line that
 * will not be kept is never rendered (no JSON encoding, no redaction); the kept tail is rendered once, at the
 * end. Writes go through one writer fiber that takes everything queued while the previous write ran, so a flood
 * costs one write per batch, not one per line.
 */
import { FileSystem } from "@effect/platform"
import { Chunk, Clock, Effect, Fiber, Queue, type Scope } from "effect"
import { cutUtf8 } from "./AgentEvent.js"

/** File name (in `runDir`) of the JSONL transcript. */
export const TRANSCRIPT_FILE = "transcript.jsonl"

/** An open transcript. */
export interface Transcript {
  /** The file, or null when it could not be opened (appends are then dropped). */
  readonly path: string | null
  /**
   * Appends one line `{at, turn, ...entry}`, redacted, that is always kept (`run.started`, `run.ended`): after the
   * cut marker and the kept tail, if output was cut. A write failure is logged once; later lines are dropped.
   */
  readonly append: (entry: Readonly<Record<string, unknown>>) => Effect.Effect<void>
  /**
   * Records one output line `{at, turn, ...entry()}`, kept only within the limits. `bytes` is the size of the agent
   * output it stands for (the `cut` line adds them up); `entry` is called (and the line redacted) only when the
   * line is written.
   */
  readonly record: (bytes: number, entry: () => Readonly<Record<string, unknown>>) => Effect.Effect<void>
  /**
   * Records one raw output line as `{"type": stream, "text"}`, kept only within the limits; when it is written the
   * text is redacted, then cut to 4 KiB (`maxKeptBytes`). `bytes` as for `record`.
   */
  readonly recordLine: (bytes: number, stream: "stdout" | "stderr", text: string) => Effect.Effect<void>
}

/** How much of one run's output a run file keeps, in bytes as written: the first `headBytes`, the last `tailBytes`. */
export interface LogLimits {
  readonly headBytes: number
  readonly tailBytes: number
}

/** `agent.max_log_bytes` (bytes) split in two: the first half for the head, the rest for the tail. */
export const logLimits = (maxLogBytes: number): LogLimits => {
  const headBytes = Math.floor(Math.max(0, maxLogBytes) / 2)
  return { headBytes, tailBytes: Math.max(0, maxLogBytes) - headBytes }
}

/** What a run file left out between its head and its tail: output lines and the bytes of output they stood for. */
export interface Cut {
  readonly lines: number
  readonly bytes: number
}

const encoder = new TextEncoder()

/** A text file opened for appending. */
export interface Appender {
  /** The file, or null when it could not be opened (writes are then dropped). */
  readonly path: string | null
  /**
   * Queues `text` to be appended as is, in order; it is on disk soon after (the writer batches what was queued
   * while it wrote) and at the latest when the scope closes. A write failure is logged once; later writes are dropped.
   */
  readonly write: (text: string) => Effect.Effect<void>
}

/**
 * Opens `path` for appending for the life of the scope (its directory must exist). Never fails: a file that
 * cannot be opened is logged and gives an appender whose `path` is null. Closing the scope waits for what was
 * queued to be written.
 */
export const openAppender = (path: string): Effect.Effect<Appender, never, FileSystem.FileSystem | Scope.Scope> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const opened = yield* Effect.either(fs.open(path, { flag: "a" }))
    if (opened._tag === "Left") {
      yield* Effect.logWarning("cannot open a run file for appending; it is not recorded").pipe(
        Effect.annotateLogs({ file: path, cause: opened.left.message })
      )
      return { path: null, write: () => Effect.void } satisfies Appender
    }
    const file = opened.right
    let broken = false
    const writeNow = (text: string): Effect.Effect<void> =>
      broken || text === "" ? Effect.void : file.writeAll(encoder.encode(text)).pipe(
        Effect.catchAll((error) => {
          broken = true
          return Effect.logWarning("a run file write failed; the rest is not recorded").pipe(
            Effect.annotateLogs({ file: path, cause: error.message })
          )
        })
      )
    // null ends the writer. Unbounded, but only bounded amounts are ever queued (see BoundedFile).
    const queue = yield* Queue.unbounded<string | null>()
    const writer = yield* Effect.gen(function*() {
      for (;;) {
        const batch = Chunk.toReadonlyArray(yield* Queue.takeBetween(queue, 1, 4096))
        const end = batch.indexOf(null)
        yield* writeNow((end === -1 ? batch : batch.slice(0, end)).join(""))
        if (end !== -1) return
      }
    }).pipe(Effect.forkScoped)
    // Runs before the file is closed (finalizers run in reverse order).
    yield* Effect.addFinalizer(() => Queue.offer(queue, null).pipe(Effect.zipRight(Fiber.join(writer))))
    return { path, write: (text) => Queue.offer(queue, text).pipe(Effect.asVoid) } satisfies Appender
  })

/** Bytes per kept tail line on top of its text, for the memory bound (the record and its value). */
const LINE_OVERHEAD = 64

/**
 * The newest output lines, within a byte budget: what a run file keeps once its head is full. Lines are held
 * unrendered (`value`, rendered with the file's `render` only if written); the oldest go as new ones come.
 * Mutable, private to one run file.
 */
class TailLines<V> {
  private lines: Array<{ readonly bytes: number; readonly value: V } | undefined> = []
  private start = 0
  private held = 0
  private cutLines = 0
  private cutBytes = 0

  constructor(readonly budget: number) {}

  push(bytes: number, value: V): void {
    this.lines.push({ bytes, value })
    this.held += bytes + LINE_OVERHEAD
    while (this.held > this.budget && this.start < this.lines.length) {
      const oldest = this.lines[this.start]!
      this.lines[this.start] = undefined
      this.start += 1
      this.held -= oldest.bytes + LINE_OVERHEAD
      this.cutLines += 1
      this.cutBytes += oldest.bytes
    }
    if (this.start > 1024 && this.start * 2 > this.lines.length) {
      this.lines = this.lines.slice(this.start)
      this.start = 0
    }
  }

  get empty(): boolean {
    return this.start >= this.lines.length && this.cutLines === 0
  }

  /**
   * Renders the newest lines that fit in the budget (in bytes as written), oldest first, and empties the tail.
   * `cut` counts every line that was pushed and is not in `texts`.
   */
  drain(render: (value: V) => string): { readonly texts: ReadonlyArray<string>; readonly cut: Cut } {
    const texts: Array<string> = []
    let used = 0
    let lines = this.cutLines
    let bytes = this.cutBytes
    for (let i = this.lines.length - 1; i >= this.start; i--) {
      const line = this.lines[i]!
      // Once a line does not fit, every older one is cut too: the tail stays one piece.
      const text = lines > this.cutLines ? null : render(line.value)
      const size = text === null ? 0 : Buffer.byteLength(text, "utf8")
      if (text === null || used + size > this.budget) {
        lines += 1
        bytes += line.bytes
      } else {
        used += size
        texts.push(text)
      }
    }
    this.lines = []
    this.start = 0
    this.held = 0
    this.cutLines = 0
    this.cutBytes = 0
    return { texts: texts.reverse(), cut: { lines, bytes } }
  }
}

/**
 * The head/tail state of one run file: lines go to the head while it has room, then to the tail. Mutable,
 * private to one run file; its methods are called from inside the file's effects.
 */
class HeadTail<V> {
  private written = 0
  private cutting = false
  private readonly tail: TailLines<V>

  constructor(readonly limits: LogLimits, readonly render: (value: V) => string) {
    this.tail = new TailLines<V>(limits.tailBytes)
  }

  /** Takes one line: its text when it goes to the head now, else null (held for the tail, or cut later). */
  take(bytes: number, value: V): string | null {
    if (!this.cutting) {
      const text = this.render(value)
      const size = Buffer.byteLength(text, "utf8")
      if (this.written + size <= this.limits.headBytes) {
        this.written += size
        return text
      }
      this.cutting = true
    }
    this.tail.push(bytes, value)
    return null
  }

  /** The kept tail, rendered, and what was cut; null when nothing is held. Empties the tail. */
  drain(): { readonly text: string; readonly cut: Cut } | null {
    if (this.tail.empty) return null
    const { cut, texts } = this.tail.drain(this.render)
    return { text: texts.join(""), cut }
  }
}

/** A run file that keeps the head and the tail of one run's output (see the module docs). */
export interface BoundedFile {
  /** The file, or null when it could not be opened. */
  readonly path: string | null
  /**
   * One output line, as text to be redacted with the file's `redact` and written with a newline: written now
   * while the head has room, else held for the tail. `bytes` is the agent output it stands for (for the marker).
   */
  readonly add: (bytes: number, line: string) => Effect.Effect<void>
}

/**
 * Writes the held tail of `state` to `appender` after a marker line (only when lines were cut). The scope's
 * finalizer does it for a run that ends without a last control line (the text log) or is interrupted.
 */
const flushTail = <V>(
  appender: Appender,
  state: HeadTail<V>,
  marker: (cut: Cut) => Effect.Effect<string>
): Effect.Effect<void> =>
  Effect.suspend(() => {
    const drained = state.drain()
    if (drained === null) return Effect.void
    return (drained.cut.lines > 0 ? marker(drained.cut) : Effect.succeed("")).pipe(
      Effect.flatMap((line) => appender.write(line + drained.text))
    )
  })

/**
 * Opens the text log `path` (e.g. `agent.log`) for appending, bounded by `limits`, for the life of the scope: each
 * line is redacted with `redact` when it is written; `marker` gives the line written where output was cut. When
 * the scope closes the kept tail is written, after the marker. Never fails (see `openAppender`).
 */
export const openBounded = (
  path: string,
  limits: LogLimits,
  redact: (text: string) => string,
  marker: (cut: Cut) => string
): Effect.Effect<BoundedFile, never, FileSystem.FileSystem | Scope.Scope> =>
  Effect.gen(function*() {
    const appender = yield* openAppender(path)
    if (appender.path === null) return { path: null, add: () => Effect.void } satisfies BoundedFile
    const state = new HeadTail<string>(limits, (line) => `${redact(line)}\n`)
    // Runs before the appender's own finalizer, which waits for the queue.
    yield* Effect.addFinalizer(() => flushTail(appender, state, (cut) => Effect.succeed(marker(cut))))
    return {
      path: appender.path,
      add: (bytes, line) =>
        Effect.suspend(() => {
          const text = state.take(bytes, line)
          return text === null ? Effect.void : appender.write(text)
        })
    } satisfies BoundedFile
  })

/** A transcript line not yet rendered: when it was seen, and either an output line or an entry to encode. */
type Pending =
  | { readonly at: number; readonly stream: "stdout" | "stderr"; readonly text: string }
  | { readonly at: number; readonly stream: null; readonly entry: () => Readonly<Record<string, unknown>> }

/**
 * Opens the transcript `path` for appending for the life of the scope (its directory must exist), bounded by
 * `limits`. `turn` is written on every line; `redact` is applied to each serialized line that is written. Never
 * fails: a file that cannot be opened is logged and gives a transcript whose `path` is null.
 */
export const open = (
  path: string,
  turn: number,
  redact: (text: string) => string,
  limits: LogLimits
): Effect.Effect<Transcript, never, FileSystem.FileSystem | Scope.Scope> =>
  Effect.gen(function*() {
    const appender = yield* openAppender(path)
    const clock = yield* Effect.clock
    const line = (value: Readonly<Record<string, unknown>>) => `${redact(JSON.stringify(value))}\n`
    const state = new HeadTail<Pending>(limits, (p) =>
      p.stream === null
        ? line({ at: p.at, turn, ...p.entry() })
        : line({ at: p.at, turn, type: p.stream, text: cutUtf8(redact(p.text)) }))
    const marker = (cut: Cut) => Effect.map(Clock.currentTimeMillis, (at) => line({ at, turn, type: "cut", ...cut }))
    const flush = flushTail(appender, state, marker)
    yield* Effect.addFinalizer(() => flush)
    const take = (bytes: number, pending: Pending): Effect.Effect<void> => {
      const text = state.take(bytes, pending)
      return text === null ? Effect.void : appender.write(text)
    }
    return {
      path: appender.path,
      append: (entry) =>
        Effect.flatMap(Clock.currentTimeMillis, (at) => Effect.zipRight(flush, appender.write(line({ at, turn, ...entry })))),
      record: (bytes, entry) =>
        Effect.suspend(() => take(bytes, { at: clock.unsafeCurrentTimeMillis(), stream: null, entry })),
      recordLine: (bytes, stream, text) =>
        Effect.suspend(() => take(bytes, { at: clock.unsafeCurrentTimeMillis(), stream, text }))
    } satisfies Transcript
  })
