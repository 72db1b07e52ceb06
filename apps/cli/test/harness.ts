/**
 * End-to-end harness: temp git repos with a tiny package and real `node --test` tests, shell-script agents,
 * and the BUILT `switchyard` binary run as a child process (apps/cli/bin/switchyard.mjs → dist/switchyard.cjs, or dist/status.cjs for `status`).
 */
import { afterEach } from "@effect/vitest"
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process"
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

export const bin = fileURLToPath(new URL("../bin/switchyard.mjs", import.meta.url))
export const repoRootOfThisProject = fileURLToPath(new URL("../../../", import.meta.url))

export interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/**
 * Runs the built CLI in `cwd` and resolves when it exits. Asynchronous on purpose: a test that blocks its
 * worker with spawnSync for seconds starves vitest's own RPC ("Timeout calling onTaskUpdate").
 */
export const sy = (cwd: string, ...args: Array<string>): Promise<Run> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd, env: { ...process.env, SWITCHYARD_LOG: "warning" } })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c))
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c))
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000)
    child.on("error", reject)
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })

/** Runs the built CLI with `--json` and parses stdout (fails the test with stderr when it does not parse). */
export const syJson = async <T = any>(cwd: string, ...args: Array<string>): Promise<T> => {
  const r = await sy(cwd, ...args, "--json")
  if (r.code !== 0) throw new Error(`switchyard ${args.join(" ")} exited ${r.code}: ${r.stderr}`)
  return JSON.parse(r.stdout) as T
}

/** Starts the CLI as a background child process (for signal tests). */
export const syChild = (cwd: string, ...args: Array<string>) =>
  spawn(process.execPath, [bin, ...args], { cwd, env: { ...process.env, SWITCHYARD_LOG: "warning" } })

export const git = (cwd: string, ...args: Array<string>) =>
  execFileSync("git", args, { cwd, encoding: "utf8" }).trim()

export interface TestRepo {
  readonly dir: string
  readonly root: string
  readonly tmp: string
  readonly worktrees: string
  /** Where agent scripts live (outside the repo; readable from the sandbox through `sandbox.readable`). */
  readonly agents: string
  /**
   * A directory outside the repo that confined agents and hooks may write (`sandbox.writable`): where test agents
   * leave markers (counts, logs) the test reads.
   */
  readonly shared: string
  /** Writes an executable agent script outside the repo and returns its path. */
  readonly agent: (name: string, script: string) => string
  readonly writeWorkflow: (frontMatter: string, body?: string) => void
  readonly cleanup: () => void
}

export const makeRepo = (): TestRepo => {
  const tmp = mkdtempSync(join(tmpdir(), "sy-e2e-"))
  const root = join(tmp, "repo")
  const worktrees = join(tmp, "worktrees")
  const files: Record<string, string> = {
    "package.json": JSON.stringify({ name: "e2e", private: true, type: "module" }) + "\n",
    "src/average.js": "export const average = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length\n",
    "test/average.test.js":
      `import { test } from "node:test"\nimport assert from "node:assert/strict"\nimport { average } from "../src/average.js"\ntest("average", () => assert.equal(average([2, 4]), 3))\n`
  }
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, name)), { recursive: true })
    writeFileSync(join(root, name), text)
  }
  git(root, "init", "-q", "-b", "main")
  git(root, "config", "user.name", "Test Human")
  git(root, "config", "user.email", "human@example.com")
  git(root, "add", "-A")
  git(root, "commit", "-q", "-m", "initial")
  const agentsDir = join(tmp, "agents")
  mkdirSync(agentsDir)
  const shared = join(tmp, "shared")
  mkdirSync(shared)
  return {
    dir: root,
    root,
    tmp,
    worktrees,
    agents: agentsDir,
    shared,
    agent: (name, script) => {
      const path = join(agentsDir, name)
      writeFileSync(path, `#!/bin/sh\n${script}\n`)
      chmodSync(path, 0o755)
      return path
    },
    // The test's agents dir and this project (the agent CLIs, wherever the checkout lies: /tmp is private) are
    // readable, and its shared dir writable, from the sandbox (a `sandbox:` block of the test's own replaces this).
    writeWorkflow: (frontMatter, body = "Fix {{ issue.id }}: {{ issue.title }}\n") =>
      writeFileSync(
        join(root, "WORKFLOW.md"),
        `---\nworkspace:\n  root: ${JSON.stringify(worktrees)}\n${
          /^sandbox:/m.test(frontMatter) ? "" : sandboxBlock({ readable: [agentsDir, repoRootOfThisProject], writable: [shared] })
        }${frontMatter}\n---\n${body}`
      ),
    cleanup: () => {
      spawnSync("git", ["worktree", "prune"], { cwd: root })
      rmSync(tmp, { recursive: true, force: true })
    }
  }
}

