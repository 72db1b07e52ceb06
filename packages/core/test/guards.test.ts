import { describe, expect, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { afterAll } from "vitest"
import {
  failedGuards,
  GUARD_RULES,
  type GuardInput,
  type GuardResult,
  isFrozenInstall,
  isTestFile,
  parsePatch,
  MAX_SYMLINK_HOPS,
  resolveSymlink,
  runGuards,
  type SymlinkFact
} from "../src/Verifier/index.js"

// ---------------------------------------------------------------------------------------------------------
// Real git repos: every patch below is genuine `git diff --binary base..candidate` output.
// ---------------------------------------------------------------------------------------------------------

const dirs: Array<string> = []
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })))

const git = (cwd: string, ...args: Array<string>): string =>
  execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false", ...args], {
    cwd,
    encoding: "utf8",
    env: { ...process.env, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" }
  })

type Content = string | Uint8Array

const writeAll = (dir: string, files: Record<string, Content>) => {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true })
    writeFileSync(join(dir, path), content)
  }
}

interface Change {
  readonly write?: Record<string, Content>
  readonly remove?: ReadonlyArray<string>
  readonly rename?: ReadonlyArray<readonly [string, string]>
  /** Symlinks to create (path -> target), replacing whatever is at the path. */
  readonly link?: Record<string, string>
}

/** Commits `base`, applies `change`, commits again; returns the diff between the two commits. */
const diffOf = (base: Record<string, Content>, change: Change): { patch: string; files: Array<string> } => {
  const dir = mkdtempSync(join(tmpdir(), "switchyard-guards-"))
  dirs.push(dir)
  git(dir, "init", "-q", "-b", "main")
  writeAll(dir, { "README.md": "# repo\n", ...base })
  git(dir, "add", "-A")
  git(dir, "commit", "-q", "-m", "base")
  for (const [from, to] of change.rename ?? []) {
    mkdirSync(dirname(join(dir, to)), { recursive: true })
    renameSync(join(dir, from), join(dir, to))
  }
  for (const path of change.remove ?? []) rmSync(join(dir, path))
  writeAll(dir, change.write ?? {})
  for (const [path, target] of Object.entries(change.link ?? {})) {
    mkdirSync(dirname(join(dir, path)), { recursive: true })
    rmSync(join(dir, path), { force: true })
    symlinkSync(target, join(dir, path))
  }
  git(dir, "add", "-A")
  git(dir, "commit", "-q", "-m", "candidate")
  return {
    patch: git(dir, "diff", "--binary", "HEAD~1..HEAD"),
    files: git(dir, "diff", "--name-only", "-z", "HEAD~1..HEAD").split("\0").filter((f) => f !== "")
  }
}

const guard = (rule: string, input: GuardInput): GuardResult => {
  const r = runGuards(input).find((g) => g.rule === rule)
  if (r === undefined) expect.fail(`no result for ${rule}`)
  return r
}

const check = (rule: string, base: Record<string, Content>, change: Change, extra: Partial<GuardInput> = {}) =>
  guard(rule, { ...diffOf(base, change), ...extra })

const TEST_FILE = [
  "import { describe, expect, it } from \"vitest\"",
  "",
  "describe(\"math\", () => {",
  "  it(\"adds\", () => {",
  "    expect(1 + 1).toBe(2)",
  "  })",
  "",
  "  it(\"subtracts\", () => {",
  "    expect(2 - 1).toBe(1)",
  "    expect(3 - 1).toBe(2)",
  "  })",
  "})",
  ""
].join("\n")

const edit = (text: string, from: string, to: string): string => {
  expect(text).toContain(from)
  return text.replace(from, to)
}

// ---------------------------------------------------------------------------------------------------------

