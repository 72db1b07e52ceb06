/**
 * The stages of an attempt, in the order `runAttempt` runs them: prepare · reproduce on base · agent turn ·
 * candidate · verify candidate · revise · package. Each takes the attempt's `LineContext` and immutable records
 * and returns its stage artifact (`artifacts.ts`); `runAttempt` persists each one as it completes. No stage reads
 * the `Workflow` service: `ctx.def` is the snapshot the attempt was claimed with.
 */
import type { AgentReport, CommandResult, Issue, IssueStatus, Lease, PlainEventType, Stage, WorkflowConfig, WorkflowDefinition } from "@switchyard/domain"
import { AgentReport as AgentReportClass, describeResult } from "@switchyard/domain"
import { Clock, Effect, Either, Option, Ref } from "effect"
import { type AgentRunInput, AgentStation } from "../AgentStation/AgentStation.js"
import * as Routing from "../AgentStation/routing.js"
import { Confinement } from "../Confinement/Confinement.js"
import { EvidenceStore } from "../EvidenceStore/EvidenceStore.js"
import * as KillPoints from "../KillPoints/KillPoints.js"
import { Orchestrator } from "../Orchestrator/Orchestrator.js"
import { compareIntegrity } from "../Sandbox/integrity.js"
import { branchFor, Sandbox, type SandboxHandle } from "../Sandbox/Sandbox.js"
import { Tracker } from "../Tracker/Tracker.js"
import { formatDuration } from "../EvidenceStore/markdown.js"
import { Verifier, type VerifyObserver, type VerifyPhase, type VerifyPolicy } from "../Verifier/Verifier.js"
import { buildTaskPacket } from "../Workflow/packet.js"
import { renderPrompt } from "../Workflow/prompt.js"
import { AgentTurn, CandidateMade, Opened, Prepared, Reproduced, Revised, Verified } from "./artifacts.js"
import { withStallWatchdog } from "./stall.js"

/** Hooks the worker pool passes in to mirror live progress. */
export interface AttemptObserver {
  readonly stage: (stage: Stage) => Effect.Effect<void>
  readonly spawned: (pid: number) => Effect.Effect<void>
  readonly output: (at: number) => Effect.Effect<void>
  /** Why the attempt is being interrupted (read when it is), e.g. `shutdown`, `canceled_by_reconciliation`. */
  readonly interruptCause: Effect.Effect<string>
}

/** The services the stages use. */
export type LineServices = Sandbox | Orchestrator | EvidenceStore | Verifier | AgentStation | Tracker | Confinement

/** What every stage of one attempt shares. Immutable; built once by `runAttempt`. */
export interface LineContext {
  /** The issue, bounded (`boundIssue`). */
  readonly issue: Issue
  readonly lease: Lease
  readonly attempt: number
  /** The counted try this attempt is (`agent.max_attempts` counts these). */
  readonly tryNumber: number
  /** The WORKFLOW.md snapshot of this attempt: read once, when it started. */
  readonly def: WorkflowDefinition
  readonly cfg: WorkflowConfig
  readonly observer: AttemptObserver
  /** Appends an event of this attempt (its `attempt` number added to `data`). */
  readonly record: (type: PlainEventType, message: string, data?: Record<string, unknown>) => Effect.Effect<void>
}

const OUTPUT_EVENT_EVERY_MS = 5_000
/** At most this often (ms) an output line refreshes the agent's liveness (stall watchdog, worker info). */
const OUTPUT_TOUCH_EVERY_MS = 50

/**
 * How long (ms) `hooks.after_run` may take when the agent run was interrupted (cancelled by reconciliation, or
 * the runner is shutting down), instead of `hooks.timeout_ms`: the runner must still exit within 10 s of a
 * signal. Symphony SPEC §5.3.4: after_run runs after each agent attempt, cancellation included.
 */
export const AFTER_RUN_ON_INTERRUPT_MS = 3_000

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
  baseCache: cfg.verify.base_cache,
  secretValues: [],
  env: cfg.verify.env
})

/**
 * Open: the attempt row (first, so even a failure to read the base counts the attempt), the base and the task
 * packet; no sandbox yet, so a reproduction that decides the issue on the base (NO_OP, or a packet that cannot
 * run) never pays for one (issue 12 item 3). Fails with the base's or the store's error (an infrastructure verdict).
 */
