/**
 * Anti-cheat guards: pure checks the Verifier runs on the candidate's diff, so that the factory is right about
 * the terminal state even when the agent optimises for "the checks pass" rather than "the issue is fixed".
 * A guard never runs code: it reads the `git diff --binary base..candidate` text and a few plain facts (file
 * list, sizes, secret values) and says which rule the change breaks, with the diff lines that show it.
 * Rules, their triggers and their honest limits are documented in docs/guards.md.
 */
import { GuardLine, GuardResult } from "@switchyard/domain"
import { maskTokens, redact, secretKindsIn, usableSecrets } from "../Redactor/patterns.js"

import picomatch from "picomatch"

// ---------------------------------------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------------------------------------

/** Stable rule ids, in the order `runGuards` reports them (defined in @switchyard/domain, with the causes). */
import { GUARD_RULES, type GuardRule } from "@switchyard/domain"
export { GUARD_RULES, type GuardRule }

/** Re-exported from @switchyard/domain, where the evidence bundle needs them. */
export { GuardLine, GuardResult }

/** At most this many lines are kept per GuardResult. */
export const MAX_GUARD_LINES = 20

/** Default limit for one added file: 1 MiB (1,048,576 bytes). */
export const DEFAULT_MAX_ADDED_FILE_BYTES = 1024 * 1024

/** Lockfiles: protected, except alongside a dependency change of a manifest (see {@link isDependencyChange}). */
export const LOCKFILE_PATHS: ReadonlyArray<string> = [
  "**/pnpm-lock.yaml",
  "**/package-lock.json",
  "**/npm-shrinkwrap.json",
  "**/yarn.lock",
  "**/bun.lockb",
  "**/bun.lock"
]

/** Paths an agent may not touch unless `allow.protectedPaths` names them (picomatch globs, `dot: true`). */
export const PROTECTED_PATHS: ReadonlyArray<string> = [".github/**", ".switchyard/**", "WORKFLOW.md", ...LOCKFILE_PATHS]

/** The `package.json` fields whose change justifies a lockfile change. */
export const DEPENDENCY_FIELDS: ReadonlyArray<string> = [
  "dependencies",
  "devDependencies",
  "optionalDependencies",
  "peerDependencies"
]

/**
 * True when `command` (a `hooks.after_create` script) runs a frozen install, one that fails instead of rewriting a
 * lockfile that does not match the manifests: `pnpm install --frozen-lockfile` (or `pnpm i`), `npm ci`,
 * `yarn install --immutable` / `--frozen-lockfile`, `bun install --frozen-lockfile`. Null (no hook) is false.
 */
export const isFrozenInstall = (command: string | null): boolean =>
  command !== null && (
    /\bpnpm\s+(?:install|i)\b[^\n;&|]*--frozen-lockfile\b/.test(command) ||
    /\bnpm\s+ci\b/.test(command) ||
    /\byarn(?:\s+install)?\b[^\n;&|]*--(?:immutable|frozen-lockfile)\b/.test(command) ||
    /\bbun\s+(?:install|i)\b[^\n;&|]*--frozen-lockfile\b/.test(command)
  )

/** Test-runner configuration files (rule `validation_config_edited`). */
export const VALIDATION_CONFIG_PATHS: ReadonlyArray<string> = [
  "**/vitest.config.*",
  "**/vitest.workspace.*",
  "**/vite.config.*",
  "**/jest.config.*",
  "**/.mocharc*"
]

/** What a test file looks like (rule `deleted_test_file`, `removed_test_case`). */
export const TEST_FILE_GLOBS: ReadonlyArray<string> = [
  "**/*.test.*",
  "**/*.spec.*",
  "**/test/**",
  "**/tests/**",
  "**/__tests__/**"
]

// ---------------------------------------------------------------------------------------------------------
// Input
// ---------------------------------------------------------------------------------------------------------

/**
 * Everything the guards look at. Paths are repo-relative with `/` separators.
 * The optional fields default to: `scope` [] (anywhere), `allow` nothing, `maxAddedFileBytes`
 * {@link DEFAULT_MAX_ADDED_FILE_BYTES}, `addedFileSizes` [], `secretValues` [], `symlinks` none (then
 * `symlink_outside_tree` fails for any symlink the patch shows, since it could not check where it points).
 */
export interface GuardInput {
  /**
   * The FULL output of `git diff --binary base..candidate` with the default `a/` `b/` prefixes (never the
   * evidence copy cut to its size limit: a cut patch hides changes and fails `patch_incomplete`).
   */
  readonly patch: string
  /** Every changed path (e.g. `git diff --name-only base..candidate`; C-quoted names are accepted). */
  readonly files: ReadonlyArray<string>
  /** Path globs the change must stay inside (picomatch, `dot: true`); empty = anywhere. */
  readonly scope?: ReadonlyArray<string>
  readonly allow?: {
    /** True lets the change edit test scripts and test-runner config (WORKFLOW.md opt-in). */
    readonly validationConfig?: boolean
    /** Globs exempt from `protected_path`. */
    readonly protectedPaths?: ReadonlyArray<string>
  }
  /**
   * The `hooks.after_create` script the verify checkouts run (null: none). A lockfile change that a manifest's
   * dependency change justifies passes `protected_path` only when this is a frozen install
   * ({@link isFrozenInstall}), since that install is what proves the lockfile matches the manifests.
   * Omitted counts as null.
   */
  readonly installHook?: string | null
  /** Largest allowed added file, in bytes. */
  readonly maxAddedFileBytes?: number
  /** Size in bytes of each file the candidate adds. */
  readonly addedFileSizes?: ReadonlyArray<{ readonly path: string; readonly bytes: number }>
  /** Values of the runner's secret environment variables; values shorter than 8 characters are ignored. */
  readonly secretValues?: ReadonlyArray<string>
  /**
   * Every symlink (git mode 120000) of the candidate tree and of the base tree, with its target (rule
   * `symlink_outside_tree`). Both whole lists, not only the links the diff touches: a link is resolved through the
   * tree's other links, and the base tells a link the change sent outside from one that already pointed there.
   * Gather with `git ls-tree -r -z <tree>` (mode 120000) and one `git cat-file --batch` for the targets.
   */
  readonly symlinks?: {
    readonly base: ReadonlyArray<SymlinkFact>
    readonly candidate: ReadonlyArray<SymlinkFact>
  }
}

/** One symlink of a tree (git mode 120000): where it is, and what its blob holds, which is its target. */
export interface SymlinkFact {
  /** Repo-relative path of the link, `/`-separated. */
  readonly path: string
  /** The raw bytes of the link's blob (`git cat-file`), or a string already decoded from them. */
  readonly target: Uint8Array | string
  /**
   * The blob's size in bytes; defaults to the UTF-8 length of `target`. A gatherer may leave a blob larger than
   * {@link MAX_SYMLINK_TARGET_BYTES} unread (`target` "") and give only its size: it is refused either way.
   */
  readonly size?: number
}

// ---------------------------------------------------------------------------------------------------------
// Unified diff parser
// ---------------------------------------------------------------------------------------------------------

