/**
 * Orchestrator: what work was picked up. Durable claims (leases), attempts, retries and the append-only
 * event log, shared by every runner on the repo. Implementation: `SqliteOrchestrator` (@switchyard/sqlite).
 */
import type {
  Attempt,
  FactoryEvent,
  FactoryEventType,
  IssueId,
  Lease,
  OrphanGroup,
  RetryEntry,
  RunnerId,
  Stage,
  TerminalState
} from "@switchyard/domain"
import { Context, type Effect, type Option, type Stream } from "effect"
import type { OrchestratorError } from "./errors.js"

export interface LeasePatch {
  readonly stage?: Stage
  readonly agent_pid?: number | null
  readonly agent_pgid?: number | null
  readonly sandbox_path?: string | null
  readonly last_output_at?: number | null
}

export interface AttemptStart {
  readonly issue_id: IssueId
  readonly attempt: number
  readonly branch: string | null
  readonly sandbox_path: string | null
  readonly base_commit: string | null
}

export interface AttemptEnd {
  readonly terminal_state: TerminalState | null
  readonly cause: string
  readonly commit: string | null
  /** False when the attempt must not count against `agent.max_attempts` (shutdown, cancellation, runner death). */
  readonly counted: boolean
}

/** The latest `terminal.<STATE>` event of one attempt, as the event log has it. */
export interface TerminalEvent {
  /** What follows `terminal.` in the event type (a `TerminalState` unless the log was edited by hand). */
  readonly state: string
  /** The event data's `cause`, null when it has none. */
  readonly cause: string | null
  readonly seq: number
}

/** A runner process as a shared store records it (PostgreSQL: the `runners` table, upserted on every heartbeat). */
export interface RunnerInfo {
  readonly runner_id: RunnerId
  readonly host: string
  readonly pid: number
  /** Epoch ms. */
  readonly started_at: number
  /** Epoch ms of its last heartbeat. */
  readonly heartbeat_at: number
}