export const open = Effect.fn("Line.open")(function*(ctx: LineContext) {
  const sandbox = yield* Sandbox
  const orchestrator = yield* Orchestrator
  const evidence = yield* EvidenceStore
  const { attempt, issue } = ctx
  const base = yield* Effect.either(sandbox.resolveBase)
  yield* orchestrator.startAttempt({
    issue_id: issue.id,
    attempt,
    branch: branchFor(issue.id),
    sandbox_path: null,
    base_commit: Either.getOrNull(base)
  })
  const baseCommit = yield* base
  const runDir = yield* evidence.runDir(issue.id, attempt)
  return new Opened({ base: baseCommit, runDir, packet: buildTaskPacket(issue, ctx.cfg, attempt, `${runDir}/result.json`) })
})

/**
 * Prepare: create the attempt's sandbox on the opened base (its `after_create` hook included). Fails with the
 * sandbox's error or `HookFailed` (an infrastructure verdict); interrupted, it removes what it made.
 */
export const prepare = Effect.fn("Line.prepare")(function*(ctx: LineContext, opened: Opened) {
  const sandbox = yield* Sandbox
  const orchestrator = yield* Orchestrator
  const { attempt, issue } = ctx
  const { base: baseCommit, packet, runDir } = opened
  const handle = yield* sandbox.create(issue.id, attempt, baseCommit, ctx.cfg.hooks, ctx.cfg.verify.env).pipe(
    Effect.tapError((e) =>
      e._tag === "HookFailed"
        ? ctx.record("hook.after_create", e.message, { exitCode: e.exitCode, timedOut: e.timedOut })
        : Effect.void
    )
  )
  // From here until the Prepared artifact is stored (runAttempt stores it uninterruptibly), an interruption
  // removes a new sandbox and its branch (nothing else would know they exist); a kept one stays kept.
  return yield* Effect.gen(function*() {
    yield* KillPoints.reached("sandbox.created")
    yield* orchestrator.updateLease(issue.id, { sandbox_path: handle.path })
    if (handle.reused === null) {
      if (ctx.cfg.hooks.after_create !== null) {
        yield* ctx.record(
          "hook.after_create",
          handle.installCopied
            ? "after_create not run: the install of its base was copied in from the installed base (same install inputs)"
            : "after_create passed",
          { copied: handle.installCopied }
        )
      }
      yield* ctx.record("sandbox.created", `sandbox ${handle.path} on ${handle.branch} at ${baseCommit.slice(0, 10)}`, {
        path: handle.path,
        branch: handle.branch,
        base: baseCommit
      })
    } else {
      const { base, carried, fromAttempt } = handle.reused
      yield* ctx.record(
        "sandbox.reused",
        `sandbox ${handle.path} kept from attempt ${fromAttempt}${
          carried ? `, its work carried from ${base.slice(0, 10)} to ${baseCommit.slice(0, 10)}` : ""
        } (after_create not run again)`,
        { path: handle.path, branch: handle.branch, base: baseCommit, fromAttempt, carriedFrom: carried ? base : null }
      )
    }
    return new Prepared({
      base: baseCommit,
      branch: handle.branch,
      sandboxPath: handle.path,
      home: handle.home,
      io: handle.io,
      runDir,
      packet,
      reused: handle.reused
    })
  }).pipe(
    Effect.onInterrupt(() =>
      handle.reused === null
        ? sandbox.remove(handle.path, { deleteBranch: handle.branch, hooks: ctx.cfg.hooks }).pipe(Effect.ignoreLogged)
        : Effect.void
    )
  )
})

const PHASE_LABEL: Record<VerifyPhase, string> = {
  reproduction_base: "reproduction on the base",
  reproduction_candidate: "reproduction on the candidate",
  validation: "validation on the candidate",
  validation_base: "validation on the base"
}

/** `reproduction on the base`, or `validation #2 on the candidate` (validation commands are numbered from 1). */
const phaseLabel = (phase: VerifyPhase, index: number): string =>
  phase.startsWith("validation")
    ? PHASE_LABEL[phase].replace("validation", `validation #${index + 1}`)
    : PHASE_LABEL[phase]

/**
 * The Verifier observer of an attempt: one `verify.command_started` event when a verification command starts and
 * one `verify.command_done` when it ends, with its exit, duration (ms) and parsed test counts, so `switchyard run`
 * shows a long suite's progress (docs/architecture.md, "Events").
 */
