/**
 * `switchyard verify ID [--json]`: is the evidence of an issue still true, now?
 *
 * 1. Freshness: the bundle's fingerprint (docs/evidence.md) is compared with the repository as it is: the head of
 *    `switchyard/<id>` against `fingerprint.commit`, that head's tree against `fingerprint.tree`, and the repo's
 *    HEAD against `fingerprint.baseCommit`. Any difference makes the evidence stale, and each is named; but a base
 *    that moved only in the workflow file (`--workflow`, default WORKFLOW.md) keeps it fresh, with a note.
 * 2. Re-verification: the branch head is verified again against the ORIGINAL base, in clean checkouts, with the
 *    same policy the line used: the reproduction must fail on the base and pass on the head, every validation
 *    command must pass, and every guard must pass.
 * Before either, the bundle must be trustworthy (docs/evidence.md, "The signature"): its SQLite row and its
 * evidence.json must carry the runner's valid signature (or be legacy unsigned bundles, stored before signing), and
 * agree with each other, with the attempt's `attempts` row and `terminal.*` event, and no later attempt may have
 * ended without evidence. Otherwise verify refuses (`EvidenceNotTrusted`) without running anything the bundle names.
 * Exit code 0 only when the evidence is fresh AND the re-verification passes; 1 otherwise (stale, failed, forged,
 * or no verifiable bundle), so scripts can gate on it.
 */
import {
  attemptKey,
  evidenceViolations,
  EvidenceStore,
  Orchestrator,
  Sandbox,
  type SealedEvidence,
  Tracker,
  Verifier,
  verifyPolicy,
  Workflow
} from "@switchyard/core"
import type { IssueId } from "@switchyard/domain"
import { ProcessRunner } from "@switchyard/node"
import { FileSystem } from "@effect/platform"
import { Console, Effect, Option, Schema } from "effect"
import * as NodePath from "node:path"
import { lineLayer } from "../../layers.js"
import { print } from "../../view/doc.js"
import { verifyView } from "../../view/verify.js"
import { repoRoot, workflowPathOf } from "../shared.js"
import type { VerifyOptions } from "./options.js"
import { type CurrentState, freshNotes, staleReasons, verificationFailures, VerifyReport } from "./report.js"

/** The issue has no bundle that can be verified (none yet, or its latest has no fingerprint). */
export class NothingToVerify extends Schema.TaggedError<NothingToVerify>()("NothingToVerify", {
  id: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `${this.id} cannot be verified: ${this.reason}`
  }
}

/**
 * The issue's latest evidence cannot be trusted: forged, re-signed with another key, stripped of its signature,
 * or disagreeing with the attempts table, the event log or evidence.json (exit 1; nothing was re-run).
 */
export class EvidenceNotTrusted extends Schema.TaggedError<EvidenceNotTrusted>()("EvidenceNotTrusted", {
  id: Schema.String,
  attempt: Schema.Int,
  problems: Schema.Array(Schema.String)
}) {
  override get message() {
    return `${this.id}: refusing to verify: ${this.problems.join("; ")}`
  }
}

/**
 * Why the stored evidence of `issueId`'s attempt `attempt` (the latest bundle) cannot be trusted, one
 * `<kind>: <sentence>` each; empty = trusted. Its SQLite row must pass `evidenceViolations` against the attempts row
 * and the `terminal.*` event; its evidence.json (when present) must have the same seal status, outcome, cause and
 * fingerprinted commit; and no later attempt of the issue may have ended (it would have no evidence). Returns the
 * row's seal too.
 */
