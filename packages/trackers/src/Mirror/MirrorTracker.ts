/**
 * A `Tracker` for an external system of record (GitHub, Linear, fp): a mirror of its issues in the embedded
 * SQLite `issues` table (ids `<prefix>-<n>`), refreshed by a sync fiber, plus a durable outbox of write-backs.
 * docs/trackers.md, "Consistency", has the why; in short:
 *
 * - The line's ending (`settle`) moves the tracker, stores the bundle, closes the attempt and releases the lease
 *   in ONE SQLite transaction. An HTTP call cannot join it. So every write this tracker takes (a status change, a
 *   comment, an ending's comment and pull request) changes the mirror AND inserts a `tracker_outbox` row in the
 *   caller's transaction: both commit or neither does.
 * - The sync fiber delivers the outbox afterwards, oldest first per issue, idempotently (state labels are set, not
 *   toggled; a comment carries a marker and is not posted again when the marker is there; a pull request is looked
 *   up by branch first), retrying a failed row with backoff (`Schedule`) until it goes through. Nothing is lost
 *   when GitHub is down or the runner dies: the rows wait in the database.
 * - Then it pulls: the remote's issues are written into the mirror. The remote wins (it is the system of record),
 *   except for the status of an issue with an undelivered status change (our write is on its way). Closed, deleted,
 *   relabelled or retitled issues reach the line as mirror changes, and the loop's reconciliation stops or requeues
 *   their workers exactly as for the embedded tracker (Symphony SPEC §8.5, C24).
 * - While the remote cannot be read, `ready` is empty (nothing new is dispatched), running workers go on, the
 *   outage is logged once and the recovery once (Symphony SPEC §14.2, C25); `tracker_health` records the last
 *   successful read, the last error and the rate limit left, for `switchyard status`.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import {
  hasRequiredLabels,
  summarizeReady,
  Tracker,
  type TrackerEnding,
  TrackerError,
  type TrackerShape,
  TrackerSync
} from "@switchyard/core"
import { Issue, type IssueId, type IssueStatus, resolvedStatuses } from "@switchyard/domain"
import { SqliteTracker } from "@switchyard/sqlite"
import { Clock, Context, DateTime, Duration, Effect, Layer, Option, PubSub, Ref, Schedule, Schema, type Scope, Stream } from "effect"

/** One queued write-back. `op`: `state` (`{status}`), `comment` (`{body}`), `pull` (`{branch, title, body}`). */
export interface OutboxRow {
  readonly id: number
  readonly issue_id: string
  readonly op: string
  readonly payload: string
  /** Epoch ms. */
  readonly created_at: number
  readonly failures: number
}

/** A write-back to queue: the op and its JSON payload. */
export interface OutboxWrite {
  readonly op: "state" | "comment" | "pull" | "branch"
  readonly payload: Readonly<Record<string, unknown>>
}

/** Why a write-back did not go through; `retryAfterMs`: the remote asked to wait at least this long (ms). */
export interface DeliveryError {
  readonly message: string
  readonly retryAfterMs: number | null
}

/** What one read of the remote returned. */
export interface RemoteRead {
  /** Every issue in scope, with the status the remote gives it. */
  readonly issues: ReadonlyArray<Issue>
  /** Records that could not be mapped (skipped, reported once). */
  readonly invalid: ReadonlyArray<{ readonly id: string; readonly reason: string }>
}

/** The remote side of a mirror: how to read it and how to deliver a write-back. */
export interface Remote {
  /** `tracker.kind`, the key of its `tracker_health` row. */
  readonly kind: string
  /** The id prefix of its issues (`GH`): only these are dispatched, listed and written back. */
  readonly prefix: string
  /**
   * Every id prefix of its issues when there are several (Linear: the team keys of the project); default
   * `[prefix]`.
   */
  readonly prefixes?: ReadonlyArray<string>
  /** Every issue in scope, or None when nothing changed since the last read (a 304). */
  readonly pull: Effect.Effect<Option.Option<RemoteRead>, TrackerError>
  /** One issue now (Some), or None when it is gone. Fails on a malformed record (Symphony SPEC §11.1). */
  readonly refresh: (id: IssueId) => Effect.Effect<Option.Option<Issue>, TrackerError>
  /** Delivers one row, idempotently. A failure with `retryAfterMs` waits at least that long. */
  readonly deliver: (row: OutboxRow) => Effect.Effect<void, DeliveryError>
  /** The write-backs an attempt's ending queues (the terminal comment, the pull request). */
  readonly endingWrites: (ending: TrackerEnding) => ReadonlyArray<OutboxWrite>
  /** The rate limit the remote reported last, if it reports one. */
  readonly rateLimit: Effect.Effect<{ readonly remaining: number; readonly resetAt: number } | null>
}