export const verifyObserver = (ctx: LineContext): VerifyObserver => ({
  started: ({ command, index, phase }) =>
    ctx.record("verify.command_started", `${phaseLabel(phase, index)}: \`${command}\` started`, { phase, index, command }),
  done: ({ counts, index, phase, result, reused }) =>
    ctx.record(
      "verify.command_done",
      `${phaseLabel(phase, index)}: ${describeResult(result)} after ${formatDuration(result.durationMs)}${
        reused === true ? " (reused from an earlier run on this base)" : ""
      }${
        counts === null
          ? ""
          : `; ${counts.total} test(s): ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`
      }`,
      {
        phase,
        index,
        command: result.command,
        exitCode: result.exitCode,
        timedOut: result.timedOut,
        durationMs: result.durationMs,
        reused: reused === true,
        testCounts: counts === null
          ? null
          : { total: counts.total, passed: counts.passed, failed: counts.failed, skipped: counts.skipped, runner: counts.runner }
      }
    )
})

/** Reproduce on base: the issue's reproduction in a clean checkout of the base. Null when the issue has none. */
export const reproduceOnBase = Effect.fn("Line.reproduceOnBase")(function*(ctx: LineContext, p: Opened) {
  const reproduction = p.packet.reproduction
  if (reproduction === null) return null
  const verifier = yield* Verifier
  const result = yield* verifier.reproduce(
    ctx.issue.id,
    p.base,
    reproduction,
    ctx.cfg.verify.timeout_ms,
    ctx.cfg.verify.env,
    ctx.cfg.hooks,
    verifyObserver(ctx),
    ctx.cfg.verify.base_cache
  )
  yield* ctx.record("verify.reproduction_before", `reproduction on the base exited ${result.exitCode}`, {
    exitCode: result.exitCode
  })
  return new Reproduced({ result })
})

