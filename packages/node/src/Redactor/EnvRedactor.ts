/**
 * EnvRedactor: the `Redactor` of a runner, built once from its environment (docs/security.md, "Redaction"). The
 * secret values are those of every variable whose name looks secret (`secretEnvNames`: TOKEN, SECRET, PASSWORD,
 * API_KEY, ...), whether or not anything is passed it; with them the JSON-escaped forms, and every known token
 * format is masked. The same environment must feed the agent stations (`RunnerOptions.runnerEnv`), so what a
 * station may pass to an agent is what is redacted from what it writes.
 */
import { makeRedactor, Redactor, type RedactorShape, secretEnvNames } from "@switchyard/core"
import { Effect, Layer } from "effect"

/** The runner's environment, as the stations and the redactor read it. */
export type RunnerEnv = Readonly<Record<string, string | undefined>>

/** The secret values of `env` (values of the variables `secretEnvNames` picks). Pure. */
export const secretValuesOf = (env: RunnerEnv): ReadonlyArray<string> =>
  secretEnvNames({ ...env }).map((name) => env[name] ?? "")

/** The redactor for `env` (see the module docs). Pure. */
export const make = (env: RunnerEnv): RedactorShape => makeRedactor(secretValuesOf(env))

/**
 * The `Redactor` layer. `options.runnerEnv` is the runner's environment (default: `process.env`, read once when
 * the layer is built: the runner's environment does not change while it runs).
 */
export const layer = (options: { readonly runnerEnv?: RunnerEnv | undefined } = {}): Layer.Layer<Redactor> =>
  Layer.effect(
    Redactor,
    Effect.sync(() => make(options.runnerEnv ?? { ...process.env }))
  )
