/**
 * TrackerSync: "read the remote tracker now" for a mirrored tracker (GitHub, fp), which otherwise reads it every
 * `polling.interval_ms`. A GitHub webhook (`issues` labeled) uses it so the next dispatch sees the change at once;
 * polling stays the fallback. Absent for the embedded tracker (nothing to read).
 */
import { Context, type Effect } from "effect"

export interface TrackerSyncShape {
  /** One sync round now (deliver the outbox, then pull), serialized with the background rounds. Never fails. */
  readonly syncNow: Effect.Effect<void>
}

export class TrackerSync extends Context.Tag("switchyard/TrackerSync")<TrackerSync, TrackerSyncShape>() {}
