/**
 * `switchyard issue check ID [--json] [--workflow PATH]`: a dry run of an issue's task packet. The reproduction
 * (the issue's, else `verify.reproduction`) runs on the base in a clean checkout through the same Verifier and
 * install hook the line uses; no agent runs, nothing is claimed, and the tracker, leases and attempts are not
 * touched. Exit 0 when the packet is ready (it fails for the right reason), 1 otherwise.
 */
import { buildTaskPacket, Sandbox, Tracker, Verifier, Workflow } from "@switchyard/core"
import { Console, Effect, Schema } from "effect"
import { lineLayer } from "../../layers.js"
import { printJson, repoRoot, workflowPathOf } from "../shared.js"
import { type CheckReport, checkReport, READINESS_WORDS } from "./checkReport.js"
import type { IssueCheckOptions } from "./options.js"

/** The task packet is not ready (exit 1; the report was printed before). */
export class PacketNotReady extends Schema.TaggedError<PacketNotReady>()("PacketNotReady", {
  id: Schema.String,
  verdict: Schema.String
}) {
  override get message() {
    return `${this.id}: the task packet is not ready: ${this.verdict}`
  }
}

/** Runs the check of `rawId` (see the module docs) and returns its report. Needs the line's services. */
export const checkIssue = (rawId: string) =>
  Effect.gen(function*() {
    const tracker = yield* Tracker
    const sandbox = yield* Sandbox
    const verifier = yield* Verifier
    const workflow = yield* Workflow
    const issue = yield* tracker.get(rawId)
    const cfg = (yield* workflow.current).config
    // The packet the agent would get (its reproduction is the issue's, else the workflow's default).
    const packet = buildTaskPacket(issue, cfg, 1, "/dev/null")
    const reproduction = packet.reproduction
    if (reproduction === null) return checkReport({ id: issue.id, reproduction, base: null, result: null })
    const base = yield* sandbox.resolveBase
    return yield* verifier.reproduce(issue.id, base, reproduction, cfg.verify.timeout_ms, cfg.verify.env, cfg.hooks).pipe(
      Effect.map((result) => checkReport({ id: issue.id, reproduction, base, result })),
      Effect.catchTag("HookFailed", (e) =>
        Effect.succeed(
          checkReport({
            id: issue.id,
            reproduction,
            base,
            result: null,
            notRun: `the verification checkout's install hook failed, so the reproduction never ran: ${e.message}`
          })
        ))
    )
  })

/** The text form: the verdict line, then the command's exit and the tail of its output. */
const printText = (r: CheckReport) =>
  Effect.gen(function*() {
    yield* Console.log(`${r.id}: ${READINESS_WORDS[r.verdict]} (${r.ready ? "ready" : "not ready"}): ${r.reason}`)
    if (r.reproduction !== null) yield* Console.log(`reproduction: ${r.reproduction}`)
    if (r.run !== null) {
      yield* Console.log(`exit: ${r.run.timedOut ? "timed out" : String(r.run.exitCode)} after ${Math.round(r.run.durationMs)} ms`)
      if (r.run.tail.length > 0) yield* Console.log(["tail:", ...r.run.tail.map((l) => `  ${l}`)].join("\n"))
    }
  })

/** `switchyard issue check ID`: prints the report (text or JSON); exits 1 via `PacketNotReady` when not ready. */
export const check = (o: IssueCheckOptions) =>
  repoRoot.pipe(
    Effect.flatMap((root) =>
      Effect.gen(function*() {
        const report = yield* checkIssue(o.id)
        yield* o.json ? printJson(report) : printText(report)
        if (!report.ready) return yield* new PacketNotReady({ id: report.id, verdict: READINESS_WORDS[report.verdict] })
      }).pipe(Effect.provide(lineLayer(root, { workflowPath: workflowPathOf(o.workflow) })))
    )
  )
