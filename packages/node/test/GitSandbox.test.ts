import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { IssueId, type WorkflowConfig } from "@switchyard/domain"
import { Effect, Fiber, Option, Schedule, Schema, type Scope } from "effect"
import * as NodePath from "node:path"
import { GitSandbox, ProcessRunner, Unconfined } from "../src/index.js"
import { commitOnTop, config, gitSync, liveInGroup, makeRepo } from "./helpers.js"

const SY1 = Schema.decodeSync(IssueId)("SY-1")
const SY2 = Schema.decodeSync(IssueId)("SY-2")

/**
 * A temp repo plus a Sandbox over it, and `hooks`: the `hooks:` of the given WORKFLOW.md front matter, which the
 * tests pass to the Sandbox like the attempt does.
 */
const setup = (front: unknown = {}) =>
  Effect.gen(function*() {
    const fixture = yield* makeRepo
    const cfg: WorkflowConfig = config(front)
    const sandbox = yield* GitSandbox.make({ repoRoot: fixture.repo, workspaceRoot: fixture.workspace }).pipe(
      Effect.provide(Unconfined.layer)
    )
    return { ...fixture, sandbox, hooks: cfg.hooks }
  })

const worktreePaths = (repo: string): Array<string> =>
  gitSync(repo, "worktree", "list", "--porcelain")
    .split("\n")
    .filter((line) => line.startsWith("worktree "))
    .map((line) => line.slice("worktree ".length))

const test = (name: string, body: () => Effect.Effect<void, unknown, Scope.Scope | NodeContext.NodeContext>) =>
  it.live(name, () => body().pipe(Effect.scoped, Effect.provide(NodeContext.layer)), 30_000)

describe("GitSandbox.findRepoRoot", () => {
  test("finds the top level from a subdirectory, and NotAGitRepo outside a repo", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const { repo } = yield* makeRepo
      assert.strictEqual(yield* GitSandbox.findRepoRoot(NodePath.join(repo, "src")), repo)
      const plain = yield* fs.makeTempDirectoryScoped()
      const error = yield* Effect.flip(GitSandbox.findRepoRoot(plain))
      assert.strictEqual(error._tag, "NotAGitRepo")
      assert.strictEqual(error.path, plain)
      const missing = yield* Effect.flip(GitSandbox.findRepoRoot(NodePath.join(plain, "gone")))
      assert.strictEqual(missing._tag, "NotAGitRepo")
    }))

  test("agrees with git rev-parse --show-toplevel in a linked worktree and through a symlink", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const { repo } = yield* makeRepo
      const outside = yield* fs.makeTempDirectoryScoped()
      const linked = NodePath.join(outside, "linked")
      yield* ProcessRunner.runGit(["worktree", "add", "-q", "--detach", linked], repo)
      yield* fs.makeDirectory(NodePath.join(linked, "src", "deep"), { recursive: true })
      const fromGit = (dir: string) => ProcessRunner.runGit(["rev-parse", "--show-toplevel"], dir).pipe(Effect.map((out) => out.trim()))
      assert.strictEqual(yield* GitSandbox.findRepoRoot(NodePath.join(linked, "src", "deep")), yield* fromGit(NodePath.join(linked, "src", "deep")))
      assert.strictEqual(yield* GitSandbox.findRepoRoot(linked), linked)
      const alias = NodePath.join(outside, "alias")
      yield* fs.symlink(repo, alias)
      assert.strictEqual(yield* GitSandbox.findRepoRoot(NodePath.join(alias, "src")), yield* fromGit(NodePath.join(alias, "src")))
    }))
})