describe("parsePatch", () => {
  it("reads renames, deletions, new files, binary files, mode changes and odd names from real git output", () => {
    const { patch } = diffOf(
      {
        "src/a.ts": "export const a = 1\n",
        "test/old.test.ts": "it(\"x\", () => {})\n",
        "test/gone.test.ts": "x\n",
        "dir with space/my file.txt": "hello\n",
        "nonl.txt": "no newline",
        "tricky.txt": "-- dash\n++ plus\nkeep\n",
        "tést\"q.txt": "quoted\n",
        "run.sh": "echo hi\n"
      },
      {
        rename: [["test/old.test.ts", "test/new.test.ts"], ["tést\"q.txt", "rénamed.txt"]],
        remove: ["test/gone.test.ts"],
        write: {
          "src/a.ts": "export const a = 2\n",
          "dir with space/my file.txt": "hello\nbye\n",
          "nonl.txt": "still no newline",
          "tricky.txt": "++ plus\nkeep\n--- looks like a header\ndiff --git a/x b/x\n",
          "src/bin.dat": new Uint8Array([0, 1, 2, 0, 255, 10, 0]),
          "src/new.ts": "export const b = 1\n"
        }
      }
    )
    const records = parsePatch(patch)
    const byPath = (p: string) => records.find((r) => r.newPath === p || r.oldPath === p)

    expect(byPath("test/new.test.ts")).toMatchObject({
      oldPath: "test/old.test.ts",
      newPath: "test/new.test.ts",
      status: "renamed"
    })
    expect(byPath("rénamed.txt")).toMatchObject({ oldPath: "tést\"q.txt", newPath: "rénamed.txt", status: "renamed" })
    expect(byPath("test/gone.test.ts")).toMatchObject({ oldPath: "test/gone.test.ts", newPath: null, status: "deleted" })
    expect(byPath("test/gone.test.ts")?.removed).toEqual(["x"])
    expect(byPath("src/new.ts")).toMatchObject({ oldPath: null, status: "added", added: ["export const b = 1"] })
    expect(byPath("src/bin.dat")).toMatchObject({ status: "added", binary: true, added: [] })
    expect(byPath("src/a.ts")).toMatchObject({
      status: "modified",
      added: ["export const a = 2"],
      removed: ["export const a = 1"]
    })
    expect(byPath("dir with space/my file.txt")).toMatchObject({
      oldPath: "dir with space/my file.txt",
      newPath: "dir with space/my file.txt",
      added: ["bye"],
      removed: []
    })
    expect(byPath("nonl.txt")).toMatchObject({ added: ["still no newline"], removed: ["no newline"] })
    // Content lines that look like headers stay content.
    expect(byPath("tricky.txt")).toMatchObject({
      status: "modified",
      added: ["--- looks like a header", "diff --git a/x b/x"],
      removed: ["-- dash"]
    })
    expect(records.map((r) => r.newPath ?? r.oldPath).sort()).toEqual([
      "dir with space/my file.txt",
      "nonl.txt",
      "rénamed.txt",
      "src/a.ts",
      "src/bin.dat",
      "src/new.ts",
      "test/gone.test.ts",
      "test/new.test.ts",
      "tricky.txt"
    ])
  })

  it("reads a mode-only change and C-quoted names from captured git output", () => {
    // Captured from git 2.39.5: a chmod +x, an empty new file, and a new file whose name holds a tab.
    const patch = [
      "diff --git a/empty.txt b/empty.txt",
      "new file mode 100644",
      "index 0000000..e69de29",
      "diff --git a/src/a.ts b/src/a.ts",
      "old mode 100644",
      "new mode 100755",
      "diff --git \"a/tab\\tname.txt\" \"b/tab\\tname.txt\"",
      "new file mode 100644",
      "index 0000000..975fbec",
      "--- /dev/null",
      "+++ \"b/tab\\tname.txt\"",
      "@@ -0,0 +1 @@",
      "+y",
      ""
    ].join("\n")
    expect(parsePatch(patch).map((r) => [r.oldPath, r.newPath, r.status, r.added])).toEqual([
      [null, "empty.txt", "added", []],
      ["src/a.ts", "src/a.ts", "modified", []],
      [null, "tab\tname.txt", "added", ["y"]]
    ])
  })

  it("returns nothing for an empty patch", () => {
    expect(parsePatch("")).toEqual([])
  })
})

describe("isTestFile", () => {
  it("recognises test files by name and directory", () => {
    expect(
      [
        "a.test.ts",
        "src/a.spec.tsx",
        "test/helpers.ts",
        "packages/core/test/x.ts",
        "tests/fixture.json",
        "src/__tests__/a.js"
      ].every(isTestFile)
    ).toBe(true)
    expect(["src/a.ts", "src/testing.ts", "contest/a.ts", "src/latest.ts", "docs/test.md"].some(isTestFile)).toBe(false)
  })
})

describe("deleted_test_file", () => {
  const base = { "test/a.test.ts": TEST_FILE, "src/a.ts": "export const a = 1\n" }

  it("fails when a test file is deleted", () => {
    const r = check("deleted_test_file", base, { remove: ["test/a.test.ts"] })
    expect(r.passed).toBe(false)
    expect(r.lines).toEqual([{ file: "test/a.test.ts", line: "deleted" }])
    expect(r.detail).toContain("test/a.test.ts")
  })

  it("fails when a test file is renamed, even to another test path", () => {
    const r = check("deleted_test_file", base, { rename: [["test/a.test.ts", "test/b.test.ts"]] })
    expect(r.passed).toBe(false)
    expect(r.lines[0]?.line).toBe("renamed test/a.test.ts -> test/b.test.ts")
  })

  it("passes when tests are edited and a non-test file is deleted", () => {
    const r = check("deleted_test_file", base, {
      remove: ["src/a.ts"],
      write: { "test/a.test.ts": `${TEST_FILE}it("more", () => expect(1).toBe(1))\n` }
    })
    expect(r.passed).toBe(true)
    expect(r.lines).toEqual([])
  })
})

