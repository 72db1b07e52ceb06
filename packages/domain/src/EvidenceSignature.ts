/**
 * The signature of a stored evidence bundle, and the stored document it belongs to (docs/evidence.md, "The
 * signature"). The signature is not part of `EvidenceBundle`: it is a property of the stored document (the
 * `evidence.json` file and the SQLite `evidence.bundle` column), which is the Schema-encoded bundle plus one
 * `signature` member. The signed bytes are the UTF-8 of the canonical JSON (RFC 8785) of that document without
 * `signature`, so a later reader checks exactly what was stored, even after the Schema gained fields.
 */
import { Schema } from "effect"
import { EvidenceBundle } from "./Evidence.js"

/** The `signature` member of a stored bundle. */
export const EvidenceSignature = Schema.Struct({
  /** Ed25519 (RFC 8032, pure: no pre-hash). */
  algorithm: Schema.Literal("ed25519"),
  /** The signer's public key: base64 of its DER SubjectPublicKeyInfo (`openssl pkey -pubin -inform DER` reads it). */
  publicKey: Schema.String.annotations({ description: "the signer's public key: base64 of its DER SubjectPublicKeyInfo" }),
  /** base64 of the 64-byte signature over the canonical JSON of the document without `signature`. */
  value: Schema.String.annotations({
    description: "base64 of the Ed25519 signature over the UTF-8 of the RFC 8785 canonical JSON of this document without `signature`"
  })
}).annotations({ identifier: "EvidenceSignature", description: "Ed25519 signature of the stored bundle" })
export type EvidenceSignature = typeof EvidenceSignature.Type

/**
 * The stored document (`evidence.json`, the `evidence.bundle` column): the encoded bundle plus its signature.
 * Bundles stored before bundles were signed have no `signature`; they still decode as `EvidenceBundle` (which
 * ignores the extra member) and are reported as unsigned. docs/evidence.schema.json is generated from this.
 */
export const StoredEvidenceBundle = Schema.Struct({
  ...EvidenceBundle.fields,
  signature: Schema.optional(EvidenceSignature)
})
export type StoredEvidenceBundle = typeof StoredEvidenceBundle.Encoded

/**
 * How a stored bundle's signature checks out against the runner's key:
 * - `signed`: the signature is valid and made with the runner's key;
 * - `unsigned_legacy`: no signature, stored before the runner's key existed (an older Switchyard wrote it);
 * - `unsigned`: no signature, stored after the runner's key existed (the signature was stripped, or someone
 *   else wrote the bundle);
 * - `invalid`: the signature does not match the document (it was edited after signing), or cannot be read;
 * - `other_key`: a valid signature by a key that is not the runner's (a forger can sign with their own key).
 */
export const SealStatus = Schema.Literal("signed", "unsigned_legacy", "unsigned", "invalid", "other_key")
export type SealStatus = typeof SealStatus.Type