describe("GitSandbox.resolveBase", () => {
  test("returns HEAD, ignores untracked files, and fails DirtyBase on modified tracked files", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const { repo, base, sandbox } = yield* setup()
      yield* fs.writeFileString(NodePath.join(repo, "scratch.txt"), "untracked\n")
      assert.strictEqual(yield* sandbox.resolveBase, base)
      yield* fs.writeFileString(NodePath.join(repo, "src", "app.txt"), "answer=0\n")
      const dirty = yield* Effect.flip(sandbox.resolveBase)
      assert.strictEqual(dirty._tag, "DirtyBase")
      if (dirty._tag === "DirtyBase") assert.deepStrictEqual(dirty.files, ["src/app.txt"])
    }))

  test("a repository without commits is a SandboxError that says so", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      gitSync(dir, "init", "-q")
      const sandbox = yield* GitSandbox.make({ repoRoot: dir, workspaceRoot: NodePath.join(dir, "..", "ws") }).pipe(
        Effect.provide(Unconfined.layer)
      )
      const error = yield* Effect.flip(sandbox.resolveBase)
      assert.strictEqual(error._tag, "SandboxError")
      if (error._tag === "SandboxError") {
        assert.strictEqual(error.reason, "the repository has no commits yet; commit something first")
      }
    }))
})

