/**
 * Redactor: makes text safe to store. One rule everywhere (patterns.ts): the runner's secret values and their
 * JSON-escaped forms become `[REDACTED]`, then known token formats are masked to their first 4 characters.
 * It is applied at the boundaries where text leaves the runner's memory: the stations' transcripts, logs and
 * report text, the `CommandResult`s the verifier produces, what the attempt puts in a verdict, and
 * `EvidenceStore.put`, the last gate before a bundle reaches disk (docs/security.md, "Redaction").
 * Implementation: `EnvRedactor` (@switchyard/node), built once from the runner's environment; `staticRedactor`
 * here for a fixed list of values (tests, embeddings).
 */
import { CommandResult } from "@switchyard/domain"
import { Context, Layer } from "effect"
import { maskTokens, usableSecrets, withJsonEscaped } from "./patterns.js"

export interface RedactorShape {
  /**
   * The secret values this redactor removes (each at least 8 characters, longest first). For detection only (the
   * `secret_in_diff` guard looks for them in a diff): never store or log them.
   */
  readonly secrets: ReadonlyArray<string>
  /** `text` with every secret value (raw or JSON-escaped) replaced by `[REDACTED]` and token formats masked. Pure. */
  readonly redact: (text: string) => string
  /** `result` with its command, output head and output tail redacted (`redact`); the rest unchanged. Pure. */
  readonly redactResult: (result: CommandResult) => CommandResult
}

export class Redactor extends Context.Tag("switchyard/Redactor")<Redactor, RedactorShape>() {}

/**
 * The redactor for `secrets` (values shorter than 8 characters are ignored: they would match ordinary text).
 * With no usable value it still masks token formats. Pure.
 */
export const makeRedactor = (secrets: ReadonlyArray<string>): RedactorShape => {
  const values = usableSecrets(secrets)
  // Longest first, so a value that contains another is replaced whole (as `patterns.redact` does).
  const all = usableSecrets(withJsonEscaped(values))
  const redact = (text: string): string =>
    maskTokens(all.reduce((acc, value) => (acc.includes(value) ? acc.split(value).join("[REDACTED]") : acc), text))
  return Redactor.of({
    secrets: values,
    redact,
    redactResult: (result) =>
      new CommandResult({
        ...result,
        command: redact(result.command),
        outputHead: redact(result.outputHead),
        outputTail: redact(result.outputTail)
      })
  })
}

/** A `Redactor` layer for a fixed list of secret values (see `makeRedactor`). */
export const staticRedactor = (secrets: ReadonlyArray<string>): Layer.Layer<Redactor> =>
  Layer.succeed(Redactor, makeRedactor(secrets))