/** One line inside a hunk. `text` is the line without its `+`/`-`/` ` marker. */
export interface HunkLine {
  readonly kind: "context" | "added" | "removed"
  readonly text: string
}

/** One `@@ -a,b +c,d @@` hunk. */
export interface Hunk {
  readonly oldStart: number
  readonly newStart: number
  readonly lines: ReadonlyArray<HunkLine>
}

/** One file's change in a unified git diff. */
export interface FileDiff {
  /** Path before the change; null for an added file. */
  readonly oldPath: string | null
  /** Path after the change; null for a deleted file. */
  readonly newPath: string | null
  /** `copied` only appears when the diff was made with copy detection (`-C`). */
  readonly status: "added" | "deleted" | "renamed" | "copied" | "modified"
  /** True for `GIT binary patch` / `Binary files … differ` entries (no lines are available). */
  readonly binary: boolean
  /**
   * Git file modes (`100644`, `100755`, `120000` = symlink, `160000` = submodule) before and after, from the
   * `old mode`/`new mode`, `new file mode`/`deleted file mode` and `index a..b <mode>` lines; null when the patch
   * does not say (an added file has no old mode, a pure rename shows no mode at all).
   */
  readonly oldMode: string | null
  readonly newMode: string | null
  readonly hunks: ReadonlyArray<Hunk>
  /** Added lines, without the `+` marker, in order. */
  readonly added: ReadonlyArray<string>
  /** Removed lines, without the `-` marker, in order. */
  readonly removed: ReadonlyArray<string>
}

const C_ESCAPES: Record<string, number> = { a: 7, b: 8, t: 9, n: 10, v: 11, f: 12, r: 13, "\"": 34, "\\": 92 }

/**
 * Reads one C-quoted git path (`"a/t\303\251st\"q.txt"`) starting at `text[start] === '"'`.
 * Returns the decoded UTF-8 string and the index just after the closing quote, or null when unterminated.
 */
const readQuoted = (text: string, start: number): { value: string; end: number } | null => {
  const bytes: Array<number> = []
  const encoder = new TextEncoder()
  let i = start + 1
  while (i < text.length) {
    const ch = text[i]!
    if (ch === "\"") {
      return { value: new TextDecoder().decode(new Uint8Array(bytes)), end: i + 1 }
    }
    if (ch === "\\" && i + 1 < text.length) {
      const next = text[i + 1]!
      const octal = /^[0-7]{3}/.exec(text.slice(i + 1, i + 4))
      if (octal !== null) {
        bytes.push(parseInt(octal[0], 8))
        i += 4
        continue
      }
      const code = C_ESCAPES[next]
      if (code !== undefined) {
        bytes.push(code)
        i += 2
        continue
      }
    }
    const cp = text.codePointAt(i)!
    const s = String.fromCodePoint(cp)
    bytes.push(...encoder.encode(s))
    i += s.length
  }
  return null
}

/** Decodes a git path that may be C-quoted; a plain path is returned unchanged. */
const unquotePath = (raw: string): string => {
  if (raw.startsWith("\"")) {
    const q = readQuoted(raw, 0)
    if (q !== null) return q.value
  }
  return raw
}

const stripPrefix = (path: string, prefix: string): string => (path.startsWith(prefix) ? path.slice(prefix.length) : path)

/** Paths from `diff --git a/X b/Y`. Exact for quoted names and for X === Y; renames are fixed by `rename from/to`. */
const parseGitHeader = (rest: string): { oldPath: string; newPath: string } => {
  if (rest.startsWith("\"")) {
    const first = readQuoted(rest, 0)
    if (first !== null) {
      const tail = rest.slice(first.end + 1)
      return { oldPath: stripPrefix(first.value, "a/"), newPath: stripPrefix(unquotePath(tail), "b/") }
    }
  }
  const quotedSecond = rest.indexOf(" \"b/")
  if (quotedSecond > 0) {
    return {
      oldPath: stripPrefix(rest.slice(0, quotedSecond), "a/"),
      newPath: stripPrefix(unquotePath(rest.slice(quotedSecond + 1)), "b/")
    }
  }
  // Same name on both sides: "a/P b/P" has odd length and a space right in the middle.
  if (rest.length % 2 === 1) {
    const mid = (rest.length - 1) / 2
    const left = rest.slice(0, mid)
    const right = rest.slice(mid + 1)
    if (rest[mid] === " " && left.startsWith("a/") && right.startsWith("b/") && left.slice(2) === right.slice(2)) {
      return { oldPath: left.slice(2), newPath: right.slice(2) }
    }
  }
  const split = rest.indexOf(" b/")
  if (split > 0) return { oldPath: stripPrefix(rest.slice(0, split), "a/"), newPath: rest.slice(split + 3) }
  return { oldPath: rest, newPath: rest }
}

/** Path of a `--- X` / `+++ X` line: null for /dev/null; strips git's trailing tab (names with spaces). */
const parseFileLine = (raw: string, prefix: string): string | null => {
  const value = raw.endsWith("\t") ? raw.slice(0, -1) : raw
  if (value === "/dev/null") return null
  return stripPrefix(unquotePath(value), prefix)
}

const HUNK_HEADER = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/
/** `index <old>..<new>[ <mode>]`: the mode is only printed when both sides have the same one. */
const INDEX_LINE = /^index [0-9a-f]+\.\.[0-9a-f]+(?: (\d{6}))?$/

interface MutableFileDiff {
  oldPath: string | null
  newPath: string | null
  status: FileDiff["status"]
  binary: boolean
  oldMode: string | null
  newMode: string | null
  hunks: Array<{ oldStart: number; newStart: number; lines: Array<HunkLine> }>
}

const freeze = (d: MutableFileDiff): FileDiff => {
  const lines = d.hunks.flatMap((h) => h.lines)
  return {
    oldPath: d.status === "added" ? null : d.oldPath,
    newPath: d.status === "deleted" ? null : d.newPath,
    status: d.status,
    binary: d.binary,
    oldMode: d.status === "added" ? null : d.oldMode,
    newMode: d.status === "deleted" ? null : d.newMode,
    hunks: d.hunks,
    added: lines.filter((l) => l.kind === "added").map((l) => l.text),
    removed: lines.filter((l) => l.kind === "removed").map((l) => l.text)
  }
}

/**
 * Parses the text of `git diff [--binary] base..candidate` into one record per file.
 * Total (never throws): lines it does not understand are ignored. Hunk bodies are read by the line counts in
 * their `@@` header, so content lines that look like headers (`--- x`, `diff --git …`) are never misread.
 * Handles renames and copies (`rename from/to`, `copy from/to`), `new file mode`, `deleted file mode`, mode-only
 * changes, binary entries, `\ No newline at end of file`, names with spaces (trailing tab on `---`/`+++`) and
 * C-quoted names (`"t\303\251st.txt"`). Assumes git's default `a/` and `b/` prefixes.
 */