describe("GitSandbox.create", () => {
  test("makes a private repository on switchyard/<id> under the workspace root and runs after_create there", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const { repo, workspace, base, sandbox, hooks } = yield* setup({
        hooks: { after_create: "printf '%s/%s' \"$SWITCHYARD_ISSUE_ID\" \"$SWITCHYARD_ATTEMPT\" > .hook-ran" }
      })
      const handle = yield* sandbox.create(SY1, 1, base, hooks)
      assert.strictEqual(handle.path, NodePath.join(workspace, "SY-1"))
      assert.strictEqual(handle.branch, "switchyard/SY-1")
      assert.strictEqual(handle.base_commit, base)
      assert.isFalse(handle.path.startsWith(repo + NodePath.sep))
      assert.strictEqual(gitSync(handle.path, "symbolic-ref", "HEAD").trim(), "refs/heads/switchyard/SY-1")
      assert.strictEqual(gitSync(handle.path, "rev-parse", "HEAD").trim(), base)
      assert.strictEqual(yield* fs.readFileString(NodePath.join(handle.path, "src", "app.txt")), "answer=41\n")
      assert.strictEqual(yield* fs.readFileString(NodePath.join(handle.path, ".hook-ran")), "SY-1/1")
      // Its own .git (not a worktree of the main repository), borrowing the main repository's objects.
      assert.isTrue((yield* fs.stat(NodePath.join(handle.path, ".git"))).type === "Directory")
      assert.strictEqual(
        (yield* fs.readFileString(NodePath.join(handle.path, ".git", "objects", "info", "alternates"))).trim(),
        NodePath.join(repo, ".git", "objects")
      )
      assert.deepStrictEqual(worktreePaths(repo), [repo])
      assert.strictEqual(gitSync(repo, "rev-parse", "switchyard/SY-1").trim(), base)
      // The private HOME and io directory exist outside the work tree.
      assert.isTrue(yield* fs.exists(handle.home))
      assert.isTrue(yield* fs.exists(handle.io))
      assert.isFalse(handle.home.startsWith(handle.path + NodePath.sep))
    }))

  test("an interrupted after_create (a signal during setup) leaves no sandbox, branch or hook process", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const { base, repo, sandbox, hooks } = yield* setup({
        // The hook's shell is its process group's leader; it ignores SIGTERM, so only the escalation ends it.
        hooks: { after_create: "trap '' TERM; echo $$ > ../started.tmp && mv ../started.tmp ../started; sleep 30" }
      })
      const fiber = yield* Effect.fork(sandbox.create(SY1, 1, base, hooks))
      const started = NodePath.join(sandbox.workspaceRoot, "started")
      yield* Effect.repeat(fs.exists(started), { until: (ok) => ok, schedule: Schedule.spaced("20 millis") })
      const pgid = Number((yield* fs.readFileString(started)).trim())
      assert.deepStrictEqual(gitSync(repo, "branch", "--list", "switchyard/SY-1").trim(), "switchyard/SY-1")
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(liveInGroup(pgid), [])
      assert.isFalse(yield* fs.exists(NodePath.join(sandbox.workspaceRoot, "SY-1")))
      assert.isFalse(yield* fs.exists(NodePath.join(sandbox.workspaceRoot, ".attempts", "SY-1")))
      assert.isTrue(Option.isNone(yield* sandbox.branchHead("switchyard/SY-1")))
      assert.strictEqual(gitSync(repo, "branch", "--list", "switchyard/SY-1"), "")
    }))

  test("an after_create failure is HookFailed and leaves no worktree or branch", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const { repo, base, sandbox, hooks } = yield* setup({ hooks: { after_create: "echo cannot install >&2; exit 7" } })
      const error = yield* Effect.flip(sandbox.create(SY1, 1, base, hooks))
      assert.strictEqual(error._tag, "HookFailed")
      if (error._tag === "HookFailed") {
        assert.strictEqual(error.hook, "after_create")
        assert.strictEqual(error.exitCode, 7)
        assert.isFalse(error.timedOut)
        assert.include(error.outputTail, "cannot install")
      }
      assert.deepStrictEqual(yield* sandbox.list, [])
      assert.deepStrictEqual(worktreePaths(repo), [repo])
      assert.isFalse(yield* fs.exists(NodePath.join(sandbox.workspaceRoot, "SY-1")))
      assert.isTrue(Option.isNone(yield* sandbox.branchHead("switchyard/SY-1")))
    }))

  test("an after_create timeout is HookFailed with timedOut", () =>
    Effect.gen(function*() {
      const { base, sandbox, hooks } = yield* setup({ hooks: { after_create: "sleep 30", timeout_ms: 200 } })
      const error = yield* Effect.flip(sandbox.create(SY1, 1, base, hooks))
      assert.strictEqual(error._tag, "HookFailed")
      if (error._tag === "HookFailed") {
        assert.isTrue(error.timedOut)
        assert.isNull(error.exitCode)
      }
      assert.deepStrictEqual(yield* sandbox.list, [])
    }))

  test("takes up the sandbox an earlier attempt kept; recreates over a deleted one and a leftover directory", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const { repo, base, sandbox, hooks } = yield* setup()
      const first = yield* sandbox.create(SY1, 1, base, hooks)
      assert.isNull(first.reused)
      yield* fs.writeFileString(NodePath.join(first.path, "leftover.txt"), "from attempt 1\n")
      yield* sandbox.snapshot(first, "attempt 1")
      const attempt1 = gitSync(repo, "rev-parse", "switchyard/SY-1").trim()
      assert.notStrictEqual(attempt1, base)

      // Kept: the work in progress and the branch are there for attempt 2.
      const second = yield* sandbox.create(SY1, 2, base, hooks)
      assert.strictEqual(second.path, first.path)
      assert.deepStrictEqual(second.reused, { fromAttempt: 1, base, carried: false })
      assert.isTrue(yield* fs.exists(NodePath.join(second.path, "leftover.txt")))
      assert.strictEqual(gitSync(repo, "rev-parse", "switchyard/SY-1").trim(), attempt1)

      // The directory vanished: a new sandbox at the base, branch reset.
      yield* fs.remove(second.path, { recursive: true })
      const third = yield* sandbox.create(SY1, 3, base, hooks)
      assert.isNull(third.reused)
      assert.isTrue(yield* fs.exists(NodePath.join(third.path, "README.md")))
      assert.isFalse(yield* fs.exists(NodePath.join(third.path, "leftover.txt")))
      assert.strictEqual(gitSync(repo, "rev-parse", "switchyard/SY-1").trim(), base)

      // A plain directory (not a sandbox) sits where the sandbox goes.
      yield* sandbox.remove(third.path)
      yield* fs.makeDirectory(third.path, { recursive: true })
      yield* fs.writeFileString(NodePath.join(third.path, "junk"), "x")
      const fourth = yield* sandbox.create(SY1, 4, base, hooks)
      assert.isNull(fourth.reused)
      assert.isFalse(yield* fs.exists(NodePath.join(fourth.path, "junk")))
      assert.deepStrictEqual((yield* sandbox.list).map((w) => w.path), [fourth.path])
    }))

  test("after_create runs once per sandbox, not once per attempt; a deleted branch comes back at the base", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const count = NodePath.join(yield* fs.makeTempDirectoryScoped(), "count")
      const { repo, base, sandbox, hooks } = yield* setup({ hooks: { after_create: `echo run >> '${count}'` } })
      const first = yield* sandbox.create(SY1, 1, base, hooks)
      yield* sandbox.deleteBranch(first.branch)
      assert.isTrue(Option.isNone(yield* sandbox.branchHead(first.branch)))
      const second = yield* sandbox.create(SY1, 2, base, hooks)
      const third = yield* sandbox.create(SY1, 3, base, hooks)
      assert.strictEqual(third.reused?.fromAttempt, 1)
      assert.strictEqual(second.path, third.path)
      assert.strictEqual(yield* fs.readFileString(count), "run\n")
      assert.strictEqual(gitSync(repo, "rev-parse", "switchyard/SY-1").trim(), base)
    }))

  test("carries the work in progress to a moved base; a conflict or new install inputs make a new sandbox", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const { repo, base, sandbox, hooks } = yield* setup()
      const first = yield* sandbox.create(SY1, 1, base, hooks)
      yield* fs.writeFileString(NodePath.join(first.path, "src", "app.txt"), "answer=42\n")
      yield* fs.writeFileString(NodePath.join(first.path, "NOTES.md"), "wip\n")
      yield* fs.writeFileString(NodePath.join(first.path, "debug.log"), "ignored, kept\n")
      // Hostile leftovers in the sandbox's own .git are not used and do not survive the move.
      yield* fs.writeFileString(NodePath.join(first.path, ".git", "config"), "[core]\n\tfsmonitor = touch /tmp/pwned-by-agent\n", { flag: "a" })

      const moved = commitOnTop(repo, base, { "README.md": "# moved upstream\n" })
      const second = yield* sandbox.create(SY1, 2, moved, hooks)
      assert.deepStrictEqual(second.reused, { fromAttempt: 1, base, carried: true })
      assert.strictEqual(yield* fs.readFileString(NodePath.join(second.path, "src", "app.txt")), "answer=42\n")
      assert.strictEqual(yield* fs.readFileString(NodePath.join(second.path, "NOTES.md")), "wip\n")
      assert.strictEqual(yield* fs.readFileString(NodePath.join(second.path, "README.md")), "# moved upstream\n")
      assert.strictEqual(yield* fs.readFileString(NodePath.join(second.path, "debug.log")), "ignored, kept\n")
      assert.notInclude(yield* fs.readFileString(NodePath.join(second.path, ".git", "config")), "fsmonitor")
      // The sandbox's own git sees the new base with the work in progress on top.
      assert.strictEqual(gitSync(second.path, "rev-parse", "HEAD").trim(), moved)
      assert.deepStrictEqual(gitSync(second.path, "status", "--porcelain").split("\n").filter((l) => l !== "").sort(), [" M src/app.txt", "?? NOTES.md"])
      assert.strictEqual(gitSync(repo, "rev-parse", "switchyard/SY-1").trim(), moved)
      const candidate = yield* sandbox.snapshot(second, "attempt 2")
      assert.deepStrictEqual([...candidate.files].sort(), ["NOTES.md", "src/app.txt"])

      // Upstream changes the line the work in progress changed: a new sandbox on the new base.
      const conflicting = commitOnTop(repo, moved, { "src/app.txt": "answer=43\n" })
      const third = yield* sandbox.create(SY1, 3, conflicting, hooks)
      assert.isNull(third.reused)
      assert.strictEqual(yield* fs.readFileString(NodePath.join(third.path, "src", "app.txt")), "answer=43\n")
      assert.isFalse(yield* fs.exists(NodePath.join(third.path, "NOTES.md")))

      // The install inputs changed on the base (a manifest): a new sandbox, so after_create runs on clean code.
      yield* fs.writeFileString(NodePath.join(third.path, "NOTES.md"), "wip again\n")
      const manifest = commitOnTop(repo, conflicting, { "package.json": "{\"name\":\"x\"}\n" })
      const fourth = yield* sandbox.create(SY1, 4, manifest, hooks)
      assert.isNull(fourth.reused)
      assert.isFalse(yield* fs.exists(NodePath.join(fourth.path, "NOTES.md")))
      assert.isFalse(yield* fs.exists("/tmp/pwned-by-agent"))
    }))
})

