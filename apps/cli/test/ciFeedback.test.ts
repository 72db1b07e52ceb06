/**
 * CI feedback, local (docs/trust.md, "The feedback loop"): `integration.ci_command` runs confined on each candidate
 * that verified; a failure becomes one revision turn with the failed step and its log, the new candidate is verified
 * and checked again, and after `agent.max_ci_revisions` the attempt escalates with `ci_failed`.
 */
import { afterEach, describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { averageRepro, existsSync, join, makeRepo, readFileSync, sy, syJson, type TestRepo } from "./harness.js"

/** Fixes average([]); on a CI revision, keeps the feedback it got and (when `learns`) adds what CI wants. */
const agentScript = (shared: string, learns: boolean) => `set -e
cat > src/average.js <<'JS'
export const average = (xs) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length)
JS
if [ -n "$SWITCHYARD_REVISION" ]; then
  printf '%s\\n' "$SWITCHYARD_FEEDBACK" > ${JSON.stringify(shared)}/feedback-$SWITCHYARD_REVISION.txt
  ${learns ? "echo 'export const ok = true' > src/ci-ok.js" : "true"}
fi
echo '{"claim":"PR_READY","summary":"guard the empty list"}' > "$SWITCHYARD_RESULT_FILE"`

const ciCommand = `test -f src/ci-ok.js || { echo 'lint step: src/ci-ok.js is missing (CI-LOG-MARKER)'; exit 3; }`

describe("integration.ci_command (built CLI)", () => {
  let repos: Array<TestRepo> = []
  afterEach(() => {
    for (const r of repos) r.cleanup()
    repos = []
  })
  const setup = (learns: boolean, maxCi: number) => {
    const r = makeRepo()
    repos.push(r)
    r.writeWorkflow(
      `agent:\n  command: ${JSON.stringify(r.agent("ci.sh", agentScript(r.shared, learns)))}\n  max_attempts: 1\n  max_ci_revisions: ${maxCi}\nverify:\n  validation:\n    - node --test\nintegration:\n  ci_command: ${JSON.stringify(ciCommand)}`
    )
    return r
  }
  const eventTypes = (r: TestRepo): Array<string> => {
    const db = new Database(join(r.dir, ".switchyard/switchyard.db"), { readonly: true })
    const rows = db.prepare("SELECT type FROM events WHERE issue_id = 'SY-1' ORDER BY seq").all() as Array<{ type: string }>
    db.close()
    return rows.map((row) => row.type)
  }

  it("a failing CI check produces one revision turn with its log, then the change is verified again and is PR_READY", async () => {
    const r = setup(true, 2)
    await sy(r.dir, "issue", "create", "--title", "average([]) is NaN", "--repro", averageRepro)
    expect((await sy(r.dir, "run", "--once")).code).toBe(0)
    const bundle = await syJson(r.dir, "evidence", "SY-1")
    expect(bundle.outcome).toBe("PR_READY")
    expect(bundle.revisions).toHaveLength(1)
    expect(bundle.revisions[0].cause).toBe("ci_failed")
    const feedback = readFileSync(join(r.shared, "feedback-1.txt"), "utf8")
    expect(feedback).toContain("its CI check failed (ci_failed; CI revision 1 of 2)")
    expect(feedback).toContain("exited 3")
    expect(feedback).toContain("lint step: src/ci-ok.js is missing (CI-LOG-MARKER)")
    expect(existsSync(join(r.shared, "feedback-2.txt"))).toBe(false)
    const types = eventTypes(r)
    expect(types.filter((t) => t === "ci.failed")).toHaveLength(1)
    expect(types.filter((t) => t === "verify.done")).toHaveLength(2)
    expect(types.lastIndexOf("ci.passed")).toBeGreaterThan(types.lastIndexOf("verify.done"))
    expect(bundle.diff.files).toContain("src/ci-ok.js")
  }, 120_000)

  it("a CI check that keeps failing escalates with ci_failed after agent.max_ci_revisions", async () => {
    const r = setup(false, 1)
    await sy(r.dir, "issue", "create", "--title", "average([]) is NaN", "--repro", averageRepro)
    expect((await sy(r.dir, "run", "--once")).code).toBe(0)
    const bundle = await syJson(r.dir, "evidence", "SY-1")
    expect(bundle.outcome).toBe("ESCALATE")
    expect(bundle.verdict.cause).toBe("ci_failed")
    expect(bundle.verdict.reasons.join(" ")).toContain("after 1 CI revision")
    expect(bundle.revisions).toHaveLength(1)
    expect(readFileSync(join(r.shared, "feedback-1.txt"), "utf8")).toContain("CI-LOG-MARKER")
    expect(eventTypes(r).filter((t) => t === "ci.failed")).toHaveLength(2)
    expect(await syJson(r.dir, "issue", "show", "SY-1")).toMatchObject({ status: "blocked" })
  }, 120_000)
})
