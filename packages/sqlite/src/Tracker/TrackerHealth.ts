/**
 * The health of the external trackers a runner syncs (`tracker_health`, migration 7; written by the mirror of
 * @switchyard/trackers), and their write-backs still waiting in `tracker_outbox`, for `switchyard status`.
 * Empty for the embedded tracker.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

export interface TrackerHealthRow {
  /** `tracker.kind`, e.g. `github`. */
  readonly kind: string
  /** Epoch ms of the last successful read, or null. */
  readonly lastOkAt: number | null
  /** The last failed read's error (kept after a recovery, with its time) or null. */
  readonly lastError: string | null
  readonly lastErrorAt: number | null
  /** Requests left in the rate-limit window, as the tracker last reported, or null. */
  readonly rateLimitRemaining: number | null
  /** Epoch ms at which the window resets, or null. */
  readonly rateLimitResetAt: number | null
  /** Write-backs not yet delivered, and the oldest one's creation (epoch ms). */
  readonly pendingWriteBacks: number
  readonly oldestPendingAt: number | null
}

/** One read of every tracker's health row with its outbox backlog. Fails with the `SqlError`. */
export const read = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<{
    kind: string
    last_ok_at: number | null
    last_error: string | null
    last_error_at: number | null
    rate_limit_remaining: number | null
    rate_limit_reset_at: number | null
    pending: number
    oldest: number | null
  }>`SELECT h.*, (SELECT COUNT(*) FROM tracker_outbox o WHERE o.kind = h.kind AND o.delivered_at IS NULL) AS pending,
            (SELECT MIN(created_at) FROM tracker_outbox o WHERE o.kind = h.kind AND o.delivered_at IS NULL) AS oldest
     FROM tracker_health h ORDER BY h.kind`
  return rows.map((r): TrackerHealthRow => ({
    kind: r.kind,
    lastOkAt: r.last_ok_at,
    lastError: r.last_error,
    lastErrorAt: r.last_error_at,
    rateLimitRemaining: r.rate_limit_remaining,
    rateLimitResetAt: r.rate_limit_reset_at,
    pendingWriteBacks: r.pending,
    oldestPendingAt: r.oldest
  }))
})
