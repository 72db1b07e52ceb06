/**
 * One attempt at one claimed issue, as named stages (docs/architecture.md, "The line"):
 *
 *   open → reproduce on base → [decide: beforeAgent] → prepare (sandbox) → agent turn → candidate → [decide: afterAgent]
 *   → verify candidate → [decide: afterVerification] → revise ⟲ → package → settle
 *
 * Each stage returns an immutable artifact that is persisted as it completes (`EvidenceStore.putStage`, fenced by
 * the lease epoch); the attempt's progress is the fold of those artifacts (`progress.ts`), and the evidence bundle
 * is built from it (`bundleOf`). WORKFLOW.md is read once, when the attempt starts (`ctx.def`). A successor of a
 * dead runner resumes from the artifacts: with a candidate commit on record, it verifies that candidate instead
 * of running the agent again. Every ending goes through `settle` (one fenced transaction).
 *
 * Infrastructure failures (git, hooks, store) become RETRYABLE_FAILURE verdicts: the line never dies with an
 * attempt.
 */
import {
  boundIssue,
  type Issue,
  type IssueStatus,
  type Lease,
  type PlainEventType,
  type Stage,
  type Verdict,
  Verdict as VerdictClass,
  WorkflowConfig
} from "@switchyard/domain"
import { Cause, Clock, Effect, Either, Option, Ref } from "effect"
import { Confinement } from "../Confinement/Confinement.js"
import { bundleOf, keepsBranch, type Outcome } from "../EvidenceStore/bundle.js"
import { EvidenceStore } from "../EvidenceStore/EvidenceStore.js"
import { Integration } from "../Integration/Integration.js"
import { retryDelayMs } from "../Orchestrator/backoff.js"
import * as KillPoints from "../KillPoints/KillPoints.js"
import { LeaseFenced } from "../Orchestrator/errors.js"
import { Orchestrator } from "../Orchestrator/Orchestrator.js"
import { Redactor } from "../Redactor/Redactor.js"
import { branchFor, keepsSandbox, Sandbox, type SandboxHandle } from "../Sandbox/Sandbox.js"
import { Tracker } from "../Tracker/Tracker.js"
import { Verifier } from "../Verifier/Verifier.js"
import { buildTaskPacket } from "../Workflow/packet.js"
import { Workflow } from "../Workflow/Workflow.js"
import { type AgentTurn, type CandidateMade, type Prepared, Resumed, resumePoint, type StageArtifact } from "./artifacts.js"
import * as Decide from "./decide.js"
import { advance, emptyProgress, handleOf, type Progress, progressOf } from "./progress.js"
import { HostedCi } from "../Integration/HostedCi.js"
import { pendingReviewFeedback } from "../Trust/reviews.js"
import { CI_CAUSE, ciFeedback, hostedCiFeedback, isRevisable, revisionFeedback } from "./revision.js"
import { endingOf, SETTLE_RETRY, settleInterrupted, settleWithRetry, statusAfter } from "./settle.js"
import * as Stages from "./stages.js"
import { Attr, traced } from "../Telemetry/Telemetry.js"
import { commitMessage, summaryFor } from "./summary.js"

export { AFTER_RUN_ON_INTERRUPT_MS, type AttemptObserver, verifyPolicy } from "./stages.js"
export { totalUsage } from "../EvidenceStore/bundle.js"

const errorText = (e: unknown): string =>
  typeof e === "object" && e !== null && "message" in e && typeof e.message === "string" ? e.message : String(e)

