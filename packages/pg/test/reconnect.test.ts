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
import { Context, Effect, Fiber, Option } from "effect"
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
})