describe("GitSandbox.snapshot", () => {
  test("commits modified and untracked files (not ignored ones) and describes the change", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const { repo, base, sandbox, hooks } = yield* setup()
      const handle = yield* sandbox.create(SY1, 1, base, hooks)
      yield* fs.writeFileString(NodePath.join(handle.path, "src", "app.txt"), "answer=42\n")
      yield* fs.writeFileString(NodePath.join(handle.path, "NOTES.md"), "new file\n")
      yield* fs.writeFileString(NodePath.join(handle.path, "debug.log"), "ignored\n")
      const candidate = yield* sandbox.snapshot(handle, "SY-1: fix the answer")
      assert.isFalse(candidate.empty)
      assert.deepStrictEqual([...candidate.files].sort(), ["NOTES.md", "src/app.txt"])
      assert.include(candidate.patch, "+answer=42")
      assert.include(candidate.patch, "-answer=41")
      assert.include(candidate.patch, "diff --git a/NOTES.md b/NOTES.md")
      assert.notInclude(candidate.patch, "debug.log")
      assert.isFalse(candidate.patchTruncated)
      assert.include(candidate.stat, "2 files changed")
      assert.strictEqual(candidate.commit, gitSync(repo, "rev-parse", "switchyard/SY-1").trim())
      assert.strictEqual(candidate.tree, gitSync(repo, "rev-parse", "switchyard/SY-1^{tree}").trim())
      assert.strictEqual(gitSync(repo, "log", "-1", "--format=%s|%an", "switchyard/SY-1").trim(), "SY-1: fix the answer|switchyard")
      // The human's checkout is untouched.
      assert.strictEqual(gitSync(repo, "rev-parse", "HEAD").trim(), base)
    }))

  test("an untouched sandbox gives an empty candidate", () =>
    Effect.gen(function*() {
      const { base, sandbox, hooks } = yield* setup()
      const handle = yield* sandbox.create(SY1, 1, base, hooks)
      const candidate = yield* sandbox.snapshot(handle, "nothing")
      assert.isTrue(candidate.empty)
      assert.isNull(candidate.commit)
      assert.isNull(candidate.tree)
      assert.strictEqual(candidate.patch, "")
      assert.strictEqual(gitSync(handle.path, "rev-parse", "HEAD").trim(), base)
    }))

  test("what the agent committed in its own repository counts by its files, and the patch is cut at maxPatchBytes", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const { base, repo, sandbox, hooks } = yield* setup()
      const handle = yield* sandbox.create(SY1, 1, base, hooks)
      yield* fs.writeFileString(NodePath.join(handle.path, "big.txt"), "line\n".repeat(2000))
      gitSync(handle.path, "add", "big.txt")
      gitSync(handle.path, "-c", "user.name=agent", "-c", "user.email=a@b", "commit", "-q", "-m", "agent commit")
      const agentTree = gitSync(handle.path, "rev-parse", "HEAD^{tree}").trim()
      const candidate = yield* sandbox.snapshot(handle, "switchyard: candidate", 300)
      assert.deepStrictEqual(candidate.files, ["big.txt"])
      // The candidate is the runner's commit of the same tree, on the main repository's branch.
      assert.strictEqual(candidate.tree, agentTree)
      assert.strictEqual(gitSync(repo, "log", "-1", "--format=%s", "switchyard/SY-1").trim(), "switchyard: candidate")
      assert.isTrue(candidate.patchTruncated)
      assert.strictEqual(Buffer.byteLength(candidate.patch), 300)
    }))

  test("hooks, config and attributes the agent plants in its sandbox's .git never run, and never reach the main .git", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const { base, repo, root, sandbox, hooks } = yield* setup()
      const handle = yield* sandbox.create(SY1, 1, base, hooks)
      const ran = NodePath.join(root, "hook-ran")
      const gitDir = NodePath.join(handle.path, ".git")
      yield* fs.makeDirectory(NodePath.join(gitDir, "hooks"), { recursive: true })
      for (const hook of ["post-commit", "pre-commit", "post-checkout", "reference-transaction", "post-index-change"]) {
        yield* fs.writeFileString(NodePath.join(gitDir, "hooks", hook), `#!/bin/sh\necho ${hook} >> ${ran}\n`)
        yield* fs.chmod(NodePath.join(gitDir, "hooks", hook), 0o755)
      }
      // A clean filter that would rewrite the file as it is read, and an fsmonitor command.
      yield* fs.writeFileString(NodePath.join(gitDir, "config"), `[filter "evil"]\n\tclean = sh -c 'echo filter >> ${ran}; echo answer=42'\n[core]\n\tfsmonitor = sh -c 'echo fsmonitor >> ${ran}'\n`, { flag: "a" })
      yield* fs.writeFileString(NodePath.join(handle.path, ".gitattributes"), "*.txt filter=evil\n")
      yield* fs.writeFileString(NodePath.join(handle.path, "src", "app.txt"), "answer=43\n")
      const candidate = yield* sandbox.snapshot(handle, "snap")
      assert.isFalse(yield* fs.exists(ran))
      assert.strictEqual(gitSync(repo, "show", "switchyard/SY-1:src/app.txt"), "answer=43\n")
      assert.deepStrictEqual([...candidate.files].sort(), [".gitattributes", "src/app.txt"])
      // A checkout of that candidate for verification applies no filter either.
      yield* Effect.scoped(Effect.gen(function*() {
        const checkout = yield* sandbox.checkout(candidate.commit!, "verify SY-1", hooks, [])
        assert.strictEqual(yield* fs.readFileString(NodePath.join(checkout.path, "src", "app.txt")), "answer=43\n")
      }))
      assert.isFalse(yield* fs.exists(ran))
      assert.deepStrictEqual(yield* fs.readDirectory(NodePath.join(repo, ".git", "hooks")).pipe(Effect.map((h) => h.filter((n) => !n.endsWith(".sample")))), [])
    }))

  test("an agent that switched branches is brought back onto switchyard/<id>", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const { repo, base, sandbox, hooks } = yield* setup()
      const handle = yield* sandbox.create(SY1, 1, base, hooks)
      gitSync(handle.path, "checkout", "-q", "-b", "agent-branch")
      yield* fs.writeFileString(NodePath.join(handle.path, "x.txt"), "x\n")
      const candidate = yield* sandbox.snapshot(handle, "snap")
      assert.deepStrictEqual(candidate.files, ["x.txt"])
      assert.strictEqual(candidate.commit, gitSync(repo, "rev-parse", "switchyard/SY-1").trim())
    }))
})