/** A `sandbox:` block for WORKFLOW.md front matter. */
export const sandboxBlock = (keys: {
  readonly confinement?: "bwrap" | "none"
  readonly network?: "none" | "host"
  readonly readable?: ReadonlyArray<string>
  readonly writable?: ReadonlyArray<string>
}): string =>
  `sandbox:\n${keys.confinement === undefined ? "" : `  confinement: ${keys.confinement}\n`}${
    keys.network === undefined ? "" : `  network: ${keys.network}\n`
  }  readable: ${JSON.stringify(keys.readable ?? [])}\n  writable: ${JSON.stringify(keys.writable ?? [])}\n`

/** The repro used by most tests: fails until average([]) is 0. */
export const averageRepro =
  `node --input-type=module -e "import { average } from './src/average.js'; process.exit(average([]) === 0 ? 0 : 1)"`

/** A correct fixer: guards the empty list, adds a test, claims PR_READY. */
export const fixerScript = `set -e
cat > src/average.js <<'JS'
export const average = (xs) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length)
JS
printf '%s\\n' 'test("empty", () => assert.equal(average([]), 0))' >> test/average.test.js
echo '{"claim":"PR_READY","summary":"guard the empty list","plan":"check length first"}' > "$SWITCHYARD_RESULT_FILE"
echo fixed`

export { existsSync, readFileSync, writeFileSync, join }

/** Collects a child's stdout and resolves when a line matches (rejects after `timeoutMs`). */
export const lines = (child: import("node:child_process").ChildProcess) => {
  let buffer = ""
  const waiters: Array<{ re: RegExp; resolve: (l: string) => void }> = []
  const seen: Array<{ line: string; at: number }> = []
  child.stdout!.setEncoding("utf8")
  child.stdout!.on("data", (chunk: string) => {
    buffer += chunk
    const parts = buffer.split("\n")
    buffer = parts.pop() ?? ""
    for (const line of parts) {
      seen.push({ line, at: Date.now() })
      for (const w of [...waiters]) {
        if (w.re.test(line)) {
          waiters.splice(waiters.indexOf(w), 1)
          w.resolve(line)
        }
      }
    }
  })
  let stderr = ""
  child.stderr!.setEncoding("utf8")
  child.stderr!.on("data", (c: string) => (stderr += c))
  return {
    seen,
    stderr: () => stderr,
    waitFor: (re: RegExp, timeoutMs = 30_000) =>
      new Promise<string>((resolve, reject) => {
        const hit = seen.find((s) => re.test(s.line))
        if (hit) return resolve(hit.line)
        const timer = setTimeout(
          () => reject(new Error(`no line matching ${re} within ${timeoutMs} ms; got:\n${seen.map((s) => s.line).join("\n")}\n${stderr}`)),
          timeoutMs
        )
        waiters.push({ re, resolve: (l) => (clearTimeout(timer), resolve(l)) })
      })
  }
}

/** Resolves with the exit code (or signal) and how long after `since` it came. */
export const exited = (child: import("node:child_process").ChildProcess, since = Date.now()) =>
  new Promise<{ code: number | null; signal: string | null; afterMs: number }>((resolve) => {
    if (child.exitCode !== null) return resolve({ code: child.exitCode, signal: null, afterMs: Date.now() - since })
    child.once("exit", (code, signal) => resolve({ code, signal, afterMs: Date.now() - since }))
  })

/** True when `pid` is a live process (a zombie counts as dead: nothing reaps orphans on some machines). */
export const alive = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z"
  } catch {
    return false
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Polls `check` every 50 ms until it is true (rejects after `timeoutMs`). */
export const until = async (check: () => boolean, timeoutMs = 15_000, what = "condition") => {
  const start = Date.now()
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(50)
  }
}

/**
 * Runs the built CLI without blocking this process (unlike `sy`), so a server running in the test process — a
 * model twin — keeps answering the agent. `env` is merged over the test's environment.
 */
