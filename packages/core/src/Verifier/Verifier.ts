/**
 * Verifier: checks the agent's work from outside its reach. Every command runs in a fresh, clean checkout of
 * the commit under test (never in the agent's sandbox). Every `CommandResult` it returns is redacted (`Redactor`).
 * Implementation: `ProcessVerifier` (@switchyard/node).
 */
import type { CommandResult, GuardResult, HooksConfig, TestCounts } from "@switchyard/domain"
import { Context, type Effect } from "effect"
import type { HookFailed, SandboxError } from "../Sandbox/errors.js"

export interface Verification {
  /** The reproduction on the candidate (must exit 0), or null when the issue has none. */
  readonly reproductionAfter: CommandResult | null
  /** Each validation command on the candidate, in order (all must exit 0). */
  readonly validation: ReadonlyArray<CommandResult>
  /** Every anti-cheat guard on the full `base..commit` diff, passed or not (docs/guards.md). */
  readonly guards: ReadonlyArray<GuardResult>
  /** Test counts parsed from the validation output on the base and the candidate (null when not reported). */
  readonly testCounts: { readonly base: TestCounts | null; readonly candidate: TestCounts | null }
  /**
   * When the base's validation was not run for this candidate but reused from an earlier run on the same base
   * (`BaseResults`, `verify.base_cache`): when that run happened (ms since the epoch). Absent when it ran now.
   */
  readonly baseReusedFrom?: number | undefined
}

/** What the diff may and may not touch, from the issue and WORKFLOW.md. */
export interface VerifyPolicy {
  /** Path globs the change may touch; empty = anywhere. */
  readonly scope: ReadonlyArray<string>
  /** The issue allows edits to test scripts and test-runner config (label `allow:validation-config`). */
  readonly allowValidationConfig: boolean
  /** Protected-path globs the issue allows anyway (labels `allow:path:<glob>`). */
  readonly allowProtectedPaths: ReadonlyArray<string>
  /** Extra protected globs from `verify.protected_paths`. */
  readonly protectedPaths: ReadonlyArray<string>
  /** `verify.max_added_file_bytes`. */
  readonly maxAddedFileBytes: number
  /** `verify.compare_test_counts`: also run validation on the base to compare test counts. */
  readonly compareTestCounts: boolean
  /**
   * Secret values on top of the `Redactor`'s (the runner's secret env values): redacted from the command results
   * and a `secret_in_diff` failure if they appear in the diff.
   */
  readonly secretValues: ReadonlyArray<string>
  /** `verify.env`: runner variables the (confined) verification commands get, besides PATH, LANG and friends. */
  readonly env: ReadonlyArray<string>
  /**
   * `verify.base_cache` (default true): reuse the base's validation from an earlier run on the same base commit
   * with the same inputs (`BaseResults`), instead of running it again for every issue.
   */
  readonly baseCache?: boolean | undefined
}

/**
 * Which run a verification command belongs to: the reproduction on the base (before the agent) or on the
 * candidate, the validation on the candidate, or the validation on the base (`verify.compare_test_counts`).
 */
export type VerifyPhase = "reproduction_base" | "reproduction_candidate" | "validation" | "validation_base"

/**
 * Told when each verification command starts and ends, so a long suite is not silent (the line records
 * `verify.command_started` / `verify.command_done` events). `index` is the command's position in its phase (0 for
 * a reproduction). `done` gets the redacted result and the test counts its output reports (null when none).
 * Both must not fail; a slow observer delays the verification.
 */
export interface VerifyObserver {
  readonly started: (command: { readonly phase: VerifyPhase; readonly index: number; readonly command: string }) => Effect.Effect<void>
  readonly done: (command: {
    readonly phase: VerifyPhase
    readonly index: number
    readonly result: CommandResult
    readonly counts: TestCounts | null
    /** The result was not run now but reused from an earlier run on the same base (`BaseResults`). */
    readonly reused?: boolean | undefined
  }) => Effect.Effect<void>
}

export interface VerifierShape {
  /**
   * Runs `command` confined in a clean checkout of `commit` (e.g. the reproduction on the base), limited to
   * `timeoutMs` (ms), with the `env` runner variables (`verify.env`). `issueId` names the checkout
   * (`.verify/<issueId>-repro-…`) so the supervisor knows which lease owns it. `hooks` is the attempt's `hooks:`,
   * for the checkout's `after_create`. `observer` (optional) is told when the command starts and ends
   * (phase `reproduction_base`). With `reuse` (default true) and a `BaseResults` service, a result from an earlier
   * run with the same inputs is returned without running (the observer gets only `done`, with `reused`).
   */
  readonly reproduce: (
    issueId: string,
    commit: string,
    command: string,
    timeoutMs: number,
    env: ReadonlyArray<string>,
    hooks: HooksConfig,
    observer?: VerifyObserver | undefined,
    reuse?: boolean | undefined
  ) => Effect.Effect<CommandResult, SandboxError | HookFailed>
  /**
   * Verifies a candidate: runs the reproduction (if any) and every validation command in one clean checkout of
   * `commit`, runs the anti-cheat guards on the full `baseCommit..commit` diff, and (with
   * `policy.compareTestCounts`) runs validation on a clean checkout of `baseCommit` to compare test counts. Each
   * command is limited to `timeoutMs` (ms); `hooks` is the attempt's `hooks:`, for the checkouts' `after_create`.
   * `observer` (optional) is told when each command starts and ends.
   */
  readonly verify: (input: {
    readonly issueId: string
    readonly baseCommit: string
    readonly policy: VerifyPolicy
    readonly commit: string
    readonly reproduction: string | null
    readonly validation: ReadonlyArray<string>
    readonly timeoutMs: number
    readonly hooks: HooksConfig
    readonly observer?: VerifyObserver | undefined
  }) => Effect.Effect<Verification, SandboxError | HookFailed>
  /**
   * Runs the base's validation ahead of the candidate (the line starts it while the sandbox is made and the agent
   * works), so that `verify` finds it done, or awaits it in flight, instead of running it beside the candidate's:
   * the run `verify` would make for the test-count comparison, stored the same way (`BaseResults`). Does nothing when
   * `verify` would not reuse it: no comparison or no validation, `policy.baseCache` off, no `BaseResults`, or a
   * command or the install hook that reads the change variables (`SWITCHYARD_*`, unknown before the candidate).
   * Never fails (a failed run is logged; `verify` then runs the base itself).
   */
  readonly prepareBase: (input: {
    readonly issueId: string
    readonly baseCommit: string
    readonly policy: VerifyPolicy
    readonly validation: ReadonlyArray<string>
    readonly timeoutMs: number
    readonly hooks: HooksConfig
    /** Told when each command starts and ends (phase `validation_base`), as `verify` would tell it. */
    readonly observer?: VerifyObserver | undefined
  }) => Effect.Effect<void>
}

export class Verifier extends Context.Tag("switchyard/Verifier")<Verifier, VerifierShape>() {}
