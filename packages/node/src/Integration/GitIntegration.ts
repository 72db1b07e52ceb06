/**
 * GitIntegration: the `Integration` after PR_READY, as the caller's `integration` config says (the attempt's
 * WORKFLOW.md snapshot, passed to `publish`; nothing here reads the workflow):
 * - `push: true` pushes `switchyard/<id>` to `remote` from the repository root;
 * - `pr_command` (e.g. `gh pr create --head {{ branch }} --title {{ title }} --body-file {{ evidence_md }}`), a
 *   Liquid template whose every output is shell-quoted, runs with `sh -c` in the repository root; the last URL it
 *   prints is the PR URL.
 * Nothing here fails: every problem is text in the `IntegrationResult`, so a failure to open a PR never loses the
 * verified change (the branch and the evidence are already stored).
 */
import { CommandExecutor } from "@effect/platform"
import { Integration, type IntegrationShape, Redactor } from "@switchyard/core"
import type { EvidenceBundle } from "@switchyard/domain"
import { Duration, Effect, Either, Layer, Option } from "effect"
import { Liquid } from "liquidjs"
import * as ProcessRunner from "../ProcessRunner/ProcessRunner.js"

/** Wall-clock limit for `git push`, in ms. */
export const PUSH_TIMEOUT_MS = 300_000
/** Wall-clock limit for `integration.pr_command`, in ms. */
export const PR_COMMAND_TIMEOUT_MS = 300_000
/** Characters of a failure's output kept in the result. */
const ERROR_CHARS = 1_000

/** The variables `pr_command` may use. */
export interface PrCommandVariables {
  /** The issue title. */
  readonly title: string
  /** The branch, `switchyard/<id>`. */
  readonly branch: string
  /** Absolute path of the stored evidence.md (good for `--body-file`). */
  readonly evidence_md: string
  /** The bundle's one-line summary. */
  readonly summary: string
  readonly issue_id: string
  /** The verified commit on the branch (empty when unknown). */
  readonly commit: string
}