/** Per-stage wall time (ms), driven by `Clock` (TestClock in tests). */
const makeTimings = (startedAt: number, onEnter: (stage: Stage) => Effect.Effect<void>) =>
  Effect.gen(function*() {
    const state = yield* Ref.make({ stage: "claimed" as Stage, since: startedAt, ms: {} as Readonly<Record<string, number>> })
    const close = (now: number) => (t: { stage: Stage; since: number; ms: Readonly<Record<string, number>> }) => ({
      ...t,
      since: now,
      ms: { ...t.ms, [t.stage]: (t.ms[t.stage] ?? 0) + (now - t.since) }
    })
    const enter = (stage: Stage) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        yield* Ref.update(state, (t) => ({ ...close(now)(t), stage }))
        yield* onEnter(stage)
      })
    return {
      /** Runs `effect` as stage `stage` (the lease and the worker info show it). */
      timed: <A, E, R>(stage: Stage, effect: Effect.Effect<A, E, R>) =>
        Effect.zipRight(enter(stage), traced(`switchyard.stage.${stage}`, { attributes: { [Attr.stage]: stage } })(effect)),
      enter,
      /** The time spent per stage so far, the current one included. */
      stagesMs: Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.map(Ref.get(state), (t) => close(now)(t).ms))
    }
  })

/**
 * Runs one attempt. Never fails; every outcome ends in `settle` (a stored evidence bundle, a finished attempt
 * row and a tracker transition, in one transaction), unless the attempt is interrupted (`settleInterrupted`) or
 * its lease was taken over (fenced: the new owner ends it). `lease.attempt` is the attempt number (1-based,
 * counting every attempt row) and `lease.epoch` its fencing token. A title or body over its limit (a row edited by
 * hand) is cut with a marker (`boundIssue`) for everything the attempt writes.
 */
