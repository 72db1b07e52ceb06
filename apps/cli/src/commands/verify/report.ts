/**
 * What `switchyard verify` finds, as data: the report it prints (`VerifyReport`, also its `--json`), and the pure
 * rules that fill it: why evidence is stale (`staleReasons`) and why a re-verification fails (`verificationFailures`).
 */
import { shortSha } from "@switchyard/core"
import { CommandResult, describeResult, type EvidenceBundle, GuardResult, SealStatus, TestCounts } from "@switchyard/domain"
import { Schema } from "effect"

/** What the verdict of a bundle is bound to (EvidenceBundle.fingerprint). */
export type Fingerprint = NonNullable<EvidenceBundle["fingerprint"]>

/** The repository as it is now; null where it could not be read (e.g. the branch is gone). */
export interface CurrentState {
  readonly head: string | null
  readonly tree: string | null
  readonly base: string | null
  /**
   * The paths whose content differs between the verified base (`fp.baseCommit`) and `base` (`git diff --name-only`),
   * when the base moved and git could tell; absent or null otherwise.
   */
  readonly baseChanges?: ReadonlyArray<string> | null | undefined
}

/**
 * Whether the base moved only in the workflow file (`workflowFile`, repo-relative, `/`-separated; null when it is
 * outside the repository): the code the verdict is bound to is unchanged, so the evidence stays fresh. Also true
 * for a base whose tree is identical (e.g. an empty commit). Pure.
 */
export const baseMovedOnlyInConfig = (fp: Fingerprint, current: CurrentState, workflowFile: string | null): boolean =>
  current.base !== null && current.base !== fp.baseCommit && current.baseChanges !== undefined &&
  current.baseChanges !== null && current.baseChanges.every((file) => file === workflowFile)

/**
 * Why evidence bound to `fp` is stale given the repository's `current` state, one sentence each; empty = fresh.
 * Checks, in order: the branch still exists, its head is `fp.commit`, its tree is `fp.tree`, and the repo's
 * HEAD is `fp.baseCommit`, unless the base moved only in the workflow file (`workflowFile`, see
 * {@link baseMovedOnlyInConfig}): staleness is about the code the verdict is bound to, and the workflow is the
 * factory's config (the bundle keeps the commands it verified with, and `verify` re-runs those). Pure.
 */
export const staleReasons = (fp: Fingerprint, current: CurrentState, workflowFile: string | null = null): ReadonlyArray<string> => {
  const reasons: Array<string> = []
  if (current.head === null) {
    reasons.push(`the branch ${fp.branch} no longer exists`)
  } else {
    if (current.head !== fp.commit) {
      reasons.push(`the head of ${fp.branch} moved from ${shortSha(fp.commit)} to ${shortSha(current.head)}`)
    }
    if (current.tree !== null && current.tree !== fp.tree) {
      reasons.push(`the tree of ${fp.branch} changed from ${shortSha(fp.tree)} to ${shortSha(current.tree)}`)
    }
  }
  if (current.base !== null && current.base !== fp.baseCommit && !baseMovedOnlyInConfig(fp, current, workflowFile)) {
    reasons.push(`the base moved: the repository's HEAD is ${shortSha(current.base)}, the evidence was verified on ${shortSha(fp.baseCommit)}`)
  }
  return reasons
}

/**
 * What freshness let pass and a reader should know, one sentence each: the base moved only in the workflow file.
 * Pure.
 */
export const freshNotes = (fp: Fingerprint, current: CurrentState, workflowFile: string | null): ReadonlyArray<string> =>
  baseMovedOnlyInConfig(fp, current, workflowFile)
    ? [
      `the base moved from ${shortSha(fp.baseCommit)} to ${shortSha(current.base!)}, but ${
        current.baseChanges!.length === 0 ? "its tree is the same" : `only ${workflowFile} changed`
      }: the code the evidence is bound to did not`
    ]
    : []

/** What `switchyard verify --json` prints. */
export const VerifyReport = Schema.Struct({
  id: Schema.String,
  /** The attempt whose evidence was checked. */
  attempt: Schema.Int,
  /** How the bundle's signature checked out: `signed`, or `unsigned_legacy` (stored before bundles were signed). */
  signature: SealStatus,
  fresh: Schema.Boolean,
  /** Why the evidence is stale (empty when fresh). */
  stale: Schema.Array(Schema.String),
  /** What freshness let pass (the base moved only in the workflow file); absent in older reports. */
  notes: Schema.optional(Schema.Array(Schema.String)),
  fingerprint: Schema.Struct({ tree: Schema.String, commit: Schema.String, baseCommit: Schema.String, branch: Schema.String }),
  current: Schema.Struct({ head: Schema.NullOr(Schema.String), tree: Schema.NullOr(Schema.String), base: Schema.NullOr(Schema.String) }),
  /** The re-verification of the branch head against the original base; null when the branch is gone. */
  verification: Schema.NullOr(Schema.Struct({
    commit: Schema.String,
    reproductionBefore: Schema.NullOr(CommandResult),
    reproductionAfter: Schema.NullOr(CommandResult),
    validation: Schema.Array(CommandResult),
    guards: Schema.Array(GuardResult),
    testCounts: Schema.Struct({ base: Schema.NullOr(TestCounts), candidate: Schema.NullOr(TestCounts) })
  })),
  /** Why the re-verification does not pass (empty when it passes). */
  failures: Schema.Array(Schema.String),
  passed: Schema.Boolean
})
export type VerifyReport = typeof VerifyReport.Type

/** How a command ended (`describeResult` of the domain). */
export const describe = describeResult

/**
 * Why a re-verification does not pass, one sentence each (empty = it passes): the reproduction must fail on the base
 * (and be able to run there), and it and every validation command must pass on the head (`CommandResult.passed`), and
 * every guard must pass. Pure.
 */
export const verificationFailures = (v: NonNullable<VerifyReport["verification"]>): ReadonlyArray<string> => {
  const failures: Array<string> = []
  const before = v.reproductionBefore
  if (before !== null && before.environmentFailure) failures.push(`the reproduction could not run on the base: ${describe(before)}`)
  else if (before !== null && before.passed) failures.push(`the reproduction passes on the base: ${describe(before)}`)
  const after = v.reproductionAfter
  if (after !== null && !after.passed) {
    failures.push(`the reproduction fails on the candidate: ${describe(after)}`)
  }
  for (const r of v.validation) {
    if (!r.passed) failures.push(`validation ${describe(r)}`)
  }
  for (const g of v.guards) if (!g.passed) failures.push(`guard ${g.rule} failed`)
  return failures
}
