import { describe, expect, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { apiSchemaDocument } from "../src/server/apiSchema.js"

const published = fileURLToPath(new URL("../../../docs/api.schema.json", import.meta.url))

describe("docs/api.schema.json", () => {
  it("is exactly what scripts/gen-api-schema.ts generates from the API's Schemas", () => {
    // On failure: pnpm tsx scripts/gen-api-schema.ts, and commit docs/api.schema.json.
    expect(readFileSync(published, "utf8")).toBe(JSON.stringify(apiSchemaDocument(), null, 2) + "\n")
  })

  it("defines every response, each requiring its top-level fields", () => {
    const defs = JSON.parse(readFileSync(published, "utf8")).$defs
    expect(Object.keys(defs)).toEqual([
      "ErrorResponse",
      "EventMessage",
      "EvidenceResponse",
      "IssueResponse",
      "OutcomesResponse",
      "RefreshResponse",
      "StateResponse"
    ])
    expect(defs.StateResponse.required).toEqual(
      expect.arrayContaining(["generated_at", "counts", "tracker", "orchestrator", "running", "retrying", "recent", "violations"])
    )
    expect(defs.ErrorResponse.properties.error.properties.code.enum).toContain("issue_not_found")
    expect(defs.RefreshResponse.required).toEqual(["queued", "coalesced", "requested_at", "operations"])
  })
})
