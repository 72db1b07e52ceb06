/**
 * Generates docs/api.schema.json, the JSON Schema of every HTTP API response (docs/api.md), from the Schemas in
 * apps/cli/src/server/api.ts (effect's `JSONSchema.fromAST`, the encoded form: the JSON on the wire). One document:
 * each response is a definition under `$defs` (`StateResponse`, `IssueResponse`, `EvidenceResponse`,
 * `RefreshResponse`, `ErrorResponse`, `EventMessage`), sharing the definitions they have in common.
 *
 *   pnpm tsx scripts/gen-api-schema.ts           writes the file
 *   pnpm tsx scripts/gen-api-schema.ts --check   exits 1 when the committed file is out of date
 *
 * apps/cli/test/apiSchema.test.ts fails when the committed file differs from this output, and validates live
 * responses against it. Bump `API_VERSION` for incompatible changes.
 */
import { readFileSync, writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { apiSchemaDocument } from "../apps/cli/src/server/apiSchema.js"

const target = fileURLToPath(new URL("../docs/api.schema.json", import.meta.url))
const text = JSON.stringify(apiSchemaDocument(), null, 2) + "\n"

if (process.argv.includes("--check")) {
  const current = readFileSync(target, "utf8")
  if (current !== text) {
    process.stderr.write(`${target} is out of date: run pnpm tsx scripts/gen-api-schema.ts\n`)
    process.exit(1)
  }
  process.stdout.write(`${target} is up to date\n`)
} else {
  writeFileSync(target, text)
  process.stdout.write(`wrote ${target}\n`)
}
