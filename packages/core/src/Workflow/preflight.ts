/**
 * Preflight: what `switchyard run` checks in the workflow before it claims anything, so a config that cannot work
 * is refused once, at start-up, instead of burning an attempt on every eligible issue (docs/workflow.md,
 * "Preflight"). Pure over the config; whether a program exists is asked through the `found` probe the caller passes
 * (on Node, `ProgramProbe.found` in @switchyard/node). Nothing here runs an agent, a hook or a command.
 */
import type { AgentConfig, TrackerConfig, WorkflowDefinition } from "@switchyard/domain"
import { Effect, Schema } from "effect"
import { firstInvalidRoute } from "../AgentStation/routing.js"
import { AGENT_COMMAND_PLACEHOLDER_MESSAGE } from "./template.js"

/** One reason to refuse: the dotted key (`agent.command`, `verify.validation.0`) and a sentence. */
export const PreflightProblem = Schema.Struct({ key: Schema.String, reason: Schema.String })
export type PreflightProblem = typeof PreflightProblem.Type

/**
 * The workflow cannot work: `run` refuses to start (exit 2, one line per problem, nothing claimed). Each line is
 * `<path> (<key>): <reason>`.
 */
export class PreflightFailed extends Schema.TaggedError<PreflightFailed>()("PreflightFailed", {
  path: Schema.String,
  problems: Schema.Array(PreflightProblem)
}) {
  override get message() {
    return this.problems.map((p) => `${this.path} (${p.key}): ${p.reason}`).join("\n")
  }
}

/** Shell words whose program cannot be told from the word (builtins and keywords): not probed. */
const SHELL_WORDS = new Set([
  "!", ".", ":", "[", "[[", "{", "(", "alias", "break", "builtin", "case", "cd", "continue", "declare", "echo", "eval",
  "exit", "export", "false", "for", "function", "getopts", "hash", "if", "kill", "let", "local", "printf", "pwd",
  "read", "readonly", "return", "select", "set", "shift", "source", "test", "time", "trap", "true", "type", "typeset",
  "ulimit", "umask", "unset", "until", "wait", "while"
])

