/**
 * Verifier: checks the agent's work from outside its reach. Every command runs in a fresh, clean checkout of
 * the commit under test (never in the agent's sandbox). Implementation: `ProcessVerifier` (@switchyard/node).
 */
import type { CommandResult } from "@switchyard/domain"
import { Context, type Effect } from "effect"
import type { HookFailed, SandboxError } from "../Sandbox/errors.js"

export interface Verification {
  /** The reproduction on the candidate (must exit 0), or null when the issue has none. */
  readonly reproductionAfter: CommandResult | null
  /** Each validation command on the candidate, in order (all must exit 0). */
  readonly validation: ReadonlyArray<CommandResult>
}

export interface VerifierShape {
  /**
   * Runs `command` in a clean checkout of `commit` (e.g. the reproduction on the base). `issueId` names the
   * checkout (`.verify/<issueId>-repro-…`) so the supervisor knows which lease owns it.
   */
  readonly reproduce: (
    issueId: string,
    commit: string,
    command: string,
    timeoutMs: number
  ) => Effect.Effect<CommandResult, SandboxError | HookFailed>
  /** Runs the reproduction (if any) and every validation command in one clean checkout of `commit`. */
  readonly verify: (input: {
    readonly issueId: string
    readonly commit: string
    readonly reproduction: string | null
    readonly validation: ReadonlyArray<string>
    readonly timeoutMs: number
  }) => Effect.Effect<Verification, SandboxError | HookFailed>
}

export class Verifier extends Context.Tag("switchyard/Verifier")<Verifier, VerifierShape>() {}
