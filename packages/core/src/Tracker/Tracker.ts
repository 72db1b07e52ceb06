/**
 * Tracker: what work is eligible. The system of record for issues (one of the four layers).
 * Implementations: `SqliteTracker` (@switchyard/sqlite, the default) and `MemoryTracker` (tests, embedding).
 */
import type { EvidenceBundle, Issue, IssueId, IssueInput, IssuePatch, IssueStatus, Priority } from "@switchyard/domain"
import { Context, type Effect, type Stream } from "effect"
import type { InvalidIssueId, IssueNotFound, TrackerError } from "./errors.js"

/**
 * What the scheduler needs to compute the eligible set in one read (Symphony SPEC §8.2):
 * the `todo` issues, the status of every issue they reference (blockers, parents), which issues have open
 * children, and the rows that failed to decode (poison rows are reported, never fatal).
 */
export interface CandidateSnapshot {
  readonly todo: ReadonlyArray<Issue>
  readonly statusOf: ReadonlyMap<string, IssueStatus>
  readonly openChildren: ReadonlySet<string>
  readonly invalid: ReadonlyArray<{ readonly id: string; readonly reason: string }>
}

/** A light reference to a ready issue: what slot selection needs, without decoding the whole issue. */
export interface ReadyRef {
  readonly id: IssueId
  readonly priority: Priority
  readonly labels: ReadonlyArray<string>
}

/**
 * The `todo` issues whose blockers are all `done`/`cancelled` (an unknown blocker blocks) and that have no open
 * children, in dispatch order (priority, created_at, id), plus the `todo` rows that cannot be read.
 * Claims and retry times are the Orchestrator's and are applied by the caller (`eligibleRefs`).
 */
export interface ReadySet {
  readonly refs: ReadonlyArray<ReadyRef>
  readonly invalid: ReadonlyArray<{ readonly id: string; readonly reason: string }>
}

/**
 * The ready set as `status` and other summaries need it, without the whole list: how many ready issues are not in
 * `exclude`, the first `limit` of them in dispatch order, and the `todo` rows that cannot be read.
 */
export interface ReadySummary {
  /** Ready issues not in `exclude` (a count of issues). */
  readonly total: number
  /** The first `limit` of them in dispatch order (priority, created_at, id). */
  readonly head: ReadonlyArray<ReadyRef>
  /** The `todo` rows that cannot be read, as in `ReadySet.invalid`. */
  readonly invalid: ReadonlyArray<{ readonly id: string; readonly reason: string }>
  /**
   * `todo` issues (readable ones) that are not ready: a blocker is not `done`/`cancelled` (or unknown), or a child
   * is still open. A count of issues; `exclude` does not apply.
   */
  readonly waiting: number
}

/** An attempt's ending as `settle` tells a tracker that writes back (`TrackerShape.ended`). */
export interface TrackerEnding {
  readonly issueId: IssueId
  readonly attempt: number
  /** The bundle just stored: outcome, verdict (cause, reasons), summary, question. */
  readonly bundle: EvidenceBundle
  /** `.switchyard/runs/<id>/<attempt>/evidence.md`, relative to the repo. */
  readonly evidencePath: string
  /** PR_READY: the branch that holds the verified commit (`switchyard/<id>`); else null. */
  readonly branch: string | null
}

export interface TrackerShape {
  /** Creates an issue; the tracker assigns `<prefix>-<n>` and timestamps. Fails if a referenced id is unknown. */
  readonly create: (input: IssueInput) => Effect.Effect<Issue, TrackerError | IssueNotFound>
  /** Reads one issue. `id` is raw user text: it is validated first (`InvalidIssueId`). */
  readonly get: (id: string) => Effect.Effect<Issue, IssueNotFound | InvalidIssueId | TrackerError>
  /**
   * The status of each of `ids` that exists, in one read, without decoding the issues (the violation check asks
   * it for up to 100 ids per tick). Unknown ids, and rows whose status does not decode, are absent.
   */
  readonly statuses: (ids: ReadonlyArray<string>) => Effect.Effect<ReadonlyMap<string, IssueStatus>, TrackerError>
  /** Lists issues, oldest first, optionally by status. Rows that fail to decode are skipped and logged. */
  readonly list: (filter?: { readonly status?: IssueStatus | undefined }) => Effect.Effect<ReadonlyArray<Issue>, TrackerError>
  /** Applies a partial update and bumps `updated_at`. */
  readonly update: (id: string, patch: IssuePatch) => Effect.Effect<Issue, IssueNotFound | InvalidIssueId | TrackerError>
  /**
   * Compare-and-set on status: moves `id` to `to` only if its status is one of `from`. Returns whether it moved.
   * The claim path uses it so a concurrent edit (cancel, block) is never overwritten.
   */
  readonly transition: (
    id: IssueId,
    from: ReadonlyArray<IssueStatus>,
    to: IssueStatus
  ) => Effect.Effect<boolean, IssueNotFound | TrackerError>
  /** Appends a comment. */
  readonly comment: (id: string, body: string, author: string) => Effect.Effect<Issue, IssueNotFound | InvalidIssueId | TrackerError>
  /** One read of everything eligibility needs, as full issues (tests, small trackers, tools). */
  readonly candidates: Effect.Effect<CandidateSnapshot, TrackerError>
  /**
   * The hot path of every tick: the ready set as light refs, computed by the store (SQLite keeps it as an index
   * that triggers maintain on every write), so a tracker with 100k issues is not decoded on every tick. Same rules
   * as `candidates` followed by `eligibleIssues` without claims and retries.
   */
  readonly ready: Effect.Effect<ReadySet, TrackerError>
  /**
   * `ready` without the list, for `status`: `total` counts the ready issues whose id is not in `exclude`, `head`
   * holds the first `limit` of them in dispatch order, `invalid` is `ready`'s. `exclude` holds issue ids (the
   * claimed ones and those waiting for a retry, computed by the caller; any length, unknown ids are ignored);
   * `limit` is a count of refs (≥ 0; a fraction is floored, a negative or NaN limit reads none). SQLite answers
   * from its index without reading every ready row.
   */
  readonly readySummary: (options: {
    readonly exclude: ReadonlyArray<string>
    readonly limit: number
  }) => Effect.Effect<ReadySummary, TrackerError>
  /**
   * Optional: called by `settle` inside its transaction, after the issue moved out of `in_progress` for a terminal
   * state, so an external tracker can queue its write-back (a comment per terminal state, a pull request for
   * PR_READY) in the same transaction as the ending (docs/trackers.md, "Consistency"). It must not do I/O outside
   * the store: delivery happens after the commit. The embedded trackers have none.
   */
  readonly ended?: ((ending: TrackerEnding) => Effect.Effect<void, TrackerError>) | undefined
  /** Issue counts by status. */
  readonly counts: Effect.Effect<Readonly<Record<IssueStatus, number>>, TrackerError>
  /**
   * Emits when issues may have changed: right after this process's own writes, and for stores shared between
   * processes, soon after another process commits (SQLite: `PRAGMA data_version`, polled every 200 ms while
   * someone listens). The run loop ticks on it, so edits are dispatched without waiting for the poll interval.
   */
  readonly changes: Stream.Stream<void>
}

export class Tracker extends Context.Tag("switchyard/Tracker")<Tracker, TrackerShape>() {}