describe("removed_test_case", () => {
  const base = { "test/math.test.ts": TEST_FILE }

  it("fails when a test case is removed", () => {
    const r = check("removed_test_case", base, {
      write: { "test/math.test.ts": edit(TEST_FILE, "  it(\"adds\", () => {\n    expect(1 + 1).toBe(2)\n  })\n", "") }
    })
    expect(r.passed).toBe(false)
    expect(r.detail).toContain("test/math.test.ts (1 test case, 1 assertion)")
    expect(r.lines.map((l) => l.line)).toContain("-  it(\"adds\", () => {")
  })

  it("fails when an assertion is removed but the test stays", () => {
    const r = check("removed_test_case", base, {
      write: { "test/math.test.ts": edit(TEST_FILE, "    expect(3 - 1).toBe(2)\n", "") }
    })
    expect(r.passed).toBe(false)
    expect(r.detail).toContain("1 assertion")
  })

  it("fails when a test is commented out with //", () => {
    const r = check("removed_test_case", base, {
      write: {
        "test/math.test.ts": edit(
          TEST_FILE,
          "  it(\"adds\", () => {\n    expect(1 + 1).toBe(2)\n  })",
          "  // it(\"adds\", () => {\n  //   expect(1 + 1).toBe(2)\n  // })"
        )
      }
    })
    expect(r.passed).toBe(false)
  })

  it("fails when tests are wrapped in a block comment (the tests stay as context lines)", () => {
    const r = check("removed_test_case", base, {
      write: { "test/math.test.ts": edit(edit(TEST_FILE, "  it(\"subtracts\"", "  /*\n  it(\"subtracts\""), "  })\n})", "  })\n  */\n})") }
    })
    expect(r.passed).toBe(false)
    expect(r.lines.some((l) => l.line.includes("commented out"))).toBe(true)
  })

  it("fails when a test file is made binary (a NUL byte hides its lines from the diff)", () => {
    const r = check("removed_test_case", base, { write: { "test/math.test.ts": `// \u0000\n${TEST_FILE}` } })
    expect(r.passed).toBe(false)
    expect(r.detail).toContain("binary")
    expect(check("skip_or_only_added", base, { write: { "test/math.test.ts": `// \u0000\n${TEST_FILE}` } }).passed)
      .toBe(false)
  })

  it("fails when a test file is deleted outright", () => {
    expect(check("removed_test_case", base, { remove: ["test/math.test.ts"] }).passed).toBe(false)
  })

  it("passes when a test is rewritten with as many cases and assertions", () => {
    const r = check("removed_test_case", base, {
      write: {
        "test/math.test.ts": edit(TEST_FILE, "  it(\"adds\", () => {\n    expect(1 + 1).toBe(2)", "  it(\"adds two numbers\", () => {\n    expect(2 + 2).toBe(4)")
      }
    })
    expect(r.passed).toBe(true)
  })

  it("passes when tests are added, and ignores test-like text in strings", () => {
    const r = check("removed_test_case", base, {
      write: {
        "test/math.test.ts": edit(TEST_FILE, "})\n", "  it(\"multiplies\", () => {\n    expect(2 * 2).toBe(4)\n  })\n})\n"),
        "test/fixture.ts": "export const sample = \"it('x', () => expect(1))\"\n"
      }
    })
    expect(r.passed).toBe(true)
  })
})

describe("skip_or_only_added", () => {
  const base = {
    "test/math.test.ts": TEST_FILE,
    "test/node.test.mjs": "import test from \"node:test\"\ntest(\"a\", () => {})\n",
    "src/parser.ts": "export const p = 1\n"
  }

  it("fails when it.skip is added to a test file", () => {
    const r = check("skip_or_only_added", base, {
      write: { "test/math.test.ts": edit(TEST_FILE, "it(\"adds\"", "it.skip(\"adds\"") }
    })
    expect(r.passed).toBe(false)
    expect(r.lines).toEqual([{ file: "test/math.test.ts", line: "+  it.skip(\"adds\", () => {" }])
  })

  it("fails for .only, xit, node:test { skip: true } and t.skip()", () => {
    const cases: Array<[string, string]> = [
      ["test/math.test.ts", edit(TEST_FILE, "describe(\"math\"", "describe.only(\"math\"")],
      ["test/math.test.ts", edit(TEST_FILE, "it(\"adds\"", "xit(\"adds\"")],
      ["test/node.test.mjs", "import test from \"node:test\"\ntest(\"a\", { skip: true }, () => {})\n"],
      ["test/node.test.mjs", "import test from \"node:test\"\ntest(\"a\", (t) => { t.skip() })\n"],
      ["test/math.test.ts", edit(TEST_FILE, "it(\"adds\"", "it.effect.skip(\"adds\"")]
    ]
    for (const [path, text] of cases) {
      expect(check("skip_or_only_added", base, { write: { [path]: text } }).passed, text).toBe(false)
    }
  })

  it("fails when a helper outside the test folders adds test.skip", () => {
    const r = check("skip_or_only_added", base, {
      write: { "src/testkit.ts": "import { test } from \"vitest\"\nexport const maybe = test.skip\n" }
    })
    expect(r.passed).toBe(false)
  })

  it("passes for ordinary source that uses the words skip and only", () => {
    const r = check("skip_or_only_added", base, {
      write: {
        "src/parser.ts":
          "export const p = 1\nexport const q = reader.skip(2)\nconst page = { skip: 10 }\nconst msg = \"use it.skip( carefully\"\n// test.only is banned\n",
        "test/math.test.ts": `${TEST_FILE}it("more", () => expect(1).toBe(1))\n`,
        "test/node.test.mjs": "import test from \"node:test\"\ntest(\"a\", { skip: false }, () => {})\n"
      }
    })
    expect(r.passed).toBe(true)
  })

  it("fails when the skip moves to a different test (the skipped line is not re-added verbatim)", () => {
    const skipped = edit(TEST_FILE, "it(\"subtracts\"", "it.skip(\"subtracts\"")
    const swapped = edit(edit(skipped, "it.skip(\"subtracts\"", "it(\"subtracts\""), "it(\"adds\"", "it.skip(\"adds\"")
    const r = check("skip_or_only_added", { "test/math.test.ts": skipped }, { write: { "test/math.test.ts": swapped } })
    expect(r.passed).toBe(false)
    expect(r.lines).toEqual([{ file: "test/math.test.ts", line: "+  it.skip(\"adds\", () => {" }])
  })

  it("passes when an existing skip is only moved (the same line re-added, re-indented)", () => {
    const skipped = edit(TEST_FILE, "it(\"subtracts\"", "it.skip(\"subtracts\"")
    const nested = edit(
      skipped,
      "  it.skip(\"subtracts\", () => {\n    expect(2 - 1).toBe(1)\n    expect(3 - 1).toBe(2)\n  })\n",
      "  describe(\"nested\", () => {\n    it.skip(\"subtracts\", () => {\n      expect(2 - 1).toBe(1)\n      expect(3 - 1).toBe(2)\n    })\n  })\n"
    )
    const input = diffOf({ "test/math.test.ts": skipped }, { write: { "test/math.test.ts": nested } })
    expect(input.patch).toContain("-  it.skip(\"subtracts\"")
    expect(input.patch).toContain("+    it.skip(\"subtracts\"")
    expect(guard("skip_or_only_added", input).passed).toBe(true)
  })
})