export interface OrchestratorShape {
  /** This process's runner id, `<host>:<pid>:<start-ms>`. */
  readonly runnerId: RunnerId
  /**
   * Claims `issueId` for this runner in one `BEGIN IMMEDIATE` transaction: inserts a lease that expires after
   * `ttlMs` unless some lease (live or expired) already exists, with the next epoch of the issue (larger than any
   * it had). Returns `None` when another claim holds it.
   */
  readonly claim: (issueId: IssueId, attempt: number, ttlMs: number) => Effect.Effect<Option.Option<Lease>, OrchestratorError>
  /**
   * Takes over `lease` (a dead or expired owner's) for this runner: a compare-and-set on its owner and epoch that
   * gives the lease the issue's next epoch and `now + ttlMs`. `None` when the lease changed meanwhile (another
   * supervisor took it, or its owner released it): then the caller must not act on the attempt. When `lease` is
   * another host's and records an agent group (`agent_pgid`), an `OrphanGroup` for that host is inserted in the
   * same transaction: only that host can kill it (docs/scale.md "Runner deaths").
   */
  readonly takeOver: (lease: Lease, ttlMs: number) => Effect.Effect<Option.Option<Lease>, OrchestratorError>
  /** The agent groups other hosts' take-overs left on this runner's host, oldest first (`takeOver`). */
  readonly orphans: Effect.Effect<ReadonlyArray<OrphanGroup>, OrchestratorError>
  /** Forgets the orphan record `id` (its group was killed, or is gone). */
  readonly forgetOrphan: (id: number) => Effect.Effect<void, OrchestratorError>
  /** True when this runner holds the lease on `issueId` at `epoch` (the fence every ending checks first). */
  readonly holds: (issueId: IssueId, epoch: number) => Effect.Effect<boolean, OrchestratorError>
  /**
   * Runs `effect` as one transaction over the shared store: every Orchestrator, Tracker and EvidenceStore write
   * inside that uses the same store (`layerAll` of @switchyard/sqlite) commits or rolls back with it. A failure,
   * defect or interruption rolls back. Nested calls join the outer transaction.
   */
  readonly atomically: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | OrchestratorError, R>
  /** Renews every lease this runner holds to `now + ttlMs`. Returns how many were renewed. */
  readonly heartbeat: (ttlMs: number) => Effect.Effect<number, OrchestratorError>
  /** Updates the live fields of this runner's lease on `issueId` (stage, agent pid/pgid, output time). */
  readonly updateLease: (issueId: IssueId, patch: LeasePatch) => Effect.Effect<void, OrchestratorError>
  /** Deletes the lease on `issueId` if this runner holds it (at `epoch`, when given). */
  readonly release: (issueId: IssueId, epoch?: number) => Effect.Effect<void, OrchestratorError>
  /** Deletes the lease on `issueId` held by `owner` (supervisor repair of a dead or expired owner). */
  readonly breakLease: (issueId: IssueId, owner: RunnerId) => Effect.Effect<boolean, OrchestratorError>
  /** Every lease, all runners. */
  readonly leases: Effect.Effect<ReadonlyArray<Lease>, OrchestratorError>
  readonly startAttempt: (start: AttemptStart) => Effect.Effect<void, OrchestratorError>
  readonly finishAttempt: (issueId: IssueId, attempt: number, end: AttemptEnd) => Effect.Effect<void, OrchestratorError>
  /** Attempts of one issue, oldest first. */
  readonly attempts: (issueId: IssueId) => Effect.Effect<ReadonlyArray<Attempt>, OrchestratorError>
  /** The most recently ended attempts, newest first (for `status`). */
  readonly recentOutcomes: (limit: number) => Effect.Effect<ReadonlyArray<Attempt>, OrchestratorError>
  /** Number of attempts that count against `agent.max_attempts`. */
  readonly countedAttempts: (issueId: IssueId) => Effect.Effect<number, OrchestratorError>
  /**
   * Counts one more runner death on `attempt` of `issueId` and returns the issue's total over all its attempts
   * (compared with `orchestrator.max_runner_deaths`).
   */
  readonly addRunnerDeath: (issueId: IssueId, attempt: number) => Effect.Effect<number, OrchestratorError>
  /** Hands an open attempt to this runner (a resumed attempt: same number, new owner). */
  readonly resumeAttempt: (issueId: IssueId, attempt: number) => Effect.Effect<void, OrchestratorError>
  /** Upserts the pending retry of an issue (one per issue; Symphony SPEC §8.4: a new entry replaces the old). */
  readonly scheduleRetry: (entry: RetryEntry) => Effect.Effect<void, OrchestratorError>
  readonly clearRetry: (issueId: IssueId) => Effect.Effect<void, OrchestratorError>
  readonly retries: Effect.Effect<ReadonlyArray<RetryEntry>, OrchestratorError>
  /**
   * Appends an event to the log and publishes it in-process. Never fails: a store error is logged instead,
   * so observability can never stop the line (Symphony SPEC §13.2).
   */
  readonly record: (
    type: FactoryEventType,
    issueId: IssueId | null,
    message: string,
    data?: Record<string, unknown>
  ) => Effect.Effect<void>
  /**
   * The latest `terminal.<STATE>` event of each of `attempts` (matched on the event's issue and its data's
   * `attempt`), in one read, keyed `<issueId>#<attempt>`; an attempt without one is absent (an attempt a
   * supervisor closed before it recorded them, or one that ended a moment ago). For the evidence cross-check.
   */
  readonly terminalEvents: (
    attempts: ReadonlyArray<{ readonly issueId: IssueId; readonly attempt: number }>
  ) => Effect.Effect<ReadonlyMap<string, TerminalEvent>, OrchestratorError>
  /** Reads the event log in order; `afterSeq` pages forward. */
  readonly events: (filter: {
    readonly issueId?: IssueId | undefined
    readonly afterSeq?: number | undefined
    readonly limit?: number | undefined
  }) => Effect.Effect<ReadonlyArray<FactoryEvent>, OrchestratorError>
  /** Events recorded by this process, as they happen. */
  readonly changes: Stream.Stream<FactoryEvent>
  /**
   * Every runner that heartbeats into this store, on any host, oldest host first (for `status`). Absent on stores
   * that keep no runner table (SQLite: its runners share one host, and `status` shows them through their leases).
   */
  readonly runners?: Effect.Effect<ReadonlyArray<RunnerInfo>, OrchestratorError>
}

export class Orchestrator extends Context.Tag("switchyard/Orchestrator")<Orchestrator, OrchestratorShape>() {}
