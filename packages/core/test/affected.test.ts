import { describe, expect, it } from "@effect/vitest"
import { changedPackages, changeEnv, MAX_CHANGED_FILES_ENV_BYTES } from "../src/Verifier/affected.js"

describe("affected work", () => {
  const packages = new Map([["", "root"], ["packages/a", "@x/a"], ["packages/a/nested", "@x/nested"], ["packages/b", "@x/b"]])

  it("each changed file belongs to its nearest package; the root only for files outside every other", () => {
    expect(changedPackages(["packages/a/src/x.ts", "packages/a/nested/y.ts", "README.md"], packages)).toEqual(["@x/a", "@x/nested", "root"])
    expect(changedPackages(["packages/b/test/z.test.ts", "packages/b/src/z.ts"], packages)).toEqual(["@x/b"])
    // A directory whose name only starts like a package's is not inside it.
    expect(changedPackages(["packages/ab/q.ts"], packages)).toEqual(["root"])
    expect(changedPackages(["packages/ab/q.ts"], new Map([["packages/a", "@x/a"]]))).toEqual([])
    expect(changedPackages([], packages)).toEqual([])
  })

  it("the environment holds the commits and newline-separated lists; a huge file list is left empty", () => {
    const env = changeEnv("b".repeat(40), "c".repeat(40), ["a.ts", "b c.ts"], ["@x/a"])
    expect(env).toEqual({
      SWITCHYARD_BASE_SHA: "b".repeat(40),
      SWITCHYARD_HEAD_SHA: "c".repeat(40),
      SWITCHYARD_CHANGED_FILES: "a.ts\nb c.ts",
      SWITCHYARD_CHANGED_PACKAGES: "@x/a"
    })
    const many = Array.from({ length: MAX_CHANGED_FILES_ENV_BYTES / 8 + 1 }, (_, i) => `f${String(i).padStart(6, "0")}`)
    expect(changeEnv("b", "c", many, []).SWITCHYARD_CHANGED_FILES).toBe("")
    expect(changeEnv("b", "c", many.slice(1), []).SWITCHYARD_CHANGED_FILES).toBe(many.slice(1).join("\n")) // 1 byte under
  })
})