describe("validation_config_edited", () => {
  const pkg = (test: string, dep: string) =>
    `{\n  "name": "x",\n  "scripts": {\n    "build": "tsc",\n    "test": "${test}"\n  },\n  "dependencies": {\n    "effect": "${dep}"\n  }\n}\n`
  const base = {
    "package.json": pkg("vitest run", "^3.22.0"),
    "packages/core/vitest.config.ts": "export default {}\n"
  }

  it("fails when the test script in package.json changes", () => {
    const r = check("validation_config_edited", base, { write: { "package.json": pkg("exit 0", "^3.22.0") } })
    expect(r.passed).toBe(false)
    expect(r.lines).toEqual([
      { file: "package.json", line: "-    \"test\": \"vitest run\"" },
      { file: "package.json", line: "+    \"test\": \"exit 0\"" }
    ])
  })

  it("fails when a vitest config changes", () => {
    const r = check("validation_config_edited", base, {
      write: { "packages/core/vitest.config.ts": "export default { test: { include: [] } }\n" }
    })
    expect(r.passed).toBe(false)
    expect(r.detail).toContain("packages/core/vitest.config.ts")
  })

  it("passes when only dependencies in package.json change", () => {
    expect(check("validation_config_edited", base, { write: { "package.json": pkg("vitest run", "^3.22.4") } }).passed)
      .toBe(true)
  })

  it("passes, still showing the lines, when allow.validationConfig is set", () => {
    const r = check("validation_config_edited", base, { write: { "package.json": pkg("exit 0", "^3.22.0") } }, {
      allow: { validationConfig: true, protectedPaths: [] }
    })
    expect(r.passed).toBe(true)
    expect(r.lines.length).toBe(2)
    expect(r.detail).toContain("allows")
  })
})

describe("outside_scope", () => {
  const base = { "packages/core/src/a.ts": "a\n", "packages/node/src/b.ts": "b\n" }
  const scope = ["packages/core/**"]

  it("fails for a file outside the scope globs", () => {
    const r = check("outside_scope", base, { write: { "packages/node/src/b.ts": "b2\n" } }, { scope })
    expect(r.passed).toBe(false)
    expect(r.lines).toEqual([{ file: "packages/node/src/b.ts", line: "modified" }])
  })

  it("fails when a file is renamed out of the scope (the new path is outside)", () => {
    const r = check("outside_scope", base, { rename: [["packages/core/src/a.ts", "packages/node/src/a.ts"]] }, { scope })
    expect(r.passed).toBe(false)
    expect(r.lines.map((l) => l.file)).toEqual(["packages/node/src/a.ts"])
  })

  it("fails when a file is renamed into the scope from outside (the old path is outside)", () => {
    const r = check("outside_scope", base, { rename: [["packages/node/src/b.ts", "packages/core/src/b.ts"]] }, { scope })
    expect(r.passed).toBe(false)
    expect(r.lines.map((l) => l.file)).toEqual(["packages/node/src/b.ts"])
  })

  it("passes inside the scope, dotfiles included", () => {
    const r = check("outside_scope", base, {
      write: { "packages/core/src/a.ts": "a2\n", "packages/core/.config/x.json": "{}\n" }
    }, { scope })
    expect(r.passed).toBe(true)
  })

  it("passes anything when the scope is empty", () => {
    expect(check("outside_scope", base, { write: { "packages/node/src/b.ts": "b2\n" } }, { scope: [] }).passed).toBe(true)
  })
})