export const parsePatch = (patch: string): ReadonlyArray<FileDiff> => {
  const out: Array<FileDiff> = []
  let current: MutableFileDiff | null = null
  let hunk: { oldStart: number; newStart: number; lines: Array<HunkLine> } | null = null
  let oldLeft = 0
  let newLeft = 0
  const flush = () => {
    if (current !== null) out.push(freeze(current))
    current = null
    hunk = null
    oldLeft = 0
    newLeft = 0
  }
  for (const rawLine of patch.split("\n")) {
    if (hunk !== null && (oldLeft > 0 || newLeft > 0)) {
      const marker = rawLine[0]
      if (marker === " " || rawLine === "" || rawLine === "\r") {
        hunk.lines.push({ kind: "context", text: rawLine.slice(1) })
        oldLeft--
        newLeft--
        continue
      }
      if (marker === "-" && oldLeft > 0) {
        hunk.lines.push({ kind: "removed", text: rawLine.slice(1) })
        oldLeft--
        continue
      }
      if (marker === "+" && newLeft > 0) {
        hunk.lines.push({ kind: "added", text: rawLine.slice(1) })
        newLeft--
        continue
      }
      if (marker === "\\") continue
      // Malformed hunk (counts disagree with the body): fall back to header parsing for this line.
      oldLeft = 0
      newLeft = 0
    }
    const line = rawLine.endsWith("\r") ? rawLine.slice(0, -1) : rawLine
    if (line.startsWith("diff --git ")) {
      flush()
      const paths = parseGitHeader(line.slice("diff --git ".length))
      current = {
        oldPath: paths.oldPath,
        newPath: paths.newPath,
        status: "modified",
        binary: false,
        oldMode: null,
        newMode: null,
        hunks: []
      }
      continue
    }
    if (current === null) continue
    const cur: MutableFileDiff = current
    const hunkMatch = HUNK_HEADER.exec(line)
    if (hunkMatch !== null) {
      hunk = { oldStart: Number(hunkMatch[1]), newStart: Number(hunkMatch[3]), lines: [] }
      cur.hunks.push(hunk)
      oldLeft = hunkMatch[2] === undefined ? 1 : Number(hunkMatch[2])
      newLeft = hunkMatch[4] === undefined ? 1 : Number(hunkMatch[4])
    } else if (line.startsWith("new file mode ")) {
      cur.status = "added"
      cur.newMode = line.slice("new file mode ".length)
    } else if (line.startsWith("deleted file mode ")) {
      cur.status = "deleted"
      cur.oldMode = line.slice("deleted file mode ".length)
    } else if (line.startsWith("old mode ")) {
      cur.oldMode = line.slice("old mode ".length)
    } else if (line.startsWith("new mode ")) {
      cur.newMode = line.slice("new mode ".length)
    } else if (line.startsWith("index ") && cur.hunks.length === 0) {
      const mode = INDEX_LINE.exec(line)?.[1]
      if (mode !== undefined) {
        cur.oldMode = cur.oldMode ?? mode
        cur.newMode = cur.newMode ?? mode
      }
    } else if (line.startsWith("rename from ")) {
      cur.status = "renamed"
      cur.oldPath = unquotePath(line.slice("rename from ".length))
    } else if (line.startsWith("rename to ")) {
      cur.status = "renamed"
      cur.newPath = unquotePath(line.slice("rename to ".length))
    } else if (line.startsWith("copy from ")) {
      cur.status = "copied"
      cur.oldPath = unquotePath(line.slice("copy from ".length))
    } else if (line.startsWith("copy to ")) {
      cur.status = "copied"
      cur.newPath = unquotePath(line.slice("copy to ".length))
    } else if (line.startsWith("--- ") && cur.hunks.length === 0) {
      const p = parseFileLine(line.slice(4), "a/")
      if (p === null) cur.status = "added"
      else cur.oldPath = p
    } else if (line.startsWith("+++ ") && cur.hunks.length === 0) {
      const p = parseFileLine(line.slice(4), "b/")
      if (p === null) cur.status = "deleted"
      else cur.newPath = p
    } else if (line === "GIT binary patch" || (line.startsWith("Binary files ") && line.endsWith(" differ"))) {
      cur.binary = true
    }
  }
  flush()
  return out
}

// ---------------------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------------------

const matcher = (globs: ReadonlyArray<string>): (path: string) => boolean =>
  globs.length === 0 ? () => false : picomatch([...globs], { dot: true })

const testFileMatcher = matcher(TEST_FILE_GLOBS)

/**
 * True when `path` is a test file: it matches one of {@link TEST_FILE_GLOBS}
 * (`**\/*.test.*`, `**\/*.spec.*`, or sits under a `test/`, `tests/` or `__tests__/` directory).
 */
export const isTestFile = (path: string): boolean => testFileMatcher(path)

const JS_LIKE = /\.(?:[cm]?[jt]sx?)$/i
const isJsLike = (path: string): boolean => JS_LIKE.test(path)

const MAX_LINE_CHARS = 240

/** Builds the `lines` entry for evidence: secrets redacted, token formats masked, cut to 240 characters. */
const evidenceLine = (file: string, text: string, secrets: ReadonlyArray<string>): GuardLine => {
  const clean = maskTokens(redact(text, secrets))
  return { file, line: clean.length > MAX_LINE_CHARS ? `${clean.slice(0, MAX_LINE_CHARS - 1)}…` : clean }
}

const pathOf = (d: FileDiff): string => d.newPath ?? d.oldPath ?? ""

const describeChange = (d: FileDiff): string => {
  switch (d.status) {
    case "renamed":
      return `renamed ${d.oldPath} -> ${d.newPath}`
    case "copied":
      return `copied ${d.oldPath} -> ${d.newPath}`
    default:
      return d.status
  }
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? "" : "s"}`

const listPaths = (paths: ReadonlyArray<string>): string => {
  const shown = paths.slice(0, 5).join(", ")
  return paths.length > 5 ? `${shown} and ${paths.length - 5} more` : shown
}

// ---------------------------------------------------------------------------------------------------------
// Source scanning: strip comments and string contents so that commented-out tests do not count
// ---------------------------------------------------------------------------------------------------------

type ScanState = "code" | "block" | "template"

/**
 * Returns the code part of one JS/TS line: comments removed, string and template contents emptied (quotes
 * kept). `state` carries block comments and template literals across lines. Regex literals are not recognised.
 */
const scanLine = (text: string, state: ScanState): { code: string; state: ScanState } => {
  let code = ""
  let s: ScanState = state
  let i = 0
  while (i < text.length) {
    if (s === "block") {
      const end = text.indexOf("*/", i)
      if (end < 0) return { code, state: s }
      i = end + 2
      s = "code"
      code += " "
      continue
    }
    if (s === "template") {
      let j = i
      while (j < text.length && text[j] !== "`") j += text[j] === "\\" ? 2 : 1
      if (j >= text.length) return { code, state: s }
      code += "`"
      i = j + 1
      s = "code"
      continue
    }
    const ch = text[i]!
    const next = text[i + 1]
    if (ch === "/" && next === "/") break
    if (ch === "/" && next === "*") {
      s = "block"
      i += 2
      continue
    }
    if (ch === "\"" || ch === "'") {
      let j = i + 1
      while (j < text.length && text[j] !== ch) j += text[j] === "\\" ? 2 : 1
      code += ch + ch
      i = j + 1
      continue
    }
    if (ch === "`") {
      code += "`"
      s = "template"
      i += 1
      continue
    }
    code += ch
    i += 1
  }
  return { code, state: s }
}