/** The tracker's view of the remote's health (also stored in `tracker_health`). */
export interface Health {
  readonly healthy: boolean
  /** Epoch ms of the last successful read, or null. */
  readonly lastOkAt: number | null
  readonly lastError: string | null
}

/**
 * The heading of the comment an external tracker gets when an attempt ends in `outcome` (PR_READY, NO_OP,
 * RETRYABLE_FAILURE), or null for ESCALATE, whose comment `settle` writes itself. Pure.
 */
export const endingHeading = (outcome: string): string | null =>
  outcome === "PR_READY"
    ? "Switchyard verified a change"
    : outcome === "NO_OP"
    ? "Switchyard found nothing to change"
    : outcome === "RETRYABLE_FAILURE"
    ? "Switchyard will retry"
    : null

/** How long (ms) a runner holds an outbox row it is delivering before another may try it (1 min). */
export const DELIVERY_LEASE_MS = 60_000

/** A failed outbox row waits `min(1 s · 2^failures, 5 min)`, or the remote's `Retry-After` when longer. */
export const outboxBackoffMs = (failures: number, retryAfterMs: number | null): number =>
  Math.max(Math.min(1_000 * 2 ** Math.max(0, failures - 1), 300_000), retryAfterMs ?? 0)

const IssueRowCodec = Schema.encode(SqliteTracker.IssueFromRow)
const decodeIssueRow = Schema.decodeUnknown(SqliteTracker.IssueFromRow)

/**
 * Builds the mirror tracker for `remote` over the store's `Tracker` and `SqlClient` (SQLite's `Sql.layer` or
 * PostgreSQL's `PgSql.layer`, migrated): the mirrored rows are that store's issues, and the outbox rows are written
 * in its transactions. Returns the `Tracker` and `syncOnce` (deliver the outbox, then pull), which `layer`
 * repeats every `pollMs`.
 */
