/**
 * Reading files an agent could have written (its io directory): never through a symlink, only regular files, and
 * never more than a limit. Read as the runner, a symlink planted there would otherwise hand the runner's own files
 * (its signing key, its environment) to the evidence.
 * @internal
 */
import { Effect } from "effect"
import * as NodeFs from "node:fs"

/** Why a hostile file was not read. */
export type UnreadableReason = "missing" | "not_regular" | "too_large" | "unreadable"

/**
 * The text of `path` when it is a regular file (not a symlink, FIFO or device) of at most `maxBytes`. Opens with
 * `O_NOFOLLOW | O_NONBLOCK` and checks the opened descriptor, so a swap between check and read cannot redirect it.
 */
export const readRegularFile = (
  path: string,
  maxBytes: number
): Effect.Effect<{ readonly _tag: "Text"; readonly text: string } | { readonly _tag: "Unreadable"; readonly reason: UnreadableReason; readonly detail: string }> =>
  Effect.acquireUseRelease(
    Effect.try(() => NodeFs.openSync(path, NodeFs.constants.O_RDONLY | NodeFs.constants.O_NOFOLLOW | NodeFs.constants.O_NONBLOCK)).pipe(
      Effect.either
    ),
    (opened) =>
      Effect.sync(() => {
        if (opened._tag === "Left") {
          const code = (opened.left.error as NodeJS.ErrnoException).code
          return code === "ENOENT"
            ? { _tag: "Unreadable" as const, reason: "missing" as const, detail: "it does not exist" }
            : code === "ELOOP"
            ? { _tag: "Unreadable" as const, reason: "not_regular" as const, detail: "it is a symbolic link" }
            : { _tag: "Unreadable" as const, reason: "unreadable" as const, detail: String(opened.left.error) }
        }
        const stat = NodeFs.fstatSync(opened.right)
        if (!stat.isFile()) return { _tag: "Unreadable" as const, reason: "not_regular" as const, detail: "it is not a regular file" }
        if (stat.size > maxBytes) {
          return { _tag: "Unreadable" as const, reason: "too_large" as const, detail: `it is ${stat.size} bytes; the limit is ${maxBytes}` }
        }
        const buffer = Buffer.alloc(Math.min(stat.size, maxBytes) + 1)
        const n = NodeFs.readSync(opened.right, buffer, 0, buffer.length, 0)
        if (n > maxBytes) return { _tag: "Unreadable" as const, reason: "too_large" as const, detail: `it grew past ${maxBytes} bytes` }
        return { _tag: "Text" as const, text: buffer.subarray(0, n).toString("utf8") }
      }),
    (opened) => opened._tag === "Right" ? Effect.sync(() => NodeFs.closeSync(opened.right)) : Effect.void
  )