export const evidenceTrust = (issueId: IssueId, attempt: number) =>
  Effect.gen(function*() {
    const store = yield* EvidenceStore
    const orchestrator = yield* Orchestrator
    const key = { issueId, attempt }
    const row = (yield* store.sealed([key])).get(attemptKey(issueId, attempt))
    const problems: Array<string> = []
    if (row === undefined || row.seal === null) {
      return { seal: null, problems: ["terminal_without_evidence: the bundle vanished while it was read"] }
    }
    const attempts = yield* orchestrator.attempts(issueId)
    const own = attempts.find((a) => a.attempt === attempt)
    const event = (yield* orchestrator.terminalEvents([key])).get(attemptKey(issueId, attempt))
    if (own === undefined) {
      problems.push(`evidence_disagrees_with_attempt: the attempts table has no attempt ${attempt}, its evidence says ${row.outcome}`)
    } else {
      for (const v of evidenceViolations(own, row, event)) problems.push(`${v.kind}: ${v.detail}`)
    }
    for (const later of attempts.filter((a) => a.attempt > attempt && a.terminal_state !== null)) {
      problems.push(
        `terminal_without_evidence: attempt ${later.attempt} ended ${later.terminal_state} but has no evidence bundle, so attempt ${attempt}'s is not the last word`
      )
    }
    const file = yield* store.sealedFile(issueId, attempt)
    if (Option.isSome(file)) problems.push(...fileDisagreement(row, file.value))
    return { seal: row.seal, problems }
  })

/** Why evidence.json is not the SQLite row's bundle (empty when it is). Pure. */
const fileDisagreement = (row: SealedEvidence, file: SealedEvidence): ReadonlyArray<string> => {
  const status = file.seal?.status ?? "unchecked"
  if (status !== "signed" && status !== "unsigned_legacy") {
    return [`evidence_signature_invalid: evidence.json cannot be trusted: ${file.seal?.detail ?? status}`]
  }
  const rowStatus = row.seal?.status ?? "unchecked"
  if (status !== rowStatus || file.outcome !== row.outcome || file.cause !== row.cause || file.fingerprintCommit !== row.fingerprintCommit) {
    return [
      `evidence_signature_invalid: evidence.json (${file.outcome}, ${status}) is not the bundle stored in SQLite (${row.outcome}, ${rowStatus})`
    ]
  }
  return []
}

/**
 * `file` as git names it in the repository at `root` (relative, `/`-separated, symlinks resolved), or null when it
 * lies outside. Never fails: an unresolvable file is taken as given.
 */
const repoRelative = (root: string, file: string) =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.realPath(file)).pipe(
    Effect.orElseSucceed(() => NodePath.resolve(file)),
    Effect.map((real) => {
      const relative = NodePath.relative(root, real)
      return relative === "" || relative.startsWith("..") || NodePath.isAbsolute(relative)
        ? null
        : relative.split(NodePath.sep).join("/")
    })
  )

/** The evidence is stale or the re-verification failed (exit code 1; the report was printed before). */
export class VerifyFailed extends Schema.TaggedError<VerifyFailed>()("VerifyFailed", {
  id: Schema.String,
  stale: Schema.Array(Schema.String),
  failures: Schema.Array(Schema.String)
}) {
  override get message() {
    const parts = [
      ...(this.stale.length > 0 ? [`the evidence is stale (${this.stale.join("; ")})`] : []),
      ...(this.failures.length > 0 ? [`the re-verification failed (${this.failures.join("; ")})`] : [])
    ]
    return `${this.id}: ${parts.join(", and ")}`
  }
}

/**
 * Checks trust and freshness and re-runs the verification of `rawId`'s latest evidence (see the module docs). Needs
 * the line's services (Tracker, Orchestrator, EvidenceStore, Sandbox, Verifier, Workflow). Fails
 * `EvidenceNotTrusted` when the bundle cannot be trusted, `NothingToVerify` when the issue has no bundle with a
 * fingerprint; otherwise returns the report (whatever it says).
 */
