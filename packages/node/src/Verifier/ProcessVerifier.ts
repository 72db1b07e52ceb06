/**
 * ProcessVerifier: the `Verifier` that runs reproduction and validation commands with `sh -c` in fresh, clean
 * checkouts from the `Sandbox` (never in the agent's sandbox), each under its own timeout. A checkout is removed
 * as soon as its commands have run.
 */
import { CommandExecutor } from "@effect/platform"
import { Sandbox, type Verification, Verifier, type VerifierShape } from "@switchyard/core"
import { Effect, Layer } from "effect"
import * as ProcessRunner from "../ProcessRunner/ProcessRunner.js"

/**
 * Builds the verifier. `reproduce` runs one command in a checkout labelled `<issueId>-repro`; `verify` runs the reproduction
 * (when given) and then every validation command, in order and all of them even after a failure, in one checkout
 * labelled `<issueId>-verify`. Fails only when the checkout cannot be made (`SandboxError`) or its `after_create` hook fails
 * (`HookFailed`); command failures are results.
 */
export const make: Effect.Effect<VerifierShape, never, Sandbox | CommandExecutor.CommandExecutor> = Effect.gen(
  function*() {
    const sandbox = yield* Sandbox
    const executor = yield* CommandExecutor.CommandExecutor
    const runIn = (cwd: string, command: string, timeoutMs: number) =>
      ProcessRunner.runShell({ command, cwd, timeoutMs }).pipe(
        Effect.provideService(CommandExecutor.CommandExecutor, executor)
      )

    const reproduce: VerifierShape["reproduce"] = (issueId, commit, command, timeoutMs) =>
      Effect.scoped(Effect.flatMap(sandbox.checkout(commit, `${issueId}-repro`), (dir) => runIn(dir, command, timeoutMs))).pipe(
        Effect.annotateLogs({ commit, stage: "reproduce" })
      )

    const verify: VerifierShape["verify"] = (input) =>
      Effect.scoped(Effect.gen(function*() {
        const dir = yield* sandbox.checkout(input.commit, `${input.issueId}-verify`)
        const reproductionAfter = input.reproduction === null
          ? null
          : yield* runIn(dir, input.reproduction, input.timeoutMs)
        const validation = yield* Effect.forEach(input.validation, (command) => runIn(dir, command, input.timeoutMs))
        const verification: Verification = { reproductionAfter, validation }
        return verification
      })).pipe(Effect.annotateLogs({ commit: input.commit, stage: "verify" }))

    return Verifier.of({ reproduce, verify })
  }
)

/** The `Verifier` layer. */
export const layer: Layer.Layer<Verifier, never, Sandbox | CommandExecutor.CommandExecutor> = Layer.effect(
  Verifier,
  make
)
