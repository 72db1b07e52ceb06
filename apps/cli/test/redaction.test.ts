/**
 * One redaction rule from the agent to the disk (docs/security.md, "Redaction"): the line as `switchyard run` and
 * the demo compose it (`lineLayer` with a `runnerEnv`), in process, on a real repo with a confined hostile agent.
 * The agent prints a secret that only the line's `runnerEnv` holds (allowed to it by `agent.env`) and token-format
 * strings, and puts them in its claim; a validation command echoes a second secret (given by `verify.env`, which the
 * verifier reads from the process environment) and a token. None of them may reach the transcript, agent.log, the
 * stored bundle (row and evidence.json) or evidence.md; each is `[REDACTED]` or masked.
 */
import { afterEach, describe, expect, it } from "@effect/vitest"
import { runLine, Tracker } from "@switchyard/core"
import { IssueInput } from "@switchyard/domain"
import Database from "better-sqlite3"
import { Effect } from "effect"
import { lineLayer } from "../src/layers.js"
import { averageRepro, join, makeRepo, readFileSync, type TestRepo } from "./harness.js"

let repos: Array<TestRepo> = []
afterEach(() => {
  for (const r of repos) r.cleanup()
  repos = []
})

/** A secret only the runnerEnv holds, with a quote (so its JSON-escaped form differs from the raw one). */
const SECRET = 'e2e-"deploy"-secret-4242'
/** A secret of the process environment, which the verifier passes to `verify.env` commands. */
const VERIFY_SECRET = "e2e-verify-secret-value-1717"
/** Token formats the agent's shell builds at run time (this file holds no key-like literal either). */
const GITHUB = `ghp_${"a1B2c3D4e5".repeat(3)}abcdef`
const ANTHROPIC = `sk-ant-api03-${"Zx9Yw8Vu7T".repeat(3)}`
const TOKENS_SH = `G="ghp_$(printf 'a1B2c3D4e5%.0s' 1 2 3)abcdef"; A="sk-ant-api03-$(printf 'Zx9Yw8Vu7T%.0s' 1 2 3)"`

const hostileAgent = `set -e
${TOKENS_SH}
echo "deploying with $SY_DEPLOY_TOKEN"
echo "keys: $G $A" >&2
cat > src/average.js <<'JS'
export const average = (xs) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length)
JS
G="$G" A="$A" node -e 'require("fs").writeFileSync(process.env.SWITCHYARD_RESULT_FILE, JSON.stringify({
  claim: "PR_READY", summary: "fixed with " + process.env.SY_DEPLOY_TOKEN + " and " + process.env.G, plan: process.env.A }))'`

describe("redaction across the line (in process, confined, real git)", () => {
  it.live("a hostile agent's secret and tokens, and a verifier command echoing the secret, are masked on disk", () =>
    Effect.gen(function*() {
      const r = makeRepo()
      repos.push(r)
      const agent = r.agent("hostile.sh", hostileAgent)
      r.writeWorkflow(`agent:
  command: ${JSON.stringify(`sh ${agent}`)}
  env: [SY_DEPLOY_TOKEN]
  max_attempts: 1
  max_revisions: 0
verify:
  env: [SY_VERIFY_TOKEN]
  validation:
    - node --test
    - ${JSON.stringify(`${TOKENS_SH}; echo "verify=$SY_VERIFY_TOKEN gh=$G"`)}
polling:
  interval_ms: 200`)
      const previous = process.env.SY_VERIFY_TOKEN
      yield* Effect.acquireRelease(
        Effect.sync(() => (process.env.SY_VERIFY_TOKEN = VERIFY_SECRET)),
        () => Effect.sync(() => (previous === undefined ? delete process.env.SY_VERIFY_TOKEN : (process.env.SY_VERIFY_TOKEN = previous)))
      )
      const runnerEnv = { ...process.env, SY_DEPLOY_TOKEN: SECRET }
      yield* Effect.gen(function*() {
        const tracker = yield* Tracker
        yield* tracker.create(IssueInput.make({ title: "average([]) is NaN", reproduction: averageRepro }))
        yield* runLine({ once: true })
      }).pipe(Effect.scoped, Effect.provide(lineLayer(r.dir, { runnerEnv })))

      const runDir = join(r.dir, ".switchyard", "runs", "SY-1", "1")
      const db = new Database(join(r.dir, ".switchyard", "switchyard.db"), { readonly: true })
      const row = db.prepare("SELECT outcome, bundle FROM evidence WHERE issue_id = 'SY-1'").get() as
        | { outcome: string; bundle: string }
        | undefined
      db.close()
      expect(row?.outcome).toBe("PR_READY")
      const files = {
        transcript: readFileSync(join(runDir, "transcript.jsonl"), "utf8"),
        log: readFileSync(join(runDir, "agent.log"), "utf8"),
        json: readFileSync(join(runDir, "evidence.json"), "utf8"),
        markdown: readFileSync(join(runDir, "evidence.md"), "utf8"),
        row: row!.bundle
      }
      const leaks = [SECRET, JSON.stringify(SECRET).slice(1, -1), VERIFY_SECRET, GITHUB, ANTHROPIC]
      for (const [where, text] of Object.entries(files)) {
        for (const leak of leaks) expect(text, `${where} holds ${leak}`).not.toContain(leak)
      }
      // What the agent printed and claimed, redacted by the stations' rule.
      expect(files.log).toContain("deploying with [REDACTED]\n")
      expect(files.log).toContain("keys: ghp_… sk-a…\n")
      const bundle = JSON.parse(files.json)
      expect(bundle.agent.summary).toBe("fixed with [REDACTED] and ghp_…")
      expect(bundle.agent.plan).toBe("sk-a…")
      // The verifier's command result: the secret it echoed and the token it printed.
      const echoed = bundle.validation[1]
      expect(echoed.exitCode).toBe(0)
      expect(echoed.outputTail).toBe("verify=[REDACTED] gh=ghp_…\n")
      expect(files.markdown).toContain("[REDACTED]")
    }).pipe(Effect.scoped), 120_000)
})