/** POSIX shell single-quoting: the value becomes exactly one word, whatever it contains. */
export const shellQuote = (value: string): string => `'${value.replace(/'/g, `'\\''`)}'`

/** The longest `pr_command` template, in characters (liquidjs `parseLimit`). */
const MAX_PR_COMMAND_CHARS = 64 * 1024
/** The longest a `pr_command` render may take, in ms (liquidjs `renderLimit`). */
const PR_RENDER_LIMIT_MS = 1_000
/** What one render may allocate, in liquidjs units (elements and characters; liquidjs `memoryLimit`). */
const PR_MEMORY_LIMIT = 1024 * 1024

/** A value as liquidjs writes it (strings as they are; nothing else is in the scope but strings). */
const text = (value: unknown): string => (value === null || value === undefined ? "" : String(value))

/**
 * The `pr_command` engine: strict like the prompt's (an unknown variable or filter is an error), and every output
 * (`{{ }}`, `{% echo %}`, `{% cycle %}`) goes through `shellQuote` (liquidjs `outputEscape`). `shellquote` is the
 * explicit spelling of the same thing (a "raw" filter, so the value is quoted once, not twice); liquidjs's own
 * `raw`, the one way to skip the escape, is not available.
 */
const prEngine = (() => {
  const engine = new Liquid({
    strictVariables: true,
    strictFilters: true,
    ownPropertyOnly: true,
    templates: {},
    outputEscape: (value: unknown) => shellQuote(text(value)),
    parseLimit: MAX_PR_COMMAND_CHARS,
    renderLimit: PR_RENDER_LIMIT_MS,
    memoryLimit: PR_MEMORY_LIMIT
  })
  engine.unregisterFilter("raw")
  engine.registerFilter("shellquote", { raw: true, handler: (value: unknown) => shellQuote(text(value)) })
  return engine
})()

/** A liquidjs error as one sentence: `undefined variable: body (line 1, column 9)`. */
const renderReason = (error: unknown): string => {
  const message = error instanceof Error ? error.message : String(error)
  const first = message.split("\n")[0] ?? message
  return first.replace(/, line:(\d+), col:(\d+)$/, " (line $1, column $2)")
}

/**
 * Renders `pr_command` with liquidjs: each output (`{{ name }}`, `{{ name | upcase }}`, `{{ name | shellquote }}`,
 * the same as `{{ name }}`) becomes its value SHELL-QUOTED, so a title with quotes, `$(…)`, backticks or `;` stays
 * one argument and never runs. Do not put quotes around a placeholder yourself. Tags (`{% if %}`, …) and liquidjs's
 * filters work; an unknown variable or filter, or a syntax error, is an error (Left, one sentence), like the strict
 * prompt renderer. Pure.
 */
export const renderPrCommand = (template: string, variables: PrCommandVariables): Either.Either<string, string> =>
  Either.try({
    try: () => prEngine.parseAndRenderSync(template, { ...variables }),
    catch: renderReason
  })

/** The last `http(s)://…` URL in `output` (the last line holding one wins), or null. */
export const lastUrl = (output: string): string | null => {
  const lines = output.split(/\r?\n/)
  for (let i = lines.length - 1; i >= 0; i--) {
    const urls = lines[i]!.match(/https?:\/\/[^\s'"<>]+/g)
    if (urls !== null) return urls[urls.length - 1]!
  }
  return null
}

const lastChars = (text: string): string => {
  const trimmed = text.trim()
  return trimmed.length > ERROR_CHARS ? `…${trimmed.slice(-ERROR_CHARS)}` : trimmed
}

const variablesFor = (bundle: EvidenceBundle, branch: string, evidenceMd: string): PrCommandVariables => ({
  title: bundle.task.title,
  branch,
  evidence_md: evidenceMd,
  summary: bundle.summary,
  issue_id: bundle.issueId,
  commit: bundle.fingerprint?.commit ?? bundle.diff?.commit ?? ""
})

/** Options of {@link make} and {@link layer}. */
export interface GitIntegrationOptions {
  /** The repository's top level: where `git push` and `pr_command` run. */
  readonly repoRoot: string
}

/**
 * Builds the integration for the repository at `options.repoRoot`. `publish`, with the `integration` config given:
 * - returns null when `integration.push` is false and `integration.pr_command` is null;
 * - with `push`, runs `git push --force-with-lease=refs/heads/<branch> <remote> refs/heads/<branch>:refs/heads/<branch>`
 *   (a branch Switchyard pushed earlier may be replaced, one someone else moved may not), limited to
 *   {@link PUSH_TIMEOUT_MS}; `pushed` false and `pushError` = git's message on failure;
 * - with `pr_command`, renders it ({@link renderPrCommand}) and runs it with `sh -c` in the repository root,
 *   limited to {@link PR_COMMAND_TIMEOUT_MS}, with `SWITCHYARD_ISSUE_ID`, `SWITCHYARD_BRANCH`,
 *   `SWITCHYARD_EVIDENCE_MD` and `SWITCHYARD_PR_TITLE` in its environment. The last URL in its output (stdout
 *   and stderr together) is `prUrl`; a non-zero exit, a timeout or a render error is `prError`. It does not run
 *   when the push failed.
 * Error texts are cut to their last 1,000 characters and go through the `Redactor` (secret env values and token
 * formats). Never fails.
 */
export const make = (
  options: GitIntegrationOptions
): Effect.Effect<IntegrationShape, never, CommandExecutor.CommandExecutor | Redactor> =>
  Effect.gen(function*() {
    const redactor = yield* Redactor
    const executor = yield* CommandExecutor.CommandExecutor
    const withExecutor = Effect.provideService(CommandExecutor.CommandExecutor, executor)
    const repoRoot = options.repoRoot

    const push = (remote: string, branch: string) =>
      Effect.gen(function*() {
        const ref = `refs/heads/${branch}`
        const args = ["push", "--porcelain", `--force-with-lease=${ref}`, remote, `${ref}:${ref}`]
        const out = yield* withExecutor(ProcessRunner.git(args, repoRoot)).pipe(
          Effect.timeoutOption(Duration.millis(PUSH_TIMEOUT_MS)),
          Effect.either
        )
        if (Either.isLeft(out)) return { pushed: false, pushError: redactor.redact(lastChars(out.left.reason)) }
        if (Option.isNone(out.right)) {
          return { pushed: false, pushError: `git push to ${remote} timed out after ${PUSH_TIMEOUT_MS} ms` }
        }
        const result = out.right.value
        if (result.exitCode !== 0) {
          const text = lastChars(`${result.stdout}\n${result.stderr}`) || `git push exited ${result.exitCode}`
          return { pushed: false, pushError: redactor.redact(text) }
        }
        yield* Effect.logInfo("branch pushed").pipe(Effect.annotateLogs({ remote, branch }))
        return { pushed: true, pushError: null }
      })

    const openPr = (template: string, variables: PrCommandVariables) =>
      Effect.gen(function*() {
        const rendered = renderPrCommand(template, variables)
        if (Either.isLeft(rendered)) return { prUrl: null, prError: `integration.pr_command: ${rendered.left}` }
        const result = yield* withExecutor(ProcessRunner.runShell({
          command: rendered.right,
          cwd: repoRoot,
          timeoutMs: PR_COMMAND_TIMEOUT_MS,
          env: {
            SWITCHYARD_ISSUE_ID: variables.issue_id,
            SWITCHYARD_BRANCH: variables.branch,
            SWITCHYARD_EVIDENCE_MD: variables.evidence_md,
            SWITCHYARD_PR_TITLE: variables.title
          }
        }))
        const output = result.outputHead === result.outputTail
          ? result.outputTail
          : `${result.outputHead}\n${result.outputTail}`
        if (!result.passed) {
          const how = result.timedOut
            ? `timed out after ${PR_COMMAND_TIMEOUT_MS} ms`
            : result.exitCode === null
            ? `could not run (${result.signal ?? "no exit code"})`
            : `exited ${result.exitCode}`
          const tail = lastChars(result.outputTail)
          return { prUrl: null, prError: redactor.redact(`pr_command ${how}${tail === "" ? "" : `: ${tail}`}`) }
        }
        const url = lastUrl(redactor.redact(output))
        yield* Effect.logInfo("pr_command finished").pipe(Effect.annotateLogs({ prUrl: url ?? "none" }))
        return { prUrl: url, prError: null }
      })

    const publish: IntegrationShape["publish"] = ({ bundle, branch, config: cfg, evidenceMd }) =>
      Effect.gen(function*() {
        if (!cfg.push && cfg.pr_command === null) return null
        const pushed = cfg.push ? yield* push(cfg.remote, branch) : { pushed: null, pushError: null }
        const pr = cfg.pr_command === null
          ? { prUrl: null, prError: null }
          : pushed.pushed === false
          ? { prUrl: null, prError: "pr_command not run: the push failed" }
          : yield* openPr(cfg.pr_command, variablesFor(bundle, branch, evidenceMd))
        return { ...pushed, ...pr }
      }).pipe(Effect.annotateLogs({ issueId: bundle.issueId, stage: "integration" }))

    return Integration.of({ publish })
  })

/** The `Integration` layer for one repository (add it to the line to enable `integration.*` in WORKFLOW.md). */
export const layer = (
  options: GitIntegrationOptions
): Layer.Layer<Integration, never, CommandExecutor.CommandExecutor | Redactor> => Layer.effect(Integration, make(options))
