/**
 * The facts the `symlink_outside_tree` guard needs (docs/guards.md): every symlink of the base and candidate trees
 * with its target, read with git in the main repository. The rule itself is pure (`@switchyard/core` guards.ts).
 */
import type { CommandExecutor } from "@effect/platform"
import { MAX_SYMLINK_TARGET_BYTES, SandboxError, SYMLINK_MODE, type SymlinkFact } from "@switchyard/core"
import { Effect } from "effect"
import * as ProcessRunner from "../ProcessRunner/ProcessRunner.js"

/** The symlinks of both trees, as `GuardInput.symlinks` takes them. */
export interface SymlinkFacts {
  readonly base: ReadonlyArray<SymlinkFact>
  readonly candidate: ReadonlyArray<SymlinkFact>
}

/** One mode-120000 entry of `git ls-tree -r -l`. */
interface TreeLink {
  readonly path: string
  readonly oid: string
  readonly size: number
}

/** `<mode> SP <type> SP <object> SP+ <size> TAB <path>` (`ls-tree -l -z`: paths are not quoted). */
const LS_TREE_ENTRY = /^(\d{6}) (\w+) ([0-9a-f]+) +(\d+|-)\t([\s\S]+)$/

/** The symlinks of one `git ls-tree -r -l -z` listing. */
const linksOf = (listing: string): Array<TreeLink> =>
  listing.split("\0").flatMap((entry) => {
    const m = LS_TREE_ENTRY.exec(entry)
    return m !== null && m[1] === SYMLINK_MODE && m[2] === "blob" && m[4] !== "-"
      ? [{ path: m[5]!, oid: m[3]!, size: Number(m[4]) }]
      : []
  })

/**
 * True when a `git diff --raw -z --no-renames` output has an entry whose old or new mode is a symlink's.
 * Records are `:<old mode> <new mode> <old oid> <new oid> <status>` NUL `<path>` NUL.
 */
const touchesSymlink = (raw: string): boolean => {
  const parts = raw.split("\0")
  for (let i = 0; i + 1 < parts.length; i += 2) {
    const [oldMode, newMode] = parts[i]!.replace(/^:/, "").split(" ")
    if (oldMode === SYMLINK_MODE || newMode === SYMLINK_MODE) return true
  }
  return false
}

const BATCH_HEADER = /^([0-9a-f]+) blob (\d+)$/

/**
 * Splits the raw stdout of `git cat-file --batch` (per object `<oid> blob <size>` LF `<bytes>` LF, in the order
 * asked) into blobs by object name. Fails `SandboxError` when an object is missing or the output does not parse.
 */
const readBatch = (out: Uint8Array, oids: ReadonlyArray<string>): Effect.Effect<ReadonlyMap<string, Uint8Array>, SandboxError> =>
  Effect.suspend(() => {
    const decoder = new TextDecoder()
    const blobs = new Map<string, Uint8Array>()
    let at = 0
    for (const oid of oids) {
      const eol = out.indexOf(0x0a, at)
      const header = eol < 0 ? "" : decoder.decode(out.subarray(at, eol))
      const m = BATCH_HEADER.exec(header)
      const start = eol + 1
      const end = start + Number(m?.[2] ?? 0)
      if (m === null || m[1] !== oid || end >= out.length || out[end] !== 0x0a) {
        return Effect.fail(
          new SandboxError({
            operation: "git cat-file --batch",
            reason: `cannot read the symlink target ${oid}: ${header === "" ? "no output" : header}`
          })
        )
      }
      blobs.set(oid, out.subarray(start, end))
      at = end + 1
    }
    return Effect.succeed(blobs)
  })

/**
 * Every symlink (mode 120000) of `base` and of `commit`, with its target bytes, for `GuardInput.symlinks`.
 * - Both lists are empty when `git diff --raw base commit` shows no entry with a symlink mode on either side: the
 *   two trees then have the same links, so no link can resolve differently (one process in the common case).
 * - Otherwise: one `git ls-tree -r -l -z` per tree and ONE `git cat-file --batch` for all the targets (each
 *   object once). A target over {@link MAX_SYMLINK_TARGET_BYTES} bytes is not read: the fact gives its `size`
 *   only, which the rule refuses.
 * Paths are decoded as UTF-8 (git's raw bytes); targets are left as bytes, so the rule can refuse invalid UTF-8.
 * Fails `SandboxError` when git fails or its output does not parse. Runs in `repoRoot` (the main repository).
 */
export const symlinkFacts = (
  repoRoot: string,
  base: string,
  commit: string
): Effect.Effect<SymlinkFacts, SandboxError, CommandExecutor.CommandExecutor> =>
  Effect.gen(function*() {
    const git = (args: ReadonlyArray<string>) => ProcessRunner.runGit(args, repoRoot)
    const raw = yield* git(["diff", "--raw", "-z", "--no-renames", "--no-color", "--no-ext-diff", base, commit, "--"])
    if (!touchesSymlink(raw)) return { base: [], candidate: [] }
    const baseLinks = linksOf(yield* git(["ls-tree", "-r", "-l", "-z", "--full-tree", base]))
    const candidateLinks = linksOf(yield* git(["ls-tree", "-r", "-l", "-z", "--full-tree", commit]))
    const toRead = [
      ...new Map([...baseLinks, ...candidateLinks].filter((l) => l.size <= MAX_SYMLINK_TARGET_BYTES).map((l) => [l.oid, l.size]))
    ]
    const blobs = toRead.length === 0 ? new Map<string, Uint8Array>() : yield* Effect.gen(function*() {
      const out = yield* ProcessRunner.gitBytes(["cat-file", "--batch"], repoRoot, {
        stdin: toRead.map(([oid]) => `${oid}\n`).join(""),
        // Exactly what the batch prints: a header line (oid, " blob ", size) and the blob plus LF per object.
        maxStdoutBytes: toRead.reduce((sum, [oid, size]) => sum + oid.length + 28 + size, 0)
      })
      if (out.exitCode !== 0) {
        return yield* new SandboxError({
          operation: "git cat-file --batch",
          reason: out.stderr.trim() || `exited ${out.exitCode}`
        })
      }
      return yield* readBatch(out.stdout, toRead.map(([oid]) => oid))
    })
    const fact = (l: TreeLink): SymlinkFact => {
      const target = blobs.get(l.oid)
      return target === undefined ? { path: l.path, target: "", size: l.size } : { path: l.path, target }
    }
    return { base: baseLinks.map(fact), candidate: candidateLinks.map(fact) }
  }).pipe(Effect.withLogSpan("symlinks"))
