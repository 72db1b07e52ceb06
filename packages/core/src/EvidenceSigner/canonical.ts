/**
 * The canonical JSON encoding the evidence signature is computed over: RFC 8785 (JSON Canonicalization Scheme).
 * Object members sorted by their UTF-16 code units, no whitespace, strings and numbers serialised exactly as
 * ECMAScript's `JSON.stringify` does (which is what RFC 8785 §3.2.2 prescribes). Pure, platform-free.
 */
import { EvidenceSignature } from "@switchyard/domain"
import { Either, ParseResult, Schema } from "effect"

/** The name of the member of a stored bundle that holds its signature. */
export const SIGNATURE_MEMBER = "signature"

/**
 * `value` as canonical JSON (RFC 8785). It maps values the way `JSON.stringify` does, so that signing a value and
 * checking the `JSON.parse` of its stored text agree: an `undefined` member is left out, `undefined` in an array
 * and a non-finite number become `null`. Input is JSON data (plain objects, arrays, strings, finite numbers,
 * booleans, null); anything else (a function, a symbol, a bigint) is encoded as `null`. Pure.
 */
export const canonicalJson = (value: unknown): string => {
  if (value === null || value === undefined) return "null"
  switch (typeof value) {
    case "string":
      return JSON.stringify(value)
    case "number":
      return Number.isFinite(value) ? JSON.stringify(value) : "null"
    case "boolean":
      return value ? "true" : "false"
    case "object": {
      if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`
      const members = Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined && typeof v !== "function" && typeof v !== "symbol")
        // Default sort compares UTF-16 code units, the order RFC 8785 §3.2.3 asks for.
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      return `{${members.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`
    }
    default:
      return "null"
  }
}

/** A stored document split into what is signed and its signature (if it has one). */
export interface SplitDocument {
  /** The canonical JSON of the document without its `signature` member: the bytes (as UTF-8) that are signed. */
  readonly payload: string
  /** The signature: null when the document has no `signature` member, `Left(reason)` when it is malformed. */
  readonly signature: Either.Either<EvidenceSignature, string> | null
}

const decodeSignature = Schema.decodeUnknownEither(EvidenceSignature)

/**
 * Splits a parsed stored document (`JSON.parse` of evidence.json or of the `evidence.bundle` column) into its
 * signed payload and its signature: `signature` null when absent, `Left(reason)` when present but malformed.
 * A document that is not a JSON object has the payload of the whole value. Pure.
 */
export const splitSignature = (document: unknown): SplitDocument => {
  if (typeof document !== "object" || document === null || Array.isArray(document)) {
    return { payload: canonicalJson(document), signature: null }
  }
  const { [SIGNATURE_MEMBER]: signature, ...rest } = document as Record<string, unknown>
  return {
    payload: canonicalJson(rest),
    signature: signature === undefined
      ? null
      : Either.mapLeft(decodeSignature(signature), (error) =>
        `the signature is malformed (${
          ParseResult.ArrayFormatter.formatErrorSync(error).map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")
        })`)
  }
}