const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=[^\s;|&'"`$()<>]*\s+/
const PLAIN_WORD = /^[^\s;|&<>()'"`]+/

/**
 * The program a shell command starts (what `sh -c` would look up first), or null when that cannot be told without
 * running a shell: an empty command, a comment, a builtin or keyword (`cd x && ...`, `if ...`), a word built from
 * an expansion (`$X`, `` `x` ``, `~`, a glob). Leading `NAME=value` assignments and one `exec` are skipped; a quoted
 * first word is unquoted. Pure.
 */
export const commandProgram = (command: string): string | null => {
  let rest = command.trimStart()
  for (let m = ASSIGNMENT.exec(rest); m !== null; m = ASSIGNMENT.exec(rest)) rest = rest.slice(m[0].length)
  let word: string | null
  if (rest.startsWith("'")) {
    const end = rest.indexOf("'", 1)
    word = end === -1 ? null : rest.slice(1, end)
  } else if (rest.startsWith("\"")) {
    const end = rest.indexOf("\"", 1)
    word = end === -1 ? null : rest.slice(1, end)
    if (word !== null && /[$`\\]/.test(word)) word = null
  } else {
    word = PLAIN_WORD.exec(rest)?.[0] ?? null
  }
  if (word === null || word === "" || word.startsWith("#")) return null
  if (/[$`*?[\]{}~\\=]/.test(word)) return null
  if (word === "exec") {
    const after = rest.slice(4)
    return /^\s/.test(after) ? commandProgram(after) : null
  }
  return SHELL_WORDS.has(word) ? null : word
}

/** A station that can run: its key prefix for messages and its merged config. */
interface Station {
  /** `agent` for the default station, `agents.<name>` for a routed one. */
  readonly prefix: string
  readonly agent: AgentConfig
  /** False for an `agents.<name>` that sets neither `kind` nor `command`: it runs what `agent:` runs. */
  readonly ownsCommand: boolean
}

/** The default station and every station a route names, merged over `agent:` as `Routing.resolve` does. */
const stations = (def: WorkflowDefinition): ReadonlyArray<Station> => {
  const config = def.config
  const named = [...new Set(config.routes.map((r) => r.agent))].filter((name) => Object.prototype.hasOwnProperty.call(config.agents, name))
  return [
    { prefix: "agent", agent: config.agent, ownsCommand: true },
    ...named.map((name) => {
      const override = config.agents[name]!
      const defined = Object.fromEntries(Object.entries(override).filter(([, value]) => value !== undefined))
      return {
        prefix: `agents.${name}`,
        agent: { ...config.agent, ...defined } as AgentConfig,
        ownsCommand: override.command !== undefined || override.kind !== undefined
      }
    })
  ]
}

/** What to probe: a key, the program, and the sentence to say when it is not there. */
interface Probe {
  readonly key: string
  readonly program: string
  readonly missing: string
}

const notFound = (program: string, where: string) =>
  program.includes("/")
    ? `${JSON.stringify(program)}${where} is not an executable file (a relative path is taken from the repository's top level)`
    : `${JSON.stringify(program)}${where} is not found on PATH`

/** Hosts a plain-`http://` API URL may name: loopback only (a twin on this machine). */
const LOOPBACK = new Set(["127.0.0.1", "[::1]", "localhost"])

/**
 * The problems of `tracker:` that need no I/O (docs/trackers.md): `linear` without `project_slug` or active states,
 * `fp` with `required_labels` (fp issues carry no labels), `github` without `repo: owner/name`, an `api_url` that is not a URL, or is plain `http://` on a host that
 * is not loopback (the token would cross the network in clear). Pure.
 */
export const trackerProblems = (tracker: TrackerConfig): ReadonlyArray<PreflightProblem> => {
  const problems: Array<PreflightProblem> = []
  if (tracker.kind === "linear" && (tracker.project_slug === null || tracker.project_slug.trim() === "")) {
    problems.push({
      key: "tracker.project_slug",
      reason: "is not set; tracker.kind linear needs the project's slug (the last part of its URL, e.g. my-project-0123abcd)"
    })
  }
  if (tracker.kind === "linear" && tracker.active_states.every((s) => s.trim() === "")) {
    problems.push({ key: "tracker.active_states", reason: "names no state, so no issue could be dispatched" })
  }
  if (tracker.kind === "fp" && tracker.required_labels.length > 0) {
    problems.push({
      key: "tracker.required_labels",
      reason: "fp issues carry no labels, so no issue could be dispatched: remove required_labels for tracker.kind fp"
    })
  }
  if (tracker.kind === "github" && (tracker.repo === null || !/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/.test(tracker.repo))) {
    problems.push({
      key: "tracker.repo",
      reason: tracker.repo === null ? "is not set; tracker.kind github needs the repository as owner/name" : `${JSON.stringify(tracker.repo)} is not owner/name`
    })
  }
  if (tracker.api_url !== null && tracker.kind !== "switchyard") {
    const url = URL.canParse(tracker.api_url) ? new URL(tracker.api_url) : null
    if (url === null || (url.protocol !== "https:" && url.protocol !== "http:")) {
      problems.push({ key: "tracker.api_url", reason: `${JSON.stringify(tracker.api_url)} is not an http(s) URL` })
    } else if (url.protocol === "http:" && !LOOPBACK.has(url.hostname)) {
      problems.push({
        key: "tracker.api_url",
        reason: `${JSON.stringify(tracker.api_url)} is plain http on a host that is not loopback; the token would travel in clear: use https`
      })
    }
  }
  return problems
}

/**
 * Problems found without any I/O, and the programs left to probe, for `def`. Checks, for the default station and
 * every routed one: a `command` station needs a non-empty `command` that is not the `switchyard init` placeholder;
 * a `claude-code`/`codex` station's binary (`command`, or `claude`/`codex`) must exist. Then: every route names a
 * defined station, and the programs of `verify.validation` and `verify.reproduction` must exist. Pure.
 */
export const preflightPlan = (
  def: WorkflowDefinition
): { readonly problems: ReadonlyArray<PreflightProblem>; readonly probes: ReadonlyArray<Probe> } => {
  const problems: Array<PreflightProblem> = [...trackerProblems(def.config.tracker)]
  const probes: Array<Probe> = []
  for (const station of stations(def)) {
    if (!station.ownsCommand) continue
    const key = `${station.prefix}.command`
    const { kind, command } = station.agent
    if (kind === "command") {
      if (command === null) {
        problems.push({ key, reason: `is not set; the "command" station runs it with sh -c in the sandbox: set it to your agent CLI` })
      } else if (command.trim() === "") {
        problems.push({ key, reason: `is empty; the "command" station runs it with sh -c in the sandbox: set it to your agent CLI` })
      } else if (command.includes(AGENT_COMMAND_PLACEHOLDER_MESSAGE)) {
        problems.push({ key, reason: "is still the placeholder `switchyard init` wrote; set it to your agent CLI (docs/agents.md)" })
      } else {
        const program = commandProgram(command)
        if (program !== null) probes.push({ key, program, missing: notFound(program, "") })
      }
    } else {
      const binary = command === null || command.trim() === "" ? (kind === "claude-code" ? "claude" : "codex") : command.trim()
      probes.push({
        key,
        program: binary,
        missing: command === null || command.trim() === ""
          ? `is not set, and ${JSON.stringify(binary)} (what agent.kind "${kind}" runs then) is not found on PATH; set it to the CLI's path`
          : notFound(binary, ` (the ${kind} binary)`)
      })
    }
  }
  const route = firstInvalidRoute(def.config)
  if (route !== null) problems.push({ key: `routes.${route.index}.agent`, reason: route.reason })
  const commands = [
    ...def.config.verify.validation.map((c, i) => ({ key: `verify.validation.${i}`, command: c })),
    ...(def.config.verify.reproduction === null ? [] : [{ key: "verify.reproduction", command: def.config.verify.reproduction }])
  ]
  for (const { command, key } of commands) {
    const program = commandProgram(command)
    if (program !== null) probes.push({ key, program, missing: notFound(program, ` (in ${JSON.stringify(command)})`) })
  }
  return { problems, probes }
}

/**
 * Runs the preflight of `def` (see {@link preflightPlan}): `found(program)` says whether a program name (looked up
 * on PATH) or path (relative to the repository's top level) is an executable file. Succeeds when nothing is wrong;
 * fails `PreflightFailed` with every problem otherwise (the config's first, then the missing programs). Runs nothing else.
 */
export const preflight = <R>(
  def: WorkflowDefinition,
  found: (program: string) => Effect.Effect<boolean, never, R>
): Effect.Effect<void, PreflightFailed, R> =>
  Effect.gen(function*() {
    const plan = preflightPlan(def)
    const problems = [...plan.problems]
    for (const probe of plan.probes) {
      if (!(yield* found(probe.program))) problems.push({ key: probe.key, reason: probe.missing })
    }
    if (problems.length > 0) return yield* new PreflightFailed({ path: def.path, problems })
  })
