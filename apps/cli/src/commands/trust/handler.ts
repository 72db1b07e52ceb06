/**
 * `switchyard trust [--json]` and `switchyard land [--json]` (docs/trust.md): one tick of the trust ladder
 * (`trustTick`), with the local `GitLander`. `trust` records human merges and reverts and shows the ladder; `land`
 * does the same and lands what has earned it. A landing is recorded in the event log (`trust.landed`), the tracker
 * (a comment naming the rule) and the run directory of its evidence (`landed.json`).
 */
import { FileSystem } from "@effect/platform"
import { EvidenceStore, Orchestrator, trustTick, type TrustReport, Workflow } from "@switchyard/core"
import type { IssueId } from "@switchyard/domain"
import { GitLander } from "@switchyard/node"
import { Console, Effect, Layer } from "effect"
import * as NodePath from "node:path"
import { lineLayer } from "../../layers.js"
import { repoRoot, workflowPathOf } from "../shared.js"
import { evidenceTrust } from "../verify/handler.js"
import type { LandOptions, TrustOptions } from "./options.js"

/** The ladder as text: one line per class, then one per change waiting in review. */
const textOf = (r: TrustReport): string => {
  const lines: Array<string> = [`base: ${r.base.branch} at ${r.base.commit.slice(0, 10)}`]
  if (r.classes.length === 0) lines.push("no trust classes: every change waits for review (add `trust.classes` to WORKFLOW.md)")
  for (const c of r.classes) {
    lines.push(
      `class ${c.className}: ${c.rung} (policy ${c.policyRung}) · merged ${c.merged}, landed ${c.landed}, reverted ${c.reverted} · ${c.reason}`
    )
  }
  for (const m of r.merged) lines.push(`merged by a human: ${m.issueId}${m.className ? ` (${m.className})` : ""}`)
  for (const m of r.reverted) lines.push(`reverted: ${m.issueId}${m.className ? ` (${m.className} demoted to review)` : ""}: ${m.reason}`)
  for (const c of r.changes) lines.push(`${c.issueId}: ${c.decision}${c.className ? ` [${c.className}]` : ""}: ${c.reason}`)
  return lines.join("\n")
}

const tick = (o: TrustOptions, land: boolean) =>
  repoRoot.pipe(Effect.flatMap((root) =>
    Effect.gen(function*() {
      const def = yield* (yield* Workflow).current
      const services = yield* Effect.context<EvidenceStore | Orchestrator>()
      const report = yield* trustTick({
        cfg: def.config,
        workflowPath: NodePath.relative(root, def.path).split(NodePath.sep).join("/"),
        land,
        distrust: (issueId: IssueId, attempt: number) =>
          evidenceTrust(issueId, attempt).pipe(
            Effect.map((t) => (t.seal === null ? [...t.problems, "no seal"] : t.problems)),
            Effect.catchAll((e) => Effect.succeed([`the evidence could not be read: ${e.message}`])),
            Effect.provide(services)
          )
      })
      const store = yield* EvidenceStore
      const fs = yield* FileSystem.FileSystem
      for (const c of report.changes.filter((c) => c.decision === "landed")) {
        const dir = yield* store.runDir(c.issueId as IssueId, c.attempt)
        const record = { issueId: c.issueId, attempt: c.attempt, className: c.className, rule: c.rule, landedBy: "switchyard", base: report.base, commit: c.landedCommit }
        yield* fs.writeFileString(NodePath.join(dir, "landed.json"), `${JSON.stringify(record, null, 2)}\n`)
      }
      yield* Console.log(o.json ? JSON.stringify(report, null, 2) : textOf(report))
    }).pipe(
      Effect.provide(Layer.provideMerge(GitLander.layer(root), lineLayer(root, { workflowPath: workflowPathOf(o.workflow) })))
    )
  ))

/** `switchyard trust`: records human merges and reverts, then shows the ladder. */
export const trust = (o: TrustOptions) => tick(o, false)

/** `switchyard land`: records human merges and reverts, then lands what has earned it. */
export const land = (o: LandOptions) => tick(o, true)