export const verifyIssue = (rawId: string) =>
  Effect.gen(function*() {
    const tracker = yield* Tracker
    const store = yield* EvidenceStore
    const sandbox = yield* Sandbox
    const verifier = yield* Verifier
    const workflow = yield* Workflow
    const issue = yield* tracker.get(rawId)
    const latest = yield* store.latest(issue.id)
    if (Option.isNone(latest)) {
      return yield* new NothingToVerify({ id: issue.id, reason: "it has no evidence bundle yet (it has not reached a terminal state)" })
    }
    const bundle = latest.value
    // Trust first: a forged bundle's fingerprint is meaningless, and its commands must not run.
    const trust = yield* evidenceTrust(issue.id, bundle.attempt)
    if (trust.problems.length > 0 || trust.seal === null) {
      return yield* new EvidenceNotTrusted({ id: issue.id, attempt: bundle.attempt, problems: trust.problems })
    }
    const signature = trust.seal.status
    const fp = bundle.fingerprint
    if (fp === null) {
      return yield* new NothingToVerify({
        id: issue.id,
        reason: `its latest evidence (attempt ${bundle.attempt}, ${bundle.outcome}) has no fingerprint; only a PR_READY bundle is bound to a commit`
      })
    }
    const git = (args: ReadonlyArray<string>) =>
      ProcessRunner.git(args, sandbox.repoRoot).pipe(
        Effect.map((out) => (out.exitCode === 0 && out.stdout.trim() !== "" ? out.stdout.trim() : null))
      )
    const head = Option.getOrNull(yield* sandbox.branchHead(fp.branch))
    const base = yield* git(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"])
    // What changed between the verified base and the current one (null when it did not move, or git cannot tell).
    const baseChanges = base === null || base === fp.baseCommit ? null : yield* ProcessRunner.git(
      ["diff", "--name-only", "-z", "--no-renames", fp.baseCommit, base, "--"],
      sandbox.repoRoot
    ).pipe(Effect.map((out) => (out.exitCode === 0 ? out.stdout.split("\0").filter((f) => f !== "") : null)))
    const current: CurrentState = {
      head,
      tree: head === null ? null : yield* git(["rev-parse", "--verify", "--quiet", `${head}^{tree}`]),
      base,
      baseChanges
    }
    const workflowFile = yield* repoRelative(sandbox.repoRoot, (yield* workflow.current).path)
    const stale = staleReasons(fp, current, workflowFile)

    let verification: VerifyReport["verification"] = null
    if (head !== null) {
      const cfg = (yield* workflow.current).config
      const reproduction = bundle.task.packet.reproduction
      const timeoutMs = cfg.verify.timeout_ms
      const reproductionBefore = reproduction === null
        ? null
        : yield* verifier.reproduce(issue.id, fp.baseCommit, reproduction, timeoutMs, cfg.verify.env, cfg.hooks)
      const v = yield* verifier.verify({
        issueId: issue.id,
        baseCommit: fp.baseCommit,
        policy: verifyPolicy(issue, cfg),
        commit: head,
        reproduction,
        validation: bundle.task.packet.validation,
        timeoutMs,
        hooks: cfg.hooks
      })
      verification = { commit: head, reproductionBefore, ...v }
    }
    const failures = verification === null ? ["the branch is gone, so nothing was re-verified"] : verificationFailures(verification)
    const report: VerifyReport = {
      id: issue.id,
      attempt: bundle.attempt,
      signature,
      fresh: stale.length === 0,
      stale,
      notes: freshNotes(fp, current, workflowFile),
      fingerprint: fp,
      current,
      verification,
      failures,
      passed: failures.length === 0
    }
    return report
  })

/**
 * `switchyard verify ID [--json]`. Prints the report (text, or `VerifyReport` as JSON), then exits 0 when the
 * evidence is fresh and the re-verification passes, 1 otherwise (via `VerifyFailed`, whose one-line message
 * goes to stderr).
 */
export const verify = (o: VerifyOptions) =>
  repoRoot.pipe(
    Effect.flatMap((root) =>
      Effect.gen(function*() {
        const report = yield* verifyIssue(o.id)
        yield* o.json
          ? Console.log(JSON.stringify(Schema.encodeSync(VerifyReport)(report), null, 2))
          : print(verifyView(report))
        if (!report.fresh || !report.passed) {
          return yield* new VerifyFailed({ id: report.id, stale: report.stale, failures: report.failures })
        }
      }).pipe(Effect.provide(lineLayer(root, { workflowPath: workflowPathOf(o.workflow) })))
    )
  )
