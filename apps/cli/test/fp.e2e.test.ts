/**
 * `tracker.kind: fp` end to end: the built CLI with a fake `fp` on PATH (packages/trackers/test/fixtures/fake-fp.mjs,
 * the JSON shapes of integrations.md §2), real git and processes. `run --once` turns an fp issue into a verified
 * change: fp status and properties, and a comment, written back; an unregistered project is one line, exit 2.
 */
import { describe, expect, it } from "@effect/vitest"
import { chmodSync, copyFileSync, mkdirSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { averageRepro, fixerScript, join, perTest, readFileSync, syAsync, writeFileSync } from "./harness.js"

const { repo } = perTest()
const fake = fileURLToPath(new URL("../../../packages/trackers/test/fixtures/fake-fp.mjs", import.meta.url))

describe("switchyard run with tracker.kind fp (built CLI, fake fp on PATH)", () => {
  it("an fp issue becomes a verified change; an unregistered project is refused", async () => {
    const r = repo()
    const bin = join(r.tmp, "bin")
    mkdirSync(bin)
    copyFileSync(fake, join(bin, "fp"))
    chmodSync(join(bin, "fp"), 0o755)
    const state = join(r.tmp, "fp-state.json")
    const at = "2026-12-01T10:00:00.000Z"
    writeFileSync(state, JSON.stringify({
      issues: [{
        id: "11111111-aaaa-bbbb-cccc-dddddddddddd",
        displayId: "SWYRD-abc12345",
        title: "average of an empty list is NaN",
        description: "average([]) should be 0",
        status: "todo",
        priority: "high",
        parent: null,
        dependencies: [],
        createdAt: at,
        updatedAt: at
      }]
    }))
    r.writeWorkflow(`tracker:
  kind: fp
agent:
  command: ${JSON.stringify(r.agent("fixer.sh", fixerScript))}
  max_attempts: 1
verify:
  reproduction: ${JSON.stringify(averageRepro)}
  validation:
    - node --test
polling:
  interval_ms: 200
`)
    const env = { PATH: `${bin}:${process.env["PATH"] ?? ""}`, FP_FAKE_STATE: state }
    const result = await syAsync(r.dir, ["run", "--once"], env)
    expect(result.code, result.stderr).toBe(0)
    const issue = JSON.parse(readFileSync(state, "utf8")).issues[0]
    expect([issue.status, issue.properties.switchyard_state, issue.properties.switchyard_branch]).toEqual([
      "in-progress",
      "in-review",
      "switchyard/FP-1"
    ])
    expect(issue.comments).toHaveLength(1)
    expect(issue.comments[0]).toContain("Switchyard verified a change")

    writeFileSync(state.replace(/\.json$/, "-mode"), "unregistered")
    const refused = await syAsync(r.dir, ["run", "--once"], env)
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain("(tracker.kind): fp: fp issue list failed (exit 1): Error: not a registered fp project")
  }, 120_000)
})
