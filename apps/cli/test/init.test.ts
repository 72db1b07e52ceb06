/**
 * `switchyard init` on JS repositories (built CLI, temp git repos): the package manager from the lockfile becomes
 * the install hook, the root package.json scripts become validation, and each choice is printed.
 */
import { describe, expect, it } from "@effect/vitest"
import { git, join, perTest, readFileSync, sy, writeFileSync } from "./harness.js"

const { repo } = perTest()

/** The front-matter lines of the written WORKFLOW.md for `key` (e.g. `after_create`). */
const line = (dir: string, key: string) =>
  readFileSync(join(dir, "WORKFLOW.md"), "utf8").split("\n").find((l) => l.trimStart().startsWith(`${key}:`)) ?? ""

const commit = (dir: string, files: Record<string, string>) => {
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text)
  git(dir, "add", "-A")
  git(dir, "commit", "-q", "-m", "setup")
}

describe("switchyard init on a JS repository", () => {
  it("with pnpm-lock.yaml and package.json scripts writes the pnpm install hook and validation, and says so", async () => {
    const r = repo()
    commit(r.dir, {
      "pnpm-lock.yaml": "lockfileVersion: '9.0'\n",
      "package.json": JSON.stringify({ name: "m", private: true, scripts: { test: "vitest run", lint: "eslint .", typecheck: "tsc -b", build: "tsc" } })
    })
    const init = await sy(r.dir, "init")
    expect(init.code, init.stderr).toBe(0)
    expect(init.stdout).toContain("package manager: pnpm (pnpm-lock.yaml); install hook: pnpm install --frozen-lockfile --prefer-offline")
    expect(init.stdout).toContain("validation: pnpm run typecheck, pnpm run lint, pnpm test")
    expect(line(r.dir, "after_create")).toMatch(/^ {2}after_create: "pnpm install --frozen-lockfile --prefer-offline" +#/)
    expect(line(r.dir, "validation")).toMatch(/^ {2}validation: \["pnpm run typecheck", "pnpm run lint", "pnpm test"\] +#/)
    // A second init keeps the file as it is and guesses nothing.
    const again = await sy(r.dir, "init")
    expect(again.code).toBe(0)
    expect(again.stdout).toContain("kept existing")
    expect(again.stdout).not.toContain("package manager:")
  })

  it("with package-lock.json it is npm ci; with yarn.lock yarn", async () => {
    const npm = repo()
    commit(npm.dir, { "package-lock.json": "{}\n", "package.json": JSON.stringify({ scripts: { test: "node --test" } }) })
    expect((await sy(npm.dir, "init")).stdout).toContain("package manager: npm (package-lock.json); install hook: npm ci --prefer-offline")
    expect(line(npm.dir, "validation")).toContain(`["npm test"]`)
    const yarn = repo()
    commit(yarn.dir, { "yarn.lock": "\n" })
    await sy(yarn.dir, "init")
    expect(line(yarn.dir, "after_create")).toContain(`"yarn install --frozen-lockfile"`)
  })

  it("with no lockfile writes no install hook (and no validation when there are no scripts)", async () => {
    const r = repo()
    const init = await sy(r.dir, "init")
    expect(init.code, init.stderr).toBe(0)
    expect(init.stdout).toContain("package manager: none detected (no lockfile), so no install hook")
    expect(init.stdout).toContain("validation: none (package.json has no typecheck, lint or test script)")
    expect(line(r.dir, "after_create")).toMatch(/^ {2}after_create: null +#/)
    expect(line(r.dir, "validation")).toMatch(/^ {2}validation: \[\] +#/)
  })

  it("with a malformed package.json warns on one line and guesses no validation", async () => {
    const r = repo()
    commit(r.dir, { "pnpm-lock.yaml": "lockfileVersion: '9.0'\n", "package.json": "{ \"scripts\": { \"test\": " })
    const init = await sy(r.dir, "init")
    expect(init.code, init.stderr).toBe(0)
    const warnings = init.stderr.split("\n").filter((l) => l.includes("package.json"))
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatch(/^warning: package\.json is malformed \(.+\), so no validation was guessed$/)
    expect(line(r.dir, "validation")).toMatch(/^ {2}validation: \[\] +#/)
    // The lockfile still gives the install hook.
    expect(line(r.dir, "after_create")).toContain(`"pnpm install --frozen-lockfile --prefer-offline"`)
  })
})
