/** The record of one shell command the factory ran itself (reproduction, validation, hook). */
import { Schema } from "effect"

export class CommandResult extends Schema.Class<CommandResult>("CommandResult")({
  command: Schema.String,
  /** Null when the process did not exit on its own (killed by a signal, timed out, or failed to spawn). */
  exitCode: Schema.NullOr(Schema.Int),
  signal: Schema.NullOr(Schema.String),
  timedOut: Schema.Boolean,
  /** True when the command could not run at all: not found (127), not executable (126), a signal, a timeout. */
  environmentFailure: Schema.Boolean,
  durationMs: Schema.Number,
  /** First bytes of combined stdout+stderr (at most a few KiB). */
  outputHead: Schema.String,
  /** Last bytes of combined stdout+stderr (at most a few KiB). */
  outputTail: Schema.String
}) {
  get passed(): boolean {
    return this.exitCode === 0 && !this.environmentFailure
  }
}

/**
 * One phrase for how a command ended, for verdict reasons and reports: `` `cmd` exited 1 ``, `` `cmd` timed out ``,
 * or `` `cmd` was killed (SIGKILL) `` when it has no exit code.
 */
export const describeResult = (r: CommandResult): string =>
  r.timedOut
    ? `\`${r.command}\` timed out`
    : r.exitCode === null
    ? `\`${r.command}\` was killed (${r.signal ?? "no exit code"})`
    : `\`${r.command}\` exited ${r.exitCode}`
