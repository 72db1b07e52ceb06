/**
 * `switchyard run`'s terminal output: one line per stage change of this runner as its events are recorded, the
 * confinement line it starts with, and the usage line it ends with.
 */
import { Orchestrator } from "@switchyard/core"
import type { FactoryEvent } from "@switchyard/domain"
import { Console, Effect, Option, Ref, Schema, Stream } from "effect"

const clock = (at: number) => new Date(at).toISOString().slice(11, 19)
const progressLine = (e: FactoryEvent): string | null => {
  if (e.type === "agent.output") return null
  return `${clock(e.at)} ${(e.issue_id ?? "").padEnd(7)} ${e.type.padEnd(26)} ${e.message}`
}

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
    Stream.filter((l): l is string => l !== null),
    Stream.runForEach((l) => Console.log(l)),
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
