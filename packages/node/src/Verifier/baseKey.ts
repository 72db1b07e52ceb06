/**
 * The key a base run is remembered under (`BaseResults`): a SHA-256 over everything the run's result depends on,
 * so that a changed input is a different key rather than a stale hit (issue 12 item 3).
 */
import { createHash } from "node:crypto"

/** What one run on a base depends on. */
export interface BaseRunInputs {
  /** `validation_base` or `reproduction_base`: the same command in either role is keyed apart. */
  readonly phase: string
  readonly baseCommit: string
  readonly commands: ReadonlyArray<string>
  /** Per-command timeout (ms): a longer limit can turn a timeout into a result. */
  readonly timeoutMs: number
  /** The checkout's `hooks.after_create` (the install), or null. */
  readonly afterCreate: string | null
  /** The environment the commands get (the confined variables with their values, and the change variables). */
  readonly env: Readonly<Record<string, string>>
}

/** The change variables (`SWITCHYARD_CHANGED_FILES`, …) differ per issue; they are keyed only where read. */
const CHANGE_VAR = /^SWITCHYARD_/

/**
 * The key for `inputs`: hex SHA-256 of a canonical JSON of them. The change variables (`SWITCHYARD_*`) count only
 * when a command or the hook names one (`pnpm --filter "...[$SWITCHYARD_BASE_SHA]" test` does; `pnpm test` does
 * not), so a whole-suite validation is shared by every issue on the base while a filtered one is not. A script
 * that reads them without naming them on its command line must be named in the command, or set
 * `verify.base_cache: false` (docs/workflow.md).
 */
export const baseKey = (inputs: BaseRunInputs): string => {
  const text = [...inputs.commands, inputs.afterCreate ?? ""].join("\n")
  const readsChange = text.includes("SWITCHYARD_")
  const env = Object.entries(inputs.env)
    .filter(([name]) => readsChange || !CHANGE_VAR.test(name))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  const canonical = JSON.stringify({
    v: 1,
    phase: inputs.phase,
    base: inputs.baseCommit,
    commands: inputs.commands,
    timeoutMs: inputs.timeoutMs,
    afterCreate: inputs.afterCreate,
    env
  })
  return createHash("sha256").update(canonical).digest("hex")
}