export const syAsync = (cwd: string, args: ReadonlyArray<string>, env: Readonly<Record<string, string>> = {}): Promise<Run> =>
  new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd,
      env: { ...process.env, SWITCHYARD_LOG: "warning", ...env }
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")))
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")))
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  })

/** The Claude Code binary installed as a devDependency of @switchyard/twin. */
export const claudeBin = fileURLToPath(new URL("../../../packages/twin/node_modules/.bin/claude", import.meta.url))

/** The Codex CLI installed as a devDependency of @switchyard/twin (`@openai/codex` 0.169.0). */
export const codexBin = fileURLToPath(new URL("../../../packages/twin/node_modules/.bin/codex", import.meta.url))

/**
 * Host pids of live processes whose command line contains `marker` (bubblewrap's own processes excluded: their
 * arguments name every bound path). A confined agent's `$$` is a pid in its own PID namespace, so tests find its
 * processes this way, independently of the code under test.
 */
export const pidsMatching = (marker: string): Array<number> => {
  const found: Array<number> = []
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0")
      if (argv[0]?.endsWith("bwrap") === true) continue
      if (argv.join(" ").includes(marker) && alive(Number(entry))) found.push(Number(entry))
    } catch {
      // gone between readdir and read
    }
  }
  return found
}

/**
 * Temp repos and background `switchyard` processes for the tests of one file; call once at module level.
 * `repo()` makes a repo that is removed after each test; `start(cwd, ...args)` starts the CLI in the background
 * (its stdout collected by `lines`) and `track(child)` adopts another child: each is SIGKILLed after the test if
 * it is still running.
 */
export const perTest = () => {
  let repos: Array<TestRepo> = []
  let children: Array<ChildProcess> = []
  afterEach(() => {
    for (const c of children) if (c.exitCode === null) c.kill("SIGKILL")
    for (const r of repos) r.cleanup()
    children = []
    repos = []
  })
  const track = <C extends ChildProcess>(child: C): C => {
    children.push(child)
    return child
  }
  return {
    repo: (): TestRepo => {
      const r = makeRepo()
      repos.push(r)
      return r
    },
    start: (cwd: string, ...args: Array<string>) => {
      const child = track(syChild(cwd, ...args))
      return { child, out: lines(child) }
    },
    track
  }
}

/** The pnpm workspace fixture (fixtures/shop: six packages, vitest, a committed lockfile, a real bug and its fix). */
export const shopFixture = join(repoRootOfThisProject, "fixtures", "shop")

/**
 * Replaces the test repo's files with the shop fixture (without node_modules) and commits it: a pnpm workspace
 * whose `pnpm test` runs 25 vitest tests, and whose `repro/money-negative.test.ts` fails until
 * `fixtures/shop/oracle/money-negative.patch` is applied.
 */
export const useShop = (r: TestRepo) => {
  git(r.dir, "rm", "-q", "-r", ".")
  execFileSync("sh", ["-c", `tar --exclude=node_modules -cf - . | (cd ${JSON.stringify(r.dir)} && tar xf -)`], { cwd: shopFixture })
  git(r.dir, "add", "-A")
  git(r.dir, "commit", "-q", "-m", "shop")
}

/** The reproduction of the shop's open bug (refunds print as `$-1.-50`). */
export const shopRepro = "pnpm exec vitest run -c vitest.repro.config.ts repro/money-negative.test.ts"

/**
 * What `switchyard status --json` says of the external tracker's health, one `[kind, read ok, typeof rate limit
 * left, write-backs waiting]` row per kind (the e2e tests of the GitHub and Linear trackers).
 */
export const trackerHealthRows = async (dir: string): Promise<ReadonlyArray<readonly [string, boolean, string, number]>> => {
  const status = await syAsync(dir, ["status", "--json"])
  const health = JSON.parse(status.stdout).tracker.health as ReadonlyArray<Record<string, unknown>>
  return health.map((h) => [String(h["kind"]), h["lastOkAt"] !== null, typeof h["rateLimitRemaining"], Number(h["pendingWriteBacks"])] as const)
}

/** The agent's recorded environment (`envFile`) holds neither the variable `name` nor the secret `value`. */
export const expectKeptFromAgent = (envFile: string, name: string, value: string) => {
  const agentEnv = readFileSync(envFile, "utf8")
  if (agentEnv.includes(name) || agentEnv.includes(value)) throw new Error(`the agent's environment holds ${name} or its value`)
}

