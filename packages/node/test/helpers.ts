/** Test helpers: independent process inspection (ps) and real git repositories in temp dirs. */
import { FileSystem } from "@effect/platform"
import { type VerifyPolicy, Workflow } from "@switchyard/core"
import { WorkflowConfig, WorkflowDefinition } from "@switchyard/domain"
import { Effect, Layer, Schema } from "effect"
import { execFileSync } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import * as NodePath from "node:path"

/** Pids of live (non-zombie) processes in group `pgid`, read with `ps`, independently of the code under test. */
export const liveInGroup = (pgid: number): Array<number> =>
  execFileSync("ps", ["-eo", "pid=,pgid=,stat="], { encoding: "utf8" })
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter(([pid, group, stat]) => pid !== undefined && Number(group) === pgid && stat !== undefined && !stat.startsWith("Z"))
    .map(([pid]) => Number(pid))

/** Runs git synchronously for fixtures (not the code under test). */
export const gitSync = (cwd: string, ...args: Array<string>): string =>
  execFileSync("git", args, { cwd, encoding: "utf8", env: { ...process.env, LC_ALL: "C" } })

/**
 * A real repository in a fresh temp dir (removed with the scope): `git init`, identity in the repo config,
 * README.md and src/app.txt committed on `main`.
 */
export const makeRepo = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const root = yield* fs.makeTempDirectoryScoped({ prefix: "switchyard-node-" })
  const repo = NodePath.join(root, "repo")
  const workspace = NodePath.join(root, "workspaces")
  yield* fs.makeDirectory(NodePath.join(repo, "src"), { recursive: true })
  gitSync(repo, "init", "-q", "-b", "main")
  gitSync(repo, "config", "user.name", "Test")
  gitSync(repo, "config", "user.email", "test@example.com")
  gitSync(repo, "config", "commit.gpgsign", "false")
  yield* fs.writeFileString(NodePath.join(repo, "README.md"), "# demo\n")
  yield* fs.writeFileString(NodePath.join(repo, "src", "app.txt"), "answer=41\n")
  yield* fs.writeFileString(NodePath.join(repo, ".gitignore"), "*.log\n")
  gitSync(repo, "add", "-A")
  gitSync(repo, "commit", "-q", "-m", "initial")
  const base = gitSync(repo, "rev-parse", "HEAD").trim()
  return { root, repo, workspace, base }
})

/** A WORKFLOW.md config decoded like the loader does (defaults applied). */
export const config = (input: unknown): WorkflowConfig => Schema.decodeUnknownSync(WorkflowConfig)(input)

/** A fixed Workflow service for tests. */
export const workflowLayer = (repoRoot: string, cfg: WorkflowConfig): Layer.Layer<Workflow> =>
  Layer.succeed(Workflow, {
    repoRoot,
    stateDir: NodePath.join(repoRoot, ".switchyard"),
    current: Effect.succeed(
      WorkflowDefinition.make({ path: NodePath.join(repoRoot, "WORKFLOW.md"), config: cfg, prompt_template: "" })
    )
  })

/**
 * Commits `files` (null = delete) on top of `base` in a throw-away worktree and returns the new commit; the
 * repository's own checkout and branches are untouched (the commit is only reachable by its hash).
 */
export const commitOnTop = (repo: string, base: string, files: Record<string, string | null>): string => {
  const dir = mkdtempSync(NodePath.join(NodePath.dirname(repo), "commit-"))
  rmSync(dir, { recursive: true })
  gitSync(repo, "worktree", "add", "-q", "--detach", dir, base)
  for (const [name, text] of Object.entries(files)) {
    const path = NodePath.join(dir, name)
    if (text === null) rmSync(path)
    else {
      mkdirSync(NodePath.dirname(path), { recursive: true })
      writeFileSync(path, text)
    }
  }
  gitSync(dir, "add", "-A")
  gitSync(dir, "commit", "-q", "-m", "candidate")
  const commit = gitSync(dir, "rev-parse", "HEAD").trim()
  gitSync(repo, "worktree", "remove", "--force", dir)
  return commit
}

/** A verify policy with nothing allowed and nothing extra (no test-count comparison), `overrides` on top. */
export const policy = (overrides: Partial<VerifyPolicy> = {}): VerifyPolicy => ({
  scope: [],
  allowValidationConfig: false,
  allowProtectedPaths: [],
  protectedPaths: [],
  maxAddedFileBytes: 1024 * 1024,
  compareTestCounts: false,
  secretValues: [],
  env: [],
  ...overrides
})