/** Code text of each line on one side of a hunk (null for lines not on that side). */
const sideCode = (lines: ReadonlyArray<HunkLine>, side: "old" | "new"): Array<string | null> => {
  let state: ScanState = "code"
  return lines.map((l) => {
    if (l.kind === (side === "old" ? "added" : "removed")) return null
    const r = scanLine(l.text, state)
    state = r.state
    return r.code
  })
}

const countMatches = (re: RegExp, text: string): number => {
  return [...text.matchAll(re)].length
}

/** Live test declarations: `it(`, `test(`, `describe(`, `it.effect(`, `t.test(`, `layer(…)(`… (not skip/todo/only). */
const TEST_CASE =
  /(?<![\w$.])(?:t\s*\.\s*)?(?:it|test|describe|suite|layer)(?:\s*\.\s*(?:effect|live|scoped|scopedLive|each|concurrent|sequential|fails|prop|flakyTest|runIf|skipIf|for|extend|it|test|describe|suite))*\s*\(/g

/** Assertions: `expect(`, `expect.soft(`, `assert(`, `assert.equal(`, `t.assert(`, `assertEquals(`… */
const ASSERTION = /(?<![\w$.])expect\s*(?:\.\s*(?:soft|poll|element)\s*)?\(|(?<![\w$])assert\w*\s*[.(]/g

const SKIP_WORDS = "(?:skip|only|todo|skipIf|runIf)"
const TEST_API = "(?:it|test|describe|suite|context|specify|bench|layer|t|ctx|this)"
/** Skip/focus markers anywhere in JS/TS source: `it.skip`, `test.only`, `t.skip(`, `this.skip(`, `xit(`… */
const SKIP_ANY_SOURCE = new RegExp(
  `(?<![\\w$.])${TEST_API}(?:\\s*\\.\\s*\\w+)*?\\s*\\.\\s*${SKIP_WORDS}\\b` +
    `|(?<![\\w$.])(?:xit|xtest|xdescribe|xcontext|xspecify|xsuite)\\s*\\(` +
    `|(?<![\\w$])(?:skip|todo|only)\\s*:\\s*(?:true\\b|["'\`])`,
  "g"
)
/** Extra markers counted in test files only: any `.skip(`/`.only(`…, `fit(`/`fdescribe(`, `{ skip: <non-false> }`. */
const SKIP_TEST_FILE = new RegExp(
  `${SKIP_ANY_SOURCE.source}` +
    `|\\.\\s*${SKIP_WORDS}\\s*[(\`]` +
    `|(?<![\\w$.])(?:fit|fdescribe|ftest)\\s*\\(` +
    `|(?<![\\w$])(?:skip|todo|only)\\s*:\\s*(?!false\\b|undefined\\b|null\\b|0\\b)[^\\s,}]`,
  "g"
)

// ---------------------------------------------------------------------------------------------------------
// Symlink resolution (rule `symlink_outside_tree`): POSIX path resolution over the tree's own links, lexically
// ---------------------------------------------------------------------------------------------------------

/** Git's file mode for a symbolic link. */
export const SYMLINK_MODE = "120000"

/**
 * Longest chain of links followed to resolve one link (Linux's MAXSYMLINKS, 40); a longer chain is refused as a
 * loop, like the kernel refuses it with ELOOP.
 */
export const MAX_SYMLINK_HOPS = 40

/**
 * Longest target accepted, in bytes: Linux's PATH_MAX (4096) less the terminating NUL. symlink(2) refuses a longer
 * target (ENAMETOOLONG), so git cannot even check such a link out.
 */
export const MAX_SYMLINK_TARGET_BYTES = 4095

/**
 * Why a link is refused:
 * - `absolute`: a target starting with `/` (outside the tree whatever it names);
 * - `above_root`: `..` climbs above the tree root;
 * - `git_dir`: a path through a `.git` component (git metadata, never part of a tree);
 * - `loop`: a cycle of links, or a chain longer than {@link MAX_SYMLINK_HOPS};
 * - `nul`, `not_utf8`, `too_long`: a target no real path can be (NUL byte, invalid UTF-8, more than
 *   {@link MAX_SYMLINK_TARGET_BYTES} bytes).
 */
export type SymlinkRefusal = "absolute" | "above_root" | "git_dir" | "loop" | "nul" | "not_utf8" | "too_long"

/**
 * Where one link resolves. `Inside`: the repo-relative path it ends at (`""` = the root; the path need not exist).
 * `Refused`: `reason`, the link whose target is at fault (`link`, its decoded `target`), and `chain`: the links
 * followed from the resolved link to that one, both included.
 */
export type SymlinkResolution =
  | { readonly _tag: "Inside"; readonly path: string }
  | {
    readonly _tag: "Refused"
    readonly reason: SymlinkRefusal
    readonly link: string
    readonly target: string
    readonly chain: ReadonlyArray<string>
  }

const utf8Decoder = new TextDecoder("utf-8", { ignoreBOM: true })
const utf8Encoder = new TextEncoder()

interface DecodedTarget {
  /** The target as text (lossy for invalid UTF-8: shown in evidence only). */
  readonly text: string
  readonly bytes: Uint8Array
  readonly size: number
  readonly refusal: "nul" | "not_utf8" | "too_long" | null
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i])

/** Decodes a link's target; valid UTF-8 is exactly the bytes that survive a decode/encode round trip. */
const decodeTarget = (link: SymlinkFact): DecodedTarget => {
  const bytes = typeof link.target === "string" ? utf8Encoder.encode(link.target) : link.target
  const text = typeof link.target === "string" ? link.target : utf8Decoder.decode(link.target)
  const size = link.size ?? bytes.length
  const refusal = size > MAX_SYMLINK_TARGET_BYTES
    ? "too_long"
    : !sameBytes(utf8Encoder.encode(text), bytes)
    ? "not_utf8"
    : text.includes("\0")
    ? "nul"
    : null
  return { text, bytes, size, refusal }
}

/** Same target: same bytes, or (both unread) the same size. */
const sameTarget = (a: SymlinkFact, b: SymlinkFact): boolean => {
  const x = decodeTarget(a)
  const y = decodeTarget(b)
  return x.size === y.size && sameBytes(x.bytes, y.bytes)
}

interface Walk {
  readonly resolution: SymlinkResolution
  /** Longest chain of links this resolution followed, the link itself included. */
  readonly depth: number
  /** Cut at the nesting limit: true for this context only, so not cached. */
  readonly cut: boolean
}

/**
 * A resolver over one tree's links, caching each link's resolution (a link resolves to the same place wherever
 * a path meets it), so a tree of N links costs one walk of each target.
 */
const makeResolver = (links: ReadonlyMap<string, SymlinkFact>): (link: SymlinkFact) => SymlinkResolution => {
  const cache = new Map<string, Walk | "pending">()
  const walk = (link: SymlinkFact, nesting: number): Walk => {
    const decoded = decodeTarget(link)
    const refuse = (
      reason: SymlinkRefusal,
      at: { readonly link: string; readonly target: string; readonly chain: ReadonlyArray<string> } = {
        link: link.path,
        target: decoded.text,
        chain: []
      }
    ): SymlinkResolution => ({ _tag: "Refused", reason, link: at.link, target: at.target, chain: [link.path, ...at.chain] })
    if (nesting > MAX_SYMLINK_HOPS) return { resolution: refuse("loop"), depth: nesting, cut: true }
    cache.set(link.path, "pending")
    const finish = (resolution: SymlinkResolution, depth: number, cut: boolean): Walk => {
      const w: Walk = { resolution, depth, cut }
      if (cut) cache.delete(link.path)
      else cache.set(link.path, w)
      return w
    }
    if (decoded.refusal !== null) return finish(refuse(decoded.refusal), 1, false)
    if (decoded.text.startsWith("/")) return finish(refuse("absolute"), 1, false)
    // The link's own directory is made of real directories: git cannot store an entry below a symlink.
    const stack = link.path.split("/").slice(0, -1)
    const pending = decoded.text.split("/").reverse()
    let depth = 1
    let cut = false
    while (pending.length > 0) {
      const part = pending.pop()!
      if (part === "" || part === ".") continue
      if (part === "..") {
        if (stack.length === 0) return finish(refuse("above_root"), depth, cut)
        stack.pop()
        continue
      }
      if (part === ".git") return finish(refuse("git_dir"), depth, cut)
      stack.push(part)
      const key = stack.join("/")
      const next = links.get(key)
      if (next === undefined) continue
      const cached = cache.get(key)
      if (cached === "pending") {
        return finish(refuse("loop", { link: key, target: decodeTarget(next).text, chain: [key] }), MAX_SYMLINK_HOPS + 1, cut)
      }
      const inner = cached ?? walk(next, nesting + 1)
      cut = cut || inner.cut
      depth = Math.max(depth, inner.depth + 1)
      if (inner.resolution._tag === "Refused") return finish(refuse(inner.resolution.reason, inner.resolution), depth, cut)
      if (depth > MAX_SYMLINK_HOPS) return finish(refuse("loop", { link: key, target: decodeTarget(next).text, chain: [key] }), depth, cut)
      stack.length = 0
      if (inner.resolution.path !== "") stack.push(...inner.resolution.path.split("/"))
    }
    return finish({ _tag: "Inside", path: stack.join("/") }, depth, cut)
  }
  return (link) => walk(link, 1).resolution
}

/**
 * Where `link` resolves when checked out with the tree whose links are `links` (`link` itself may be among
 * them). Pure and lexical, like POSIX resolution in a checkout where every non-link path is a directory:
 * - the target is read relative to the link's directory; `.` and empty parts are skipped;
 * - `..` pops one part, and refuses (`above_root`) at the tree root;
 * - a prefix that is one of `links` is replaced by where that link resolves (so a chain is followed, and a chain
 *   through a link that leaves the tree leaves it too);
 * - refused also: an absolute target, a `.git` part, a cycle or a chain of more than {@link MAX_SYMLINK_HOPS}
 *   links, and a target with a NUL byte, invalid UTF-8, or more than {@link MAX_SYMLINK_TARGET_BYTES} bytes.
 * Source of the rule: threat model A13 (a "fix" that is a link to a file outside the repo); docs/guards.md.
 */
export const resolveSymlink = (link: SymlinkFact, links: ReadonlyArray<SymlinkFact>): SymlinkResolution =>
  makeResolver(new Map([...links, link].map((l) => [l.path, l])))(link)

// ---------------------------------------------------------------------------------------------------------
// Rules
// ---------------------------------------------------------------------------------------------------------

interface Ctx {
  readonly diffs: ReadonlyArray<FileDiff>
  /** Every path the change touches: `files` plus old and new paths from the patch. */
  readonly paths: ReadonlyArray<string>
  readonly files: ReadonlyArray<string>
  readonly scope: ReadonlyArray<string>
  readonly allowValidationConfig: boolean
  readonly allowProtected: ReadonlyArray<string>
  readonly installHook: string | null
  readonly maxAddedFileBytes: number
  readonly addedFileSizes: ReadonlyArray<{ readonly path: string; readonly bytes: number }>
  readonly secrets: ReadonlyArray<string>
  readonly symlinks: GuardInput["symlinks"] | null
}

const result = (rule: GuardRule, lines: ReadonlyArray<GuardLine>, failDetail: string, passDetail: string) =>
  new GuardResult({
    rule,
    passed: lines.length === 0,
    detail: lines.length === 0 ? passDetail : failDetail,
    lines: lines.slice(0, MAX_GUARD_LINES)
  })

const deletedTestFile = (ctx: Ctx): GuardResult => {
  const hits = ctx.diffs.filter((d) =>
    d.oldPath !== null && isTestFile(d.oldPath) && (d.status === "deleted" || d.status === "renamed")
  )
  return result(
    "deleted_test_file",
    hits.map((d) => evidenceLine(d.oldPath ?? "", describeChange(d), ctx.secrets)),
    `The change deletes or renames ${plural(hits.length, "test file")} (${
      listPaths(hits.map((d) => d.oldPath ?? ""))
    }); restore ${hits.length === 1 ? "it" : "them"} at the original path, or have a human approve the removal.`,
    "No test file was deleted or renamed."
  )
}

const removedTestCase = (ctx: Ctx): GuardResult => {
  const lines: Array<GuardLine> = []
  const losses: Array<string> = []
  for (const d of ctx.diffs) {
    const path = d.oldPath ?? d.newPath
    if (path === null || !isTestFile(path) || !isJsLike(path)) continue
    if (d.binary) {
      // git shows a JS/TS file as binary when it holds a NUL byte: its tests can no longer be counted.
      if (d.status !== "added") {
        losses.push(`${path} (changed as a binary file, so its tests cannot be counted)`)
        lines.push(evidenceLine(path, "binary change to a test source file", ctx.secrets))
      }
      continue
    }
    let oldCases = 0
    let newCases = 0
    let oldAsserts = 0
    let newAsserts = 0
    const evidence: Array<GuardLine> = []
    for (const h of d.hunks) {
      const oldCode = sideCode(h.lines, "old")
      const newCode = sideCode(h.lines, "new")
      h.lines.forEach((l, i) => {
        const o = oldCode[i]
        const n = newCode[i]
        const oc = o == null ? 0 : countMatches(TEST_CASE, o)
        const oa = o == null ? 0 : countMatches(ASSERTION, o)
        const nc = n == null ? 0 : countMatches(TEST_CASE, n)
        const na = n == null ? 0 : countMatches(ASSERTION, n)
        oldCases += oc
        oldAsserts += oa
        newCases += nc
        newAsserts += na
        if (l.kind === "removed" && oc + oa > 0) evidence.push(evidenceLine(path, `-${l.text}`, ctx.secrets))
        if (l.kind === "context" && oc + oa > nc + na) {
          evidence.push(evidenceLine(path, ` ${l.text} (commented out or turned into a string)`, ctx.secrets))
        }
      })
    }
    const parts: Array<string> = []
    if (newCases < oldCases) parts.push(`${plural(oldCases - newCases, "test case")}`)
    if (newAsserts < oldAsserts) parts.push(`${plural(oldAsserts - newAsserts, "assertion")}`)
    if (parts.length > 0) {
      losses.push(`${path} (${parts.join(", ")})`)
      lines.push(...evidence)
    }
  }
  return result(
    "removed_test_case",
    losses.length === 0 ? [] : lines.length === 0 ? [{ file: "", line: losses.join("; ") }] : lines,
    `The change removes test cases or assertions without adding as many back: ${
      listPaths(losses)
    }; keep the existing tests and assertions, or have a human approve their removal.`,
    "No test file lost test cases or assertions."
  )
}

const skipOrOnlyAdded = (ctx: Ctx): GuardResult => {
  const lines: Array<GuardLine> = []
  const offenders: Array<string> = []
  for (const d of ctx.diffs) {
    const path = d.newPath
    if (path === null || !isJsLike(path)) continue
    if (d.binary) {
      offenders.push(path)
      lines.push(evidenceLine(path, "binary change to a JS/TS source file (cannot be inspected for skips)", ctx.secrets))
      continue
    }
    const re = isTestFile(path) ? SKIP_TEST_FILE : SKIP_ANY_SOURCE
    // Marker lines the change removed, by trimmed text: re-adding one verbatim (a move) is not a new skip.
    const removedMarkers = new Map<string, number>()
    const added: Array<string> = []
    for (const h of d.hunks) {
      const oldCode = sideCode(h.lines, "old")
      const newCode = sideCode(h.lines, "new")
      h.lines.forEach((l, i) => {
        if (l.kind === "removed" && countMatches(re, oldCode[i] ?? "") > 0) {
          const key = l.text.trim()
          removedMarkers.set(key, (removedMarkers.get(key) ?? 0) + 1)
        }
        if (l.kind === "added" && countMatches(re, newCode[i] ?? "") > 0) added.push(l.text)
      })
    }
    const fresh = added.filter((text) => {
      const left = removedMarkers.get(text.trim()) ?? 0
      if (left === 0) return true
      removedMarkers.set(text.trim(), left - 1)
      return false
    })
    if (fresh.length > 0) {
      offenders.push(path)
      lines.push(...fresh.map((text) => evidenceLine(path, `+${text}`, ctx.secrets)))
    }
  }
  return result(
    "skip_or_only_added",
    lines,
    `The change adds skip/only/todo markers, or source the guard cannot read (${
      listPaths(offenders)
    }), which can silence tests; remove them so every test runs.`,
    "No skip, only or todo markers were added."
  )
}

const TEST_SCRIPT_KEY = /"(?:pre|post)?test[^"]*"\s*:|"(?:jest|mocha)"\s*:/
const validationConfigMatcher = matcher(VALIDATION_CONFIG_PATHS)

const validationConfigEdited = (ctx: Ctx): GuardResult => {
  const lines: Array<GuardLine> = []
  const offenders = new Set<string>()
  for (const d of ctx.diffs) {
    const paths = [d.oldPath, d.newPath].filter((p): p is string => p !== null)
    const configPath = paths.find((p) => validationConfigMatcher(p))
    if (configPath !== undefined) {
      offenders.add(configPath)
      const changed = d.hunks.flatMap((h) => h.lines.filter((l) => l.kind !== "context"))
      if (changed.length === 0) lines.push(evidenceLine(configPath, describeChange(d), ctx.secrets))
      for (const l of changed) lines.push(evidenceLine(configPath, `${l.kind === "added" ? "+" : "-"}${l.text}`, ctx.secrets))
      continue
    }
    const pkg = paths.find((p) => p === "package.json" || p.endsWith("/package.json"))
    if (pkg === undefined) continue
    for (const h of d.hunks) {
      for (const l of h.lines) {
        if (l.kind !== "context" && TEST_SCRIPT_KEY.test(l.text)) {
          offenders.add(pkg)
          lines.push(evidenceLine(pkg, `${l.kind === "added" ? "+" : "-"}${l.text}`, ctx.secrets))
        }
      }
    }
  }
  if (ctx.allowValidationConfig) {
    return new GuardResult({
      rule: "validation_config_edited",
      passed: true,
      detail: offenders.size === 0
        ? "No test script or test-runner config was edited."
        : `Test scripts or test-runner config were edited (${listPaths([...offenders])}), which the workflow allows.`,
      lines: lines.slice(0, MAX_GUARD_LINES)
    })
  }
  return result(
    "validation_config_edited",
    lines,
    `The change edits test scripts or test-runner config (${
      listPaths([...offenders])
    }), which could change what validation checks; revert those edits or set the workflow's allow.validationConfig.`,
    "No test script or test-runner config was edited."
  )
}

const outsideScope = (ctx: Ctx): GuardResult => {
  if (ctx.scope.length === 0) {
    return new GuardResult({ rule: "outside_scope", passed: true, detail: "No scope is set; any path may change.", lines: [] })
  }
  const inScope = matcher(ctx.scope)
  const out = ctx.paths.filter((p) => !inScope(p))
  return result(
    "outside_scope",
    out.map((p) => evidenceLine(p, changeOf(ctx, p), ctx.secrets)),
    `The change touches ${plural(out.length, "path")} outside the scope ${ctx.scope.join(", ")} (${
      listPaths(out)
    }); revert them or widen the issue's scope.`,
    `Every changed path is inside the scope ${ctx.scope.join(", ")}.`
  )
}

const changeOf = (ctx: Ctx, path: string): string => {
  const d = ctx.diffs.find((x) => x.oldPath === path || x.newPath === path)
  return d === undefined ? "changed" : describeChange(d)
}

const protectedMatcher = matcher(PROTECTED_PATHS)

const lockfileMatcher = matcher(LOCKFILE_PATHS)
const OBJECT_OPEN = /^\s*"([^"]+)"\s*:\s*\{\s*$/
const DEPENDENCY_KEY = new RegExp(`"(?:${DEPENDENCY_FIELDS.join("|")})"\\s*:`)
/** `"name": "spec"` where the spec looks like a version range or a protocol (`workspace:`, `npm:`, `catalog:` …). */
const DEPENDENCY_ENTRY =
  /^\s*"(?:@[^"/\s]+\/)?[^"@/\s]+"\s*:\s*"(?:[\^~<>=*]|\d|x\b|latest\b|next\b|(?:workspace|catalog|npm|file|link|portal|patch|git|git\+[a-z]+|github|https?):)[^"]*"\s*,?\s*$/

