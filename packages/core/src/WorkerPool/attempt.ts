/**
 * One attempt at one claimed issue, through the whole line:
 * sandbox → reproduction on the base → agent → candidate commit → verification in a clean checkout →
 * decision → packaging → evidence → tracker. The brief's "The run" steps 2–7.
 *
 * Infrastructure failures (git, hooks, store) become RETRYABLE_FAILURE verdicts: the line never dies with an
 * attempt. Evidence is stored before the tracker moves, so a terminal issue always has its bundle.
 */
import {
  type AgentReport,
  AgentReport as AgentReportClass,
  boundIssue,
  type CommandResult,
  DiffReport,
  type GuardResult,
  EvidenceBundle,
  type Issue,
  type IssueStatus,
  type Lease,
  RetryEntry,
  type Stage,
  type TaskPacket,
  Verdict,
  WorkflowConfig
} from "@switchyard/domain"
import { Cause, Clock, Effect, Either, Option, Ref } from "effect"
import { type AgentRunInput, AgentStation } from "../AgentStation/AgentStation.js"
import { Confinement } from "../Confinement/Confinement.js"
import { EvidenceStore } from "../EvidenceStore/EvidenceStore.js"
import { Integration } from "../Integration/Integration.js"
import { retryDelayMs } from "../Orchestrator/backoff.js"
import { Orchestrator } from "../Orchestrator/Orchestrator.js"
import { compareIntegrity, type Escape, type IntegritySnapshot } from "../Sandbox/integrity.js"
import { branchFor, type Candidate, Sandbox, type SandboxHandle } from "../Sandbox/Sandbox.js"
import { Tracker } from "../Tracker/Tracker.js"
import { Verifier, type Verification, type VerifyPolicy } from "../Verifier/Verifier.js"
import { buildTaskPacket } from "../Workflow/packet.js"
import { renderPrompt } from "../Workflow/prompt.js"
import { Workflow } from "../Workflow/Workflow.js"
import { applyRetryPolicy, decide } from "./decide.js"
import { isRevisable, revisionFeedback } from "./revision.js"
import { withStallWatchdog } from "./stall.js"

/** Hooks the worker pool passes in to mirror live progress. */
export interface AttemptObserver {
  readonly stage: (stage: Stage) => Effect.Effect<void>
  readonly spawned: (pid: number) => Effect.Effect<void>
  readonly output: (at: number) => Effect.Effect<void>
  /** Why the attempt is being interrupted (read when it is), e.g. `shutdown`, `canceled_by_reconciliation`. */
  readonly interruptCause: Effect.Effect<string>
}

interface Observed {
  handle: SandboxHandle | null
  base: string | null
  packet: TaskPacket | null
  reproductionBefore: CommandResult | null
  agent: AgentReport | null
  candidate: Candidate | null
  verification: Verification | null
  failedGuards: ReadonlyArray<GuardResult>
  /** Every agent run of this attempt, the first turn and each revision. */
  agentRuns: Array<AgentReport>
  revisions: Array<{ readonly turn: number; readonly cause: string; readonly feedback: string }>
  /** What the integrity checks around the agent runs found (docs/security.md). */
  escapes: Array<Escape>
  restored: Array<string>
  noted: Array<string>
}

const OUTPUT_EVENT_EVERY_MS = 5_000
/** At most this often (ms) an output line refreshes the agent's liveness (stall watchdog, worker info). */
const OUTPUT_TOUCH_EVERY_MS = 50

/**
 * How long (ms) `hooks.after_run` may take when the agent run was interrupted (cancelled by reconciliation, or
 * the runner is shutting down), instead of `hooks.timeout_ms`: the runner must still exit within 10 s of a
 * signal (issue 3). Symphony SPEC §5.3.4: after_run runs after each agent attempt, cancellation included.
 */
export const AFTER_RUN_ON_INTERRUPT_MS = 3_000

const errorText = (e: unknown): string =>
  typeof e === "object" && e !== null && "message" in e && typeof e.message === "string" ? e.message : String(e)