describe("protected_path", () => {
  const base = {
    ".github/workflows/ci.yml": "on: push\n",
    "WORKFLOW.md": "---\n---\n",
    "packages/app/pnpm-lock.yaml": "lockfileVersion: 9\n",
    "src/a.ts": "a\n"
  }

  it("fails for CI config, WORKFLOW.md and nested lockfiles", () => {
    const r = check("protected_path", base, {
      write: { ".github/workflows/ci.yml": "on: [push]\n", "packages/app/pnpm-lock.yaml": "lockfileVersion: 10\n" },
      remove: ["WORKFLOW.md"]
    })
    expect(r.passed).toBe(false)
    expect(r.lines.map((l) => `${l.file}: ${l.line}`).sort()).toEqual([
      ".github/workflows/ci.yml: modified",
      "WORKFLOW.md: deleted",
      "packages/app/pnpm-lock.yaml: modified"
    ])
  })

  it("fails when a new file is added under .switchyard/", () => {
    expect(check("protected_path", base, { write: { ".switchyard/state.json": "{}\n" } }).passed).toBe(false)
  })

  it("passes when the path is allowed", () => {
    const r = check("protected_path", base, { write: { "packages/app/pnpm-lock.yaml": "lockfileVersion: 10\n" } }, {
      allow: { validationConfig: false, protectedPaths: ["**/pnpm-lock.yaml"] }
    })
    expect(r.passed).toBe(true)
  })

  it("passes for ordinary paths", () => {
    expect(check("protected_path", base, { write: { "src/a.ts": "b\n" } }).passed).toBe(true)
  })
})

describe("protected_path: lockfiles with manifests", () => {
  const manifest = (deps: Record<string, string>, description = "app") =>
    JSON.stringify(
      { name: "app", description, scripts: { build: "tsc -b" }, dependencies: deps },
      null,
      2
    ) + "\n"
  const base = {
    "package.json": manifest({ effect: "^3.0.0" }),
    "pnpm-lock.yaml": "lockfileVersion: '9.0'\n",
    "pnpm-workspace.yaml": "packages:\n  - packages/*\n",
    "src/a.ts": "a\n"
  }
  const lock = { "pnpm-lock.yaml": "lockfileVersion: '9.0'\nimporters: {}\n" }
  const frozen = { installHook: "pnpm install --frozen-lockfile --prefer-offline" }

  it("passes a lockfile edit made with a dependency change, under a frozen install", () => {
    const r = check("protected_path", base, {
      write: { ...lock, "package.json": manifest({ effect: "^3.0.0", lib: "workspace:*" }) }
    }, frozen)
    expect(r.passed).toBe(true)
    expect(r.detail).toContain("pnpm-lock.yaml")
    expect(r.lines.map((l) => l.file)).toEqual(["pnpm-lock.yaml"])
  })

  it("passes a lockfile edit made with a pnpm-workspace.yaml change", () => {
    const r = check("protected_path", base, {
      write: { ...lock, "pnpm-workspace.yaml": "packages:\n  - packages/*\ncatalog:\n  effect: ^3.1.0\n" }
    }, frozen)
    expect(r.passed).toBe(true)
  })

  it("fails a lockfile edit with no manifest change, naming the lockfile", () => {
    const r = check("protected_path", base, { write: { ...lock, "src/a.ts": "b\n" } }, frozen)
    expect(r.passed).toBe(false)
    expect(r.detail).toContain("without changing any manifest's dependencies")
    expect(r.lines.map((l) => l.file)).toEqual(["pnpm-lock.yaml"])
  })

  it("fails a lockfile edit whose package.json change is not a dependency change", () => {
    const r = check("protected_path", base, {
      write: { ...lock, "package.json": manifest({ effect: "^3.0.0" }, "an app") }
    }, frozen)
    expect(r.passed).toBe(false)
    expect(r.detail).toContain("without changing any manifest's dependencies")
  })

  it("fails a justified lockfile edit when the install hook is not frozen, saying to freeze it", () => {
    for (const installHook of [null, "pnpm install --prefer-offline"]) {
      const r = check("protected_path", base, {
        write: { ...lock, "package.json": manifest({ effect: "^3.1.0" }) }
      }, { installHook })
      expect(r.passed).toBe(false)
      expect(r.detail).toContain("make the workflow's hooks.after_create a frozen install")
    }
  })

  it("still fails the other protected paths of a justified lockfile edit", () => {
    const r = check("protected_path", { ...base, "WORKFLOW.md": "---\n---\n" }, {
      write: { ...lock, "package.json": manifest({ effect: "^3.1.0" }), "WORKFLOW.md": "---\nx: 1\n---\n" }
    }, frozen)
    expect(r.passed).toBe(false)
    expect(r.lines.map((l) => l.file)).toEqual(["WORKFLOW.md"])
  })

  it("recognises a dependency entry deep in a long dependencies block", () => {
    const many = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`dep${i}`, `^1.${i}.0`]))
    const r = check("protected_path", { ...base, "package.json": manifest(many) }, {
      write: { ...lock, "package.json": manifest({ ...many, dep6: "^2.0.0" }) }
    }, frozen)
    expect(r.passed).toBe(true)
  })
})

describe("isFrozenInstall", () => {
  it("knows the frozen installs of pnpm, npm, yarn and bun", () => {
    expect(isFrozenInstall("pnpm install --frozen-lockfile --prefer-offline")).toBe(true)
    expect(isFrozenInstall("npm ci")).toBe(true)
    expect(isFrozenInstall("yarn install --immutable")).toBe(true)
    expect(isFrozenInstall("bun install --frozen-lockfile")).toBe(true)
    expect(isFrozenInstall("pnpm install")).toBe(false)
    expect(isFrozenInstall("npm install")).toBe(false)
    expect(isFrozenInstall(null)).toBe(false)
  })
})