export const make = (remote: Remote) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    // The store's own tracker (SQLite or PostgreSQL) over the same database: the mirror's rows are its rows.
    const base = yield* Tracker
    const prefixes = remote.prefixes ?? [remote.prefix]
    const own = (id: string) => prefixes.some((p) => id.startsWith(`${p}-`))
    const failure = (operation: string) => (error: unknown) =>
      new TrackerError({ operation, reason: error instanceof Error ? error.message : String(error), cause: error })
    // Optimistic until the first read (which `layer` makes before the first tick): an outage is then logged once.
    const health = yield* Ref.make<Health>({ healthy: true, lastOkAt: null, lastError: null })
    const invalid = yield* Ref.make<ReadonlyArray<{ readonly id: string; readonly reason: string }>>([])
    const changed = yield* PubSub.sliding<void>(1)

    const enqueue = (issueId: string, writes: ReadonlyArray<OutboxWrite>) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        for (const w of writes) {
          yield* sql`INSERT INTO tracker_outbox (kind, issue_id, op, payload, created_at, next_at)
                     VALUES (${remote.kind}, ${issueId}, ${w.op}, ${JSON.stringify(w.payload)}, ${now}, ${now})`
        }
      }).pipe(Effect.mapError(failure("outbox")))

    const transition: TrackerShape["transition"] = (id, from, to) =>
      sql.withTransaction(Effect.gen(function*() {
        const moved = yield* base.transition(id, from, to)
        if (moved && own(id)) yield* enqueue(id, [{ op: "state", payload: { status: to } }])
        return moved
      })).pipe(Effect.catchTag("SqlError", (e) => Effect.fail(failure("transition")(e))))

    const comment: TrackerShape["comment"] = (id, body, author) =>
      sql.withTransaction(Effect.gen(function*() {
        const issue = yield* base.comment(id, body, author)
        if (own(issue.id)) yield* enqueue(issue.id, [{ op: "comment", payload: { body } }])
        return issue
      })).pipe(Effect.catchTag("SqlError", (e) => Effect.fail(failure("comment")(e))))

    const ended = (ending: TrackerEnding) =>
      own(ending.issueId) ? enqueue(ending.issueId, remote.endingWrites(ending)) : Effect.void

    const list: TrackerShape["list"] = (filter) => Effect.map(base.list(filter), (all) => all.filter((i) => own(i.id)))

    const ready: TrackerShape["ready"] = Effect.gen(function*() {
      if (!(yield* Ref.get(health)).healthy) return { refs: [], invalid: [] }
      const set = yield* base.ready
      return { refs: set.refs.filter((r) => own(r.id)), invalid: [...set.invalid.filter((i) => own(i.id)), ...(yield* Ref.get(invalid))] }
    })

    const tracker: TrackerShape = {
      create: () =>
        Effect.fail(
          new TrackerError({
            operation: "create",
            reason: `issues come from ${remote.kind} (tracker.kind: ${remote.kind}); open the issue there`
          })
        ),
      get: base.get,
      statuses: base.statuses,
      list,
      update: base.update,
      transition,
      comment,
      ended,
      candidates: Effect.map(base.candidates, (c) => ({ ...c, todo: c.todo.filter((i) => own(i.id)) })),
      ready,
      readySummary: (options) =>
        Effect.zipWith(ready, list({ status: "todo" }), (set, todo) => summarizeReady(set, options, todo.length)),
      counts: Effect.map(list(), (all) => {
        const counts: Record<IssueStatus, number> = {
          backlog: 0,
          todo: 0,
          in_progress: 0,
          in_review: 0,
          blocked: 0,
          done: 0,
          cancelled: 0
        }
        for (const i of all) counts[i.status] += 1
        return counts
      }),
      changes: Stream.merge(base.changes, Stream.fromPubSub(changed))
    }

    /**
     * Writes `remote` (an issue as the remote has it) into the mirror, in the caller's transaction: the remote's
     * fields win; the local status wins while a status change of ours is undelivered and the remote has not closed
     * the issue; local comments are kept (the remote's are not mirrored). Returns whether the row changed.
     */
    const upsert = (incoming: Issue) =>
      Effect.gen(function*() {
        const rows = yield* sql<Record<string, unknown>>`SELECT * FROM issues WHERE id = ${incoming.id}`
        const local = rows[0] === undefined ? null : yield* Effect.option(decodeIssueRow(rows[0]))
        const pending = yield* sql<{ n: number }>`
          SELECT COUNT(*) AS n FROM tracker_outbox WHERE issue_id = ${incoming.id} AND op = 'state' AND delivered_at IS NULL`
        let status = incoming.status
        if (local !== null && Option.isSome(local) && (pending[0]?.n ?? 0) > 0 && !resolvedStatuses.has(incoming.status)) {
          status = local.value.status
        }
        const comments = local !== null && Option.isSome(local) ? local.value.comments : []
        const next = new Issue({ ...incoming, status, comments })
        const row = yield* IssueRowCodec(next)
        if (local !== null && Option.isSome(local)) {
          const before = yield* IssueRowCodec(local.value)
          if (JSON.stringify(before) === JSON.stringify(row)) return false
          yield* sql`UPDATE issues SET ${sql.update(row, ["id"])} WHERE id = ${incoming.id}`
        } else if (rows[0] !== undefined) {
          yield* sql`UPDATE issues SET ${sql.update(row, ["id"])} WHERE id = ${incoming.id}`
        } else {
          yield* sql`INSERT INTO issues ${sql.insert(row)}`
        }
        return true
      })

    /** Marks a mirrored issue the remote no longer has as `cancelled` (the line stops its worker). */
    const gone = (id: string) =>
      Effect.gen(function*() {
        const at = DateTime.formatIso(yield* DateTime.now)
        const moved = yield* sql<{ id: string }>`
          UPDATE issues SET status = 'cancelled', updated_at = ${at}
          WHERE id = ${id} AND status NOT IN ('cancelled', 'done') RETURNING id`
        return moved.length > 0
      })

    const reported = yield* Ref.make<ReadonlySet<string>>(new Set())

    /** One read of the remote into the mirror. */
    const pull = Effect.gen(function*() {
      const read = yield* remote.pull
      if (Option.isNone(read)) return
      // Oldest first (then by number), so the mirror's rows are in the order the remote created them.
      const issues = [...read.value.issues].sort((a, b) =>
        DateTime.toEpochMillis(a.created_at) - DateTime.toEpochMillis(b.created_at) ||
        Number(a.id.slice(a.id.lastIndexOf("-") + 1)) - Number(b.id.slice(b.id.lastIndexOf("-") + 1))
      )
      for (const bad of read.value.invalid) {
        if ((yield* Ref.get(reported)).has(bad.id)) continue
        yield* Ref.update(reported, (s) => new Set(s).add(bad.id))
        yield* Effect.logWarning(`${remote.kind} issue ${bad.id} cannot be read and is skipped: ${bad.reason}`)
      }
      yield* Ref.set(invalid, read.value.invalid)
      const seen = new Set(issues.map((i) => i.id as string))
      let touched = false
      yield* sql.withTransaction(Effect.gen(function*() {
        for (const issue of issues) touched = (yield* upsert(issue)) || touched
      })).pipe(Effect.mapError(failure("sync")))
      // Issues we mirror as open that the remote no longer lists as open: closed, deleted or moved out of scope.
      const open = (yield* Effect.forEach(prefixes, (p) =>
        sql.onDialectOrElse({
          // SQLite: GLOB is case-sensitive and reads an index range; PostgreSQL: LIKE is (a prefix, `_`-free).
          pg: () => sql<{ id: string }>`
            SELECT id FROM issues WHERE id LIKE ${`${p}-%`} AND status NOT IN ('done', 'cancelled')`,
          orElse: () => sql<{ id: string }>`
            SELECT id FROM issues WHERE id GLOB ${`${p}-*`} AND status NOT IN ('done', 'cancelled')`
        })).pipe(
        Effect.mapError(failure("sync"))
      )).flat()
      for (const { id } of open) {
        if (seen.has(id)) continue
        const now = yield* remote.refresh(id as IssueId)
        touched = (yield* sql.withTransaction(Option.match(now, { onNone: () => gone(id), onSome: upsert })).pipe(
          Effect.mapError(failure("sync"))
        )) || touched
      }
      if (touched) yield* PubSub.publish(changed, undefined)
    })

    /**
     * Delivers the due outbox rows, oldest first; an issue's later rows wait for its failed one. Each row is taken
     * first by a compare-and-set on its `next_at` that pushes it {@link DELIVERY_LEASE_MS} ahead, so of several
     * runners sharing the store (PostgreSQL) one delivers it; a runner that dies while delivering leaves it due
     * again after the lease.
     */
    const deliver = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const rows = yield* sql<OutboxRow & { next_at: number }>`
        SELECT id, issue_id, op, payload, created_at, failures, next_at FROM tracker_outbox
        WHERE delivered_at IS NULL AND kind = ${remote.kind} ORDER BY id`.pipe(Effect.mapError(failure("outbox")))
      const stuck = new Set<string>()
      for (const row of rows) {
        if (stuck.has(row.issue_id)) continue
        if (row.next_at > now) {
          stuck.add(row.issue_id)
          continue
        }
        // The take is not interruptible (a statement in flight on PostgreSQL may commit after its fiber stopped,
        // leaving the row held); the delivery is, and an interrupted one (the run is ending) makes the row due
        // again at once, for the final flush.
        const leased = now + DELIVERY_LEASE_MS
        const attempt = yield* Effect.uninterruptibleMask((restore) =>
          Effect.gen(function*() {
            const taken = yield* sql<{ id: number }>`
              UPDATE tracker_outbox SET next_at = ${leased}
              WHERE id = ${row.id} AND next_at = ${row.next_at} AND delivered_at IS NULL RETURNING id`.pipe(
              Effect.mapError(failure("outbox"))
            )
            if (taken.length === 0) return Option.none()
            return Option.some(
              yield* restore(Effect.either(remote.deliver(row))).pipe(
                Effect.onInterrupt(() =>
                  sql`UPDATE tracker_outbox SET next_at = ${row.next_at}
                      WHERE id = ${row.id} AND next_at = ${leased} AND delivered_at IS NULL`.pipe(Effect.ignore)
                )
              )
            )
          })
        )
        if (Option.isNone(attempt)) {
          // Another runner is delivering it (or did): this issue's later rows wait for it.
          stuck.add(row.issue_id)
          continue
        }
        const sent = attempt.value
        const at = yield* Clock.currentTimeMillis
        if (sent._tag === "Right") {
          yield* sql`UPDATE tracker_outbox SET delivered_at = ${at}, last_error = NULL WHERE id = ${row.id}`.pipe(
            Effect.mapError(failure("outbox"))
          )
          continue
        }
        stuck.add(row.issue_id)
        const failures = row.failures + 1
        const wait = outboxBackoffMs(failures, sent.left.retryAfterMs)
        yield* sql`UPDATE tracker_outbox SET failures = ${failures}, last_error = ${sent.left.message}, next_at = ${at + wait}
                   WHERE id = ${row.id}`.pipe(Effect.mapError(failure("outbox")))
        yield* Effect.logWarning(`${remote.kind} write-back ${row.op} for ${row.issue_id} failed, retrying in ${wait} ms: ${sent.left.message}`)
      }
    })

    const recordHealth = (ok: boolean, error: string | null) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const rate = yield* remote.rateLimit
        yield* sql`INSERT INTO tracker_health (kind, last_ok_at, last_error, last_error_at, rate_limit_remaining, rate_limit_reset_at)
          VALUES (${remote.kind}, ${ok ? now : null}, ${error}, ${ok ? null : now}, ${rate?.remaining ?? null}, ${rate?.resetAt ?? null})
          ON CONFLICT (kind) DO UPDATE SET
            last_ok_at = COALESCE(excluded.last_ok_at, last_ok_at),
            last_error = CASE WHEN ${ok ? 1 : 0} = 1 THEN last_error ELSE excluded.last_error END,
            last_error_at = CASE WHEN ${ok ? 1 : 0} = 1 THEN last_error_at ELSE excluded.last_error_at END,
            rate_limit_remaining = COALESCE(excluded.rate_limit_remaining, rate_limit_remaining),
            rate_limit_reset_at = COALESCE(excluded.rate_limit_reset_at, rate_limit_reset_at)`.pipe(Effect.ignoreLogged)
        const before = yield* Ref.get(health)
        yield* Ref.set(health, { healthy: ok, lastOkAt: ok ? now : before.lastOkAt, lastError: ok ? before.lastError : error })
        if (before.healthy && !ok) {
          yield* Effect.logWarning(
            `${remote.kind} cannot be read (${error}); running workers go on, nothing new is dispatched until it answers`
          )
        }
        if (!before.healthy && ok) {
          yield* Effect.logInfo(`${remote.kind} answers again; dispatching resumes`)
          yield* PubSub.publish(changed, undefined)
        }
      })

    /**
     * One sync round: deliver the due outbox rows, then pull. A failed pull marks the remote unhealthy (logged
     * once per outage); never fails.
     */
    const syncOnce = Effect.gen(function*() {
      yield* deliver.pipe(Effect.catchAll((e) => Effect.logWarning(`${remote.kind} outbox: ${e.message}`)))
      const pulled = yield* Effect.either(pull)
      yield* recordHealth(pulled._tag === "Right", pulled._tag === "Left" ? pulled.left.message : null)
    })

    /** Delivers what is due now (never fails): the last chance of a run that is ending. */
    const flush = deliver.pipe(Effect.catchAll((e) => Effect.logWarning(`${remote.kind} outbox: ${e.message}`)))

    return { tracker, syncOnce, flush, health: Ref.get(health) }
  })

