/**
 * Checking the seal of one stored bundle: its signature, the key that made it, and that it is the bundle of the
 * attempt it is stored under. Shared by every reader of stored evidence (the SQLite row, evidence.json) so
 * `status`, `status --check` and `verify` judge a bundle the same way. Platform-free: the crypto is the
 * `EvidenceSigner` service's.
 */
import { IssueId, type SealStatus, TerminalState } from "@switchyard/domain"
import { Effect, Either, Option, Schema } from "effect"
import { splitSignature } from "./canonical.js"
import { EvidenceSigner } from "./EvidenceSigner.js"
import type { EvidenceSignerError } from "./errors.js"

/** How a stored bundle's seal checked out; `detail` says why when the status is not `signed`. */
export interface SealCheck {
  readonly status: SealStatus
  readonly detail: string | null
}

/** What the cross-checks (events, attempts row, branch head) need from a stored bundle, read without decoding it all. */
export interface SealedEvidence {
  readonly issueId: IssueId
  readonly attempt: number
  /** The bundle's `outcome`, null when the stored document does not even say that. */
  readonly outcome: TerminalState | null
  /** The bundle's `verdict.cause`, null when unreadable. */
  readonly cause: string | null
  /** `fingerprint.commit`, null when the bundle has no fingerprint. */
  readonly fingerprintCommit: string | null
  /** When the store wrote it (epoch ms; the `evidence.created_at` column). */
  readonly storedAt: number
  /** The seal, null when it was not asked for (`EvidenceStore.sealed`; the fields above are then unchecked claims). */
  readonly seal: SealCheck | null
}

/** The few fields of a stored bundle the checks read (the rest of the document is ignored here, not dropped). */
const Fields = Schema.Struct({
  issueId: Schema.String,
  attempt: Schema.Number,
  outcome: TerminalState,
  verdict: Schema.Struct({ cause: Schema.String }),
  fingerprint: Schema.optional(Schema.NullOr(Schema.Struct({ commit: Schema.String })))
})
const decodeFields = Schema.decodeUnknownEither(Fields)

/**
 * Checks the seal of `document` (the `JSON.parse` of a stored bundle) stored as `stored.issueId`'s attempt
 * `stored.attempt` at `stored.storedAt` (epoch ms), against the runner's key whose creation time is
 * `keyCreatedAt` (see `EvidenceSigner.keyCreatedAt`). In order:
 * 1. a document whose `issueId`/`attempt` are not the ones it is stored under is `invalid` (a bundle copied from
 *    another attempt, even a genuinely signed one);
 * 2. no signature: `unsigned_legacy` when stored before the key existed (or there is no key), else `unsigned`;
 * 3. otherwise what `EvidenceSigner.check` says of the signature over the canonical JSON of the rest.
 * Fails `EvidenceSignerError` only when the runner's key exists but cannot be read.
 */
export const checkSeal = (
  document: unknown,
  stored: { readonly issueId: IssueId; readonly attempt: number; readonly storedAt: number },
  keyCreatedAt: Option.Option<number>
): Effect.Effect<SealedEvidence, EvidenceSignerError, EvidenceSigner> =>
  Effect.gen(function*() {
    const fields = Either.getOrNull(decodeFields(document))
    const base = {
      issueId: stored.issueId,
      attempt: stored.attempt,
      outcome: fields?.outcome ?? null,
      cause: fields?.verdict.cause ?? null,
      fingerprintCommit: fields?.fingerprint?.commit ?? null,
      storedAt: stored.storedAt
    }
    const seal = (status: SealStatus, detail: string | null): SealedEvidence => ({ ...base, seal: { status, detail } })
    if (fields === null) return seal("invalid", "the stored bundle does not decode")
    if (fields.issueId !== stored.issueId || fields.attempt !== stored.attempt) {
      return seal(
        "invalid",
        `the bundle is the one of ${fields.issueId} attempt ${fields.attempt}, stored as ${stored.issueId} attempt ${stored.attempt}`
      )
    }
    const { payload, signature } = splitSignature(document)
    if (signature === null) {
      const legacy = Option.match(keyCreatedAt, { onNone: () => true, onSome: (created) => stored.storedAt < created })
      return legacy
        ? seal("unsigned_legacy", "the bundle is not signed: it was stored before bundles were signed")
        : seal("unsigned", "the bundle is not signed, but it was stored after the runner's key was created")
    }
    if (Either.isLeft(signature)) return seal("invalid", signature.left)
    const signer = yield* EvidenceSigner
    const checked = yield* signer.check(payload, signature.right)
    return checked.status === "signed" ? seal("signed", null) : seal(checked.status, checked.reason)
  })
