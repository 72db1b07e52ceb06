/**
 * Generates docs/evidence.schema.json, the JSON Schema of `evidence.json`, from the `StoredEvidenceBundle` Schema in
 * @switchyard/domain (effect's `JSONSchema.make`, which describes the encoded form: the JSON on disk).
 *
 *   pnpm tsx scripts/gen-evidence-schema.ts           writes the file
 *   pnpm tsx scripts/gen-evidence-schema.ts --check   exits 1 when the committed file is out of date
 *
 * packages/sqlite/test/evidenceSchema.test.ts fails when the committed file differs from this output, so the
 * published schema cannot drift from the code. Bump `EVIDENCE_SCHEMA_VERSION` for incompatible changes.
 */
import { StoredEvidenceBundle } from "@switchyard/domain"
import { JSONSchema } from "effect"
import { readFileSync, writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

const target = fileURLToPath(new URL("../docs/evidence.schema.json", import.meta.url))
const text = JSON.stringify(JSONSchema.make(StoredEvidenceBundle), null, 2) + "\n"

if (process.argv.includes("--check")) {
  const current = readFileSync(target, "utf8")
  if (current !== text) {
    process.stderr.write(`${target} is out of date: run pnpm tsx scripts/gen-evidence-schema.ts\n`)
    process.exit(1)
  }
  process.stdout.write(`${target} is up to date\n`)
} else {
  writeFileSync(target, text)
  process.stdout.write(`wrote ${target}\n`)
}
