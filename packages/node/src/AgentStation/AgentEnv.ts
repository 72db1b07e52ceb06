/**
 * The agent's environment: an allow-list, never the runner's whole environment. An agent runs model-written
 * shell commands, so it must not see the runner's tokens and keys unless WORKFLOW.md names them in `agent.env`.
 * (What is redacted from what a station writes is the `Redactor`'s business: EnvRedactor.)
 */
import { GIT_LOCATION_VARS } from "../internal/spawn.js"

/** Variables every agent gets from the runner when they are set: what a shell and a toolchain need to work. */
export const BASE_ENV_NAMES: ReadonlyArray<string> = ["PATH", "HOME", "USER", "SHELL", "LANG", "LC_ALL", "TERM", "TMPDIR"]

/**
 * The whole environment of an agent process, in three layers: the station's `defaults` (e.g.
 * `CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1`); over them `BASE_ENV_NAMES` and the `allow`ed names copied from
 * `runnerEnv` (unset or empty ones are skipped; git location variables never pass); over those `fixed`, the
 * station's own variables (`SWITCHYARD_*`, `ANTHROPIC_BASE_URL` from `agent.base_url`). Pure.
 */
export const agentEnv = (
  allow: ReadonlyArray<string>,
  runnerEnv: Readonly<Record<string, string | undefined>>,
  fixed: Readonly<Record<string, string>>,
  defaults: Readonly<Record<string, string>> = {}
): Record<string, string> => {
  const env: Record<string, string> = { ...defaults }
  for (const name of [...BASE_ENV_NAMES, ...allow]) {
    const value = runnerEnv[name]
    if (value !== undefined && value !== "" && !GIT_LOCATION_VARS.has(name)) env[name] = value
  }
  return { ...env, ...fixed }
}

/**
 * Variables every confined hook and verification command gets from the runner when set (on top of the names
 * `hooks.env` / `verify.env` allow): what a shell and a toolchain need, nothing that could be a secret. HOME and
 * TMPDIR are set by the confinement (a private HOME, the private /tmp).
 */
export const CONFINED_BASE_ENV_NAMES: ReadonlyArray<string> = ["PATH", "LANG", "LC_ALL", "LC_CTYPE", "TERM", "TZ", "USER"]

/**
 * The environment of a confined hook or verification command: `CONFINED_BASE_ENV_NAMES` and the `allow`ed names
 * copied from `runnerEnv` (never git location variables), then `fixed`. Pure.
 */
export const confinedEnv = (
  allow: ReadonlyArray<string>,
  runnerEnv: Readonly<Record<string, string | undefined>>,
  fixed: Readonly<Record<string, string>> = {}
): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const name of [...CONFINED_BASE_ENV_NAMES, ...allow]) {
    const value = runnerEnv[name]
    if (value !== undefined && value !== "" && !GIT_LOCATION_VARS.has(name)) env[name] = value
  }
  return { ...env, ...fixed }
}