const questionFor = (v: Verdict, issue: Issue, agentQuestion: string | null): string | null => {
  if (v.state !== "ESCALATE") return null
  if (agentQuestion !== null) return agentQuestion
  switch (v.cause) {
    case "validation_failed":
    case "reproduction_still_fails":
      return `The agent's change on ${branchFor(issue.id)} does not pass verification. Clarify the issue and move it back to todo, or finish the change by hand?`
    case "claimed_change_without_diff":
    case "no_change_no_claim":
      return "The agent produced no change. Is the issue clear enough to act on, or is it already done?"
    case "no_op_with_diff":
    case "no_op_but_reproduction_fails":
      return "The agent and the evidence disagree about whether anything must change. Which is right?"
    case "retries_exhausted":
      return "The attempts kept failing for environmental reasons. Check the agent command and the hooks, then move the issue back to todo."
    case "guard_failed:secret_in_diff":
      return `The agent's change contained a secret, so ${branchFor(issue.id)} was deleted (the evidence holds the scrubbed diff). Rotate the secret if it is real, then move the issue back to todo.`
    default:
      return v.cause.startsWith("guard_failed")
        ? "The change broke a rule the agent must not break. Review the branch, or allow the exception in the issue."
        : "What should happen next with this issue?"
  }
}

const summaryFor = (v: Verdict, issue: Issue, o: Observed, attempt: number, retryAt: number | null): string => {
  switch (v.state) {
    case "PR_READY": {
      const files = o.candidate?.files.length ?? 0
      return `${issue.id} is ready for review: ${files} file(s) changed on ${branchFor(issue.id)}, verified in a clean checkout.`
    }
    case "NO_OP":
      return v.cause === "not_reproducible"
        ? `The reproduction passed on the base at ${o.base?.slice(0, 10) ?? "?"}: already fixed? The agent was not started.`
        : `${issue.id} needs no change: ${v.reasons[0] ?? ""}`
    case "ESCALATE":
      return `${issue.id} needs a human: ${v.reasons[0] ?? v.cause}`
    case "RETRYABLE_FAILURE":
      return `Attempt ${attempt} of ${issue.id} failed (${v.cause}); retrying at ${
        retryAt === null ? "?" : new Date(retryAt).toISOString()
      }.`
  }
}

/**
 * Runs one attempt. Never fails; every outcome ends in a stored evidence bundle, a finished attempt row and a
 * tracker transition (unless the attempt is interrupted, see `WorkerPool.interrupt`).
 * `lease.attempt` is the attempt number (1-based, counting every attempt row). A title or body over its limit (a
 * row edited by hand) is cut with a marker (`boundIssue`) for everything the attempt writes: packet, prompt, bundle.
 */