/**
 * True when one changed line of a `package.json` hunk is a dependency change: the line names a dependency field
 * itself, or it sits inside a dependency field object whose opening line the hunk shows (no `}` in between), or,
 * when the hunk shows no enclosing object, it looks like a dependency entry (`"name": "^1.2.3"`,
 * `"pkg": "workspace:*"`). A changed `scripts`, `name`, `description` … line is not one.
 */
const isDependencyLine = (lines: ReadonlyArray<HunkLine>, index: number): boolean => {
  const line = lines[index]!
  if (DEPENDENCY_KEY.test(line.text)) return true
  const side = line.kind === "added" ? "removed" : "added"
  let depth = 0
  for (let i = index - 1; i >= 0; i--) {
    const l = lines[i]!
    if (l.kind === side) continue
    if (/^\s*\}/.test(l.text)) depth++
    const open = OBJECT_OPEN.exec(l.text)
    if (open !== null) {
      if (depth === 0) return DEPENDENCY_FIELDS.includes(open[1]!)
      depth--
    }
  }
  return DEPENDENCY_ENTRY.test(line.text)
}

/**
 * True when `d` changes a manifest's dependencies: a `package.json` with a changed dependency line
 * ({@link isDependencyLine}), an added or deleted `package.json` (a workspace package came or went), or any change
 * to a `pnpm-workspace.yaml` (its packages and catalogs decide what pnpm locks).
 */
