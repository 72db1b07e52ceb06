/**
 * What every station does around the agent process: prepare the run directory (prompt, task packet, result file),
 * build the `SWITCHYARD_*` variables, read the agent's claim afterwards, and describe a run that never started.
 *
 * The agent gets (the files live in its io directory `ioDir`, outside the sandbox's work tree but writable by the
 * agent; copies of the prompt, task packet and result file are kept in `runDir` for the evidence):
 * - `$SWITCHYARD_PROMPT_FILE` (`prompt.md`): the rendered prompt (for a revision: prompt, blank line, feedback);
 * - `$SWITCHYARD_TASK_FILE` (`task.json`): the task packet, Schema-encoded;
 * - `$SWITCHYARD_RESULT_FILE` (`result.json`): where it may write an `AgentClaim` as JSON;
 * - `$SWITCHYARD_ISSUE_ID`, `$SWITCHYARD_ATTEMPT`; on a revision also `$SWITCHYARD_REVISION` (1, 2, ...) and
 *   `$SWITCHYARD_FEEDBACK` (the verifier's failure summary).
 */
import type { FileSystem, Path } from "@effect/platform"
import type { AgentRunInput } from "@switchyard/core"
import { AgentClaim, AgentReport, TaskPacket } from "@switchyard/domain"
import { Effect, Either, ParseResult, Schema } from "effect"
import { readRegularFile } from "../internal/files.js"

/** File name (in `runDir`) of the rendered prompt; `$SWITCHYARD_PROMPT_FILE`. */
export const PROMPT_FILE = "prompt.md"
/** File name (in `runDir`) of the Schema-encoded `TaskPacket`; `$SWITCHYARD_TASK_FILE`. */
export const TASK_FILE = "task.json"
/** File name (in `runDir`) where the agent may write its `AgentClaim`; `$SWITCHYARD_RESULT_FILE`. */
export const RESULT_FILE = "result.json"
/** A result file larger than this (bytes) is not read; it does not count as a claim. */
export const MAX_RESULT_BYTES = 1_000_000

const decodeClaim = Schema.decodeUnknownEither(Schema.parseJson(AgentClaim))
const encodeTask = Schema.encode(Schema.parseJson(TaskPacket, { space: 2 }))

/** The three files of a run (in the agent's io directory), and where their evidence copies go. */
export interface RunPaths {
  readonly promptFile: string
  readonly taskFile: string
  readonly resultFile: string
  /** `runDir`: the evidence directory (never visible to the agent). */
  readonly evidenceDir: string
}

/** The prompt a station that cannot resume sends for a revision: the original prompt, a blank line, the feedback. */
export const revisionPrompt = (input: AgentRunInput): string =>
  input.continuation === null ? input.prompt : `${input.prompt}\n\n${input.continuation.feedback}`

/**
 * Creates `runDir` and `ioDir` and writes `prompt.md` (`revisionPrompt(input)`) and `task.json` into both. The
 * result file is removed before a first run, so a stale claim never counts; before a revision it is kept, so the
 * claim stands unless the agent writes a new one. Fails with the platform or encoding error.
 */
export const prepare = (fs: FileSystem.FileSystem, path: Path.Path, input: AgentRunInput) =>
  Effect.gen(function*() {
    const paths: RunPaths = {
      promptFile: path.join(input.ioDir, PROMPT_FILE),
      taskFile: path.join(input.ioDir, TASK_FILE),
      resultFile: path.join(input.ioDir, RESULT_FILE),
      evidenceDir: input.runDir
    }
    const prompt = revisionPrompt(input)
    const task = yield* encodeTask(input.packet)
    yield* fs.makeDirectory(input.home, { recursive: true })
    for (const dir of [input.runDir, input.ioDir]) {
      yield* fs.makeDirectory(dir, { recursive: true })
      yield* fs.writeFileString(path.join(dir, PROMPT_FILE), prompt)
      yield* fs.writeFileString(path.join(dir, TASK_FILE), task)
      if (input.continuation === null) yield* fs.remove(path.join(dir, RESULT_FILE), { force: true })
    }
    return paths
  })

/** The `SWITCHYARD_*` variables of a run (see the module docs). */
export const switchyardEnv = (input: AgentRunInput, paths: RunPaths): Record<string, string> => ({
  SWITCHYARD_PROMPT_FILE: paths.promptFile,
  SWITCHYARD_TASK_FILE: paths.taskFile,
  SWITCHYARD_RESULT_FILE: paths.resultFile,
  SWITCHYARD_ISSUE_ID: input.issue.id,
  SWITCHYARD_ATTEMPT: String(input.attempt),
  ...(input.continuation === null ? {} : {
    SWITCHYARD_REVISION: String(input.continuation.turn),
    SWITCHYARD_FEEDBACK: input.continuation.feedback
  })
})

/** One line per issue, e.g. `claim: Expected "NO_OP", actual "DONE"` (the tree format is too long for evidence). */
const describeParseError = (error: ParseResult.ParseError): string =>
  ParseResult.ArrayFormatter.formatErrorSync(error)
    .map((issue) => `${issue.path.length === 0 ? "(root)" : issue.path.join(".")}: ${issue.message}`)
    .join("; ")

/** The claim in the result file, or why there is none. */
export interface ClaimRead {
  readonly claim: AgentClaim | null
  readonly claimError: string | null
}

/**
 * Reads and decodes the result file the agent wrote (`paths.resultFile`, hostile input: a regular file of at most
 * `MAX_RESULT_BYTES`, never followed through a symlink) and keeps a copy in the evidence directory. Never fails.
 */
export const readClaim = (fs: FileSystem.FileSystem, paths: Pick<RunPaths, "resultFile" | "evidenceDir">): Effect.Effect<ClaimRead> =>
  Effect.gen(function*() {
    const read = yield* readRegularFile(paths.resultFile, MAX_RESULT_BYTES)
    if (read._tag === "Unreadable") {
      return {
        claim: null,
        claimError: read.reason === "missing" ? "no result file (the agent made no claim)" : `the result file was not read: ${read.detail}`
      }
    }
    const text = read.text
    yield* fs.writeFileString(`${paths.evidenceDir}/${RESULT_FILE}`, text).pipe(Effect.ignore)
    const decoded = decodeClaim(text)
    return Either.isRight(decoded)
      ? { claim: decoded.right, claimError: null }
      : {
        claim: null,
        claimError: `the result file is not a valid claim: ${describeParseError(decoded.left)}`
      }
  })

/** A report for an agent that never ran (`crashed`, no exit code). */
export const notRun = (kind: string, command: string, reason: string): AgentReport =>
  AgentReport.make({
    kind,
    command,
    exitCode: null,
    signal: null,
    timedOut: false,
    crashed: true,
    durationMs: 0,
    outputTail: reason,
    claim: null,
    claimError: "the agent did not run",
    summary: null,
    plan: null,
    question: null,
    residualRisk: null
  })

/** Quotes one argument for a POSIX shell when it needs it (for display: the report's `command`). */
export const shellQuote = (arg: string): string =>
  /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`

/** An argv as one shell-quoted line. */
export const commandLine = (argv: ReadonlyArray<string>): string => argv.map(shellQuote).join(" ")
