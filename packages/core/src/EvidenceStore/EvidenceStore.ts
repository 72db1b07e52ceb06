/**
 * EvidenceStore: the bundle behind every terminal state, in SQLite and as files a person can open
 * (`evidence.json`, `evidence.md`, `diff.patch`) under `.switchyard/runs/<id>/<attempt>/`.
 * Implementation: `SqliteEvidenceStore` (@switchyard/sqlite).
 */
import type { EvidenceBundle, IssueId, TerminalState } from "@switchyard/domain"
import { Context, type Effect, type Option } from "effect"
import type { EvidenceError } from "./errors.js"

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
  /** Stores a bundle (replacing one for the same issue and attempt) in SQLite and as files. */
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
  /** Tokens and cost summed over every stored bundle (all issues, all attempts); `costUsd` null when none reported. */
  readonly usageTotals: Effect.Effect<
    { readonly bundles: number; readonly inputTokens: number; readonly outputTokens: number; readonly costUsd: number | null },
    EvidenceError
  >
  /** Where the files of an attempt live. */
  readonly location: (issueId: IssueId, attempt: number) => Effect.Effect<StoredEvidence, EvidenceError>
}

export class EvidenceStore extends Context.Tag("switchyard/EvidenceStore")<EvidenceStore, EvidenceStoreShape>() {}
