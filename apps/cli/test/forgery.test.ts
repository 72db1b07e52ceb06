/**
 * Trust state the agent cannot forge (threat model A6, A9, A10): the built CLI in temp git repos, with the state
 * in `.switchyard/` rewritten by hand the way a hostile process that can write it (but cannot read the runner's
 * key) would. `status --check` must exit 3 naming the violation, and `switchyard verify` must refuse (exit 1)
 * to call forged evidence FRESH or PASSED; an untouched run stays clean.
 */
import Database from "better-sqlite3"
import { afterEach, describe, expect, it } from "@effect/vitest"
import { canonicalJson } from "@switchyard/core"
import * as Crypto from "node:crypto"
import { averageRepro, fixerScript, git, join, makeRepo, readFileSync, sy, syJson, type TestRepo, writeFileSync } from "./harness.js"

let repos: Array<TestRepo> = []
afterEach(() => {
  for (const r of repos) r.cleanup()
  repos = []
})

/** SY-1 gets a correct fix (PR_READY); SY-2 a change that does not fix it (ESCALATE reproduction_still_fails, branch kept). */
const agentScript = `if grep -q '"SY-2"' "$SWITCHYARD_TASK_FILE"; then
  echo '// not a fix' >> src/average.js
  echo '{"claim":"PR_READY","summary":"trust me","plan":"none"}' > "$SWITCHYARD_RESULT_FILE"
else
${fixerScript}
fi`

const workflow = (agent: string) => `agent:
  command: ${JSON.stringify(agent)}
  max_attempts: 1
  max_revisions: 0
verify:
  validation:
    - node --test`

/** A repo where SY-1 ended PR_READY (in review) and SY-2 ESCALATE (blocked), both honestly. */
const honestRun = async () => {
  const r = makeRepo()
  repos.push(r)
  r.writeWorkflow(workflow(r.agent("agent.sh", agentScript)))
  await sy(r.dir, "issue", "create", "--title", "average([]) is NaN", "--repro", averageRepro)
  await sy(r.dir, "issue", "create", "--title", "average([]) is still NaN", "--repro", averageRepro)
  // One at a time: what is under test is the state afterwards, not two sandboxes racing on the shared .git.
  const run = await sy(r.dir, "run", "--once", "--concurrency", "1")
  expect(run.code, run.stderr).toBe(0)
  expect((await syJson(r.dir, "issue", "show", "SY-1")).status).toBe("in_review")
  const sy2 = await syJson(r.dir, "evidence", "SY-2")
  expect(sy2, JSON.stringify(sy2.verdict.reasons)).toMatchObject({ outcome: "ESCALATE", verdict: { cause: "reproduction_still_fails" } })
  return r
}

const evidenceJson = (r: TestRepo, id: string) => join(r.dir, ".switchyard/runs", id, "1/evidence.json")
const db = (r: TestRepo) => new Database(join(r.dir, ".switchyard/switchyard.db"))

/** The stored document of `id` attempt 1, as in the SQLite row. */
const storedDocument = (r: TestRepo, id: string): Record<string, any> => {
  const d = db(r)
  const row = d.prepare("SELECT bundle FROM evidence WHERE issue_id = ? AND attempt = 1").get(id) as { bundle: string }
  d.close()
  return JSON.parse(row.bundle)
}

/** Writes `document` as `id`'s attempt-1 bundle into both copies: the SQLite row and evidence.json. */
const writeDocument = (r: TestRepo, id: string, document: Record<string, any>) => {
  const d = db(r)
  d.prepare("UPDATE evidence SET outcome = ?, bundle = ? WHERE issue_id = ? AND attempt = 1").run(document.outcome, JSON.stringify(document), id)
  d.close()
  writeFileSync(evidenceJson(r, id), JSON.stringify(document, null, 2) + "\n")
}

/**
 * Threat model A6, completely: SY-2's ESCALATE becomes PR_READY in the bundle (with SY-1's verified fingerprint),
 * the attempts row, the terminal event and the tracker, and switchyard/SY-2 is pointed at SY-1's verified commit,
 * so everything agrees except what only the key can make. Returns the forged document (signature untouched).
 */
