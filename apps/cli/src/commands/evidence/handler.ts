/** `switchyard evidence ID [--json|--md] [--attempt N]`: an attempt's evidence bundle. */
import { EvidenceStore, Orchestrator, renderEvidenceMarkdown, StageArtifact, Tracker } from "@switchyard/core"
import { EvidenceBundle } from "@switchyard/domain"
import { Console, Effect, Option, Schema } from "effect"
import { print } from "../../view/doc.js"
import { evidenceView, runningView } from "../../view/evidence.js"
import { printJson, withStore } from "../shared.js"
import type { EvidenceOptions } from "./options.js"

export class NoEvidence extends Schema.TaggedError<NoEvidence>()("NoEvidence", { id: Schema.String }) {
  override get message() {
    return `${this.id} has no evidence bundle yet (no attempt has started or it has not reached a terminal state)`
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

/**
 * Prints the bundle of the newest (or `--attempt N`) attempt: terminal view, `--md` markdown or `--json`. An attempt
 * still running (or left open by a dead runner) has no bundle yet: its completed stages are shown instead, from
 * their stored artifacts (`--json`: `{ issueId, attempt, running: true, stages }`). NoEvidence when there is neither.
 */
export const evidence = (o: EvidenceOptions) =>
  withStore(() =>
    Effect.gen(function*() {
      const issue = yield* (yield* Tracker).get(o.id)
      const store = yield* EvidenceStore
      const rows = yield* (yield* Orchestrator).attempts(issue.id)
      const attempt = Option.getOrElse(o.attempt, () => rows.at(-1)?.attempt ?? 0)
      const bundle = rows.length === 0 && Option.isNone(o.attempt)
        ? yield* store.latest(issue.id)
        : yield* store.get(issue.id, attempt)
      if (Option.isNone(bundle)) {
        const stages = attempt === 0 ? [] : yield* store.stages(issue.id, attempt)
        if (stages.length === 0) return yield* Effect.fail(new NoEvidence({ id: issue.id }))
        return yield* o.json
          ? printJson({
            issueId: issue.id,
            attempt,
            running: true,
            stages: stages.map((s) => ({ seq: s.seq, at: s.at, artifact: Schema.encodeSync(StageArtifact)(s.artifact) }))
          })
          : print(runningView(issue.id, attempt, stages))
      }
      yield* o.json
        ? printJson(bundleJson(bundle.value))
        : o.md
        ? Console.log(renderEvidenceMarkdown(bundle.value))
        : print(evidenceView(bundle.value))
    })
  )
