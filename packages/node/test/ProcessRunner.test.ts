import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Ref, Schedule } from "effect"
import * as NodePath from "node:path"
import { ProcessRunner } from "../src/index.js"
import { liveInGroup } from "./helpers.js"

const run = (command: string, extra: Partial<ProcessRunner.ShellOptions> = {}) =>
  ProcessRunner.execute({ command, cwd: "/", timeoutMs: 10_000, ...extra })

/** Waits (polling ps) until group `pgid` has at least `n` live processes. */
const awaitMembers = (pgid: number, n: number) =>
  Effect.sync(() => liveInGroup(pgid).length).pipe(
    Effect.repeat({ until: (count) => count >= n, schedule: Schedule.spaced("20 millis") }),
    Effect.timeout("5 seconds")
  )

describe("ProcessRunner.runShell", () => {
  it.live("reports exit codes and output", () =>
    Effect.gen(function*() {
      const ok = yield* ProcessRunner.runShell({ command: "echo hello; echo oops >&2", cwd: "/", timeoutMs: 10_000 })
      assert.strictEqual(ok.exitCode, 0)
      assert.isTrue(ok.passed)
      assert.isFalse(ok.environmentFailure)
      assert.include(ok.outputTail, "hello\n")
      assert.include(ok.outputTail, "oops\n")
      assert.strictEqual(ok.command, "echo hello; echo oops >&2")

      const failed = yield* ProcessRunner.runShell({ command: "echo nope; exit 3", cwd: "/", timeoutMs: 10_000 })
      assert.strictEqual(failed.exitCode, 3)
      assert.isNull(failed.signal)
      assert.isFalse(failed.passed)
      assert.isFalse(failed.environmentFailure)
      assert.isFalse(failed.timedOut)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.live("exit 127 (command not found) is an environment failure", () =>
    Effect.gen(function*() {
      const { result } = yield* run("definitely-not-a-command-xyz")
      assert.strictEqual(result.exitCode, 127)
      assert.isTrue(result.environmentFailure)
      assert.include(result.outputTail, "not found")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.live("a missing cwd is an environment failure with a clear message", () =>
    Effect.gen(function*() {
      const run = yield* ProcessRunner.execute({ command: "true", cwd: "/no/such/dir/xyz", timeoutMs: 10_000 })
      assert.isTrue(run.spawnFailed)
      assert.isNull(run.pid)
      assert.isNull(run.result.exitCode)
      assert.isTrue(run.result.environmentFailure)
      assert.include(run.result.outputTail, "/no/such/dir/xyz does not exist")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.live("sh missing from PATH is a spawn failure", () =>
    Effect.gen(function*() {
      const { result, spawnFailed } = yield* run("true", { inheritEnv: false, env: { PATH: "/nonexistent" } })
      assert.isTrue(spawnFailed)
      assert.isTrue(result.environmentFailure)
      assert.include(result.outputTail, "ENOENT")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.live("env is merged over the inherited environment, or replaces it", () =>
    Effect.gen(function*() {
      const merged = yield* run("printf '%s|%s' \"$SY_TEST_VAR\" \"$HOME\"", { env: { SY_TEST_VAR: "set" } })
      assert.strictEqual(merged.result.outputTail, `set|${process.env.HOME ?? ""}`)
      const bare = yield* run("printf '%s|%s' \"$SY_TEST_VAR\" \"$HOME\"", {
        inheritEnv: false,
        env: { SY_TEST_VAR: "only", PATH: process.env.PATH ?? "/usr/bin:/bin" }
      })
      assert.strictEqual(bare.result.outputTail, "only|")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.live("stdin reaches the child and is closed", () =>
    Effect.gen(function*() {
      const echoed = yield* run("cat; echo '<eof>'", { stdin: "line one\nline two\n" })
      assert.strictEqual(echoed.result.outputTail, "line one\nline two\n<eof>\n")
      // A child that never reads a large stdin still finishes normally.
      const ignored = yield* run("exit 0", { stdin: "x".repeat(1_000_000) })
      assert.strictEqual(ignored.result.exitCode, 0)
      // Without stdin the child sees EOF at once instead of hanging.
      const empty = yield* run("cat; echo done")
      assert.strictEqual(empty.result.outputTail, "done\n")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.live("keeps only head and tail of the output, with the byte count", () =>
    Effect.gen(function*() {
      const small = yield* run("printf abcdefghij", { headBytes: 4, tailBytes: 3 })
      assert.strictEqual(small.result.outputHead, "abcd")
      assert.strictEqual(small.result.outputTail, "hij")
      assert.strictEqual(small.outputBytes, 10)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.live("a ~50 MB flood keeps memory bounded and counts every byte", () =>
    Effect.gen(function*() {
      const size = 50 * 1024 * 1024
      const flood = yield* run(`printf START; head -c ${size} /dev/zero | tr '\\0' x; printf END`)
      assert.strictEqual(flood.result.exitCode, 0)
      assert.strictEqual(flood.outputBytes, size + 8)
      assert.strictEqual(flood.result.outputHead.length, ProcessRunner.DEFAULT_HEAD_BYTES)
      assert.strictEqual(flood.result.outputTail.length, ProcessRunner.DEFAULT_TAIL_BYTES)
      assert.isTrue(flood.result.outputHead.startsWith("STARTxxx"))
      assert.isTrue(flood.result.outputTail.endsWith("xxxEND"))
    }).pipe(Effect.provide(NodeContext.layer)), 60_000)

  it.live("appends all output to the transcript file and calls onSpawn/onOutput", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      const file = NodePath.join(dir, "logs", "agent.log")
      const spawned = yield* Ref.make<ReadonlyArray<number>>([])
      const outputs = yield* Ref.make(0)
      const done = yield* run("echo first; echo second >&2; echo third", {
        transcriptFile: file,
        headBytes: 1,
        tailBytes: 1,
        onSpawn: (pid) => Ref.update(spawned, (pids) => [...pids, pid]),
        onOutput: Ref.update(outputs, (n) => n + 1)
      })
      const transcript = yield* fs.readFileString(file)
      for (const line of ["first\n", "second\n", "third\n"]) assert.include(transcript, line)
      assert.deepStrictEqual(yield* Ref.get(spawned), [done.pid!])
      assert.isAbove(yield* Ref.get(outputs), 0)
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))

  it.live("a timeout kills the whole group, escalating to SIGKILL when TERM is ignored", () =>
    Effect.gen(function*() {
      // Both the shell and its child ignore TERM; only SIGKILL ends them. Without the escalation this test
      // would run into vitest's timeout (the child sleeps 60 s).
      const pid = yield* Deferred.make<number>()
      const { result } = yield* run("trap '' TERM; echo started; sleep 60; echo never", {
        timeoutMs: 500,
        killGraceMs: 300,
        onSpawn: (p) => Deferred.succeed(pid, p)
      })
      assert.isTrue(result.timedOut)
      assert.isNull(result.exitCode)
      assert.strictEqual(result.signal, "SIGKILL")
      assert.isTrue(result.environmentFailure)
      assert.include(result.outputTail, "started")
      assert.notInclude(result.outputTail, "never")
      assert.deepStrictEqual(liveInGroup(yield* Deferred.await(pid)), [])
    }).pipe(Effect.provide(NodeContext.layer)), 15_000)

  it.live("a timeout sends SIGTERM first", () =>
    Effect.gen(function*() {
      const { result } = yield* run("sleep 60", { timeoutMs: 300 })
      assert.isTrue(result.timedOut)
      assert.strictEqual(result.signal, "SIGTERM")
    }).pipe(Effect.provide(NodeContext.layer)), 15_000)

  it.live("interruption kills the whole process group, even members that ignore SIGTERM", () =>
    Effect.gen(function*() {
      const pid = yield* Deferred.make<number>()
      const fiber = yield* Effect.fork(
        run("trap '' TERM; sleep 300 & sleep 300", {
          timeoutMs: 600_000,
          killGraceMs: 300,
          onSpawn: (p) => Deferred.succeed(pid, p)
        })
      )
      const pgid = yield* Deferred.await(pid)
      yield* awaitMembers(pgid, 2) // both sleeps (the shell may have exec'd the last one)
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(liveInGroup(pgid), [])
    }).pipe(Effect.provide(NodeContext.layer)), 15_000)

  it.live("the timeout holds inside an uninterruptible region (the end of an attempt), TERM-ignoring members too", () =>
    Effect.gen(function*() {
      // Effect.timeout around an uninterruptible wait cannot interrupt it: before the fix this ran for the full
      // 10 s of the sleep.
      const pid = yield* Deferred.make<number>()
      const startedAt = Date.now()
      const { result } = yield* Effect.uninterruptible(run("trap '' TERM; sleep 10 & sleep 10", {
        timeoutMs: 300,
        killGraceMs: 300,
        onSpawn: (p) => Deferred.succeed(pid, p)
      }))
      const tookMs = Date.now() - startedAt
      assert.isTrue(result.timedOut)
      assert.isBelow(tookMs, 4_000)
      assert.deepStrictEqual(liveInGroup(yield* Deferred.await(pid)), [])
    }).pipe(Effect.provide(NodeContext.layer)), 15_000)

  it.live("background processes left after a normal exit are reaped", () =>
    Effect.gen(function*() {
      const { result, pid } = yield* run("sleep 300 & echo done")
      assert.strictEqual(result.exitCode, 0)
      assert.include(result.outputTail, "done")
      assert.deepStrictEqual(liveInGroup(pid!), [])
    }).pipe(Effect.provide(NodeContext.layer)), 15_000)
})

describe("ProcessRunner.runGit", () => {
  it.live("returns stdout, and fails SandboxError with git's stderr on a non-zero exit", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      const version = yield* ProcessRunner.runGit(["--version"], dir)
      assert.match(version, /^git version /)
      const error = yield* Effect.flip(ProcessRunner.runGit(["rev-parse", "--show-toplevel"], dir))
      assert.strictEqual(error._tag, "SandboxError")
      assert.strictEqual(error.operation, "git rev-parse --show-toplevel")
      assert.include(error.reason, "not a git repository")
      const missing = yield* Effect.flip(ProcessRunner.runGit(["status"], NodePath.join(dir, "nope")))
      assert.include(missing.reason, "cannot run git")
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))
})

describe("ProcessRunner.gitBytes", () => {
  it.live("feeds stdin and returns stdout as raw bytes, invalid UTF-8 included", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      yield* ProcessRunner.runGit(["init", "-q"], dir)
      const blob = new Uint8Array([0x61, 0xff, 0x00, 0xf0, 0x9f, 0x98, 0x0a])
      yield* fs.writeFile(NodePath.join(dir, "blob"), blob)
      const id = (yield* ProcessRunner.runGit(["hash-object", "-w", "blob"], dir)).trim()
      const out = yield* ProcessRunner.gitBytes(["cat-file", "--batch"], dir, { stdin: `${id}\n` })
      assert.strictEqual(out.exitCode, 0)
      const header = new TextEncoder().encode(`${id} blob ${blob.length}\n`)
      assert.deepStrictEqual([...out.stdout], [...header, ...blob, 0x0a])
      // The text variant decodes, so the invalid bytes are lost there.
      const text = yield* ProcessRunner.git(["cat-file", "blob", id], dir)
      assert.notDeepEqual([...new TextEncoder().encode(text.stdout)], [...blob])
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))
})

describe("ProcessRunner.localBranches", () => {
  it.live("maps every local branch to the commit it points at, from one for-each-ref, and sees a rewritten one", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      const git = (...args: Array<string>) => ProcessRunner.runGit(["-c", "user.name=T", "-c", "user.email=t@example.com", ...args], dir)
      yield* git("init", "-q", "-b", "main")
      yield* git("commit", "-q", "--allow-empty", "-m", "one")
      const first = (yield* git("rev-parse", "HEAD")).trim()
      yield* git("branch", "switchyard/SY-1")
      yield* git("commit", "-q", "--allow-empty", "-m", "two")
      const second = (yield* git("rev-parse", "HEAD")).trim()
      assert.deepStrictEqual(
        [...(yield* ProcessRunner.localBranches(dir))].sort(),
        [["main", second], ["switchyard/SY-1", first]]
      )
      // `git update-ref` moves the branch behind switchyard's back: the map shows the new head.
      yield* git("update-ref", "refs/heads/switchyard/SY-1", second)
      assert.strictEqual((yield* ProcessRunner.localBranches(dir)).get("switchyard/SY-1"), second)
      assert.strictEqual((yield* Effect.flip(ProcessRunner.localBranches(NodePath.join(dir, "nope"))))._tag, "SandboxError")
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))
})
