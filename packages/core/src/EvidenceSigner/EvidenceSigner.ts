/**
 * EvidenceSigner: signs stored evidence bundles with a key only the runner holds, and checks a stored bundle's
 * signature against that key (docs/evidence.md, "The signature"). The signed bytes are the UTF-8 of a canonical
 * JSON payload (`canonicalJson`, RFC 8785). Implementation: `Ed25519EvidenceSigner` (@switchyard/node, node:crypto,
 * the key under `.switchyard/keys/`).
 */
import type { EvidenceSignature } from "@switchyard/domain"
import { Context, type Effect, type Option } from "effect"
import type { EvidenceSignerError } from "./errors.js"

/** What checking one signature found. `reason` is a sentence for a person when the signature is not the runner's. */
export type SignatureCheck =
  | { readonly status: "signed" }
  | { readonly status: "invalid"; readonly reason: string }
  | { readonly status: "other_key"; readonly reason: string }

export interface EvidenceSignerShape {
  /**
   * Signs `payload` (the canonical JSON of a bundle, signed as UTF-8) with the runner's key, creating the key on
   * first use. Fails `EvidenceSignerError` when the key cannot be created or read.
   */
  readonly sign: (payload: string) => Effect.Effect<EvidenceSignature, EvidenceSignerError>
  /**
   * Checks `signature` over `payload`: `invalid` when it does not verify with the public key it names (or that
   * key does not parse), `other_key` when it verifies but the key is not the runner's (or the runner has no key),
   * `signed` otherwise. Never creates a key. Fails `EvidenceSignerError` only when the runner's key exists but
   * cannot be read.
   */
  readonly check: (payload: string, signature: EvidenceSignature) => Effect.Effect<SignatureCheck, EvidenceSignerError>
  /**
   * When the runner's key was created (epoch ms, the key file's modification time), `None` when there is no key
   * yet. A bundle stored before this time may lack a signature; one stored after it must not.
   */
  readonly keyCreatedAt: Effect.Effect<Option.Option<number>, EvidenceSignerError>
}

export class EvidenceSigner extends Context.Tag("switchyard/EvidenceSigner")<EvidenceSigner, EvidenceSignerShape>() {}
