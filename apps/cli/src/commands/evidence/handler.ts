/** `switchyard evidence ID [--json|--md] [--attempt N]`: an attempt's evidence bundle. */
import { EvidenceStore, renderEvidenceMarkdown, Tracker } from "@switchyard/core"
import { EvidenceBundle } from "@switchyard/domain"
import { Console, Effect, Option, Schema } from "effect"
import { print } from "../../view/doc.js"
import { evidenceView } from "../../view/evidence.js"
import { printJson, withStore } from "../shared.js"
import type { EvidenceOptions } from "./options.js"

export class NoEvidence extends Schema.TaggedError<NoEvidence>()("NoEvidence", { id: Schema.String }) {
  override get message() {
    return `${this.id} has no evidence bundle yet (it has not reached a terminal state)`
  }
}

/**
 * The bundle as `--json` prints it: the stored JSON with `task.body` filled in (evidence.json leaves it out when
 * it is `task.packet.intent`), so the output has the shape it always had.
 */
const bundleJson = (bundle: EvidenceBundle) => {
  const encoded = Schema.encodeSync(EvidenceBundle)(bundle)
  return { ...encoded, task: { title: encoded.task.title, body: bundle.task.body, packet: encoded.task.packet } }
}

/** Prints the latest (or `--attempt N`) bundle: terminal view, `--md` markdown or `--json`; NoEvidence if none. */
export const evidence = (o: EvidenceOptions) =>
  withStore(() =>
    Effect.gen(function*() {
      const issue = yield* (yield* Tracker).get(o.id)
      const store = yield* EvidenceStore
      const bundle = yield* Option.match(o.attempt, {
        onNone: () => store.latest(issue.id),
        onSome: (n) => store.get(issue.id, n)
      })
      if (Option.isNone(bundle)) {
        return yield* Effect.fail(new NoEvidence({ id: issue.id }))
      }
      yield* o.json
        ? printJson(bundleJson(bundle.value))
        : o.md
        ? Console.log(renderEvidenceMarkdown(bundle.value))
        : print(evidenceView(bundle.value))
    })
  )
