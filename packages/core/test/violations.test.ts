import { describe, expect, it } from "@effect/vitest"
import { IssueId } from "@switchyard/domain"
import type { SealedEvidence } from "../src/EvidenceSigner/seal.js"
import { branchViolations, evidenceViolations } from "../src/Supervisor/violations.js"

const issueId = IssueId.make("SY-2")
const attempt = { issue_id: issueId, attempt: 1, terminal_state: "ESCALATE" as const, cause: "validation_failed" }
const bundle = (extra: Partial<SealedEvidence> = {}): SealedEvidence => ({
  issueId,
  attempt: 1,
  outcome: "ESCALATE",
  cause: "validation_failed",
  fingerprintCommit: null,
  storedAt: 5,
  seal: { status: "signed", detail: null },
  ...extra
})
const event = { state: "ESCALATE", cause: "validation_failed", seq: 9 }
const kinds = (vs: ReadonlyArray<{ kind: string }>) => vs.map((v) => v.kind)

describe("evidenceViolations", () => {
  it("finds nothing when the signed bundle, the attempts row and the terminal event agree", () => {
    expect(evidenceViolations(attempt, bundle(), event)).toEqual([])
    // No event (an attempt closed before they were recorded): compared with the row only.
    expect(evidenceViolations(attempt, bundle(), undefined)).toEqual([])
    // A legacy unsigned bundle, or one whose seal was not asked for, is no violation by itself.
    expect(evidenceViolations(attempt, bundle({ seal: { status: "unsigned_legacy", detail: "old" } }), event)).toEqual([])
    expect(evidenceViolations(attempt, bundle({ seal: null }), event)).toEqual([])
  })

  it("names each seal failure", () => {
    const seal = (status: "invalid" | "other_key" | "unsigned") => bundle({ seal: { status, detail: "why" } })
    expect(evidenceViolations(attempt, seal("invalid"), event)).toEqual([
      { kind: "evidence_signature_invalid", issueId, attempt: 1, detail: "the evidence of attempt 1 cannot be trusted: why" }
    ])
    expect(kinds(evidenceViolations(attempt, seal("other_key"), event))).toEqual(["evidence_signed_by_other_key"])
    expect(kinds(evidenceViolations(attempt, seal("unsigned"), event))).toEqual(["evidence_unsigned"])
  })

  it("flags a bundle that disagrees with its attempts row or its event, in outcome or in cause", () => {
    const flipped = bundle({ outcome: "PR_READY", cause: "verified" })
    expect(evidenceViolations(attempt, flipped, event)).toEqual([
      {
        kind: "evidence_disagrees_with_attempt",
        issueId,
        attempt: 1,
        detail: "the attempts table says attempt 1 ended ESCALATE (validation_failed), its evidence says PR_READY (verified)"
      },
      {
        kind: "evidence_disagrees_with_events",
        issueId,
        attempt: 1,
        detail: "the event log says attempt 1 ended terminal.ESCALATE (validation_failed), its evidence says PR_READY (verified)"
      }
    ])
    expect(kinds(evidenceViolations({ ...attempt, cause: "verified" }, bundle(), event))).toEqual(["evidence_disagrees_with_attempt"])
    expect(kinds(evidenceViolations(attempt, bundle(), { ...event, state: "PR_READY" }))).toEqual(["evidence_disagrees_with_events"])
    expect(kinds(evidenceViolations(attempt, bundle(), { ...event, cause: "verified" }))).toEqual(["evidence_disagrees_with_events"])
    // An event without a cause is compared on its state only.
    expect(evidenceViolations(attempt, bundle(), { ...event, cause: null })).toEqual([])
  })
})

describe("branchViolations", () => {
  const verified = "a".repeat(40)
  const pr = { issue_id: IssueId.make("SY-1"), attempt: 2 }
  it("is clean while switchyard/<id> points at the verified commit", () => {
    expect(branchViolations(pr, new Map([["switchyard/SY-1", verified]]), verified)).toEqual([])
    expect(branchViolations(pr, new Map([["switchyard/SY-1", verified]]), null)).toEqual([])
  })
  it("tells a missing branch from a rewritten one", () => {
    expect(kinds(branchViolations(pr, new Map([["main", verified]]), verified))).toEqual(["pr_ready_branch_missing"])
    expect(branchViolations(pr, new Map([["switchyard/SY-1", "b".repeat(40)]]), verified)).toEqual([{
      kind: "pr_ready_branch_rewritten",
      issueId: "SY-1",
      attempt: 2,
      detail: `SY-1 is PR_READY and in review, but switchyard/SY-1 points at bbbbbbbbbbbb, not at the verified commit aaaaaaaaaaaa: it was rewritten after verification (switchyard verify SY-1 re-checks it)`
    }])
  })
})