export const isDependencyChange = (d: FileDiff): boolean => {
  const path = d.newPath ?? d.oldPath ?? ""
  const base = path.split("/").pop()
  if (base === "pnpm-workspace.yaml") return d.added.length + d.removed.length > 0 || d.status !== "modified"
  if (base !== "package.json") return false
  if (d.status === "added" || d.status === "deleted") return true
  return d.hunks.some((h) => h.lines.some((l, i) => l.kind !== "context" && isDependencyLine(h.lines, i)))
}

const protectedPath = (ctx: Ctx): GuardResult => {
  const allowed = matcher(ctx.allowProtected)
  const hits = ctx.paths.filter((p) => protectedMatcher(p) && !allowed(p))
  const manifests = ctx.diffs.filter(isDependencyChange).map(pathOf)
  const lockfiles = hits.filter((p) => lockfileMatcher(p))
  const others = hits.filter((p) => !lockfileMatcher(p))
  const justified = manifests.length > 0 && lockfiles.length > 0
  const frozen = isFrozenInstall(ctx.installHook)
  const failing = justified && frozen ? others : hits
  const parts: Array<string> = []
  if (others.length > 0) {
    parts.push(`The change edits protected ${others.length === 1 ? "path" : "paths"} ${
      listPaths(others)
    } (CI, factory state or WORKFLOW.md); revert ${
      others.length === 1 ? "it" : "them"
    } or list ${others.length === 1 ? "it" : "them"} in the workflow's allow.protectedPaths.`)
  }
  if (lockfiles.length > 0 && !justified) {
    parts.push(`The change edits ${plural(lockfiles.length, "lockfile")} (${
      listPaths(lockfiles)
    }) without changing any manifest's dependencies (package.json dependency fields or pnpm-workspace.yaml); revert the lockfile edit, make it together with the dependency change that needs it, or list it in the workflow's allow.protectedPaths.`)
  }
  if (justified && !frozen) {
    parts.push(`The change edits ${plural(lockfiles.length, "lockfile")} (${
      listPaths(lockfiles)
    }) with a dependency change (${
      listPaths(manifests)
    }), but nothing proves the lockfile matches the manifests: make the workflow's hooks.after_create a frozen install (pnpm install --frozen-lockfile, npm ci, yarn install --immutable or bun install --frozen-lockfile).`)
  }
  if (failing.length === 0 && justified) {
    return new GuardResult({
      rule: "protected_path",
      passed: true,
      detail: `The change edits ${plural(lockfiles.length, "lockfile")} (${
        listPaths(lockfiles)
      }) together with a dependency change (${
        listPaths(manifests)
      }); the frozen install of the verify checkout checks they match.`,
      lines: lockfiles.slice(0, MAX_GUARD_LINES).map((p) => evidenceLine(p, changeOf(ctx, p), ctx.secrets))
    })
  }
  return result(
    "protected_path",
    failing.map((p) => evidenceLine(p, changeOf(ctx, p), ctx.secrets)),
    parts.join(" "),
    "No protected path was edited."
  )
}