export const runAttempt = (stored: Issue, lease: Lease, observer: Stages.AttemptObserver) =>
  Effect.gen(function*() {
    const issue = boundIssue(stored)
    const orchestrator = yield* Orchestrator
    const evidence = yield* EvidenceStore
    const workflow = yield* Workflow
    const sandbox = yield* Sandbox
    const tracker = yield* Tracker
    const confinement = yield* Confinement
    const { attempt, epoch } = lease
    const { redact } = yield* Redactor
    const startedAt = yield* Clock.currentTimeMillis
    const timings = yield* makeTimings(startedAt, (stage) =>
      orchestrator.updateLease(issue.id, { stage }).pipe(Effect.ignoreLogged, Effect.zipRight(observer.stage(stage))))
    const record = (type: PlainEventType, message: string, data?: Record<string, unknown>) =>
      orchestrator.record(type, issue.id, message, { attempt, ...data })
    const progress = yield* Ref.make<Progress>(emptyProgress)

    /** Stores a stage artifact under the lease's epoch (fenced), then folds it into the progress. */
    const persist = <A extends StageArtifact>(artifact: A) =>
      orchestrator.atomically(Effect.gen(function*() {
        if (!(yield* orchestrator.holds(issue.id, epoch))) return yield* new LeaseFenced({ issueId: issue.id, attempt, epoch })
        yield* evidence.putStage(issue.id, attempt, epoch, artifact)
      })).pipe(
        // A busy store is retried like a settle; a lost lease is not.
        Effect.retry({ schedule: SETTLE_RETRY, while: (e) => e._tag !== "LeaseFenced" }),
        Effect.zipRight(Ref.update(progress, (p) => advance(p, artifact))),
        Effect.as(artifact)
      )

    // WORKFLOW.md is read once; every stage works from this snapshot.
    const loaded = yield* Effect.either(workflow.current)
    const cfg = Either.match(loaded, { onLeft: () => new WorkflowConfig({}), onRight: (d) => d.config })
    // Unreadable workflow: no retry budget is known, so the first failure escalates (as before).
    const maxAttempts = Either.isRight(loaded) ? cfg.agent.max_attempts : 1
    const countedBefore = yield* orchestrator.countedAttempts(issue.id).pipe(Effect.orElseSucceed(() => attempt - 1))
    const tryNumber = countedBefore + 1
    const stagesStored = yield* evidence.stages(issue.id, attempt).pipe(Effect.orElseSucceed(() => []))
    const resume = resumePoint(stagesStored)

    /** Verifies `made` (after the gate) and decides; revises while the verdict is revisable and turns are left. */
    const judge = (
      ctx: Stages.LineContext,
      p: Prepared,
      handle: SandboxHandle,
      prompt: string,
      turn: AgentTurn,
      made: CandidateMade,
      mayRevise: boolean
    ): Effect.Effect<Verdict, Decide.LineFailure | LeaseFenced, Stages.LineServices> =>
      Effect.gen(function*() {
        const now = yield* Ref.get(progress)
        const gate = Decide.afterAgent({
          agent: turn.report,
          diffEmpty: made.candidate.empty || made.candidate.commit === null,
          reproduction: p.packet.reproduction,
          reproductionBefore: now.reproductionBefore,
          escapes: now.escapes,
          restored: now.restored
        })
        if (gate._tag === "Final") return gate.verdict
        const verified = yield* persist(yield* timings.timed("verify", Stages.verifyCandidate(ctx, p, made)))
        const verdict = Decide.afterVerification({
          verification: verified.verification,
          failedGuards: verified.verification.guards.filter((g) => !g.passed)
        })
        const revision = now.revisions.length + 1
        // Verifier and CI revisions are counted apart (agent.max_revisions, agent.max_ci_revisions).
        const ciTurns = now.revisions.filter((r) => r.cause === CI_CAUSE).length
        /**
         * Hosted CI (`integration.ci: github`) on the verified candidate: passed or not configured, the verdict
         * stands; a failure is a CI revision turn like `ci_command`'s (its step, log and run URL), counted by
         * `agent.max_ci_revisions`; CI that cannot be read or never finishes escalates `ci_failed`.
         */
        const hostedOrPass = (): Effect.Effect<Verdict, Decide.LineFailure | LeaseFenced, Stages.LineServices> =>
          Effect.gen(function*() {
            if (cfg.integration.ci !== "github" || made.candidate.commit === null) return verdict
            const hosted = yield* Effect.serviceOption(HostedCi)
            const commit = made.candidate.commit
            const result = Option.isNone(hosted)
              ? { _tag: "Unavailable" as const, reason: "integration.ci is github but this line has no hosted CI (tracker.kind must be github)" }
              : yield* hosted.value.check({
                issueId: issue.id,
                branch: branchFor(issue.id),
                commit,
                remote: cfg.integration.remote,
                timeoutMs: cfg.integration.ci_timeout_ms,
                pollMs: cfg.integration.ci_poll_ms
              })
            yield* ctx.record(
              result._tag === "Passed" ? "ci.passed" : "ci.failed",
              result._tag === "Passed"
                ? `CI on GitHub passed on ${commit.slice(0, 10)} (${result.checks} checks)`
                : result._tag === "Failed"
                ? `CI on GitHub failed on ${commit.slice(0, 10)}: ${result.step} (${result.conclusion})`
                : `CI on GitHub could not be read for ${commit.slice(0, 10)}: ${result.reason}`,
              {
                source: "github",
                commit,
                step: result._tag === "Failed" ? result.step : null,
                conclusion: result._tag === "Failed" ? result.conclusion : null,
                url: result._tag === "Failed" ? result.url : null,
                reason: result._tag === "Unavailable" ? redact(result.reason) : null
              }
            )
            if (result._tag === "Passed") return verdict
            const why = result._tag === "Failed"
              ? `The CI check ${result.step} on GitHub ended ${result.conclusion} on the verified candidate${result.url === null ? "" : ` (${result.url})`}${
                ciTurns > 0 ? ` after ${ciTurns} CI ${ciTurns === 1 ? "revision" : "revisions"}` : ""
              }.`
              : `CI on GitHub could not be read: ${result.reason}.`
            const failed = VerdictClass.make({ state: "ESCALATE", cause: CI_CAUSE, reasons: [redact(why)] })
            if (result._tag !== "Failed" || !mayRevise || ciTurns + 1 > cfg.agent.max_ci_revisions) return failed
            const feedback = redact(hostedCiFeedback(result, ciTurns + 1, cfg.agent.max_ci_revisions))
            yield* persist(yield* Stages.revise(ctx, revision, CI_CAUSE, feedback, ciTurns + 1))
            return yield* agentAndJudge(ctx, p, handle, prompt, turn.turn + 1, {
              sessionId: turn.report.sessionId,
              feedback,
              turn: revision
            })
          })
        if (verdict.state === "PR_READY" && cfg.integration.ci_command !== null) {
          const ci = yield* ciCheck(ctx, p, made, cfg.integration.ci_command)
          if (ci.passed) return yield* hostedOrPass()
          const why = `The CI check \`${ci.command}\` ${ci.timedOut ? "timed out" : `exited ${ci.exitCode ?? ci.signal ?? "abnormally"}`} on the verified candidate${
            ciTurns > 0 ? ` after ${ciTurns} CI ${ciTurns === 1 ? "revision" : "revisions"}` : ""
          }.`
          const failed = VerdictClass.make({ state: "ESCALATE", cause: CI_CAUSE, reasons: [why] })
          if (!mayRevise || ciTurns + 1 > cfg.agent.max_ci_revisions) return failed
          const feedback = redact(ciFeedback(ci, ciTurns + 1, cfg.agent.max_ci_revisions))
          yield* persist(yield* Stages.revise(ctx, revision, CI_CAUSE, feedback, ciTurns + 1))
          return yield* agentAndJudge(ctx, p, handle, prompt, turn.turn + 1, {
            sessionId: turn.report.sessionId,
            feedback,
            turn: revision
          })
        }
        if (verdict.state === "PR_READY") return yield* hostedOrPass()
        if (!mayRevise || !isRevisable(verdict) || revision - ciTurns > cfg.agent.max_revisions) return verdict
        const feedback = revisionFeedback(verdict, verified.verification, revision - ciTurns, cfg.agent.max_revisions)
        yield* persist(yield* Stages.revise(ctx, revision, verdict.cause, feedback))
        return yield* agentAndJudge(ctx, p, handle, prompt, turn.turn + 1, {
          sessionId: turn.report.sessionId,
          feedback,
          turn: revision
        })
      })

    /**
     * The CI check (`integration.ci_command`) on a verified candidate, confined like verification in a clean
     * checkout of it (`Verifier.reproduce`, never reused from a cache); recorded as `ci.passed` / `ci.failed`.
     */
    const ciCheck = (ctx: Stages.LineContext, p: Prepared, made: CandidateMade, command: string) =>
      Effect.gen(function*() {
        const verifier = yield* Verifier
        const commit = made.candidate.commit ?? p.base
        const result = yield* verifier.reproduce(issue.id, commit, command, cfg.verify.timeout_ms, cfg.verify.env, cfg.hooks, undefined, false)
        yield* ctx.record(
          result.passed ? "ci.passed" : "ci.failed",
          `CI check \`${command}\` ${result.passed ? "passed" : result.timedOut ? "timed out" : `exited ${result.exitCode}`} on ${commit.slice(0, 10)}`,
          { command, commit, exitCode: result.exitCode, timedOut: result.timedOut, durationMs: result.durationMs }
        )
        return result
      })

    /** One agent turn, its candidate commit, and the judgement of it. */
    const agentAndJudge = (
      ctx: Stages.LineContext,
      p: Prepared,
      handle: SandboxHandle,
      prompt: string,
      turnNumber: number,
      continuation: Parameters<typeof Stages.agentTurn>[5]
    ): Effect.Effect<Verdict, Decide.LineFailure | LeaseFenced, Stages.LineServices> =>
      Effect.gen(function*() {
        const turn = yield* persist(
          yield* timings.timed("agent", Stages.agentTurn(ctx, p, handle, prompt, turnNumber, continuation, redact))
        )
        const made = yield* persist(yield* timings.timed("verify", Stages.candidate(ctx, handle, turnNumber)))
        yield* KillPoints.reached("candidate.stored")
        return yield* judge(ctx, p, handle, prompt, turn, made, true)
      })

    /** The line up to a raw verdict, from the start. */
    const fresh = (ctx: Stages.LineContext) =>
      Effect.gen(function*() {
        const opened = yield* persist(yield* timings.timed("sandbox", Stages.open(ctx)))
        // The reproduction on the base first: an issue it decides (already fixed, a packet that cannot run) ends
        // here, before a sandbox and its install are paid for.
        const reproduced = yield* timings.timed("reproduce", Stages.reproduceOnBase(ctx, opened))
        if (reproduced !== null) yield* persist(reproduced)
        const early = Decide.beforeAgent(opened.packet.reproduction, reproduced?.result ?? null, opened.base)
        if (early !== null) return early
        // The agent will run: the base's validation starts now, beside the sandbox and the agent's turn (a child
        // fiber, interrupted with the attempt); the candidate's verification takes it when it gets there.
        yield* Effect.fork(Stages.prepareBase(ctx, opened))
        // Stored uninterruptibly once prepared, so an interruption either finds the artifact (and removes the
        // sandbox) or lands inside `prepare` (which removes it itself).
        const p = yield* Effect.uninterruptibleMask((restore) =>
          restore(timings.timed("sandbox", Stages.prepare(ctx, opened))).pipe(Effect.flatMap(persist))
        )
        const handle = handleOf(p, issue.id, attempt)
        const rendered = yield* timings.timed("hooks", Stages.beforeAgent(ctx, p, handle))
        // A reviewer's "changes requested" that sent the issue back is this attempt's feedback (Trust/reviews.ts).
        const review = yield* pendingReviewFeedback(issue.id).pipe(Effect.orElseSucceed(() => Option.none()))
        const prompt = Option.match(review, {
          onNone: () => rendered,
          onSome: (r) => `${rendered}\n\n## Review feedback on your previous change\n\n${redact(r.feedback)}`
        })
        if (Option.isSome(review)) {
          yield* record("agent.revision", `${issue.id}'s agent gets the review that requested changes`, { cause: "review_changes_requested", reviewId: review.value.reviewId })
        }
        return yield* agentAndJudge(ctx, p, handle, prompt, 1, null)
      })

    /**
     * The line from a dead runner's candidate: the agent is not run again; the candidate is verified (again, if
     * the runner died during verification) and decided. No revision turn: the agent's session died with its runner.
     */
    const resumed = (ctx: Stages.LineContext, point: NonNullable<typeof resume>) =>
      Effect.gen(function*() {
        yield* Ref.set(progress, progressOf(stagesStored.map((s) => s.artifact)))
        yield* orchestrator.resumeAttempt(issue.id, attempt)
        const row = (yield* orchestrator.attempts(issue.id)).find((a) => a.attempt === attempt)
        const deaths = row?.runner_deaths ?? 0
        yield* persist(new Resumed({ fromStage: "verify candidate", runnerDeaths: deaths, at: yield* Clock.currentTimeMillis }))
        yield* record(
          "attempt.resumed",
          `attempt ${attempt} resumed from its candidate ${point.candidate.candidate.commit!.slice(0, 10)}: verifying it, the agent is not run again`,
          { fromStage: "verify candidate", runnerDeaths: deaths, commit: point.candidate.candidate.commit }
        )
        const handle = handleOf(point.prepared, issue.id, attempt)
        return yield* judge(ctx, point.prepared, handle, "", point.turns.at(-1)!, point.candidate, false)
      })

    const line: Effect.Effect<Verdict, Decide.LineFailure | LeaseFenced, Stages.LineServices> = Either.isLeft(loaded)
      ? orchestrator.startAttempt({ issue_id: issue.id, attempt, branch: null, sandbox_path: null, base_commit: null })
        .pipe(Effect.zipRight(Effect.fail(loaded.left)))
      : Effect.suspend(() => {
        const ctx: Stages.LineContext = { issue, lease, attempt, tryNumber, def: loaded.right, cfg, observer, record }
        return resume === null ? fresh(ctx) : resumed(ctx, resume)
      })

    /** The issue's status in the tracker now, `deleted` when it is gone (a read that fails counts as deleted). */
    const statusNow = tracker.get(issue.id).pipe(
      Effect.map((i): IssueStatus | "deleted" => i.status),
      Effect.orElseSucceed(() => "deleted" as const)
    )

    /** The handle of the attempt's sandbox, once prepared. */
    const handleNow = Effect.map(Ref.get(progress), (p) => p.prepared === null ? null : handleOf(p.prepared, issue.id, attempt))

    const raw = yield* line.pipe(
      Effect.map(Either.right),
      Effect.catchTag("LeaseFenced", (e) => Effect.succeed(Either.left(e))),
      Effect.catchAll((e) => Effect.succeed(Either.right(Decide.infrastructure(e, e.message)))),
      Effect.catchAllCause((cause) =>
        Cause.isInterruptedOnly(cause)
          ? Effect.failCause(cause)
          : Effect.succeed(Either.right(Decide.infrastructure(null, errorText(Cause.squash(cause)))))
      ),
      Effect.onInterrupt(() =>
        Effect.gen(function*() {
          const cause = yield* observer.interruptCause
          yield* settleInterrupted({ issueId: issue.id, attempt, epoch, cause, requeue: cause !== "canceled_by_reconciliation" })
            .pipe(Effect.ignoreLogged)
          const handle = yield* handleNow
          if (handle === null) return
          // Kept when the issue will run again: a shutdown puts it back in `todo`; a human who paused it (backlog,
          // blocked, in_review) or took a required label away (Symphony C8/C9) gets its work back when it resumes.
          // Removed when cancelled, done or deleted, or when this runner lost the lease (its successor decides).
          const keep = cause === "shutdown" || cause === "required_labels_missing" ||
            (cause === "canceled_by_reconciliation" && keepsSandbox(yield* statusNow))
          if (keep) {
            yield* sandbox.deleteBranch(handle.branch).pipe(Effect.ignoreLogged)
            yield* record("sandbox.kept", `sandbox ${handle.path} kept for the next attempt (${cause})`, { path: handle.path, cause })
          } else {
            yield* sandbox.remove(handle.path, { deleteBranch: handle.branch, hooks: cfg.hooks }).pipe(Effect.ignoreLogged)
          }
        })
      )
    )
    if (Either.isLeft(raw)) {
      yield* record("settle.fenced", raw.left.message, { epoch })
      yield* Effect.logWarning(raw.left.message)
      return null
    }

    // --- package and settle: short, and never left half-done (the four layers must agree afterwards) ---------
    return yield* Effect.uninterruptible(Effect.gen(function*() {
      const decided = Decide.retry(raw.right, tryNumber, maxAttempts)
      // What changed outside the agent's reach during the attempt (the base moving, say) is named in every verdict.
      const seen = yield* Ref.get(progress)
      const verdict = VerdictClass.make({ ...decided, reasons: [...decided.reasons, ...seen.noted].map(redact) })
      const now = yield* Clock.currentTimeMillis
      const retryAt = verdict.state === "RETRYABLE_FAILURE"
        ? now + retryDelayMs(tryNumber, cfg.agent.retry_base_delay_ms, cfg.agent.max_retry_backoff_ms)
        : null
      const handle = yield* handleNow
      const candidateCommit = seen.candidate?.commit ?? null
      const commit = verdict.state === "PR_READY" && handle !== null && seen.prepared !== null && Either.isRight(loaded)
        ? yield* timings.timed(
          "package",
          Stages.packageCandidate(
            { issue, lease, attempt, tryNumber, def: loaded.right, cfg, observer, record },
            seen.prepared,
            handle,
            candidateCommit,
            commitMessage(issue, attempt, summaryFor(verdict, issue, seen, attempt, retryAt), verdict)
          )
        )
        : yield* timings.enter("package").pipe(Effect.as(candidateCommit))
      const outcomeWith = (integration: Outcome["integration"]) =>
        Effect.gen(function*() {
          return {
            issue,
            attempt,
            epoch,
            verdict,
            progress: yield* Ref.get(progress),
            packet: seen.prepared?.packet ?? seen.opened?.packet ?? buildTaskPacket(issue, cfg, attempt, ""),
            commit,
            counted: true,
            retryAt,
            nextTry: tryNumber + 1,
            confinement: confinement.record("none", null),
            integration,
            timings: { startedAt, endedAt: yield* Clock.currentTimeMillis, stagesMs: yield* timings.stagesMs },
            runnerDeaths: seen.resumed?.runnerDeaths ?? 0,
            endedBy: "worker"
          } satisfies Outcome
        })

      /**
       * Optional for PR_READY: push the branch and open a PR, with the evidence stored first (under the fence;
       * `pr_command` reads evidence.md). Null when nothing is configured or the evidence could not be stored; a
       * push or PR failure is in the result, never fatal.
       */
      const publish = (draft: Outcome) =>
        Effect.gen(function*() {
          const integration = yield* Effect.serviceOption(Integration)
          if (Option.isNone(integration)) return null
          const first = bundleOf(draft, redact)
          const stored = yield* orchestrator.atomically(Effect.gen(function*() {
            if (!(yield* orchestrator.holds(issue.id, epoch))) return yield* new LeaseFenced({ issueId: issue.id, attempt, epoch })
            return yield* evidence.put(first)
          })).pipe(Effect.option)
          if (Option.isNone(stored)) return null
          yield* KillPoints.reached("bundle.stored")
          const published = yield* integration.value.publish({
            bundle: first,
            branch: first.diff?.branch ?? `switchyard/${issue.id}`,
            evidenceMd: stored.value.markdown,
            config: cfg.integration
          })
          if (published !== null) {
            yield* record("integration.done", published.prUrl ?? published.prError ?? published.pushError ?? "published", {
              ...published
            })
          }
          return published
        })

      const draft = yield* outcomeWith(null)
      const published = verdict.state === "PR_READY" ? yield* publish(draft) : null
      const outcome = published === null ? draft : yield* outcomeWith(published)
      const bundle = bundleOf(outcome, redact)
      const settled = yield* settleWithRetry(endingOf(outcome, bundle)).pipe(Effect.either)
      yield* timings.enter("done")
      if (Either.isLeft(settled)) {
        const e = settled.left
        yield* record(e._tag === "LeaseFenced" ? "settle.fenced" : "settle.failed", e.message, { epoch })
        yield* Effect.logError(`attempt ${attempt} of ${issue.id} could not be settled: ${e.message}`)
        // Its sandbox goes; its branch stays for whoever ends the attempt.
        if (handle !== null && e._tag !== "LeaseFenced") yield* sandbox.remove(handle.path, { hooks: cfg.hooks }).pipe(Effect.ignoreLogged)
        return null
      }
      if (handle !== null) {
        const keep = settled.right._tag === "AlreadyEnded" || keepsBranch(bundle)
        if (settled.right._tag === "Settled" && bundle.guards.some((g) => g.rule === "secret_in_diff" && !g.passed)) {
          yield* record("sandbox.branch_deleted", `${handle.branch} deleted: its commit holds a secret`)
        }
        // One sandbox per issue across its attempts: kept while the issue may run again, unless the agent tried
        // to escape it (a hostile workspace is not carried forward).
        const keepSandbox = settled.right._tag === "Settled" && keepsSandbox(statusAfter(verdict.state)) &&
          !verdict.cause.startsWith("sandbox_escape")
        if (keepSandbox) {
          if (!keep) yield* sandbox.deleteBranch(handle.branch).pipe(Effect.ignoreLogged)
        } else {
          yield* sandbox.remove(handle.path, { deleteBranch: keep ? undefined : handle.branch, hooks: cfg.hooks })
            .pipe(Effect.ignoreLogged)
        }
      }
      return settled.right._tag === "Settled" ? verdict : null
    }))
  }).pipe(
    Effect.annotateLogs({ issue_id: stored.id, attempt: lease.attempt }),
    Effect.withLogSpan("attempt")
  )
