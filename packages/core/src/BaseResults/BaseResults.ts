/**
 * BaseResults: verification runs on a base commit, remembered so that every issue on that base reuses them instead
 * of running the same commands again (issue 12 item 3: the base's validation is the same for every issue on that
 * base commit). A run is found by a `key` the Verifier computes from everything its result depends on (the base
 * commit, the commands, their timeout, the checkout's `after_create`, the `verify.env` values and, for commands
 * that read them, the change variables): a different input is a different key, never a stale hit.
 *
 * A cache is an optimisation, never a source of truth it cannot lose: a failed lookup is a miss and a failed store
 * is logged and dropped, so neither can fail a verification. Implementations: `SqliteBaseResults`
 * (@switchyard/sqlite, shared by every runner on the database) and {@link BaseResultsMemory} (one process).
 */
import { CommandResult } from "@switchyard/domain"
import { Context, Effect, Layer, Option, Ref, Schema } from "effect"

/** One remembered run: the redacted results of its commands, in order, and when it ran (ms since the epoch). */
export class BaseRun extends Schema.Class<BaseRun>("BaseRun")({
  base_commit: Schema.String,
  results: Schema.Array(CommandResult),
  ran_at: Schema.Number
}) {}

export interface BaseResultsShape {
  /** The run stored under `key`, if any. Never fails: a broken store is a miss. */
  readonly lookup: (key: string) => Effect.Effect<Option.Option<BaseRun>>
  /** Stores `run` under `key` (replacing an older one). Never fails: a broken store is logged. */
  readonly store: (key: string, run: BaseRun) => Effect.Effect<void>
}

export class BaseResults extends Context.Tag("switchyard/BaseResults")<BaseResults, BaseResultsShape>() {}

/**
 * Whether a run may be remembered: only runs whose every command ran to an exit code of its own. A timeout, a
 * signal, or a tool that could not start (126/127: an install hook or PATH the user can still fix without changing
 * the key) says something about that moment, not about the base. Pure.
 */
export const isReusableBaseRun = (results: ReadonlyArray<CommandResult>): boolean =>
  results.length > 0 && results.every((r) => !r.environmentFailure && !r.timedOut && r.exitCode !== null)

/** A process-local cache (tests, or a runner without a database). */
export const BaseResultsMemory: Layer.Layer<BaseResults> = Layer.effect(
  BaseResults,
  Effect.map(Ref.make(new Map<string, BaseRun>()), (ref) =>
    BaseResults.of({
      lookup: (key) => Effect.map(Ref.get(ref), (m) => Option.fromNullable(m.get(key))),
      store: (key, run) => Ref.update(ref, (m) => new Map(m).set(key, run))
    }))
)