const addedFileTooLarge = (ctx: Ctx): GuardResult => {
  const big = ctx.addedFileSizes.filter((f) => f.bytes > ctx.maxAddedFileBytes)
  return result(
    "added_file_too_large",
    big.map((f) => evidenceLine(f.path, `added file of ${f.bytes} bytes`, ctx.secrets)),
    `The change adds ${plural(big.length, "file")} larger than ${ctx.maxAddedFileBytes} bytes (${
      listPaths(big.map((f) => f.path))
    }); remove ${big.length === 1 ? "it" : "them"} or raise the limit.`,
    `No added file is larger than ${ctx.maxAddedFileBytes} bytes.`
  )
}

const secretInDiff = (ctx: Ctx): GuardResult => {
  const lines: Array<GuardLine> = []
  const kinds = new Set<string>()
  for (const d of ctx.diffs) {
    const path = pathOf(d)
    for (const text of d.added) {
      const found = secretKindsIn(text)
      if (ctx.secrets.some((s) => text.includes(s))) found.push("a value of the runner's secret environment")
      if (found.length > 0) {
        found.forEach((k) => kinds.add(k))
        lines.push(evidenceLine(path, `+${text}`, ctx.secrets))
      }
    }
  }
  return result(
    "secret_in_diff",
    lines,
    `The change adds what looks like ${
      [...kinds].join(", ")
    }; remove it from the change (and rotate it if it is real) before anything is pushed.`,
    "No known secret format or secret value was found in added lines."
  )
}

const REFUSAL_TEXT: Record<SymlinkRefusal, string> = {
  absolute: "an absolute target is outside the tree",
  above_root: "climbs above the tree root",
  git_dir: "points into .git, which is not part of the tree",
  loop: `is a symlink loop or a chain of more than ${MAX_SYMLINK_HOPS} links`,
  nul: "the target holds a NUL byte",
  not_utf8: "the target is not valid UTF-8",
  too_long: `the target is longer than ${MAX_SYMLINK_TARGET_BYTES} bytes`
}

/** `-> "target": why`, naming the link of the chain at fault when it is another one. */
const describeRefusal = (link: SymlinkFact, r: Extract<SymlinkResolution, { _tag: "Refused" }>): string => {
  const own = `-> ${JSON.stringify(decodeTarget(link).text)}`
  return r.link === link.path
    ? `${own}: ${REFUSAL_TEXT[r.reason]}`
    : `${own}, through ${r.link} -> ${JSON.stringify(r.target)}: ${REFUSAL_TEXT[r.reason]}`
}