export const runAttempt = (stored: Issue, lease: Lease, observer: AttemptObserver) =>
  Effect.gen(function*() {
    const issue = boundIssue(stored)
    const tracker = yield* Tracker
    const orchestrator = yield* Orchestrator
    const sandbox = yield* Sandbox
    const station = yield* AgentStation
    const verifier = yield* Verifier
    const evidence = yield* EvidenceStore
    const workflow = yield* Workflow
    const confinement = yield* Confinement
    const attempt = lease.attempt
    const startedAt = yield* Clock.currentTimeMillis
    const stagesMs: Record<string, number> = {}
    let stageStart = startedAt
    let currentStage: Stage = "claimed"
    const enter = (stage: Stage) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        stagesMs[currentStage] = (stagesMs[currentStage] ?? 0) + (now - stageStart)
        stageStart = now
        currentStage = stage
        yield* orchestrator.updateLease(issue.id, { stage }).pipe(Effect.ignoreLogged)
        yield* observer.stage(stage)
      })
    const record = (type: string, message: string, data?: Record<string, unknown>) =>
      orchestrator.record(type, issue.id, message, { attempt, ...data })

    const o: Observed = {
      handle: null,
      base: null,
      packet: null,
      reproductionBefore: null,
      agent: null,
      candidate: null,
      verification: null,
      failedGuards: [],
      agentRuns: [],
      revisions: [],
      escapes: [],
      restored: [],
      noted: []
    }
    const def = yield* workflow.current.pipe(Effect.option)
    const config = Option.map(def, (d) => d.config)
    const countedBefore = yield* orchestrator.countedAttempts(issue.id).pipe(Effect.orElseSucceed(() => attempt - 1))
    const tryNumber = countedBefore + 1

    // --- the line up to a verdict ------------------------------------------------------------------------
    const line: Effect.Effect<Verdict, unknown> = Effect.gen(function*() {
      // The attempt row comes first, so even a failure to read the base or the workflow counts the attempt.
      const base = yield* Effect.either(sandbox.resolveBase)
      yield* orchestrator.startAttempt({
        issue_id: issue.id,
        attempt,
        branch: branchFor(issue.id),
        sandbox_path: null,
        base_commit: Either.getOrNull(base)
      })
      const d = yield* workflow.current
      const cfg = d.config
      o.base = yield* base
      const runDir = yield* evidence.runDir(issue.id, attempt)
      o.packet = buildTaskPacket(issue, cfg, attempt, `${runDir}/result.json`)
      const reproduction = o.packet.reproduction

      yield* enter("sandbox")
      o.handle = yield* sandbox.create(issue.id, attempt, o.base).pipe(
        Effect.tapError((e) =>
          e._tag === "HookFailed"
            ? record("hook.after_create", e.message, { exitCode: e.exitCode, timedOut: e.timedOut })
            : Effect.void
        )
      )
      if (cfg.hooks.after_create !== null) yield* record("hook.after_create", "after_create passed")
      yield* orchestrator.updateLease(issue.id, { sandbox_path: o.handle.path })
      yield* record("sandbox.created", `sandbox ${o.handle.path} on ${o.handle.branch} at ${o.base.slice(0, 10)}`, {
        path: o.handle.path,
        branch: o.handle.branch,
        base: o.base
      })

      if (reproduction !== null) {
        yield* enter("reproduce")
        const before = yield* verifier.reproduce(issue.id, o.base, reproduction, cfg.verify.timeout_ms, cfg.verify.env)
        o.reproductionBefore = before
        yield* record("verify.reproduction_before", `reproduction on the base exited ${before.exitCode}`, {
          exitCode: before.exitCode
        })
        if (before.environmentFailure) {
          return Verdict.make({
            state: "RETRYABLE_FAILURE",
            cause: "reproduction_environment_failure",
            reasons: [`The reproduction could not run on the base (exit ${before.exitCode}, timed out: ${before.timedOut}).`]
          })
        }
        if (before.passed) {
          return Verdict.make({
            state: "NO_OP",
            cause: "not_reproducible",
            reasons: [`The reproduction \`${reproduction}\` exits 0 on the base at ${o.base}, so there is nothing to fix.`]
          })
        }
      }

      yield* enter("hooks")
      const beforeRun = yield* sandbox.runHook(o.handle, "before_run").pipe(
        Effect.tapError((e) => record("hook.before_run", e.message, { exitCode: e.exitCode, timedOut: e.timedOut }))
      )
      if (Option.isSome(beforeRun)) {
        yield* record("hook.before_run", `before_run exited ${beforeRun.value.exitCode}`, { exitCode: beforeRun.value.exitCode })
      }
      // Blocker states for the template (`{{ b.state }}`); a failed read only leaves them null.
      const noStatuses: ReadonlyMap<string, IssueStatus> = new Map()
      const blockerStatuses = issue.blocked_by.length === 0
        ? noStatuses
        : yield* tracker.statuses(issue.blocked_by).pipe(
          Effect.tapError((e) => Effect.logWarning("could not read blocker statuses").pipe(Effect.annotateLogs({ reason: e.message }))),
          Effect.orElseSucceed(() => noStatuses)
        )
      const prompt = yield* renderPrompt(d.prompt_template, { issue, attempt, packet: o.packet, blockerStatuses })

      const handle = o.handle
      const packet = o.packet
      const baseCommit = o.base
      const lastOutputEvent = yield* Ref.make(0)
      // When onOutput last recorded liveness (ms); private to this agent run.
      let lastTouchAt = Number.NEGATIVE_INFINITY
      const stallMs = cfg.agent.stall_timeout_ms

      /** `hooks.after_run` in the sandbox; never fails (SPEC §9.4), its exit is an event. */
      const afterRun = sandbox.runHook(handle, "after_run").pipe(
        Effect.flatMap((r) =>
          Option.isSome(r)
            ? record("hook.after_run", `after_run exited ${r.value.exitCode}`, { exitCode: r.value.exitCode })
            : Effect.void
        ),
        Effect.catchAll((e) => record("hook.after_run", `${e.message} (ignored)`, { exitCode: e.exitCode }))
      )

      /** One agent run (the first turn, or a revision turn) with stall detection and its events. */
      const runAgent = (continuation: AgentRunInput["continuation"]) =>
        Effect.gen(function*() {
          yield* enter("agent")
          const who = station.kind === "routed" ? "agent" : `${station.kind} agent`
          yield* record("agent.started", `${who} started${continuation ? ` (revision ${continuation.turn})` : ""}`, {
            kind: station.kind,
            revision: continuation?.turn ?? 0
          })
          // The integrity check brackets the agent and the after_run hook (both run the agent's code).
          const before = yield* sandbox.integrity
          // after_run also runs when the agent run is interrupted (SPEC §5.3.4), within AFTER_RUN_ON_INTERRUPT_MS.
          const outcome = yield* withStallWatchdog(stallMs, (touch) =>
            station.run({
              issue,
              packet,
              prompt,
              attempt,
              sandboxPath: handle.path,
              runDir,
              ioDir: handle.io,
              home: handle.home,
              timeoutMs: cfg.agent.timeout_ms,
              continuation,
              onSpawn: (pid) =>
                Effect.all([
                  orchestrator.updateLease(issue.id, { agent_pid: pid, agent_pgid: pid }).pipe(Effect.ignoreLogged),
                  observer.spawned(pid)
                ], { discard: true }),
              // Called for every output line: a flood of lines pays one clock read per line, the liveness
              // bookkeeping at most every OUTPUT_TOUCH_EVERY_MS.
              onOutput: Effect.flatMap(Clock.currentTimeMillis, (now) =>
                now - lastTouchAt < OUTPUT_TOUCH_EVERY_MS
                  ? Effect.void
                  : Effect.gen(function*() {
                    lastTouchAt = now
                    yield* touch
                    const last = yield* Ref.get(lastOutputEvent)
                    yield* observer.output(now)
                    if (now - last >= OUTPUT_EVENT_EVERY_MS) {
                      yield* Ref.set(lastOutputEvent, now)
                      yield* orchestrator.updateLease(issue.id, { last_output_at: now }).pipe(Effect.ignoreLogged)
                      yield* record("agent.output", "agent is producing output")
                    }
                  }))
            })).pipe(
              Effect.onInterrupt(() =>
                Effect.interruptible(afterRun).pipe(
                  Effect.timeoutOption(AFTER_RUN_ON_INTERRUPT_MS),
                  Effect.flatMap(Option.match({
                    onNone: () => record("hook.after_run", `after_run cut off after ${AFTER_RUN_ON_INTERRUPT_MS} ms (the run was interrupted)`),
                    onSome: () => Effect.void
                  }))
                )
              )
            )
          const agent = Either.isRight(outcome) ? outcome.right : stalledReport(station.kind, outcome.left, stallMs, runDir)
          if (Either.isLeft(outcome)) {
            yield* record("agent.stalled", `no agent output for ${outcome.left} ms; process group killed`, {
              silentMs: outcome.left
            })
          }
          o.agentRuns.push(agent)
          yield* record(
            "agent.exited",
            `${agent.kind} agent exited ${agent.exitCode}${agent.timedOut ? " (timed out)" : ""}; claim ${
              agent.claim ?? "none"
            }${agent.route === null ? "" : ` (route: ${agent.route})`}`,
            {
              kind: agent.kind,
              route: agent.route,
              exitCode: agent.exitCode,
              claim: agent.claim,
              timedOut: agent.timedOut,
              costUsd: agent.costUsd
            }
          )
          yield* afterRun
          yield* checkIntegrity(before)
          return agent
        })

      /**
       * Compares the main repository with `before` (`compareIntegrity`): an escape is recorded, what can be put back
       * is restored, and the attempt ends ESCALATE `sandbox_escape:<what>` before anything is verified.
       */
      const checkIntegrity = (before: IntegritySnapshot) =>
        Effect.gen(function*() {
          const report = compareIntegrity(before, yield* sandbox.integrity, confinement.kind)
          o.noted.push(...report.noted.filter((n) => !o.noted.includes(n)))
          if (report.escapes.length === 0) return
          o.escapes.push(...report.escapes)
          const restored = yield* sandbox.restore(before)
          o.restored.push(...restored)
          yield* record("sandbox.escape", `changed outside the sandbox: ${report.escapes.map((e) => e.detail).join("; ")}`, {
            escapes: report.escapes.map((e) => ({ target: e.target, detail: e.detail })),
            restored
          })
        })

      /** Commits what the agent left, verifies it in a clean checkout, and decides. */
      const verifyAndDecide = (agent: AgentReport) =>
        Effect.gen(function*() {
          yield* enter("verify")
          const turn = o.agentRuns.length
          const candidate = yield* sandbox.snapshot(
            handle,
            `switchyard: candidate for ${issue.id} (attempt ${attempt}${turn > 1 ? `, revision ${turn - 1}` : ""})`
          )
          o.candidate = candidate
          o.verification = null
          o.failedGuards = []
          if (o.escapes.length > 0) return escapeVerdict(o.escapes, o.restored)
          const agentOk = !agent.crashed && !agent.timedOut && !agent.stalled && agent.exitCode === 0
          if (
            agentOk && !candidate.empty && candidate.commit !== null && agent.claim !== "NO_OP" &&
            agent.claim !== "ESCALATE" && agent.budgetExceeded === null
          ) {
            const verification = yield* verifier.verify({
              issueId: issue.id,
              baseCommit: baseCommit,
              policy: verifyPolicy(issue, cfg),
              commit: candidate.commit,
              reproduction,
              validation: packet.validation,
              timeoutMs: cfg.verify.timeout_ms
            })
            o.verification = verification
            o.failedGuards = verification.guards.filter((g) => !g.passed)
            yield* record("verify.done", `verification ran ${verification.validation.length} validation command(s)`, {
              failedGuards: o.failedGuards.map((g) => g.rule),
              reproductionAfter: verification.reproductionAfter?.exitCode ?? null,
              validation: verification.validation.map((r) => ({ command: r.command, exitCode: r.exitCode }))
            })
          }
          return decide({
            agent,
            diffEmpty: candidate.empty,
            reproduction,
            reproductionBefore: o.reproductionBefore,
            verification: o.verification,
            failedGuards: o.failedGuards
          })
        })

      o.agent = yield* runAgent(null)
      let verdict = yield* verifyAndDecide(o.agent)
      const maxRevisions = cfg.agent.max_revisions
      while (isRevisable(verdict) && o.verification !== null && o.revisions.length < maxRevisions) {
        const turn = o.revisions.length + 1
        const feedback = revisionFeedback(verdict, o.verification, turn, maxRevisions)
        o.revisions.push({ turn, cause: verdict.cause, feedback })
        yield* record("agent.revision", `the verifier rejected the diff (${verdict.cause}); revision ${turn} of ${maxRevisions}`, {
          turn,
          cause: verdict.cause
        })
        o.agent = yield* runAgent({ sessionId: o.agent.sessionId, feedback, turn })
        verdict = yield* verifyAndDecide(o.agent)
      }
      return verdict
    })

    const raw = yield* line.pipe(
      Effect.onInterrupt(() =>
        Effect.gen(function*() {
          const cause = yield* observer.interruptCause
          yield* orchestrator.finishAttempt(issue.id, attempt, { terminal_state: null, cause, commit: null, counted: false })
            .pipe(Effect.ignoreLogged)
          if (cause !== "canceled_by_reconciliation") {
            yield* tracker.transition(issue.id, ["in_progress"], "todo").pipe(Effect.ignoreLogged)
          }
          if (o.handle !== null) {
            yield* sandbox.remove(o.handle.path, { deleteBranch: o.handle.branch }).pipe(Effect.ignoreLogged)
          }
          yield* record("attempt.interrupted", `attempt ${attempt} interrupted (${cause}); not counted`, { cause })
        })
      ),
      Effect.catchAllCause((cause) =>
        Cause.isInterruptedOnly(cause)
          ? Effect.failCause(cause)
          : Effect.succeed(Verdict.make({
            state: "RETRYABLE_FAILURE",
            cause: infraCause(Cause.squash(cause)),
            reasons: [`The line failed before a verdict: ${errorText(Cause.squash(cause))}`]
          }))
      )
    )
    const maxAttempts = Option.match(config, { onNone: () => 1, onSome: (c) => c.agent.max_attempts })
    // Reasons may quote agent output: scrubbed like everything else that is stored. What changed outside the
    // agent's reach during the attempt (the base moving, say) is named in every verdict.
    const decided = applyRetryPolicy(raw, tryNumber, maxAttempts)
    const verdict = Verdict.make({ ...decided, reasons: [...decided.reasons, ...o.noted].map((r) => verifier.scrub(r)) })

    // --- packaging: short, and never left half-done (the four layers must agree afterwards) -----------------
    return yield* Effect.uninterruptible(Effect.gen(function*() {
    yield* enter("package")
    const now = yield* Clock.currentTimeMillis
    const retryAt = verdict.state === "RETRYABLE_FAILURE"
      ? now + Option.match(config, {
        onNone: () => 10_000,
        onSome: (c) => retryDelayMs(tryNumber, c.agent.retry_base_delay_ms, c.agent.max_retry_backoff_ms)
      })
      : null
    const summary = summaryFor(verdict, issue, o, attempt, retryAt)
    const evidenceRef = `.switchyard/runs/${issue.id}/${attempt}/evidence.md`
    let commit = o.candidate?.commit ?? null
    if (verdict.state === "PR_READY" && o.handle !== null) {
      const message = `${issue.id}: ${issue.title}\n\n${summary}\n\n${verdict.reasons.map((r) => `- ${r}`).join("\n")}\n\nSwitchyard-Issue: ${issue.id}\nEvidence: ${evidenceRef}`
      const handle = o.handle
      commit = yield* sandbox.amend(handle, message).pipe(
        Effect.tap(() => evidence.runDir(issue.id, attempt).pipe(Effect.flatMap((dir) => sandbox.formatPatch(handle, dir)))),
        Effect.catchAll((e) => record("package.failed", e.message).pipe(Effect.as(commit)))
      )
    }
    const question = questionFor(verdict, issue, o.agent?.question ?? null)
    const endedAt = yield* Clock.currentTimeMillis
    stagesMs[currentStage] = (stagesMs[currentStage] ?? 0) + (endedAt - stageStart)
    const packet = o.packet ?? buildFallbackPacket(issue, attempt, config)
    const bundle = EvidenceBundle.make({
      schemaVersion: 1,
      issueId: issue.id,
      attempt,
      outcome: verdict.state,
      summary,
      task: { title: issue.title, body: issue.body, packet },
      reproduction: {
        command: packet.reproduction,
        before: o.reproductionBefore,
        after: o.verification?.reproductionAfter ?? null
      },
      agent: o.agent === null
        ? null
        : new AgentReportClass({
          ...o.agent,
          outputTail: verifier.scrub(o.agent.outputTail),
          summary: o.agent.summary === null ? null : verifier.scrub(o.agent.summary)
        }),
      diff: o.candidate === null || o.base === null || o.candidate.empty
        ? null
        : DiffReport.make({
          baseCommit: o.base,
          branch: branchFor(issue.id),
          commit,
          tree: o.candidate.tree,
          files: o.candidate.files,
          stat: o.candidate.stat,
          patch: verifier.scrub(o.candidate.patch),
          patchTruncated: o.candidate.patchTruncated
        }),
      validation: o.verification?.validation ?? [],
      guards: o.verification?.guards ?? [],
      revisions: o.revisions,
      usage: totalUsage(o.agentRuns),
      testCounts: o.verification?.testCounts ?? { base: null, candidate: null },
      fingerprint: o.candidate?.tree && commit && o.base
        ? { tree: o.candidate.tree, commit, baseCommit: o.base, branch: branchFor(issue.id) }
        : null,
      verdict,
      residualRisk: residualRisk(verdict, o),
      question,
      confinement: o.agent?.confinement ?? confinement.record("none", null),
      integrity: { escapes: o.escapes, restored: o.restored, noted: o.noted },
      timings: { startedAt, endedAt, stagesMs }
    })
    const stored = yield* evidence.put(bundle).pipe(
      Effect.map(Option.some),
      Effect.catchAll((e) =>
        record("evidence.failed", e.message).pipe(Effect.zipRight(Effect.logError(e.message)), Effect.as(Option.none()))
      )
    )
    // Optional: push the branch and open a PR. A failure is recorded in the evidence, never fatal.
    const integration = yield* Effect.serviceOption(Integration)
    if (verdict.state === "PR_READY" && Option.isSome(integration) && Option.isSome(stored)) {
      const published = yield* integration.value.publish({
        bundle,
        branch: branchFor(issue.id),
        evidenceMd: stored.value.markdown
      })
      if (published !== null) {
        yield* record("integration.done", published.prUrl ?? published.prError ?? published.pushError ?? "published", {
          ...published
        })
        yield* evidence.put(new EvidenceBundle({ ...bundle, integration: published })).pipe(Effect.ignoreLogged)
      }
    }
    switch (verdict.state) {
      case "PR_READY":
        yield* tracker.transition(issue.id, ["in_progress"], "in_review").pipe(Effect.ignoreLogged)
        break
      case "NO_OP":
        yield* tracker.transition(issue.id, ["in_progress"], "done").pipe(Effect.ignoreLogged)
        break
      case "ESCALATE": {
        const moved = yield* tracker.transition(issue.id, ["in_progress"], "blocked").pipe(Effect.orElseSucceed(() => false))
        if (moved) {
          const text = `Switchyard escalated attempt ${attempt}: ${verdict.reasons.join(" ")}${
            question === null ? "" : `\n\nQuestion: ${question}`
          }\n\nEvidence: ${evidenceRef}`
          yield* tracker.comment(issue.id, text, "switchyard").pipe(Effect.ignoreLogged)
        }
        break
      }
      case "RETRYABLE_FAILURE": {
        yield* orchestrator.scheduleRetry(
          RetryEntry.make({ issue_id: issue.id, attempt: tryNumber + 1, due_at: retryAt!, error: verdict.cause })
        )
          .pipe(Effect.ignoreLogged)
        yield* tracker.transition(issue.id, ["in_progress"], "todo").pipe(Effect.ignoreLogged)
        break
      }
    }
    yield* orchestrator.finishAttempt(issue.id, attempt, {
      terminal_state: verdict.state,
      cause: verdict.cause,
      commit: verdict.state === "PR_READY" ? commit : null,
      counted: true
    }).pipe(Effect.ignoreLogged)
    yield* record(`terminal.${verdict.state}`, summary, { cause: verdict.cause, usage: bundle.usage })
    if (o.handle !== null) {
      // An ESCALATE branch is kept for review, unless its commit holds a secret: the evidence is scrubbed, a commit
      // cannot be, and a kept branch is one `git push --all` away from publishing it.
      const leaksSecret = o.failedGuards.some((g) => g.rule === "secret_in_diff")
      const keepBranch = verdict.state === "PR_READY" ||
        (verdict.state === "ESCALATE" && o.candidate !== null && !o.candidate.empty && !leaksSecret)
      if (leaksSecret) {
        yield* record("sandbox.branch_deleted", `${o.handle.branch} deleted: its commit holds a secret`)
      }
      yield* sandbox.remove(o.handle.path, { deleteBranch: keepBranch ? undefined : o.handle.branch }).pipe(Effect.ignoreLogged)
    }
    yield* enter("done")
    return verdict
    }))
  }).pipe(
    Effect.annotateLogs({ issue_id: stored.id, attempt: lease.attempt }),
    Effect.withLogSpan("attempt")
  )