describe("added_file_too_large", () => {
  const { patch, files } = diffOf({}, { write: { "assets/big.bin": new Uint8Array(2048), "src/a.ts": "a\n" } })

  it("fails for an added file over the limit", () => {
    const r = guard("added_file_too_large", {
      patch,
      files,
      maxAddedFileBytes: 1024,
      addedFileSizes: [{ path: "assets/big.bin", bytes: 2048 }, { path: "src/a.ts", bytes: 2 }]
    })
    expect(r.passed).toBe(false)
    expect(r.lines).toEqual([{ file: "assets/big.bin", line: "added file of 2048 bytes" }])
  })

  it("passes under the default 1 MiB limit", () => {
    const r = guard("added_file_too_large", {
      patch,
      files,
      addedFileSizes: [{ path: "assets/big.bin", bytes: 2048 }, { path: "x", bytes: 1024 * 1024 }]
    })
    expect(r.passed).toBe(true)
    expect(guard("added_file_too_large", { patch, files, addedFileSizes: [{ path: "x", bytes: 1024 * 1024 + 1 }] }).passed)
      .toBe(false)
  })
})

describe("secret_in_diff", () => {
  const base = { "src/config.ts": "export const region = \"eu-west-1\"\n" }
  const aws = "AKIA" + "QWERTYUIOPASDFGH"
  const ghp = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"

  it("fails for an AWS key id and redacts it in the evidence", () => {
    const r = check("secret_in_diff", base, {
      write: { "src/config.ts": `export const region = "eu-west-1"\nexport const key = "${aws}"\n` }
    })
    expect(r.passed).toBe(false)
    expect(r.detail).toContain("AWS access key id")
    expect(r.lines).toEqual([{ file: "src/config.ts", line: "+export const key = \"AKIA…\"" }])
    expect(JSON.stringify(r)).not.toContain(aws)
  })

  it("fails for GitHub tokens, private keys and long api_key assignments", () => {
    const r = check("secret_in_diff", base, {
      write: {
        "src/gh.ts": `const t = "${ghp}"\n`,
        // Split so that this test file does not itself trip the guard.
        "keys/id_rsa": "-----BEGIN OPENSSH " + "PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
        "config/app.ini": "api_key = \"Zx81kLmN0pQr5StUv\"\n"
      }
    })
    expect(r.passed).toBe(false)
    expect(r.lines.map((l) => l.line).sort()).toEqual([
      "+-----BEGIN OPENSSH " + "PRIVATE KEY-----",
      "+api_key = \"Zx81…\"",
      "+const t = \"ghp_…\""
    ])
  })

  it("fails for a value of the runner's secret environment and shows [REDACTED]", () => {
    const envValue = "s3cr3t-value-from-env"
    const r = check("secret_in_diff", base, { write: { "src/config.ts": `export const region = "${envValue}"\n` } }, {
      secretValues: [envValue, "short"]
    })
    expect(r.passed).toBe(false)
    expect(r.lines).toEqual([{ file: "src/config.ts", line: "+export const region = \"[REDACTED]\"" }])
  })

  it("passes when a secret is only removed, and ignores secret values shorter than 8 characters", () => {
    const withKey = { "src/config.ts": `export const key = "${aws}"\nexport const x = "short"\n` }
    const r = check("secret_in_diff", withKey, { write: { "src/config.ts": "export const x = \"short\"\nconst y = 1\n" } }, {
      secretValues: ["short"]
    })
    expect(r.passed).toBe(true)
  })

  it("passes for ordinary code that mentions tokens and keys", () => {
    const r = check("secret_in_diff", base, {
      write: {
        "src/config.ts":
          "export const token = process.env.TOKEN\nconst apiKey = \"your-api-key-here-please\"\nconst task = \"sk-learn\"\n"
      }
    })
    expect(r.passed).toBe(true)
  })

  it("redacts runner secrets in every rule's evidence lines", () => {
    const envValue = "hunter2-hunter2-hunter2"
    const r = check("removed_test_case", { "test/a.test.ts": `it("uses ${envValue}", () => {})\n` }, {
      write: { "test/a.test.ts": "\n" }
    }, { secretValues: [envValue] })
    expect(r.passed).toBe(false)
    expect(r.lines).toEqual([{ file: "test/a.test.ts", line: "-it(\"uses [REDACTED]\", () => {})" }])
  })
})