/** The `before_run` hook and the rendered prompt: what the first agent turn needs. */
export const beforeAgent = Effect.fn("Line.beforeAgent")(function*(ctx: LineContext, p: Prepared, handle: SandboxHandle) {
  const sandbox = yield* Sandbox
  const tracker = yield* Tracker
  const ran = yield* sandbox.runHook(handle, "before_run", ctx.cfg.hooks).pipe(
    Effect.tapError((e) => ctx.record("hook.before_run", e.message, { exitCode: e.exitCode, timedOut: e.timedOut }))
  )
  if (Option.isSome(ran)) {
    yield* ctx.record("hook.before_run", `before_run exited ${ran.value.exitCode}`, { exitCode: ran.value.exitCode })
  }
  // Blocker states for the template (`{{ b.state }}`); a failed read only leaves them null.
  const noStatuses: ReadonlyMap<string, IssueStatus> = new Map()
  const blockerStatuses = ctx.issue.blocked_by.length === 0
    ? noStatuses
    : yield* tracker.statuses(ctx.issue.blocked_by).pipe(
      Effect.tapError((e) =>
        Effect.logWarning("could not read blocker statuses").pipe(Effect.annotateLogs({ reason: e.message }))
      ),
      Effect.orElseSucceed(() => noStatuses)
    )
  return yield* renderPrompt(ctx.def.prompt_template, {
    issue: ctx.issue,
    attempt: ctx.attempt,
    packet: p.packet,
    blockerStatuses
  })
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

/**
 * Agent turn `turn` (1, then one per revision): the agent in its sandbox with stall detection, its `after_run`
 * hook (also when interrupted, within AFTER_RUN_ON_INTERRUPT_MS), and the integrity check of the main repository
 * around both (docs/security.md): an escape is recorded and what can be put back is restored. Never fails on the
 * agent's account (a crash is in the report); fails only when the integrity check cannot read the repository.
 */
export const agentTurn = Effect.fn("Line.agentTurn")(function*(
  ctx: LineContext,
  p: Prepared,
  handle: SandboxHandle,
  prompt: string,
  turn: number,
  continuation: AgentRunInput["continuation"],
  redact: (text: string) => string
) {
  const sandbox = yield* Sandbox
  const station = yield* AgentStation
  const orchestrator = yield* Orchestrator
  const confinement = yield* Confinement
  const { cfg, issue } = ctx
  const who = station.kind === "routed" ? "agent" : `${station.kind} agent`
  yield* ctx.record("agent.started", `${who} started${continuation ? ` (revision ${continuation.turn})` : ""}`, {
    kind: station.kind,
    revision: continuation?.turn ?? 0
  })
  const lastOutputEvent = yield* Ref.make(0)
  const lastTouch = yield* Ref.make(Number.NEGATIVE_INFINITY)
  const stallMs = cfg.agent.stall_timeout_ms

  /** `hooks.after_run` in the sandbox; never fails (SPEC §9.4), its exit is an event. */
  const afterRun = sandbox.runHook(handle, "after_run", cfg.hooks).pipe(
    Effect.flatMap((r) =>
      Option.isSome(r)
        ? ctx.record("hook.after_run", `after_run exited ${r.value.exitCode}`, { exitCode: r.value.exitCode })
        : Effect.void
    ),
    Effect.catchAll((e) => ctx.record("hook.after_run", `${e.message} (ignored)`, { exitCode: e.exitCode }))
  )

  // Called for every output line: a flood of lines pays one clock read per line, the liveness bookkeeping at
  // most every OUTPUT_TOUCH_EVERY_MS.
  const onOutput = (touch: Effect.Effect<void>) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.flatMap(Ref.get(lastTouch), (last) =>
        now - last < OUTPUT_TOUCH_EVERY_MS
          ? Effect.void
          : Effect.gen(function*() {
            yield* Ref.set(lastTouch, now)
            yield* touch
            yield* ctx.observer.output(now)
            if (now - (yield* Ref.get(lastOutputEvent)) >= OUTPUT_EVENT_EVERY_MS) {
              yield* Ref.set(lastOutputEvent, now)
              yield* orchestrator.updateLease(issue.id, { last_output_at: now }).pipe(Effect.ignoreLogged)
              yield* ctx.record("agent.output", "agent is producing output")
            }
          })))

  const before = yield* sandbox.integrity
  const routed = yield* Routing.route(cfg, issue.labels, ctx.def.path)
  const outcome = yield* withStallWatchdog(stallMs, (touch) =>
    station.run({
      ...routed,
      issue,
      packet: p.packet,
      prompt,
      attempt: ctx.attempt,
      sandboxPath: handle.path,
      runDir: p.runDir,
      ioDir: handle.io,
      home: handle.home,
      continuation,
      onSpawn: (pid) =>
        Effect.all([
          orchestrator.updateLease(issue.id, { agent_pid: pid, agent_pgid: pid }).pipe(Effect.ignoreLogged),
          ctx.observer.spawned(pid)
        ], { discard: true }),
      onOutput: onOutput(touch)
    })).pipe(
      Effect.onInterrupt(() =>
        Effect.interruptible(afterRun).pipe(
          Effect.timeoutOption(AFTER_RUN_ON_INTERRUPT_MS),
          Effect.flatMap(Option.match({
            onNone: () =>
              ctx.record("hook.after_run", `after_run cut off after ${AFTER_RUN_ON_INTERRUPT_MS} ms (the run was interrupted)`),
            onSome: () => Effect.void
          }))
        )
      )
    )
  const report = Either.isRight(outcome) ? outcome.right : stalledReport(station.kind, outcome.left, stallMs, p.runDir)
  if (Either.isLeft(outcome)) {
    yield* ctx.record("agent.stalled", `no agent output for ${outcome.left} ms; process group killed`, {
      silentMs: outcome.left
    })
  }
  yield* ctx.record(
    "agent.exited",
    `${report.kind} agent exited ${report.exitCode}${report.timedOut ? " (timed out)" : ""}; claim ${
      report.claim ?? "none"
    }${report.route === null ? "" : ` (route: ${report.route})`}`,
    {
      kind: report.kind,
      route: report.route,
      exitCode: report.exitCode,
      claim: report.claim,
      timedOut: report.timedOut,
      costUsd: report.costUsd
    }
  )
  yield* afterRun
  const integrity = compareIntegrity(before, yield* sandbox.integrity, confinement.kind)
  const restored = integrity.escapes.length === 0 ? [] : yield* sandbox.restore(before)
  if (integrity.escapes.length > 0) {
    yield* ctx.record(
      "sandbox.escape",
      `changed outside the sandbox: ${integrity.escapes.map((e) => e.detail).join("; ")}`,
      { escapes: integrity.escapes.map((e) => ({ target: e.target, detail: e.detail })), restored }
    )
  }
  return new AgentTurn({
    turn,
    report: new AgentReportClass({
      ...report,
      outputTail: redact(report.outputTail),
      summary: report.summary === null ? null : redact(report.summary)
    }),
    escapes: integrity.escapes.map((e) => ({ target: e.target, detail: e.detail })),
    restored,
    noted: integrity.noted
  })
})

/** Candidate: what the agent left after `turn`, committed by the runner on the attempt's branch. */
export const candidate = Effect.fn("Line.candidate")(function*(ctx: LineContext, handle: SandboxHandle, turn: number) {
  const sandbox = yield* Sandbox
  const made = yield* sandbox.snapshot(
    handle,
    `switchyard: candidate for ${ctx.issue.id} (attempt ${ctx.attempt}${turn > 1 ? `, revision ${turn - 1}` : ""})`
  )
  return new CandidateMade({ turn, candidate: made })
})

/** Verify candidate: the reproduction, the validation and the guards in a clean checkout of the candidate commit. */
export const verifyCandidate = Effect.fn("Line.verifyCandidate")(function*(
  ctx: LineContext,
  p: Prepared,
  made: CandidateMade
) {
  const verifier = yield* Verifier
  yield* KillPoints.reached("verify.started")
  const verification = yield* verifier.verify({
    issueId: ctx.issue.id,
    baseCommit: p.base,
    policy: verifyPolicy(ctx.issue, ctx.cfg),
    commit: made.candidate.commit!,
    reproduction: p.packet.reproduction,
    validation: p.packet.validation,
    timeoutMs: ctx.cfg.verify.timeout_ms,
    hooks: ctx.cfg.hooks,
    observer: verifyObserver(ctx)
  })
  yield* ctx.record("verify.done", `verification ran ${verification.validation.length} validation command(s)`, {
    failedGuards: verification.guards.filter((g) => !g.passed).map((g) => g.rule),
    reproductionAfter: verification.reproductionAfter?.exitCode ?? null,
    validation: verification.validation.map((r: CommandResult) => ({ command: r.command, exitCode: r.exitCode }))
  })
  return new Verified({ turn: made.turn, verification })
})

/**
 * The base's validation started ahead of the candidate (`Verifier.prepareBase`): the line forks it once the agent
 * will run, so it overlaps the sandbox, the hooks and the agent's turn instead of the candidate's verification.
 * Never fails.
 */
export const prepareBase = (ctx: LineContext, opened: Opened) =>
  Effect.flatMap(Verifier, (verifier) =>
    verifier.prepareBase({
      issueId: ctx.issue.id,
      baseCommit: opened.base,
      policy: verifyPolicy(ctx.issue, ctx.cfg),
      validation: opened.packet.validation,
      timeoutMs: ctx.cfg.verify.timeout_ms,
      hooks: ctx.cfg.hooks,
      observer: verifyObserver(ctx)
    }))

/** Revise: the feedback for the next agent turn after the Verifier rejected the candidate of `turn`. */
export const revise = Effect.fn("Line.revise")(function*(
  ctx: LineContext,
  revision: number,
  cause: string,
  feedback: string,
  /** For a CI revision: its number among CI revisions (of `agent.max_ci_revisions`); verifier revisions omit it. */
  ciTurn?: number
) {
  yield* ctx.record(
    "agent.revision",
    ciTurn === undefined
      ? `the verifier rejected the diff (${cause}); revision ${revision} of ${ctx.cfg.agent.max_revisions}`
      : `the CI check failed (${cause}); CI revision ${ciTurn} of ${ctx.cfg.agent.max_ci_revisions}`,
    { turn: revision, cause, ...(ciTurn === undefined ? {} : { ciTurn }) }
  )
  return new Revised({ turn: revision, cause, feedback })
})

/**
 * Package a PR_READY candidate: amend its commit with the message that names the issue and the evidence, and
 * write its `format-patch` files into the run directory. A failure is recorded (`package.failed`) and the
 * candidate's own commit stands. Returns the commit the verdict is bound to.
 */
export const packageCandidate = Effect.fn("Line.package")(function*(
  ctx: LineContext,
  p: Prepared,
  handle: SandboxHandle,
  commit: string | null,
  message: string
) {
  const sandbox = yield* Sandbox
  return yield* sandbox.amend(handle, message).pipe(
    Effect.tap(() => sandbox.formatPatch(handle, p.runDir)),
    Effect.catchAll((e) => ctx.record("package.failed", e.message).pipe(Effect.as(commit)))
  )
})
