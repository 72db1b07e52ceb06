/**
 * `switchyard run`'s terminal output: one line per stage change of this runner as its events are recorded, the
 * confinement line it starts with, and the usage line it ends with.
 */
import { Orchestrator } from "@switchyard/core"
import type { FactoryEvent, TerminalState } from "@switchyard/domain"
import { Console, Deferred, Effect, Fiber, Option, Ref, Scheduler, Schema, Stream } from "effect"
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

/** Nothing used yet. */
const noUsage: RunUsage = { attempts: 0, inputTokens: 0, outputTokens: 0, costUsd: null }

/** `usage` plus what one `terminal.*` event reports (events without usage data add nothing). */
const addUsage = (usage: RunUsage, e: FactoryEvent): RunUsage =>
  !e.type.startsWith("terminal.")
    ? usage
    : Option.match(decodeTerminalUsage(e.data), {
      onNone: () => usage,
      onSome: ({ usage: u }) => ({
        attempts: usage.attempts + 1,
        inputTokens: usage.inputTokens + u.inputTokens,
        outputTokens: usage.outputTokens + u.outputTokens,
        costUsd: u.costUsd === null ? usage.costUsd : (usage.costUsd ?? 0) + u.costUsd
      })
    })

/**
 * Runs `line` (the factory line, `runLine`) while printing one line per stage change of this runner as its events
 * are recorded, and sums what the run used from its `terminal.*` events (per-run token and cost accounting).
 *
 * The printer has a deterministic end and is joined before this returns, so nothing is printed after it:
 * - when `line` succeeds, its stream ends at this runner's `runner.drained` event, which `runLine` records last,
 *   so every event up to it has been printed (no sleep hoping the printer caught up);
 * - when `line` fails or is interrupted (Ctrl-C), its stream is interrupted at once.
 * Either way `options.onEnd` then gets the usage (`run` prints its usage line there). The printer has subscribed
 * to `Orchestrator.changes` before `line` starts, so it misses none of the line's events. Fails as `line` fails.
 */
export const printProgress = <A, E, R>(
  line: Effect.Effect<A, E, R>,
  options: { readonly onEnd?: ((usage: RunUsage) => Effect.Effect<void>) | undefined } = {}
): Effect.Effect<A, E, R | Orchestrator> =>
  Effect.gen(function*() {
    const orchestrator = yield* Orchestrator
    const color = yield* colorEnabled
    const usage = yield* Ref.make(noUsage)
    const stop = yield* Deferred.make<void>()
    // The printer is forked on a SyncScheduler and run by `flush` until it waits for its first event: it has then
    // subscribed to `changes` (a fiber only subscribes once it runs, a few scheduler turns after the fork), so it
    // sees everything the line records, however soon. Once flushed, the scheduler hands its later turns to the
    // default one.
    const scheduler = new Scheduler.SyncScheduler()
    const printer = yield* orchestrator.changes.pipe(
      Stream.takeUntil((e) => e.type === "runner.drained" && e.runner_id === orchestrator.runnerId),
      Stream.interruptWhen(Deferred.await(stop)),
      Stream.tap((e) => Ref.update(usage, (u) => addUsage(u, e))),
      Stream.map(progressLine),
      Stream.filter((l): l is View => l !== null),
      Stream.runForEach((l) => Console.log(render(l, { color }))),
      Effect.fork,
      Effect.withScheduler(scheduler)
    )
    yield* Effect.sync(() => scheduler.flush())
    // `await`, not `join`: when the line is interrupted the printer may be too, and the usage is still reported.
    const end = Deferred.succeed(stop, undefined).pipe(
      Effect.zipRight(Fiber.await(printer)),
      Effect.zipRight(Ref.get(usage)),
      Effect.flatMap((u) => options.onEnd?.(u) ?? Effect.void)
    )
    // On success, join the printer (interruptibly) once it has printed `runner.drained`; then, or on failure or
    // interruption, stop it (a no-op if it has ended), wait for it and report the usage.
    return yield* line.pipe(Effect.tap(() => Fiber.join(printer)), Effect.ensuring(end))
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