describe("symlink_outside_tree", () => {
  const link = (path: string, target: string | Uint8Array, size?: number): SymlinkFact =>
    size === undefined ? { path, target } : { path, target, size }
  /** The rule on facts alone (an empty patch): `candidate` and `base` are whole trees' links. */
  const rule = (candidate: ReadonlyArray<SymlinkFact>, base: ReadonlyArray<SymlinkFact> = []) =>
    guard("symlink_outside_tree", { patch: "", files: [], symlinks: { base, candidate } })
  const refused = (l: SymlinkFact, others: ReadonlyArray<SymlinkFact> = []) => {
    const r = resolveSymlink(l, others)
    if (r._tag !== "Refused") return expect.fail(`${l.path} resolved inside, to ${JSON.stringify(r.path)}`)
    return r
  }

  it("refuses an absolute target, to a file or to a directory", () => {
    expect(refused(link("src/sum.js", "/tmp/x/outside-sum.js"))).toMatchObject({ reason: "absolute", link: "src/sum.js" })
    expect(refused(link("lib", "/usr/lib")).reason).toBe("absolute")
    const r = rule([link("src/sum.js", "/tmp/x/outside-sum.js")])
    expect(r.passed).toBe(false)
    expect(r.lines).toEqual([{ file: "src/sum.js", line: "-> \"/tmp/x/outside-sum.js\": an absolute target is outside the tree" }])
    expect(r.detail).toContain("src/sum.js")
  })

  it("refuses a relative target that climbs above the tree root, to a file or to a directory", () => {
    expect(refused(link("src/sum.js", "../../outside-sum.js")).reason).toBe("above_root")
    expect(refused(link("vendor", "../shared-libs")).reason).toBe("above_root")
    expect(refused(link("a/b/c", "../../..")).reason).toBe("above_root")
    // Climbing out and back in by name is still out: the tree root has no parent inside the tree.
    expect(refused(link("src/sum.js", "../../repo/src/fixed.js")).reason).toBe("above_root")
    expect(rule([link("src/sum.js", "../../outside-sum.js")]).lines[0]!.line).toContain("climbs above the tree root")
  })

  it("passes links that stay inside the tree, and says where they end", () => {
    expect(resolveSymlink(link("src/sum.js", "../lib/sum.js"), [])).toEqual({ _tag: "Inside", path: "lib/sum.js" })
    expect(resolveSymlink(link("a/b/c", "../.."), [])).toEqual({ _tag: "Inside", path: "" })
    expect(resolveSymlink(link("src/x", "./y//z/"), [])).toEqual({ _tag: "Inside", path: "src/y/z" })
    expect(resolveSymlink(link("docs/README", "../README.md"), [])).toEqual({ _tag: "Inside", path: "README.md" })
    // A dangling link is no escape: the path need not exist.
    expect(resolveSymlink(link("src/gone", "missing/file"), [])).toEqual({ _tag: "Inside", path: "src/missing/file" })
    const r = rule([link("src/sum.js", "../lib/sum.js"), link("lib", "vendor/lib"), link("current", "releases/v2")])
    expect(r.passed).toBe(true)
    expect(r.lines).toEqual([])
  })

  it("follows chains through the tree's other links", () => {
    // A link into a directory that is itself a link leaving the tree.
    const vendor = link("vendor", "/opt/vendor")
    const sum = link("src/sum.js", "../vendor/sum.js")
    expect(refused(sum, [vendor])).toMatchObject({ reason: "absolute", link: "vendor", chain: ["src/sum.js", "vendor"] })
    expect(resolveSymlink(sum, [])).toEqual({ _tag: "Inside", path: "vendor/sum.js" })
    // Resolution follows the link before applying "..", as the kernel does: `d` is the root, so d/.. is above it
    // (read as plain text, src/d/../z would be src/z).
    expect(refused(link("src/x", "d/../z"), [link("src/d", "..")]).reason).toBe("above_root")
    // ...and the other way round: three ".." from src/p/q/r stay inside (read as text they would climb out).
    expect(resolveSymlink(link("src/x", "d/../../.."), [link("src/d", "p/q/r")])).toEqual({ _tag: "Inside", path: "src" })
    expect(refused(link("src/x", "d/../../.."), []).reason).toBe("above_root")
    // Through two links.
    expect(refused(link("a", "b/f"), [link("b", "c"), link("c", "../..")])).toMatchObject({ link: "c", chain: ["a", "b", "c"] })
    const r = rule([sum, vendor], [vendor])
    expect(r.passed).toBe(false)
    expect(r.lines.map((l) => l.file)).toEqual(["src/sum.js"])
    expect(r.lines[0]!.line).toBe(
      "-> \"../vendor/sum.js\", through vendor -> \"/opt/vendor\": an absolute target is outside the tree"
    )
  })

  it("refuses loops and chains longer than the kernel follows", () => {
    const a = link("a", "b")
    const b = link("b", "a")
    expect(refused(a, [b]).reason).toBe("loop")
    expect(refused(b, [a]).reason).toBe("loop")
    expect(refused(link("self", "self")).reason).toBe("loop")
    expect(refused(link("src/deeper", "deeper/x")).reason).toBe("loop")
    expect(rule([a, b]).lines.map((l) => l.file)).toEqual(["a", "b"])
    // l0 -> l1 -> ... -> l{n-1} -> file: a chain of n links.
    const chain = (n: number) => Array.from({ length: n }, (_, i) => link(`l${i}`, i === n - 1 ? "file" : `l${i + 1}`))
    const longest = chain(MAX_SYMLINK_HOPS)
    expect(resolveSymlink(longest[0]!, longest)).toEqual({ _tag: "Inside", path: "file" })
    const tooLong = chain(MAX_SYMLINK_HOPS + 1)
    expect(refused(tooLong[0]!, tooLong).reason).toBe("loop")
    expect(resolveSymlink(tooLong[1]!, tooLong)).toEqual({ _tag: "Inside", path: "file" })
    expect(rule(tooLong).lines.map((l) => l.file)).toEqual(["l0"])
  })

  it("refuses a target with a NUL byte, invalid UTF-8, or longer than a path can be; accepts UTF-8", () => {
    const bytes = (...b: Array<number>) => new Uint8Array(b)
    expect(refused(link("src/nul", bytes(0x61, 0x00, 0x62))).reason).toBe("nul")
    expect(refused(link("src/ff", bytes(0x61, 0xff))).reason).toBe("not_utf8")
    // A truncated 4-byte sequence decodes to one U+FFFD of 3 bytes: the same length, still invalid.
    expect(refused(link("src/cut", bytes(0xf0, 0x9f, 0x98, 0x2e))).reason).toBe("not_utf8")
    expect(refused(link("src/long", "", 5000)).reason).toBe("too_long")
    expect(refused(link("src/long", "a/".repeat(2048))).reason).toBe("too_long")
    expect(resolveSymlink(link("src/cafe", new TextEncoder().encode("café.js")), [])).toEqual({ _tag: "Inside", path: "src/café.js" })
    const r = rule([link("src/nul", bytes(0x61, 0x00, 0x62)), link("src/ff", bytes(0xff))])
    expect(r.lines).toEqual([
      { file: "src/ff", line: "-> \"\uFFFD\": the target is not valid UTF-8" },
      { file: "src/nul", line: "-> \"a\\u0000b\": the target holds a NUL byte" }
    ])
  })

  it("refuses a link into .git", () => {
    expect(refused(link("src/cfg", "../.git/config")).reason).toBe("git_dir")
    expect(refused(link("sub/h", "../sub/.git/hooks")).reason).toBe("git_dir")
  })

  it("lets a link that already left the tree in the base stay, and catches one the change sent out", () => {
    const vendor = link("vendor", "/opt/vendor")
    const kept = rule([vendor], [vendor])
    expect(kept.passed).toBe(true)
    expect(kept.detail).toContain("1 symlink that already did in the base is unchanged")
    expect(kept.lines).toEqual([{ file: "vendor", line: "-> \"/opt/vendor\": an absolute target is outside the tree (unchanged from the base)" }])
    // Same path, new target: the change's doing.
    expect(rule([link("vendor", "/srv/vendor")], [vendor]).passed).toBe(false)
    // An unchanged link that the change sends out by removing the link it went through (d becomes a directory).
    const up = link("src/up", "../d/../../..")
    const d = link("d", "a/b/c")
    expect(rule([up, d], [up, d]).passed).toBe(true)
    const out = rule([up], [up, d])
    expect(out.passed).toBe(false)
    expect(out.lines.map((l) => l.file)).toEqual(["src/up"])
  })

  it("reads real git output: a file replaced by a link; links the facts miss fail", () => {
    const base = { "src/sum.js": "export const sum = (a, b) => a - b\n", "lib/sum.js": "export const sum = (a, b) => a + b\n" }
    const escape = diffOf(base, { link: { "src/sum.js": "../../outside-sum.js" } })
    const records = parsePatch(escape.patch).filter((d) => d.newPath === "src/sum.js")
    expect(records.map((d) => d.newMode)).toContain("120000")
    expect(records.find((d) => d.newMode === "120000")?.added).toEqual(["../../outside-sum.js"])
    // No facts at all: the link in the patch was not checked, so the rule fails.
    const noFacts = guard("symlink_outside_tree", escape)
    expect(noFacts.passed).toBe(false)
    expect(noFacts.lines).toEqual([
      { file: "src/sum.js", line: "a symlink in the patch that the symlink facts do not list, so it was not checked" }
    ])
    const facts = { base: [], candidate: [link("src/sum.js", "../../outside-sum.js")] }
    expect(guard("symlink_outside_tree", { ...escape, symlinks: facts }).lines[0]!.line).toContain("climbs above the tree root")
    const inside = diffOf(base, { link: { "src/sum.js": "../lib/sum.js" } })
    expect(guard("symlink_outside_tree", { ...inside, symlinks: { base: [], candidate: [link("src/sum.js", "../lib/sum.js")] } }).passed)
      .toBe(true)
    // Without symlinks in the patch, missing facts mean no links.
    expect(guard("symlink_outside_tree", diffOf(base, { write: { "src/sum.js": "x\n" } })).passed).toBe(true)
  })
})

