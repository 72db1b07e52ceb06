/**
 * ProgramProbe: is a program there, the way `sh -c` would find it? The node half of `run`'s preflight (core's
 * `preflight` takes it as its `found` probe). Reads the file system only; never runs the program.
 */
import { Effect } from "effect"
import * as NodeFs from "node:fs"
import * as nodePath from "node:path"

/** True when `file` is a regular file (after symlinks) this process may execute. */
const isExecutableFile = (file: string): Effect.Effect<boolean> =>
  Effect.try(() => {
    if (!NodeFs.statSync(file).isFile()) return false
    NodeFs.accessSync(file, NodeFs.constants.X_OK)
    return true
  }).pipe(Effect.orElseSucceed(() => false))

/**
 * Whether `program` can be run: a name without `/` must be an executable file in one of `PATH`'s directories
 * (`options.path`, default `process.env.PATH`; an empty entry is `cwd`, as in sh); a path (`./x`, `bin/x`, `/usr/bin/x`)
 * must be an executable file, a relative one taken from `options.cwd` (the repository's top level: the agent and the
 * verification commands run in a checkout of it). Never fails.
 */
export const found = (
  program: string,
  options: { readonly cwd: string; readonly path?: string | undefined }
): Effect.Effect<boolean> => {
  if (program.includes("/")) return isExecutableFile(nodePath.resolve(options.cwd, program))
  const dirs = (options.path ?? process.env.PATH ?? "").split(nodePath.delimiter)
  return Effect.reduce(dirs, false, (hit, dir) =>
    hit ? Effect.succeed(true) : isExecutableFile(nodePath.join(dir === "" ? options.cwd : nodePath.resolve(options.cwd, dir), program)))
}
