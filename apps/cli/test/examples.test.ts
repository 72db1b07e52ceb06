import { describe, expect, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import { join } from "node:path"
import { repoRootOfThisProject } from "./harness.js"

describe("examples/", () => {
  it("custom-layers.ts composes the line with an in-memory Tracker and reaches PR_READY", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", join(repoRootOfThisProject, "examples/custom-layers.ts")], {
      cwd: repoRootOfThisProject,
      encoding: "utf8",
      timeout: 120_000
    })
    expect(r.stderr).toBe("")
    expect(r.status).toBe(0)
    // MEM- ids prove the swapped MemoryTracker (prefix MEM) is the one in use, not the SQLite tracker.
    expect(r.stdout.trim()).toBe("MEM-1 in_review PR_READY after 1 attempt(s)")
  })
})