describe("GitSandbox.amend and formatPatch", () => {
  test("amend rewrites the message and keeps the tree; formatPatch writes one file per commit", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const { root, repo, base, sandbox, hooks } = yield* setup()
      const handle = yield* sandbox.create(SY1, 1, base, hooks)
      yield* fs.writeFileString(NodePath.join(handle.path, "src", "app.txt"), "answer=42\n")
      const candidate = yield* sandbox.snapshot(handle, "draft")
      // Something staged after the snapshot must not sneak into the amended commit.
      yield* fs.writeFileString(NodePath.join(handle.path, "late.txt"), "late\n")
      gitSync(handle.path, "add", "late.txt")
      const amended = yield* sandbox.amend(handle, "SY-1: final message\n\nEvidence: bundle")
      assert.notStrictEqual(amended, candidate.commit)
      assert.strictEqual(gitSync(repo, "rev-parse", `${amended}^{tree}`).trim(), candidate.tree)
      assert.strictEqual(gitSync(repo, "log", "-1", "--format=%s", "switchyard/SY-1").trim(), "SY-1: final message")

      const out = NodePath.join(root, "patches")
      const files = yield* sandbox.formatPatch(handle, out)
      assert.strictEqual(files.length, 1)
      assert.isTrue(files[0]!.startsWith(out + NodePath.sep))
      const text = yield* fs.readFileString(files[0]!)
      assert.include(text, "Subject: [PATCH] SY-1: final message")
      assert.include(text, "+answer=42")
    }))

  test("amend refuses when the branch has nothing beyond the base", () =>
    Effect.gen(function*() {
      const { base, sandbox, hooks } = yield* setup()
      const handle = yield* sandbox.create(SY1, 1, base, hooks)
      const error = yield* Effect.flip(sandbox.amend(handle, "msg"))
      assert.strictEqual(error.operation, "amend")
      assert.strictEqual(gitSync(handle.path, "rev-parse", "HEAD").trim(), base)
    }))
})