const forgeEscalateToPrReady = (r: TestRepo) => {
  const sy1 = storedDocument(r, "SY-1")
  const document = storedDocument(r, "SY-2")
  document.outcome = "PR_READY"
  document.verdict = { state: "PR_READY", cause: "verified", reasons: sy1.verdict.reasons }
  document.question = null
  document.fingerprint = { ...sy1.fingerprint, branch: "switchyard/SY-2" }
  writeDocument(r, "SY-2", document)
  const d = db(r)
  d.prepare(`UPDATE attempts SET terminal_state = 'PR_READY', cause = 'verified', "commit" = ? WHERE issue_id = 'SY-2'`).run(sy1.fingerprint.commit)
  d.prepare(`UPDATE events SET type = 'terminal.PR_READY', data = json_set(data, '$.cause', 'verified')
             WHERE issue_id = 'SY-2' AND type = 'terminal.ESCALATE'`).run()
  d.prepare("UPDATE issues SET status = 'in_review' WHERE id = 'SY-2'").run()
  d.close()
  git(r.dir, "update-ref", "refs/heads/switchyard/SY-2", sy1.fingerprint.commit)
  return document
}

/** Signs `document` (without its signature) the way the store does, but with a key of the forger's own. */
const resignWithOwnKey = (document: Record<string, any>) => {
  const { privateKey, publicKey } = Crypto.generateKeyPairSync("ed25519")
  const { signature: _, ...rest } = document
  return {
    ...rest,
    signature: {
      algorithm: "ed25519",
      publicKey: publicKey.export({ format: "der", type: "spki" }).toString("base64"),
      value: Crypto.sign(null, Buffer.from(canonicalJson(rest), "utf8"), privateKey).toString("base64")
    }
  }
}

const violationsOf = async (r: TestRepo) =>
  ((await syJson(r.dir, "status")).human.violations as Array<{ kind: string; issueId: string }>).map((v) => `${v.issueId} ${v.kind}`)

/** `status --check` exits 3 naming `kind`; `verify id` exits 1 with one line, never calling the evidence fresh/passed. */
const expectFlagged = async (r: TestRepo, id: string, kind: string) => {
  const check = await sy(r.dir, "status", "--check")
  expect(check.code, check.stderr).toBe(3)
  expect(check.stdout).toContain(`⚠ ${id} ${kind}:`)
  const verify = await sy(r.dir, "verify", id)
  expect(verify.code).toBe(1)
  expect(verify.stdout).not.toMatch(/FRESH|PASSED/)
  const line = verify.stderr.trim()
  expect(line.split("\n")).toHaveLength(1)
  expect(line).toContain(`switchyard: ${id}: refusing to verify: ${kind}: `)
}

