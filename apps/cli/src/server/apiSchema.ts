/** The JSON Schema document of the HTTP API (docs/api.schema.json, written by scripts/gen-api-schema.ts). */
import { JSONSchema } from "effect"
import { API_VERSION, apiSchemas } from "./api.js"

/**
 * Every response Schema of api.ts as a JSON Schema (draft-07) definition under `$defs`, named as in `apiSchemas`;
 * shared parts (evidence bundle classes, violations) are definitions of their own.
 */
export const apiSchemaDocument = () => {
  const definitions: Record<string, JSONSchema.JsonSchema7> = {}
  for (const [name, schema] of Object.entries(apiSchemas)) {
    definitions[name] = JSONSchema.fromAST(schema.ast, { definitions, topLevelReferenceStrategy: "skip" })
  }
  const sorted = Object.fromEntries(Object.entries(definitions).sort(([a], [b]) => a.localeCompare(b)))
  return {
    $schema: "http://json-schema.org/draft-07/schema#",
    $id: `https://switchyard.invalid/api/v${API_VERSION}.schema.json`,
    title: `Switchyard HTTP API v${API_VERSION} responses`,
    $defs: sorted
  }
}
