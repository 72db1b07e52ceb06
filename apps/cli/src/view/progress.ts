/**
 * `switchyard run`'s terminal output: one line per stage change of this runner as its events are recorded, the
 * confinement line it starts with, and the usage line it ends with.
 */
import { Orchestrator } from "@switchyard/core"
import type { FactoryEvent, TerminalState } from "@switchyard/domain"
import { Console, Effect, Option, Ref, Schema, Stream } from "effect"
import { Ansi, cell, colorEnabled, OUTCOME_STYLE, render, row, type View } from "./doc.js"

const clock = (at: number) => new Date(at).toISOString().slice(11, 19)

/** The style of an event's type: a `terminal.<STATE>` in its outcome's colour, anything else plain. */
const typeStyle = (type: string): ReadonlyArray<Ansi.Ansi> => {
  const state = type.startsWith("terminal.") ? type.slice("terminal.".length) : ""
  return state in OUTCOME_STYLE ? [OUTCOME_STYLE[state as TerminalState]] : []
}

/** One event as a progress line (time, issue, type, message), or null for the events `run` does not show. */
export const progressLine = (e: FactoryEvent): View | null =>
  e.type === "agent.output"
    ? null
    : row(`${clock(e.at)} `, cell(e.issue_id ?? "", 7), " ", cell(e.type, 26, ...typeStyle(e.type)), ` ${e.message}`)

/** Tokens and cost of the attempts this process finished, summed from its `terminal.*` events. */
export interface RunUsage {
  readonly attempts: number
  readonly inputTokens: number
  readonly outputTokens: number
  readonly costUsd: number | null
}

const TerminalUsage = Schema.Struct({
  usage: Schema.Struct({ inputTokens: Schema.Number, outputTokens: Schema.Number, costUsd: Schema.NullOr(Schema.Number) })
})
const decodeTerminalUsage = Schema.decodeUnknownOption(TerminalUsage)

/**
 * Prints one line per stage change of this runner, as events are recorded, and returns a Ref with the usage
 * of this run (per-run token and cost accounting).
 */
export const printProgress = Effect.gen(function*() {
  const orchestrator = yield* Orchestrator
  const color = yield* colorEnabled
  const usage = yield* Ref.make<RunUsage>({ attempts: 0, inputTokens: 0, outputTokens: 0, costUsd: null })
  yield* orchestrator.changes.pipe(
    Stream.tap((e) =>
      e.type.startsWith("terminal.")
        ? Option.match(decodeTerminalUsage(e.data), {
          onNone: () => Effect.void,
          onSome: ({ usage: u }) =>
            Ref.update(usage, (r) => ({
              attempts: r.attempts + 1,
              inputTokens: r.inputTokens + u.inputTokens,
              outputTokens: r.outputTokens + u.outputTokens,
              costUsd: u.costUsd === null ? r.costUsd : (r.costUsd ?? 0) + u.costUsd
            }))
        })
        : Effect.void
    ),
    Stream.map(progressLine),
    Stream.filter((l): l is View => l !== null),
    Stream.runForEach((l) => Console.log(render(l, { color }))),
    Effect.forkScoped
  )
  return usage
})

/** One line: what this run used. */
export const usageLine = (u: RunUsage): string =>
  `this run: ${u.attempts} attempt(s), ${u.inputTokens} input + ${u.outputTokens} output tokens${
    u.costUsd === null ? "" : `, $${u.costUsd.toFixed(4)}`
  }`

/** The line `run` prints first: which confinement the agents get (docs/security.md). */
export const confinementLine = (kind: "bwrap" | "none", summary: string): string =>
  kind === "none"
    ? "WARNING: agents run UNCONFINED (sandbox.confinement: none): an agent can read the runner's files and secrets and write anywhere the runner can; every evidence bundle says so"
    : `confinement: ${summary}; agents, later hooks and verification see only their own sandbox`