describe("forged trust state is detected (built CLI)", () => {
  it("an untouched run is clean and signed; the same state forged ESCALATE→PR_READY in SQLite and evidence.json is flagged and refused", async () => {
    const r = await honestRun()
    const check = await sy(r.dir, "status", "--check")
    expect(check.code, check.stdout + check.stderr).toBe(0)
    const status = await syJson(r.dir, "status")
    expect(status.human.violations).toEqual([])
    expect(status.human.recent.map((o: any) => [o.issue, o.outcome, o.signature]).sort()).toEqual([
      ["SY-1", "PR_READY", "signed"],
      ["SY-2", "ESCALATE", "signed"]
    ])
    // Both copies carry the signature; the key is private to the runner and appears in neither.
    const key = readFileSync(join(r.dir, ".switchyard/keys/evidence.ed25519"), "utf8")
    expect(key).toContain("BEGIN PRIVATE KEY")
    const file = JSON.parse(readFileSync(evidenceJson(r, "SY-1"), "utf8"))
    expect(file.signature).toEqual(storedDocument(r, "SY-1").signature)
    expect(JSON.stringify(file)).not.toContain(key.split("\n")[1])
    const honest = await sy(r.dir, "verify", "SY-1")
    expect(honest.code, honest.stderr).toBe(0)
    expect(honest.stdout).toContain("signature: ✓ signed by this runner's key")

    forgeEscalateToPrReady(r)
    // Everything but the signature agrees: the only thing wrong is what the key proves.
    expect(await violationsOf(r)).toEqual(["SY-2 evidence_signature_invalid"])
    await expectFlagged(r, "SY-2", "evidence_signature_invalid")
    expect((await sy(r.dir, "status")).stdout).toMatch(/SY-2 +#1 PR_READY +⚠ the evidence of attempt 1 cannot be trusted/)
    // SY-1 is untouched and still verifies.
    expect((await sy(r.dir, "verify", "SY-1")).code).toBe(0)
  })

  it("only evidence.json forged: status (which reads SQLite) stays clean, verify refuses", async () => {
    const r = await honestRun()
    const document = JSON.parse(readFileSync(evidenceJson(r, "SY-2"), "utf8"))
    writeFileSync(evidenceJson(r, "SY-2"), JSON.stringify({ ...document, outcome: "PR_READY" }, null, 2))
    expect((await sy(r.dir, "status", "--check")).code).toBe(0)
    const verify = await sy(r.dir, "verify", "SY-2")
    expect(verify.code).toBe(1)
    expect(verify.stderr).toContain("evidence_signature_invalid: evidence.json cannot be trusted: the signature does not match the bundle")
  })

  it("a forged bundle re-signed with another key, or with its signature stripped, is flagged", async () => {
    const r = await honestRun()
    const forged = forgeEscalateToPrReady(r)
    writeDocument(r, "SY-2", resignWithOwnKey(forged))
    expect(await violationsOf(r)).toEqual(["SY-2 evidence_signed_by_other_key"])
    await expectFlagged(r, "SY-2", "evidence_signed_by_other_key")

    const { signature: _, ...stripped } = forged
    writeDocument(r, "SY-2", stripped)
    expect(await violationsOf(r)).toEqual(["SY-2 evidence_unsigned"])
    await expectFlagged(r, "SY-2", "evidence_unsigned")
  })

  it("flipping the attempts row and the event log but not the signed bundle is a disagreement", async () => {
    const r = await honestRun()
    const d = db(r)
    d.prepare(`UPDATE attempts SET terminal_state = 'PR_READY', cause = 'verified' WHERE issue_id = 'SY-2'`).run()
    d.prepare(`UPDATE events SET type = 'terminal.PR_READY', data = json_set(data, '$.cause', 'verified')
               WHERE issue_id = 'SY-2' AND type = 'terminal.ESCALATE'`).run()
    d.close()
    expect((await violationsOf(r)).sort()).toEqual(["SY-2 evidence_disagrees_with_attempt", "SY-2 evidence_disagrees_with_events"])
    await expectFlagged(r, "SY-2", "evidence_disagrees_with_attempt")
    const text = (await sy(r.dir, "status")).stdout
    expect(text).toContain("the attempts table says attempt 1 ended PR_READY (verified), its evidence says ESCALATE (reproduction_still_fails)")
    expect(text).toContain("the event log says attempt 1 ended terminal.PR_READY (verified), its evidence says ESCALATE (reproduction_still_fails)")
  })

  it("a PR_READY branch rewritten with git update-ref is pr_ready_branch_rewritten; verify says STALE", async () => {
    const r = await honestRun()
    const verified = git(r.dir, "rev-parse", "switchyard/SY-1")
    // A9: the branch now holds the unfixed base tree on top of the verified commit.
    const backdoor = git(r.dir, "commit-tree", "main^{tree}", "-p", verified, "-m", "backdoor")
    git(r.dir, "update-ref", "refs/heads/switchyard/SY-1", backdoor)

    const check = await sy(r.dir, "status", "--check")
    expect(check.code).toBe(3)
    expect(check.stdout).toContain(
      `⚠ SY-1 pr_ready_branch_rewritten: SY-1 is PR_READY and in review, but switchyard/SY-1 points at ${backdoor.slice(0, 12)}, not at the verified commit ${verified.slice(0, 12)}`
    )
    expect(await violationsOf(r)).toEqual(["SY-1 pr_ready_branch_rewritten"])
    const verify = await sy(r.dir, "verify", "SY-1", "--json")
    expect(verify.code).toBe(1)
    const report = JSON.parse(verify.stdout)
    expect(report.fresh).toBe(false)
    expect(report.stale[0]).toBe(`the head of switchyard/SY-1 moved from ${verified.slice(0, 12)} to ${backdoor.slice(0, 12)}`)
    expect(report.passed).toBe(false) // the backdoored head no longer fixes the issue

    git(r.dir, "update-ref", "refs/heads/switchyard/SY-1", verified)
    expect((await sy(r.dir, "status", "--check")).code).toBe(0)
  })
})
