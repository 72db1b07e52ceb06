/**
 * `printProgress` (view/progress.ts): the progress printer of `switchyard run` and the demo ends deterministically
 * and is joined, so when it returns every event up to `runner.drained` is printed and the usage is complete; on a
 * failure or an interruption it ends at once, and the usage is still reported.
 */
import { describe, expect, it } from "@effect/vitest"
import { Orchestrator, type OrchestratorShape } from "@switchyard/core"
import { FactoryEvent, RunnerId } from "@switchyard/domain"
import { Deferred, Effect, Exit, Fiber, Layer, PubSub, Stream } from "effect"
import { printProgress, type RunUsage } from "../src/view/progress.js"

const RUNNER = RunnerId.make("host:1:1")

/** An Orchestrator whose `changes` is a hub the test publishes to (nothing else is used by the printer). */
const withHub = <A, E>(f: (publish: (type: string, data?: Record<string, unknown>) => Effect.Effect<void>) => Effect.Effect<A, E, Orchestrator>) =>
  Effect.gen(function*() {
    const hub = yield* PubSub.unbounded<FactoryEvent>()
    let seq = 0
    const publish = (type: string, data: Record<string, unknown> = {}) =>
      PubSub.publish(hub, new FactoryEvent({ seq: ++seq, at: 0, runner_id: RUNNER, issue_id: "SY-1", type, message: `m${seq}`, data }))
        .pipe(Effect.asVoid)
    const orchestrator = { runnerId: RUNNER, changes: Stream.fromPubSub(hub) } as unknown as OrchestratorShape
    return yield* f(publish).pipe(Effect.provide(Layer.succeed(Orchestrator, orchestrator)))
  })

/** Runs `effect` with `Console.log` collected into `lines`. */
const capture = <A, E, R>(lines: Array<string>, effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const console = yield* Effect.console
    return yield* Effect.withConsole(effect, { ...console, log: (...args) => Effect.sync(() => void lines.push(args.join(" "))) })
  })

/** The event type a progress line shows. */
const typeOf = (line: string) => /^\S+\s+(?:\S+\s+)?([a-z]+\.[A-Za-z_]+) /.exec(line)?.[1]

const usage = (inputTokens: number) => ({ usage: { inputTokens, outputTokens: 1, costUsd: null } })

describe("printProgress", { timeout: 10_000 }, () => {
  it.effect("returns only after every event up to runner.drained is printed, with the whole usage", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      let ended: RunUsage | null = null
      let linesAtEnd = -1
      const result = yield* capture(
        lines,
        withHub((publish) =>
          printProgress(
            // The line records its events at once, without yielding, and returns: nothing is left to chance.
            Effect.gen(function*() {
              yield* publish("runner.started")
              yield* publish("agent.output")
              yield* publish("terminal.PR_READY", usage(10))
              yield* publish("terminal.NO_OP", usage(5))
              yield* publish("runner.drained")
              return "done"
            }),
            { onEnd: (u) => Effect.sync(() => ((ended = u), (linesAtEnd = lines.length))) }
          )
        )
      )
      expect(result).toBe("done")
      expect(lines.map(typeOf)).toEqual(["runner.started", "terminal.PR_READY", "terminal.NO_OP", "runner.drained"])
      expect(linesAtEnd).toBe(4)
      expect(ended).toEqual({ attempts: 2, inputTokens: 15, outputTokens: 2, costUsd: null })
    }))

  it.effect("a failing line ends the printer at once, still reports the usage, and fails with the line's error", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      let ended: RunUsage | null = null
      const exit = yield* capture(
        lines,
        withHub((publish) =>
          printProgress(
            publish("terminal.ESCALATE", usage(3)).pipe(Effect.zipRight(Effect.yieldNow()), Effect.zipRight(Effect.fail("tick failed"))),
            { onEnd: (u) => Effect.sync(() => (ended = u)) }
          )
        )
      ).pipe(Effect.exit)
      expect(exit).toEqual(Exit.fail("tick failed"))
      expect(ended).not.toBeNull()
    }))

  it.live("an interrupted line (Ctrl-C) ends the printer without runner.drained and reports the usage", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const started = yield* Deferred.make<void>()
      const ended = yield* Deferred.make<RunUsage>()
      const fiber = yield* capture(
        lines,
        withHub((publish) =>
          printProgress(
            publish("runner.started").pipe(Effect.zipRight(Deferred.succeed(started, undefined)), Effect.zipRight(Effect.never)),
            { onEnd: (u) => Deferred.succeed(ended, u).pipe(Effect.asVoid) }
          )
        )
      ).pipe(Effect.fork)
      yield* Deferred.await(started)
      yield* Fiber.interrupt(fiber)
      expect(yield* Deferred.await(ended)).toEqual({ attempts: 0, inputTokens: 0, outputTokens: 0, costUsd: null })
      // Whatever was printed was printed before the interruption returned; nothing comes later.
      const printed = lines.length
      yield* Effect.sleep("20 millis")
      expect(lines.length).toBe(printed)
    }))

  it.effect("ignores another runner's runner.drained", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const other = (type: string) => new FactoryEvent({ seq: 0, at: 0, runner_id: "other:2:2", issue_id: null, type, message: "x", data: {} })
      yield* capture(
        lines,
        Effect.gen(function*() {
          const hub = yield* PubSub.unbounded<FactoryEvent>()
          const orchestrator = { runnerId: RUNNER, changes: Stream.fromPubSub(hub) } as unknown as OrchestratorShape
          const mine = (type: string) => new FactoryEvent({ seq: 1, at: 0, runner_id: RUNNER, issue_id: null, type, message: "y", data: {} })
          yield* printProgress(
            Effect.all([
              PubSub.publish(hub, other("runner.drained")),
              PubSub.publish(hub, mine("terminal.NO_OP")),
              PubSub.publish(hub, mine("runner.drained"))
            ])
          ).pipe(Effect.provide(Layer.succeed(Orchestrator, orchestrator)))
        })
      )
      expect(lines.map(typeOf)).toEqual(["runner.drained", "terminal.NO_OP", "runner.drained"])
    }))
})