const infraCause = (e: unknown): string => {
  const tag = typeof e === "object" && e !== null && "_tag" in e ? String(e._tag) : "defect"
  switch (tag) {
    case "HookFailed":
      return `hook_failed:${(e as { hook: string }).hook}`
    case "DirtyBase":
      return "dirty_base"
    case "PromptRenderError":
      return "template_render_error"
    case "WorkflowError":
      return "workflow_invalid"
    case "SandboxError":
      return "sandbox_failed"
    default:
      return `${tag.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase()}`
  }
}

/**
 * The verdict of an attempt whose agent changed something outside its sandbox: ESCALATE with cause
 * `sandbox_escape:<target of the first escape>` (docs/security.md). Pure.
 */
export const escapeVerdict = (escapes: ReadonlyArray<Escape>, restored: ReadonlyArray<string>): Verdict =>
  Verdict.make({
    state: "ESCALATE",
    cause: `sandbox_escape:${escapes[0]!.target}`,
    reasons: [
      `While the agent ran, the main repository changed where the agent could have changed it: ${escapes.map((e) => e.detail).join("; ")}.`,
      ...(restored.length > 0 ? [`Switchyard put back: ${restored.join(", ")}.`] : []),
      "Nothing of this attempt was verified. Check the repository before trusting anything it produced."
    ]
  })

