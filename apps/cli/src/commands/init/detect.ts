/**
 * What `switchyard init` reads from a JavaScript repository to fill in WORKFLOW.md: the package manager (from the
 * lockfile at the root) and the root package.json's scripts. I/O (FileSystem); the choice of commands is core's
 * (`installCommand`, `validationCommands`, pure).
 */
import { FileSystem } from "@effect/platform"
import { installCommand, LOCKFILES, type PackageManager, validationCommands, type WorkflowSetup } from "@switchyard/core"
import { Effect, Either, ParseResult, Schema } from "effect"
import * as NodePath from "node:path"

/** The part of package.json init reads: its scripts (other fields are ignored). */
const PackageJson = Schema.parseJson(
  Schema.Struct({ scripts: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String })) })
)

/** What init detected, with the one-line reports it prints. */
export interface Detected {
  readonly setup: WorkflowSetup
  /** Lines for stdout: what was chosen, one each. */
  readonly chosen: ReadonlyArray<string>
  /** Lines for stderr (e.g. a malformed package.json). */
  readonly warnings: ReadonlyArray<string>
}

/** The first line of a parse error, without the schema's tree. */
const oneLine = (error: ParseResult.ParseError): string => {
  const first = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  const path = first === undefined || first.path.length === 0 ? "" : `${first.path.join(".")}: `
  return `${path}${(first?.message ?? "invalid").split("\n")[0]}`
}

/**
 * Detects the package manager from the first lockfile of `LOCKFILES` at `root` (none: no install hook) and the
 * validation from `root/package.json`'s `typecheck`, `lint` and `test` scripts (run with the detected manager, or
 * npm when there is no lockfile). A package.json that is not JSON or whose `scripts` is not a map of strings is
 * one warning and no validation. Never fails: an unreadable file counts as absent.
 */
export const detectSetup = (root: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const exists = (file: string) => fs.exists(NodePath.join(root, file)).pipe(Effect.orElseSucceed(() => false))
    let found: readonly [string, PackageManager] | null = null
    for (const entry of LOCKFILES) {
      if (yield* exists(entry[0])) {
        found = entry
        break
      }
    }
    const chosen: Array<string> = []
    const warnings: Array<string> = []
    const install = found === null ? null : installCommand(found[1])
    chosen.push(
      found === null
        ? "package manager: none detected (no lockfile), so no install hook"
        : `package manager: ${found[1]} (${found[0]}); install hook: ${install}`
    )
    const runner: PackageManager = found?.[1] ?? "npm"
    let validation: ReadonlyArray<string> = []
    const text = yield* fs.readFileString(NodePath.join(root, "package.json")).pipe(Effect.option)
    if (text._tag === "None") {
      chosen.push("validation: none (no package.json)")
    } else {
      const decoded = Schema.decodeUnknownEither(PackageJson)(text.value)
      if (Either.isLeft(decoded)) {
        warnings.push(`warning: package.json is malformed (${oneLine(decoded.left)}), so no validation was guessed`)
        chosen.push("validation: none (package.json is malformed)")
      } else {
        validation = validationCommands(runner, decoded.right.scripts ?? {})
        chosen.push(
          validation.length === 0
            ? "validation: none (package.json has no typecheck, lint or test script)"
            : `validation: ${validation.join(", ")}`
        )
      }
    }
    return { setup: { install, validation }, chosen, warnings } satisfies Detected
  })
