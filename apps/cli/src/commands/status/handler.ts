/** `switchyard status [--json] [--watch] [--check]`: the four layers side by side (see ./snapshot.ts). */
import { Console, Effect, Schedule, Schema } from "effect"
import { storeLayer } from "../../store.js"
import { clearScreen, colorEnabled } from "../../view/doc.js"
import { renderStatus } from "../../view/status.js"
import { printJson, repoRoot } from "../shared.js"
import type { StatusOptions } from "./options.js"
import { statusJson, statusSnapshot } from "./snapshot.js"

/** `status --check` found violations; exits 3 so scripts can tell it from an error (1). */
export class ViolationsFound extends Schema.TaggedError<ViolationsFound>()("ViolationsFound", { count: Schema.Number }) {
  override get message() {
    return `${this.count} violation(s): the four layers disagree in a way the supervisor cannot repair`
  }
}

/** One snapshot (or one per second with `--watch`); with `--check`, fails with ViolationsFound (exit 3) if any. */
export const status = (o: StatusOptions) =>
  repoRoot.pipe(Effect.flatMap((root) => {
    const once = statusSnapshot(root).pipe(
      Effect.tap((s) =>
        o.json
          ? printJson(statusJson(s))
          : colorEnabled.pipe(
            Effect.flatMap((color) => Console.log(`${o.watch ? clearScreen : ""}${renderStatus(s, { color })}`))
          )
      )
    )
    if (o.watch) {
      return once.pipe(Effect.repeat(Schedule.spaced("1 second")), Effect.asVoid, Effect.provide(storeLayer(root)))
    }
    return once.pipe(
      Effect.flatMap((s) =>
        o.check && s.human.violations.length > 0
          ? Effect.fail(new ViolationsFound({ count: s.human.violations.length }))
          : Effect.void
      ),
      Effect.provide(storeLayer(root))
    )
  }))
