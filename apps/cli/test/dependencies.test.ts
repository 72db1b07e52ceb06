/**
 * Dependencies (end to end, built CLI, real git, pnpm and confinement): on a small pnpm workspace whose
 * after_create is a frozen install, a change that adds a workspace dependency and updates pnpm-lock.yaml with it is
 * PR_READY; one that edits package.json but leaves the lockfile stale fails protected_path naming the lockfile
 * (not a retryable hook failure); one that edits only pnpm-lock.yaml fails protected_path.
 */
import { describe, expect, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import { mkdirSync } from "node:fs"
import { git, join, perTest, readFileSync, sy, syJson, type TestRepo, writeFileSync } from "./harness.js"

const { repo } = perTest()

/** Turns the test repo into a 2-package pnpm workspace (a, b) with a consistent pnpm-lock.yaml, committed. */
const workspace = (r: TestRepo) => {
  const write = (path: string, text: string) => {
    mkdirSync(join(r.dir, path, ".."), { recursive: true })
    writeFileSync(join(r.dir, path), text)
  }
  write("package.json", JSON.stringify({ name: "ws", private: true, type: "module" }, null, 2) + "\n")
  write("pnpm-workspace.yaml", "packages:\n  - packages/*\n")
  write("packages/a/package.json", JSON.stringify({ name: "a", version: "1.0.0", type: "module", main: "index.js" }, null, 2) + "\n")
  write("packages/a/index.js", "export const one = 1\n")
  write("packages/b/package.json", JSON.stringify({ name: "b", version: "1.0.0", type: "module" }, null, 2) + "\n")
  write(".gitignore", "node_modules\n")
  execFileSync("pnpm", ["install", "--offline"], { cwd: r.dir, stdio: "pipe" })
  git(r.dir, "add", "-A")
  git(r.dir, "commit", "-q", "-m", "workspace")
}

const workflow = (agentPath: string) => `agent:
  command: ${JSON.stringify(agentPath)}
  max_attempts: 1
  timeout_ms: 60000
hooks:
  after_create: "pnpm install --frozen-lockfile --prefer-offline"
verify:
  validation:
    - "node --test"
polling:
  interval_ms: 200
`

const addDep = `node -e 'const f="packages/b/package.json";const p=JSON.parse(require("fs").readFileSync(f,"utf8"));p.dependencies={a:"workspace:*"};require("fs").writeFileSync(f,JSON.stringify(p,null,2)+"\\n")'`
const claim = `echo '{"claim":"PR_READY","summary":"b uses a","plan":"add the dependency"}' > "$SWITCHYARD_RESULT_FILE"`

const outcome = async (r: TestRepo, script: string) => {
  r.writeWorkflow(workflow(r.agent("agent.sh", `set -e\n${script}\n${claim}`)))
  await sy(r.dir, "issue", "create", "--title", "b should use a")
  const run = await sy(r.dir, "run", "--once")
  expect(run.code, run.stderr).toBe(0)
  return syJson(r.dir, "evidence", "SY-1")
}

describe("dependencies: lockfile with manifest", () => {
  it("a workspace dependency added with a consistent pnpm-lock.yaml is PR_READY", async () => {
    const r = repo()
    workspace(r)
    const evidence = await outcome(r, `${addDep}\npnpm install --offline --lockfile-only`)
    expect(evidence.outcome, JSON.stringify(evidence.verdict)).toBe("PR_READY")
    const guard = evidence.guards.find((g: { rule: string }) => g.rule === "protected_path")
    expect(guard.passed).toBe(true)
    expect(guard.detail).toContain("pnpm-lock.yaml")
  }, 120_000)

  it("a package.json dependency change with a stale lockfile fails protected_path naming the lockfile, not a hook failure", async () => {
    const r = repo()
    workspace(r)
    const evidence = await outcome(r, addDep)
    expect(evidence.outcome).not.toBe("PR_READY")
    expect(evidence.verdict.cause).toBe("guard_failed:protected_path")
    expect(evidence.verdict.reasons.join(" ")).toContain("the lockfile does not match the manifests")
    expect(evidence.verdict.reasons.join(" ")).toContain("packages/b/package.json")
  }, 120_000)

  it("an edit of pnpm-lock.yaml alone fails protected_path", async () => {
    const r = repo()
    workspace(r)
    const lock = readFileSync(join(r.dir, "pnpm-lock.yaml"), "utf8")
    expect(lock).toContain("lockfileVersion")
    const evidence = await outcome(r, `printf '\\n# touched\\n' >> pnpm-lock.yaml`)
    expect(evidence.verdict.cause).toBe("guard_failed:protected_path")
    expect(evidence.verdict.reasons.join(" ")).toContain("without changing any manifest's dependencies")
  }, 120_000)
})
