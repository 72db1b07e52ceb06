/**
 * The violation pass (`checkOutcomes`) on real SQLite with the real signer: which bundles get their signature
 * checked (the newest SEAL_WINDOW, plus the newest PR_READY of every issue in review), and that the rest of the
 * window is still compared with its attempts rows and terminal events.
 */
import { NodeContext } from "@effect/platform-node"
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { checkOutcomes, EvidenceStore, Orchestrator, SEAL_WINDOW, Tracker } from "@switchyard/core"
import { IssueInput, type TerminalState } from "@switchyard/domain"
import { Context, Effect, Option, TestClock } from "effect"
import { open, sampleBundle, scratch } from "./helpers.js"

const setup = Effect.gen(function*() {
  const paths = yield* scratch
  const context = yield* open(paths)
  const orchestrator = Context.get(context, Orchestrator)
  const evidence = Context.get(context, EvidenceStore)
  const tracker = Context.get(context, Tracker)
  const sql = Context.get(context, SqlClient.SqlClient)
  /** One attempt ended the way a worker ends it: bundle, attempts row, terminal event. */
  const end = (title: string, outcome: TerminalState) =>
    Effect.gen(function*() {
      const issue = yield* tracker.create(new IssueInput({ title }))
      yield* orchestrator.startAttempt({ issue_id: issue.id, attempt: 1, branch: null, sandbox_path: null, base_commit: null })
      const bundle = sampleBundle({ issueId: issue.id, attempt: 1, outcome })
      yield* evidence.put(bundle)
      yield* orchestrator.finishAttempt(issue.id, 1, { terminal_state: outcome, cause: bundle.verdict.cause, commit: null, counted: true })
      yield* orchestrator.record(`terminal.${outcome}`, issue.id, "ended", { attempt: 1, cause: bundle.verdict.cause })
      yield* TestClock.adjust(1_000)
      return issue.id
    })
  /** Rewrites a stored bundle's outcome in SQL (the signature is left as it was). */
  const forge = (id: string, outcome: TerminalState) =>
    sql`UPDATE evidence SET bundle = json_set(bundle, '$.outcome', ${outcome}) WHERE issue_id = ${id}`
  const check = checkOutcomes(Effect.succeed(Option.some(new Map<string, string>()))).pipe(Effect.provide(context))
  return { end, forge, check, sql }
})

describe("checkOutcomes", () => {
  it.scoped("checks signatures of the newest outcomes and of PR_READY issues in review, and rows against bundles everywhere", () =>
    Effect.gen(function*() {
      const { check, end, forge, sql } = yield* setup
      const oldReview = yield* end("old, in review", "PR_READY")
      const oldDone = yield* end("old, done", "PR_READY")
      const oldRow = yield* end("old, row edited", "ESCALATE")
      const newest: Array<string> = []
      for (let i = 0; i < SEAL_WINDOW; i++) newest.push(yield* end(`new ${i}`, "NO_OP"))
      yield* sql`UPDATE issues SET status = 'in_review' WHERE id = ${oldReview}`
      yield* sql`UPDATE issues SET status = 'done' WHERE id = ${oldDone}`
      expect((yield* check).violations).toEqual([
        // The branch of the one in review is gone (no heads in this test): it is relied on, so it is looked at.
        expect.objectContaining({ kind: "pr_ready_branch_missing", issueId: oldReview })
      ])

      // Forged consistently with their rows: the newest and the one in review are caught by their signatures.
      yield* forge(newest[0]!, "NO_OP") // an edit that changes nothing the rows say (json_set re-serialises it)
      yield* forge(oldReview, "PR_READY")
      yield* sql`UPDATE evidence SET bundle = json_set(bundle, '$.summary', 'forged') WHERE issue_id IN (${oldReview}, ${newest[1]!})`
      yield* sql`UPDATE evidence SET bundle = json_set(bundle, '$.summary', 'forged') WHERE issue_id = ${oldDone}`
      // An old attempts row flipped without the bundle: a disagreement, even outside the signature window.
      yield* sql`UPDATE attempts SET terminal_state = 'PR_READY' WHERE issue_id = ${oldRow}`
      const { sealed, violations } = yield* check
      expect(violations.map((v) => `${v.issueId} ${v.kind}`).sort()).toEqual([
        `${newest[1]!} evidence_signature_invalid`,
        `${oldReview} evidence_signature_invalid`,
        `${oldReview} pr_ready_branch_missing`,
        `${oldRow} evidence_disagrees_with_attempt`
      ].sort())
      // The old done issue's edited bundle is outside what is verified: its seal was not checked (docs/status.md).
      expect(sealed.get(`${oldDone}#1`)?.seal).toBeNull()
      expect(sealed.get(`${newest[0]!}#1`)?.seal?.status).toBe("signed")
    }).pipe(Effect.provide(NodeContext.layer)))
})
