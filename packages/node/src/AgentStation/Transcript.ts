/**
 * The run transcript: `<runDir>/transcript.jsonl`, one JSON object per line, appended while the agent runs (each
 * line is written before the next one is read, so a crash loses nothing already seen). Secrets are redacted
 * before a line is written. A revision turn appends to the same file, so every turn of an attempt is in it.
 *
 * Line shapes (all have `at`, epoch ms, and `turn`: 0 for the first run, then the revision number):
 * - `{"type":"run.started","station","command","resume"}`: the command line (shell-quoted) and the session
 *   resumed, or null;
 * - `{"type":"event","event":{"_tag":...}}`: one decoded `AgentEvent`;
 * - `{"type":"stdout"|"stderr","text"}`: a raw output line (the command station's output, the CLIs' stderr);
 * - `{"type":"run.ended","exitCode","signal","timedOut","stopped"}`.
 */
import { FileSystem } from "@effect/platform"
import { Clock, Effect, type Scope } from "effect"

/** File name (in `runDir`) of the JSONL transcript. */
export const TRANSCRIPT_FILE = "transcript.jsonl"

/** An open transcript. */
export interface Transcript {
  /** The file, or null when it could not be opened (appends are then dropped). */
  readonly path: string | null
  /** Appends one line `{at, turn, ...entry}`, redacted. A write failure is logged once; later lines are dropped. */
  readonly append: (entry: Readonly<Record<string, unknown>>) => Effect.Effect<void>
}

const encoder = new TextEncoder()

/** A text file opened for appending. */
export interface Appender {
  /** The file, or null when it could not be opened (writes are then dropped). */
  readonly path: string | null
  /** Appends `text` as is. A write failure is logged once; later writes are dropped. */
  readonly write: (text: string) => Effect.Effect<void>
}

/**
 * Opens `path` for appending for the life of the scope (its directory must exist). Never fails: a file that
 * cannot be opened is logged and gives an appender whose `path` is null.
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
    const write = (text: string): Effect.Effect<void> =>
      broken ? Effect.void : file.writeAll(encoder.encode(text)).pipe(
        Effect.catchAll((error) => {
          broken = true
          return Effect.logWarning("a run file write failed; the rest is not recorded").pipe(
            Effect.annotateLogs({ file: path, cause: error.message })
          )
        })
      )
    return { path, write } satisfies Appender
  })

/**
 * Opens the transcript `path` for appending for the life of the scope (its directory must exist). `turn` is
 * written on every line; `redact` is applied to each serialized line. Never fails: a file that cannot be opened
 * is logged and gives a transcript whose `path` is null.
 */
export const open = (
  path: string,
  turn: number,
  redact: (text: string) => string
): Effect.Effect<Transcript, never, FileSystem.FileSystem | Scope.Scope> =>
  Effect.map(openAppender(path), (appender) => ({
    path: appender.path,
    append: (entry) =>
      Effect.flatMap(Clock.currentTimeMillis, (at) => appender.write(redact(JSON.stringify({ at, turn, ...entry })) + "\n"))
  }))