describe("GitSandbox.checkout", () => {
  test("gives a detached clean checkout with after_create run, removed when the scope closes", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const { repo, workspace, base, sandbox, hooks } = yield* setup({ hooks: { after_create: "touch .prepared" } })
      const handle = yield* sandbox.create(SY1, 1, base, hooks)
      yield* fs.writeFileString(NodePath.join(handle.path, "src", "app.txt"), "answer=42\n")
      const candidate = yield* sandbox.snapshot(handle, "fix")
      yield* fs.writeFileString(NodePath.join(handle.path, "untracked-after.txt"), "agent leftovers\n")

      const dir = yield* Effect.scoped(Effect.gen(function*() {
        const checkout = yield* sandbox.checkout(candidate.commit!, "verify SY-1", hooks, [])
        const dir = checkout.path
        assert.isTrue(dir.startsWith(NodePath.join(workspace, ".verify") + NodePath.sep))
        assert.strictEqual(yield* fs.readFileString(NodePath.join(dir, "src", "app.txt")), "answer=42\n")
        assert.isTrue(yield* fs.exists(NodePath.join(dir, ".prepared")))
        assert.isFalse(yield* fs.exists(NodePath.join(dir, "untracked-after.txt")))
        assert.strictEqual(gitSync(dir, "rev-parse", "HEAD").trim(), candidate.commit)
        assert.isTrue(yield* fs.exists(checkout.home))
        assert.deepStrictEqual(worktreePaths(repo), [repo])
        return dir
      }))
      assert.isFalse(yield* fs.exists(NodePath.dirname(dir)))
    }))

  test("an after_create failure in a checkout is HookFailed and still cleans up", () =>
    Effect.gen(function*() {
      const { repo, base, sandbox, hooks } = yield* setup({ hooks: { after_create: "exit 3" } })
      const error = yield* Effect.flip(Effect.scoped(sandbox.checkout(base, "repro", hooks, [])))
      assert.strictEqual(error._tag, "HookFailed")
      assert.deepStrictEqual(worktreePaths(repo), [repo])
    }))
})

