import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { StoredEvidenceBundle } from "@switchyard/domain"
import { Effect, JSONSchema, Schema } from "effect"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { SqliteEvidenceStore } from "../src/index.js"
import { sampleBundle, scratch, signerLayer } from "./helpers.js"

const published = fileURLToPath(new URL("../../../docs/evidence.schema.json", import.meta.url))

describe("docs/evidence.schema.json", () => {
  it("is exactly what scripts/gen-evidence-schema.ts generates from the StoredEvidenceBundle Schema", () => {
    const generated = JSON.stringify(JSONSchema.make(StoredEvidenceBundle), null, 2) + "\n"
    // On failure: pnpm tsx scripts/gen-evidence-schema.ts, and commit docs/evidence.schema.json.
    expect(readFileSync(published, "utf8")).toBe(generated)
  })

  it.scoped("describes evidence.json as stored: every key of a stored (signed) bundle, and every required key present", () =>
    Effect.gen(function*() {
      const schema = JSON.parse(readFileSync(published, "utf8"))
      const paths = yield* scratch
      const stored = yield* SqliteEvidenceStore.storedDocument(sampleBundle()).pipe(Effect.provide(signerLayer(paths)))
      const document = JSON.parse(stored.pretty) as Record<string, unknown>
      expect(Object.keys(document).sort()).toEqual(Object.keys(schema.properties).sort())
      for (const key of schema.required) expect(document).toHaveProperty(key)
      expect(schema.required).not.toContain("signature") // bundles stored before signing still validate
      expect(Schema.decodeUnknownEither(StoredEvidenceBundle)(document)._tag).toBe("Right")
      expect(schema.properties.schemaVersion).toMatchObject({ enum: [1] })
      expect(schema.properties.guards.type).toBe("array")
      expect(Object.keys(schema.properties.fingerprint.anyOf[0].properties).sort()).toEqual(["baseCommit", "branch", "commit", "tree"])
      expect(schema.$defs.EvidenceSignature.required).toEqual(["algorithm", "publicKey", "value"])
    }).pipe(Effect.provide(NodeContext.layer)))
})