describe("patch_incomplete", () => {
  it("fails when a changed file is missing from the patch (a cut patch), and passes on the full one", () => {
    const { patch, files } = diffOf({ "a.ts": "a\n", "b.ts": "b\n" }, { write: { "a.ts": "a2\n", "b.ts": "b2\n" } })
    const cut = patch.slice(0, patch.indexOf("diff --git a/b.ts"))
    expect(guard("patch_incomplete", { patch, files }).passed).toBe(true)
    const r = guard("patch_incomplete", { patch: cut, files })
    expect(r.passed).toBe(false)
    expect(r.lines.map((l) => l.file)).toEqual(["b.ts"])
  })
})

describe("runGuards", () => {
  it("returns one result per rule, in order, and failedGuards keeps the failures", () => {
    const input = diffOf({ "test/a.test.ts": TEST_FILE, "src/a.ts": "a\n" }, {
      write: { "src/a.ts": "b\n" },
      remove: ["test/a.test.ts"]
    })
    const results = runGuards(input)
    expect(results.map((r) => r.rule)).toEqual([...GUARD_RULES])
    expect(failedGuards(results).map((r) => r.rule)).toEqual(["deleted_test_file", "removed_test_case"])
  })

  it("passes every rule for a clean change", () => {
    const input = diffOf({ "test/a.test.ts": TEST_FILE, "src/a.ts": "a\n" }, { write: { "src/a.ts": "b\n" } })
    expect(failedGuards(runGuards({ ...input, scope: ["src/**"] }))).toEqual([])
  })
})
