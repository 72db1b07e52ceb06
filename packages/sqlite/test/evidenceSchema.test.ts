import { describe, expect, it } from "@effect/vitest"
import { EvidenceBundle } from "@switchyard/domain"
import { JSONSchema, Schema } from "effect"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { sampleBundle } from "./helpers.js"

const published = fileURLToPath(new URL("../../../docs/evidence.schema.json", import.meta.url))

describe("docs/evidence.schema.json", () => {
  it("is exactly what scripts/gen-evidence-schema.ts generates from the EvidenceBundle Schema", () => {
    const generated = JSON.stringify(JSONSchema.make(EvidenceBundle), null, 2) + "\n"
    // On failure: pnpm tsx scripts/gen-evidence-schema.ts, and commit docs/evidence.schema.json.
    expect(readFileSync(published, "utf8")).toBe(generated)
  })

  it("describes evidence.json as stored: every key of an encoded bundle, and every required key present", () => {
    const schema = JSON.parse(readFileSync(published, "utf8"))
    const encoded = Schema.encodeSync(EvidenceBundle)(sampleBundle()) as Record<string, unknown>
    expect(Object.keys(encoded).sort()).toEqual(Object.keys(schema.properties).sort())
    for (const key of schema.required) expect(encoded).toHaveProperty(key)
    expect(schema.properties.schemaVersion).toMatchObject({ enum: [1] })
    expect(schema.properties.guards.type).toBe("array")
    expect(Object.keys(schema.properties.fingerprint.anyOf[0].properties).sort()).toEqual(["baseCommit", "branch", "commit", "tree"])
  })
})