const symlinkOutsideTree = (ctx: Ctx): GuardResult => {
  const rule = "symlink_outside_tree"
  // Links the patch itself shows (new side mode 120000): every one must be among the facts, or it went unchecked.
  const inPatch = [
    ...new Set(ctx.diffs.flatMap((d) => (d.newPath !== null && d.newMode === SYMLINK_MODE ? [d.newPath] : [])))
  ]
  const candidate = [...(ctx.symlinks?.candidate ?? [])].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  const known = new Set(candidate.map((l) => l.path))
  const unchecked = inPatch.filter((p) => !known.has(p))
  const base = new Map((ctx.symlinks?.base ?? []).map((l) => [l.path, l]))
  const resolveCandidate = makeResolver(new Map(candidate.map((l) => [l.path, l])))
  const resolveBase = makeResolver(base)
  const lines: Array<GuardLine> = []
  const offenders: Array<string> = []
  const already: Array<GuardLine> = []
  for (const link of candidate) {
    const r = resolveCandidate(link)
    if (r._tag === "Inside") continue
    const before = base.get(link.path)
    // The same link at the same path already left the tree in the base: not this change's doing.
    if (before !== undefined && sameTarget(before, link) && resolveBase(before)._tag === "Refused") {
      already.push(evidenceLine(link.path, `${describeRefusal(link, r)} (unchanged from the base)`, ctx.secrets))
      continue
    }
    offenders.push(link.path)
    lines.push(evidenceLine(link.path, describeRefusal(link, r), ctx.secrets))
  }
  for (const p of unchecked) {
    lines.push(evidenceLine(p, "a symlink in the patch that the symlink facts do not list, so it was not checked", ctx.secrets))
  }
  if (lines.length === 0) {
    return new GuardResult({
      rule,
      passed: true,
      detail: already.length === 0
        ? "No symlink of the candidate resolves outside the tree."
        : `No symlink the change adds or redirects resolves outside the tree; ${
          plural(already.length, "symlink")
        } that already did in the base ${already.length === 1 ? "is" : "are"} unchanged.`,
      lines: already.slice(0, MAX_GUARD_LINES)
    })
  }
  const parts: Array<string> = []
  if (offenders.length > 0) {
    parts.push(
      `The change makes ${plural(offenders.length, "symlink")} resolve outside the tree (${
        listPaths(offenders)
      }), so a checkout would read files the diff does not contain; replace ${
        offenders.length === 1 ? "it" : "them"
      } with the real content or a link that stays inside the repository.`
    )
  }
  if (unchecked.length > 0) {
    parts.push(
      `The patch shows ${plural(unchecked.length, "symlink")} (${
        listPaths(unchecked)
      }) missing from the symlink facts given to the guards; pass every symlink of both trees.`
    )
  }
  return result(rule, lines, parts.join(" "), "")
}

const patchIncomplete = (ctx: Ctx): GuardResult => {
  const seen = new Set(ctx.diffs.flatMap((d) => [d.oldPath, d.newPath]).filter((p): p is string => p !== null))
  const missing = ctx.files.filter((f) => !seen.has(f))
  return result(
    "patch_incomplete",
    missing.map((f) => ({ file: f, line: "listed as changed but missing from the patch" })),
    `The patch given to the guards does not cover ${plural(missing.length, "changed file")} (${
      listPaths(missing)
    }), so the other rules could not see them; pass the full, untruncated git diff.`,
    "The patch covers every changed file."
  )
}

const RULES: ReadonlyArray<(ctx: Ctx) => GuardResult> = [
  deletedTestFile,
  removedTestCase,
  skipOrOnlyAdded,
  validationConfigEdited,
  outsideScope,
  protectedPath,
  addedFileTooLarge,
  secretInDiff,
  symlinkOutsideTree,
  patchIncomplete
]

/**
 * Runs every guard on one candidate and returns one result per rule, in {@link GUARD_RULES} order.
 * Pure: parses `input.patch` with {@link parsePatch}; no I/O. The paths checked by `outside_scope` and
 * `protected_path` are `input.files` plus both sides of every rename in the patch. `symlink_outside_tree` resolves
 * the candidate's links in `input.symlinks` with {@link resolveSymlink}, and fails for a link the patch shows
 * (mode 120000) that those facts omit.
 */
export const runGuards = (input: GuardInput): ReadonlyArray<GuardResult> => {
  const diffs = parsePatch(input.patch)
  const files = input.files.map(unquotePath)
  const paths = [
    ...new Set([...files, ...diffs.flatMap((d) => [d.oldPath, d.newPath]).filter((p): p is string => p !== null)])
  ]
  const ctx: Ctx = {
    diffs,
    paths,
    files,
    scope: input.scope ?? [],
    allowValidationConfig: input.allow?.validationConfig ?? false,
    allowProtected: input.allow?.protectedPaths ?? [],
    installHook: input.installHook ?? null,
    maxAddedFileBytes: input.maxAddedFileBytes ?? DEFAULT_MAX_ADDED_FILE_BYTES,
    addedFileSizes: input.addedFileSizes ?? [],
    secrets: usableSecrets(input.secretValues ?? []),
    symlinks: input.symlinks ?? null
  }
  return RULES.map((rule) => rule(ctx))
}

/** The results that did not pass (empty when the candidate passes every guard). */
export const failedGuards = (results: ReadonlyArray<GuardResult>): ReadonlyArray<GuardResult> =>
  results.filter((r) => !r.passed)

/**
 * The lockfiles and dependency manifests ({@link isDependencyChange}) a diff changes, as repo-relative paths.
 * Pure; `patch` is the full `git diff base..candidate` text.
 */
export const dependencyPathsOf = (
  patch: string
): { readonly lockfiles: ReadonlyArray<string>; readonly manifests: ReadonlyArray<string> } => {
  const diffs = parsePatch(patch)
  return {
    lockfiles: [...new Set(diffs.map(pathOf).filter((p) => lockfileMatcher(p)))],
    manifests: [...new Set(diffs.filter(isDependencyChange).map(pathOf))]
  }
}

/**
 * The failed `protected_path` result for a candidate whose frozen install (`hooks.after_create` in the verify
 * checkout) failed while the change touches `lockfiles` or `manifests`: the lockfile does not match the manifests.
 * `outputTail` is the hook's (already redacted) last output; at most its last 3 lines are kept.
 */
export const inconsistentLockfile = (
  paths: { readonly lockfiles: ReadonlyArray<string>; readonly manifests: ReadonlyArray<string> },
  outputTail: string
): GuardResult => {
  const all = [...paths.lockfiles, ...paths.manifests]
  const tail = outputTail.trim().split("\n").slice(-3).join(" | ")
  return new GuardResult({
    rule: "protected_path",
    passed: false,
    detail: `The frozen install (hooks.after_create) failed in the clean checkout of the candidate, which changes ${
      listPaths(all)
    }: the lockfile does not match the manifests; run the install and commit the updated lockfile with the manifest change.${
      tail === "" ? "" : ` Install output: ${tail}`
    }`,
    lines: all.slice(0, MAX_GUARD_LINES).map((p) => ({ file: p, line: "lockfile inconsistent with the manifests" }))
  })
}
