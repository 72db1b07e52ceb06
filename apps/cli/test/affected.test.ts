/**
 * Verification commands learn what the change touches (issue 12 item 5, docs/workflow.md "Affected work only"):
 * `SWITCHYARD_BASE_SHA`, `SWITCHYARD_HEAD_SHA`, `SWITCHYARD_CHANGED_FILES` and `SWITCHYARD_CHANGED_PACKAGES`, the
 * same in the candidate's checkout and the base's (so test counts compare like with like). Built CLI, real git.
 */
import { describe, expect, it } from "@effect/vitest"
import { mkdirSync } from "node:fs"
import { git, join, perTest, sy, syJson, writeFileSync } from "./harness.js"

const { repo } = perTest()

describe("affected work only", () => {
  it("every verification command gets the base, the head, the changed files and the changed workspace packages", async () => {
    const r = repo()
    writeFileSync(join(r.dir, "pnpm-workspace.yaml"), "packages:\n  - packages/*\n")
    const pkg = (name: string) => JSON.stringify({ name: `@e2e/${name}`, private: true }) + "\n"
    for (const name of ["a", "b"]) {
      mkdirSync(join(r.dir, "packages", name), { recursive: true })
      writeFileSync(join(r.dir, "packages", name, "package.json"), pkg(name))
      writeFileSync(join(r.dir, "packages", name, "index.js"), `export const ${name} = 1\n`)
    }
    git(r.dir, "add", "-A")
    git(r.dir, "commit", "-q", "-m", "two workspace packages")
    const agent = r.agent("touch-a.sh", `echo 'export const a = 2' > packages/a/index.js
echo '{"claim":"PR_READY","summary":"a is 2"}' > "$SWITCHYARD_RESULT_FILE"`)
    const show = `printf 'base=%s head=%s\\nfiles=%s\\npackages=%s\\n' "$SWITCHYARD_BASE_SHA" "$SWITCHYARD_HEAD_SHA" "$SWITCHYARD_CHANGED_FILES" "$SWITCHYARD_CHANGED_PACKAGES"`
    r.writeWorkflow(`agent:
  command: ${JSON.stringify(agent)}
  max_attempts: 1
verify:
  compare_test_counts: true
  validation:
    - ${JSON.stringify(show)}
    - 'git diff --name-only "$SWITCHYARD_BASE_SHA" "$SWITCHYARD_HEAD_SHA"'
polling:
  interval_ms: 200
`)
    const base = git(r.dir, "rev-parse", "HEAD")
    await sy(r.dir, "issue", "create", "--title", "a should be 2")
    const run = await sy(r.dir, "run", "--once")
    expect(run.code, run.stderr).toBe(0)
    const evidence = await syJson(r.dir, "evidence", "SY-1")
    expect(evidence.outcome).toBe("PR_READY")
    const out = evidence.validation[0].outputTail as string
    expect(out).toMatch(new RegExp(`base=${base} head=[0-9a-f]{40}\\n`))
    expect(out).not.toContain(`head=${base}`)
    expect(out).toContain("files=packages/a/index.js\n")
    expect(out).toContain("packages=@e2e/a\n")
    // The checkout has the base in its history, so git (and pnpm's `...[<base>]` filter) can diff against it.
    expect(evidence.validation[1]).toMatchObject({ exitCode: 0 })
    expect(evidence.validation[1].outputTail.trim()).toBe("packages/a/index.js")
  })
})