const residualRisk = (v: Verdict, o: Observed): ReadonlyArray<string> => {
  const risks: Array<string> = []
  if (o.agent?.confinement?.kind === "none" || (o.agent !== null && o.agent.confinement === null)) {
    risks.push("The agent ran UNCONFINED (sandbox.confinement: none): it could read and write anything the runner can.")
  }
  if (v.state === "PR_READY") {
    const n = o.verification?.validation.length ?? 0
    risks.push(
      n === 0
        ? "No validation commands are configured: only the reproduction vouches for this change."
        : `Only the reproduction and ${n} validation command(s) were run; behaviour they do not exercise is unchecked.`
    )
  }
  if (o.agent?.residualRisk) risks.push(`The agent says: ${o.agent.residualRisk}`)
  if (o.agent?.claimError && o.agent.exitCode === 0) risks.push(`The agent made no usable claim: ${o.agent.claimError}`)
  return risks
}

/**
 * What the diff may touch, from the issue (scope, `allow:validation-config` and `allow:path:<glob>` labels) and
 * WORKFLOW.md (`verify.*`). Secret values are added by the Verifier layer from the runner's environment.
 */
export const verifyPolicy = (issue: Issue, cfg: WorkflowConfig): VerifyPolicy => ({
  scope: issue.scope,
  allowValidationConfig: issue.labels.includes("allow:validation-config"),
  allowProtectedPaths: issue.labels.filter((l) => l.startsWith("allow:path:")).map((l) => l.slice("allow:path:".length)),
  protectedPaths: cfg.verify.protected_paths,
  maxAddedFileBytes: cfg.verify.max_added_file_bytes,
  compareTestCounts: cfg.verify.compare_test_counts,
  secretValues: [],
  env: cfg.verify.env
})