/**
 * The mirror as the `Tracker` service: syncs once while the layer is built (so the first tick sees the remote),
 * then every `pollMs` (ms) in a fiber that lives as long as the layer; delivers the due outbox once more (at most
 * 10 s) when the layer is released.
 */
export const layer = (
  remote: Remote,
  options: { readonly pollMs: number }
): Layer.Layer<Tracker, TrackerError, SqlClient.SqlClient | Tracker> =>
  Layer.scoped(
    Tracker,
    Effect.map(makeSynced(remote, options), (m) => Tracker.of(m.tracker))
  )

/**
 * The mirror as `Tracker` and `TrackerSync` (a webhook's "read the remote now"): as `layer`, with every sync round
 * serialized, the background ones and the ones asked for.
 */
export const layerWithSync = (
  remote: Remote,
  options: { readonly pollMs: number }
): Layer.Layer<Tracker | TrackerSync, TrackerError, SqlClient.SqlClient | Tracker> =>
  Layer.scopedContext(
    Effect.map(makeSynced(remote, options), (m) =>
      Context.make(Tracker, Tracker.of(m.tracker)).pipe(
        Context.add(TrackerSync, TrackerSync.of({ syncNow: m.syncNow }))
      ))
  )

const makeSynced = (remote: Remote, options: { readonly pollMs: number }) =>
    Effect.gen(function*() {
      const mirror = yield* make(remote)
      const lock = yield* Effect.makeSemaphore(1)
      const round = lock.withPermits(1)(mirror.syncOnce)
      yield* mirror.syncOnce
      // Runs after the sync fiber is interrupted (finalizers run in reverse): the write-backs of the last endings of
      // a `run --once` go out before it exits; what cannot go out now waits in the outbox for the next run.
      yield* Effect.addFinalizer(() => mirror.flush.pipe(Effect.timeout("10 seconds"), Effect.ignore))
      yield* round.pipe(
        // A defect in one round is logged and the next round runs: the sync never stops while the line runs.
        Effect.catchAllCause((cause) => Effect.logError(`${remote.kind} sync round failed`, cause)),
        Effect.repeat(Schedule.spaced(Duration.millis(options.pollMs))),
        Effect.forkScoped
      )
      const syncNow = round.pipe(Effect.catchAllCause((cause) => Effect.logWarning(`${remote.kind} sync asked for failed`, cause)))
      return { tracker: mirror.tracker, syncNow }
    }) satisfies Effect.Effect<unknown, unknown, SqlClient.SqlClient | Tracker | Scope.Scope>

/**
 * `base` dispatching only the issues `own` accepts: `ready` and `readySummary` leave the others out (everything
 * else is `base`'s). `tracker.kind: switchyard` wraps the store's SqliteTracker with it, so rows mirrored from an
 * external tracker (`GH-`, `FP-`, a Linear team's ids) by an earlier run with another kind stay visible but are
 * never dispatched as embedded issues, whose write-backs would go nowhere (docs/trackers.md). With
 * `requiredLabels`, ready issues without every one of them are left out too (`status` counts "eligible now" so).
 */
export const dispatchOnly = (
  base: TrackerShape,
  own: (id: string) => boolean,
  requiredLabels: ReadonlyArray<string> = []
): TrackerShape => {
  const ready: TrackerShape["ready"] = Effect.map(base.ready, (set) => ({
    refs: set.refs.filter((r) => own(r.id) && hasRequiredLabels(r.labels, requiredLabels)),
    invalid: set.invalid.filter((i) => own(i.id))
  }))
  return {
    ...base,
    ready,
    readySummary: (options) =>
      Effect.zipWith(ready, base.list({ status: "todo" }), (set, todo) => summarizeReady(set, options, todo.filter((i) => own(i.id)).length))
  }
}