describe("GitSandbox.list, remove, branchHead and runHook", () => {
  test("lists our worktrees, removes one (with before_remove and branch deletion), reports branch heads", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const { repo, workspace, base, sandbox, hooks } = yield* setup({
        // Runs in the worktree: records where it ran one level up, then fails.
        hooks: { before_remove: "echo \"$PWD\" >> ../removed.txt; exit 1" }
      })
      const one = yield* sandbox.create(SY1, 1, base, hooks)
      const two = yield* sandbox.create(SY2, 1, base, hooks)
      const listed = yield* sandbox.list
      assert.deepStrictEqual(
        listed.map((w) => [w.path, w.branch]).sort(),
        [[one.path, "switchyard/SY-1"], [two.path, "switchyard/SY-2"]]
      )
      assert.deepStrictEqual(yield* sandbox.branchHead("switchyard/SY-1"), Option.some(base))
      assert.deepStrictEqual(yield* sandbox.branchHead("no/such-branch"), Option.none())
      assert.deepStrictEqual([...yield* sandbox.branches].sort(), [["main", base], ["switchyard/SY-1", base], ["switchyard/SY-2", base]])

      yield* sandbox.remove(one.path, { deleteBranch: one.branch, hooks })
      assert.deepStrictEqual((yield* sandbox.list).map((w) => w.path), [two.path])
      assert.isFalse(yield* fs.exists(one.path))
      assert.deepStrictEqual(yield* sandbox.branchHead("switchyard/SY-1"), Option.none())
      assert.isFalse((yield* sandbox.branches).has("switchyard/SY-1"))
      // The failing before_remove hook ran (in the worktree) and was ignored.
      assert.strictEqual(yield* fs.readFileString(NodePath.join(workspace, "removed.txt")), `${one.path}\n`)

      // Without deleteBranch the branch stays; a branch that is already gone is not an error.
      yield* sandbox.remove(two.path, { deleteBranch: "switchyard/never-existed", hooks })
      assert.deepStrictEqual(yield* sandbox.list, [])
      assert.deepStrictEqual(yield* sandbox.branchHead("switchyard/SY-2"), Option.some(base))
      assert.deepStrictEqual(worktreePaths(repo), [repo])
    }))

  test("before_remove is held to hooks.timeout_ms inside an uninterruptible region (the end of an attempt)", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const { base, workspace, sandbox, hooks } = yield* setup({
        // A 10 s hook that also ignores SIGTERM, with a 500 ms limit: SIGTERM at 0.5 s, SIGKILL 2 s later.
        hooks: { before_remove: "trap '' TERM; echo $$ > ../hook.pid; sleep 10", timeout_ms: 500 }
      })
      const handle = yield* sandbox.create(SY1, 1, base, hooks)
      const startedAt = Date.now()
      yield* Effect.uninterruptible(sandbox.remove(handle.path, { deleteBranch: handle.branch, hooks }))
      const tookMs = Date.now() - startedAt
      assert.isBelow(tookMs, 6_000)
      const pgid = Number((yield* fs.readFileString(NodePath.join(workspace, "hook.pid"))).trim())
      assert.deepStrictEqual(liveInGroup(pgid), [])
      assert.isFalse(yield* fs.exists(handle.path))
      assert.isTrue(Option.isNone(yield* sandbox.branchHead(handle.branch)))
    }))

  test("without hooks, remove runs no before_remove (a leftover with no config)", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const { base, workspace, sandbox, hooks } = yield* setup({ hooks: { before_remove: "touch ../hook-ran" } })
      const one = yield* sandbox.create(SY1, 1, base, hooks)
      yield* sandbox.remove(one.path)
      assert.isFalse(yield* fs.exists(one.path))
      assert.isFalse(yield* fs.exists(NodePath.join(workspace, "hook-ran")))
      const two = yield* sandbox.create(SY2, 1, base, hooks)
      yield* sandbox.remove(two.path, { hooks })
      assert.isTrue(yield* fs.exists(NodePath.join(workspace, "hook-ran")))
    }))

  test("refuses to remove a path outside the workspace root", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const { repo, sandbox } = yield* setup()
      const error = yield* Effect.flip(sandbox.remove(repo))
      assert.strictEqual(error.operation, "remove")
      assert.isTrue(yield* fs.exists(NodePath.join(repo, "README.md")))
    }))

  test("runHook: before_run failure is fatal, after_run failure is returned, unset hooks are None", () =>
    Effect.gen(function*() {
      const { base, sandbox, hooks } = yield* setup({
        hooks: { before_run: "echo not ready; exit 2", after_run: "echo after \"$SWITCHYARD_ISSUE_ID\"; exit 5" }
      })
      const handle = yield* sandbox.create(SY1, 1, base, hooks)
      const before = yield* Effect.flip(sandbox.runHook(handle, "before_run", hooks))
      assert.strictEqual(before.hook, "before_run")
      assert.strictEqual(before.exitCode, 2)
      assert.include(before.outputTail, "not ready")
      const after = yield* sandbox.runHook(handle, "after_run", hooks)
      assert.isTrue(Option.isSome(after))
      if (Option.isSome(after)) {
        assert.strictEqual(after.value.exitCode, 5)
        assert.include(after.value.outputTail, "after SY-1")
      }

      const { base: base2, sandbox: plain, hooks: plainHooks } = yield* setup()
      const handle2 = yield* plain.create(SY1, 1, base2, plainHooks)
      assert.isTrue(Option.isNone(yield* plain.runHook(handle2, "before_run", plainHooks)))
    }))
})
