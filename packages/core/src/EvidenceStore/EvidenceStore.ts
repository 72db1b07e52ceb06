/**
 * EvidenceStore: the bundle behind every terminal state, in SQLite and as files a person can open
 * (`evidence.json`, `evidence.md`, `diff.patch`) under `.switchyard/runs/<id>/<attempt>/`. Every stored bundle
 * is signed with the runner's key (`EvidenceSigner`); readers check the seal with `sealed` / `sealedFile`.
 * Implementation: `SqliteEvidenceStore` (@switchyard/sqlite).
 */
import type { EvidenceBundle, IssueId, TerminalState } from "@switchyard/domain"
import { Context, type Effect, type Option } from "effect"
import type { SealedEvidence } from "../EvidenceSigner/seal.js"
import type { StageArtifact, StoredStage } from "../Line/artifacts.js"
import type { EvidenceError } from "./errors.js"

/** The key of one attempt in the maps the store returns: `<issueId>#<attempt>`, e.g. `SY-12#2`. */
export const attemptKey = (issueId: string, attempt: number): string => `${issueId}#${attempt}`

export interface StoredEvidence {
  readonly dir: string
  readonly json: string
  readonly markdown: string
  /** Null when the bundle has no diff. */
  readonly patch: string | null
}

export interface EvidenceSummary {
  readonly issueId: IssueId
  readonly attempt: number
  readonly outcome: TerminalState
  readonly summary: string
  readonly createdAt: number
  readonly dir: string
}

export interface EvidenceStoreShape {
  /** The run directory of one attempt (created if missing); agents' transcripts and files go here. */
  readonly runDir: (issueId: IssueId, attempt: number) => Effect.Effect<string, EvidenceError>
  /**
   * Stores a bundle (replacing one for the same issue and attempt) in SQLite and as files, signed with the
   * runner's key (created on the first put). The last gate before disk: every text field is redacted (`Redactor`)
   * before the bundle is signed and written. Fails `EvidenceError` when it cannot be redacted, signed or written.
   */
  readonly put: (bundle: EvidenceBundle) => Effect.Effect<StoredEvidence, EvidenceError>
  /** The bundle of the latest attempt of an issue. */
  readonly latest: (issueId: IssueId) => Effect.Effect<Option.Option<EvidenceBundle>, EvidenceError>
  readonly get: (issueId: IssueId, attempt: number) => Effect.Effect<Option.Option<EvidenceBundle>, EvidenceError>
  /** Summaries of every stored bundle of an issue, oldest first. */
  readonly list: (issueId: IssueId) => Effect.Effect<ReadonlyArray<EvidenceSummary>, EvidenceError>
  /**
   * Which of `attempts` have a stored bundle, in one read (the supervisor's and `status`'s violation check):
   * the keys `<issueId>#<attempt>` of those that do. Any number of attempts; nothing is decoded.
   */
  readonly stored: (
    attempts: ReadonlyArray<{ readonly issueId: IssueId; readonly attempt: number }>
  ) => Effect.Effect<ReadonlySet<string>, EvidenceError>
  /**
   * The stored bundles of `attempts` (SQLite rows) with the fields the cross-checks need, in one read, keyed by
   * {@link attemptKey}; an attempt without a bundle is absent. The seal (`checkSeal`: signature, key, stored under
   * the right attempt) is checked for the keys in `verify` (every one when omitted) and null for the others, so a
   * caller pays the crypto only for the bundles it shows or relies on. Reads only these rows.
   */
  readonly sealed: (
    attempts: ReadonlyArray<{ readonly issueId: IssueId; readonly attempt: number }>,
    verify?: ReadonlySet<string>
  ) => Effect.Effect<ReadonlyMap<string, SealedEvidence>, EvidenceError>
  /**
   * The seal of one attempt's `evidence.json` (judged, like its row, by the row's storage time), `None` when the
   * file or the row is missing. `verify` compares it with the row's.
   */
  readonly sealedFile: (issueId: IssueId, attempt: number) => Effect.Effect<Option.Option<SealedEvidence>, EvidenceError>
  /** Tokens and cost summed over every stored bundle (all issues, all attempts); `costUsd` null when none reported. */
  readonly usageTotals: Effect.Effect<
    { readonly bundles: number; readonly inputTokens: number; readonly outputTokens: number; readonly costUsd: number | null },
    EvidenceError
  >
  /**
   * Appends one stage artifact of an attempt (the next `seq`), written under the lease `epoch` that produced it.
   * Callers fence it (`Orchestrator.atomically` + `holds`). Fails `EvidenceError` when it does not encode.
   */
  readonly putStage: (
    issueId: IssueId,
    attempt: number,
    epoch: number,
    artifact: StageArtifact
  ) => Effect.Effect<void, EvidenceError>
  /** The stage artifacts of an attempt, in the order they were stored; one that no longer decodes fails. */
  readonly stages: (issueId: IssueId, attempt: number) => Effect.Effect<ReadonlyArray<StoredStage>, EvidenceError>
  /** Where the files of an attempt live. */
  readonly location: (issueId: IssueId, attempt: number) => Effect.Effect<StoredEvidence, EvidenceError>
}

export class EvidenceStore extends Context.Tag("switchyard/EvidenceStore")<EvidenceStore, EvidenceStoreShape>() {}
