/**
 * A lost connection (issue 16 item 5): the server is restarted under open stores; operations during and after the
 * restart wait and reconnect instead of failing, `atomically` runs its whole transaction again, and nothing decided
 * before the restart is lost. Its own throwaway server (this file restarts it).
 */
import { NodeContext } from "@effect/platform-node"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Orchestrator, Tracker } from "@switchyard/core"
import { IssueInput } from "@switchyard/domain"
import { scratch } from "@switchyard/sqlite/test-helpers"
import { Context, Effect, Fiber, Option, Ref, Schedule, Stream } from "effect"
import { isConnectionLost } from "../src/internal/resilient.js"
import { open } from "./helpers.js"
import { createDatabase, type PgServer, startServer, unavailable } from "./server.js"

const skip = unavailable()
let server: PgServer | undefined
beforeAll(async () => {
  if (skip === null) server = await startServer()
}, 60_000)
afterAll(() => server?.stop())

describe("isConnectionLost", () => {
  it("tells a lost connection from other failures, through wrapping causes", () => {
    expect(isConnectionLost({ message: "orchestrator claim failed", cause: { cause: { code: "57P01" } } })).toBe(true)
    expect(isConnectionLost({ cause: { code: "ECONNREFUSED" } })).toBe(true)
    expect(isConnectionLost(new Error("Connection terminated unexpectedly"))).toBe(true)
    expect(isConnectionLost({ cause: { code: "23505", message: "duplicate key value violates unique constraint" } })).toBe(false)
    expect(isConnectionLost({ _tag: "LeaseFenced" })).toBe(false)
    expect(isConnectionLost("boom")).toBe(false)
  })
})

describe.skipIf(skip !== null)("a restarted server", () => {
  it.live("operations wait through the restart and reconnect; claims and issues made before it are kept", () =>
    Effect.scoped(Effect.gen(function*() {
      const url = yield* Effect.promise(() => createDatabase(server!, `reconnect_${process.pid}`))
      const paths = yield* scratch
      const context = yield* open({ url, stateDir: paths.stateDir })
      const tracker = Context.get(context, Tracker)
      const orchestrator = Context.get(context, Orchestrator)
      const a = yield* tracker.create(IssueInput.make({ title: "before" }))
      const lease = Option.getOrThrow(yield* orchestrator.claim(a.id, 1, 60_000))

      // Down for about a second: stop now, start again in the background.
      server!.kill()
      const restart = yield* Effect.fork(Effect.delay(Effect.sync(() => server!.start()), "1 second"))
      // Issued while the server is down: they wait for it rather than fail.
      const created = yield* tracker.create(IssueInput.make({ title: "during" }))
      const moved = yield* orchestrator.atomically(Effect.gen(function*() {
        const held = yield* orchestrator.holds(a.id, lease.epoch)
        if (held) yield* tracker.transition(a.id, ["todo"], "in_progress")
        return held
      }))
      yield* Fiber.join(restart)

      expect(created.id).toBe("SY-2")
      expect(moved).toBe(true)
      expect((yield* tracker.get(a.id)).status).toBe("in_progress")
      expect((yield* orchestrator.leases).map((l) => [l.issue_id, l.epoch])).toEqual([[a.id, lease.epoch]])
      expect(Option.isNone(yield* orchestrator.claim(a.id, 2, 60_000))).toBe(true)
    })).pipe(Effect.provide(NodeContext.layer)), 60_000)

  it.live("push dispatch survives the restart: the LISTEN connection is opened again and another runner's write arrives", () =>
    Effect.scoped(Effect.gen(function*() {
      const url = yield* Effect.promise(() => createDatabase(server!, `relisten_${process.pid}`))
      const watcher = Context.get(yield* open({ url, stateDir: (yield* scratch).stateDir }), Tracker)
      const writer = Context.get(yield* open({ url, stateDir: (yield* scratch).stateDir }), Tracker)
      const seen = yield* Ref.make(0)
      yield* Effect.forkScoped(Stream.runForEach(watcher.changes, () => Ref.update(seen, (n) => n + 1)))
      const grows = (from: number, what: string) =>
        Ref.get(seen).pipe(
          Effect.repeat({ schedule: Schedule.spaced("50 millis"), until: (n) => n > from }),
          Effect.timeoutFail({ duration: "15 seconds", onTimeout: () => `no change notification: ${what}` })
        )
      yield* grows(0, "after listening")
      yield* writer.create(IssueInput.make({ title: "before the restart" }))
      yield* grows(1, "a write before the restart")
      server!.restart()
      // The connection is opened again (and says so once: notifications sent while it was gone are lost) ...
      const reconnected = yield* grows(yield* Ref.get(seen), "the LISTEN connection opened again")
      // ... and another runner's write after the restart reaches this one.
      yield* writer.create(IssueInput.make({ title: "after the restart" }))
      yield* grows(reconnected, "a write after the restart")
    })).pipe(Effect.provide(NodeContext.layer)), 60_000)
})
