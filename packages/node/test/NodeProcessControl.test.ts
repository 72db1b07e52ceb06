import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { ProcessControl } from "@switchyard/core"
import { Deferred, Effect, Fiber } from "effect"
import { execFileSync, spawn } from "node:child_process"
import * as NodeOs from "node:os"
import { NodeProcessControl, ProcessRunner } from "../src/index.js"
import { liveInGroup } from "./helpers.js"

describe("NodeProcessControl", () => {
  it.live("knows the host, tells live pids from exited ones (zombies included)", () =>
    Effect.gen(function*() {
      const control = yield* ProcessControl
      assert.strictEqual(control.hostname, NodeOs.hostname())
      assert.isTrue(yield* control.isAlive(process.pid))
      // An orphaned background child that exits becomes a zombie if init does not reap it; either way it is dead.
      const orphan = Number(execFileSync("sh", ["-c", "sleep 1 >/dev/null 2>&1 & echo $!"], { encoding: "utf8" }).trim())
      assert.isTrue(yield* control.isAlive(orphan))
      yield* Effect.sleep("1500 millis")
      assert.isFalse(yield* control.isAlive(orphan))
      assert.isFalse(yield* control.isAlive(0))
    }).pipe(Effect.provide(NodeProcessControl.layer)), 15_000)

  it.live("killGroup signals a whole group and ignores one that is gone", () =>
    Effect.gen(function*() {
      const control = yield* ProcessControl
      const pid = yield* Deferred.make<number>()
      const fiber = yield* Effect.fork(ProcessRunner.execute({
        command: "sleep 300 & sleep 300",
        cwd: "/",
        timeoutMs: 600_000,
        onSpawn: (p) => Deferred.succeed(pid, p)
      }))
      const pgid = yield* Deferred.await(pid)
      yield* control.killGroup(pgid, "SIGKILL")
      const run = yield* Fiber.join(fiber)
      assert.strictEqual(run.result.signal, "SIGKILL")
      assert.isFalse(run.result.timedOut)
      assert.deepStrictEqual(liveInGroup(pgid), [])
      yield* control.killGroup(pgid, "SIGTERM")
      yield* control.killGroup(1, "SIGTERM") // never signalled
    }).pipe(Effect.provide([NodeProcessControl.layer, NodeContext.layer])), 15_000)

  it.live("groupOf tells an attempt's agent group from a reused pgid and from a gone one, by the start-up environment", () =>
    Effect.gen(function*() {
      const control = yield* ProcessControl
      // A detached group whose leader exits at once: only its background child, which inherited the
      // environment, is left in the group (an agent that spawned helpers and died).
      const leader = spawn("sh", ["-c", "sleep 300 & echo started"], {
        detached: true,
        stdio: ["ignore", "pipe", "ignore"],
        env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", SWITCHYARD_ISSUE_ID: "SY-7", SWITCHYARD_ATTEMPT: "2" }
      })
      const pgid = leader.pid!
      yield* Effect.async<void>((resume) => void leader.stdout!.once("data", () => resume(Effect.void)))
      yield* Effect.async<void>((resume) => void leader.once("exit", () => resume(Effect.void)))
      assert.isTrue(liveInGroup(pgid).length > 0)
      assert.strictEqual(yield* control.groupOf(pgid, { issueId: "SY-7", attempt: 2 }), "carries")
      // The same group is not attempt 3's, nor SY-70's (whole entries are compared).
      assert.strictEqual(yield* control.groupOf(pgid, { issueId: "SY-7", attempt: 3 }), "foreign")
      assert.strictEqual(yield* control.groupOf(pgid, { issueId: "SY-70", attempt: 2 }), "foreign")
      yield* control.killGroup(pgid, "SIGKILL")
      yield* Effect.sleep("200 millis")
      assert.strictEqual(yield* control.groupOf(pgid, { issueId: "SY-7", attempt: 2 }), "gone")
      assert.strictEqual(yield* control.groupOf(1, { issueId: "SY-7", attempt: 2 }), "gone")
    }).pipe(Effect.provide(NodeProcessControl.layer)), 15_000)
})