/** Tokens and cost over every agent run of the attempt (cost null when no run reported one). */
export const totalUsage = (runs: ReadonlyArray<AgentReport>) => ({
  inputTokens: runs.reduce((n, r) => n + (r.usage?.inputTokens ?? 0), 0),
  outputTokens: runs.reduce((n, r) => n + (r.usage?.outputTokens ?? 0), 0),
  costUsd: runs.some((r) => r.costUsd !== null) ? runs.reduce((n, r) => n + (r.costUsd ?? 0), 0) : null
})

/** The report of an agent stopped by the stall watchdog (its transcript, if any, is in `runDir`). */
const stalledReport = (kind: string, silentMs: number, stallMs: number, runDir: string): AgentReport =>
  new AgentReportClass({
    kind,
    command: "",
    exitCode: null,
    signal: "SIGTERM",
    timedOut: false,
    crashed: false,
    stalled: true,
    durationMs: silentMs,
    outputTail: `(stalled: no output for ${silentMs} ms; agent.stall_timeout_ms = ${stallMs}; see ${runDir})`,
    claim: null,
    claimError: "the agent was stopped for stalling",
    summary: null,
    plan: null,
    question: null,
    residualRisk: null
  })

/** The packet for evidence when the workflow could not even be read (defaults stand in for the config). */
const buildFallbackPacket = (issue: Issue, attempt: number, config: Option.Option<WorkflowConfig>) =>
  buildTaskPacket(issue, Option.getOrElse(config, () => new WorkflowConfig({})), attempt, "")
