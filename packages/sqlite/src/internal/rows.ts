/** Helpers shared by the SQLite stores for decoding rows at the boundary. */
import { ParseResult, Schema } from "effect"

/**
 * One line per problem, `path: message`, joined with `; ` (e.g. `labels: Expected ..., actual "not json"`).
 * Used as the `reason` of errors and of `CandidateSnapshot.invalid` entries.
 */
export const formatParseError = (error: ParseResult.ParseError): string =>
  ParseResult.ArrayFormatter.formatErrorSync(error)
    .map((issue) => issue.path.length > 0 ? `${issue.path.join(".")}: ${issue.message}` : issue.message)
    .join("; ")

/** The `id`-like column of a raw row, as text, for error messages about rows that do not decode. */
export const rawKey = (row: Record<string, unknown>, key: string): string => {
  const value = row[key]
  return typeof value === "string" ? value : String(value)
}

/** SQLite has no boolean type: `0`/`1` in the row, `false`/`true` in the domain. */
export const SqliteBoolean = Schema.transform(Schema.Literal(0, 1), Schema.Boolean, {
  strict: true,
  decode: (n) => n === 1,
  encode: (b) => (b ? 1 : 0)
})

/** A JSON text column holding a record of arbitrary JSON values (event `data`). */
export const JsonRecord = Schema.parseJson(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
