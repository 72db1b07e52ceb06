/**
 * Ed25519EvidenceSigner: the `EvidenceSigner` over node:crypto. The runner's private key is one PKCS#8 PEM file
 * (default `<repo>/.switchyard/keys/evidence.ed25519`, mode 0600 in a 0700 directory), created on the first
 * signature and never printed, logged or copied; its public key (DER SubjectPublicKeyInfo, base64) goes into every
 * signature. Checking a signature never creates the key, so `status` and `verify` only read it.
 *
 * The key protects evidence against a writer that cannot read the key file (an agent confined away from
 * `.switchyard/`); anyone who can read it can sign (docs/evidence.md, "What the signature proves").
 */
import { FileSystem, Path } from "@effect/platform"
import { EvidenceSigner, type EvidenceSignerShape, EvidenceSignerError, type SignatureCheck } from "@switchyard/core"
import type { EvidenceSignature } from "@switchyard/domain"
import { Effect, Layer, Option, Ref } from "effect"
import * as Crypto from "node:crypto"

/** The key file, relative to the state directory (`.switchyard/`). */
export const KEY_FILE = "keys/evidence.ed25519"

interface RunnerKey {
  readonly privateKey: Crypto.KeyObject
  /** base64 of the DER SubjectPublicKeyInfo: how signatures name their key. */
  readonly publicKey: string
  /** The key file's modification time (epoch ms): when the key was created. */
  readonly createdAt: number
}

const publicKeyOf = (key: Crypto.KeyObject): string =>
  Crypto.createPublicKey(key).export({ format: "der", type: "spki" }).toString("base64")

/**
 * Builds the signer for the key at `keyFile` (absolute, e.g. `<repo>/.switchyard/keys/evidence.ed25519`).
 * Needs `FileSystem` and `Path`. Nothing is read until the first `sign`, `check` or `keyCreatedAt`.
 */
export const make = (options: { readonly keyFile: string }): Effect.Effect<
  EvidenceSignerShape,
  never,
  FileSystem.FileSystem | Path.Path
> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const keyFile = path.resolve(options.keyFile)
    const failure = (reason: string) => (cause: unknown) => new EvidenceSignerError({ keyFile, reason, cause })
    // Only a key that was found is remembered: a reader started before the runner made the key sees it later.
    const loaded = yield* Ref.make(Option.none<RunnerKey>())
    const creating = yield* Effect.makeSemaphore(1)
    const publicKeys = new Map<string, Crypto.KeyObject | null>()

    /** The runner's key if the file exists; fails when it exists but cannot be read or is not an Ed25519 key. */
    const read: Effect.Effect<Option.Option<RunnerKey>, EvidenceSignerError> = Effect.gen(function*() {
      const cached = yield* Ref.get(loaded)
      if (Option.isSome(cached)) return cached
      const info = yield* fs.stat(keyFile).pipe(
        Effect.map(Option.some),
        Effect.catchIf((e) => e._tag === "SystemError" && e.reason === "NotFound", () => Effect.succeed(Option.none())),
        Effect.mapError(failure("it cannot be read"))
      )
      if (Option.isNone(info)) return Option.none()
      if ((info.value.mode & 0o077) !== 0) {
        yield* Effect.logWarning(`the evidence key ${keyFile} is readable by others; run chmod 600 on it`)
      }
      const pem = yield* fs.readFileString(keyFile).pipe(Effect.mapError(failure("it cannot be read")))
      const privateKey = yield* Effect.try({
        try: () => Crypto.createPrivateKey({ key: pem, format: "pem" }),
        catch: failure("it is not a PEM private key")
      })
      if (privateKey.asymmetricKeyType !== "ed25519") {
        return yield* new EvidenceSignerError({ keyFile, reason: `it is a ${privateKey.asymmetricKeyType ?? "unknown"} key, not Ed25519` })
      }
      const key: RunnerKey = {
        privateKey,
        publicKey: publicKeyOf(privateKey),
        createdAt: Option.match(info.value.mtime, { onNone: () => 0, onSome: (d) => d.getTime() })
      }
      yield* Ref.set(loaded, Option.some(key))
      return Option.some(key)
    })

    /**
     * Creates the key: written to a private temporary file, then hard-linked to `keyFile`, so a concurrent runner
     * either wins the link or reads the key the other one linked (never half a file, never two keys).
     */
    const create: Effect.Effect<RunnerKey, EvidenceSignerError> = creating.withPermits(1)(Effect.gen(function*() {
      const existing = yield* read
      if (Option.isSome(existing)) return existing.value
      const dir = path.dirname(keyFile)
      yield* fs.makeDirectory(dir, { recursive: true, mode: 0o700 }).pipe(Effect.mapError(failure(`${dir} cannot be created`)))
      const pem = yield* Effect.try({
        try: () => Crypto.generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
        catch: failure("no key could be generated")
      })
      const temporary = `${keyFile}.${process.pid}.${Crypto.randomUUID()}.tmp`
      yield* fs.writeFileString(temporary, pem, { mode: 0o600, flag: "wx" }).pipe(
        Effect.zipRight(fs.chmod(temporary, 0o600)),
        Effect.zipRight(fs.link(temporary, keyFile).pipe(
          Effect.catchIf((e) => e._tag === "SystemError" && e.reason === "AlreadyExists", () => Effect.void)
        )),
        Effect.ensuring(fs.remove(temporary, { force: true }).pipe(Effect.ignore)),
        Effect.mapError(failure("it cannot be written"))
      )
      yield* Effect.logInfo(`created the evidence signing key ${keyFile}`)
      const key = yield* read
      return yield* Option.match(key, {
        onNone: () => Effect.fail(new EvidenceSignerError({ keyFile, reason: "it vanished right after it was created" })),
        onSome: Effect.succeed
      })
    }))

    const sign = (payload: string) =>
      Effect.gen(function*() {
        const key = yield* Effect.flatMap(read, Option.match({ onNone: () => create, onSome: Effect.succeed }))
        const value = yield* Effect.try({
          try: () => Crypto.sign(null, Buffer.from(payload, "utf8"), key.privateKey).toString("base64"),
          catch: failure("signing failed")
        })
        return { algorithm: "ed25519", publicKey: key.publicKey, value } satisfies EvidenceSignature
      })

    /** The public key a signature names, parsed once per distinct key; null when it is not an Ed25519 SPKI key. */
    const parsePublicKey = (encoded: string): Effect.Effect<Crypto.KeyObject | null> =>
      Effect.suspend(() => {
        const cached = publicKeys.get(encoded)
        if (cached !== undefined) return Effect.succeed(cached)
        return Effect.try(() => Crypto.createPublicKey({ key: Buffer.from(encoded, "base64"), format: "der", type: "spki" })).pipe(
          Effect.map((key): Crypto.KeyObject | null => (key.asymmetricKeyType === "ed25519" ? key : null)),
          Effect.orElseSucceed(() => null),
          Effect.tap((key) => Effect.sync(() => publicKeys.set(encoded, key)))
        )
      })

    const check = (payload: string, signature: EvidenceSignature) =>
      Effect.gen(function*() {
        const named = yield* parsePublicKey(signature.publicKey)
        if (named === null) {
          return { status: "invalid", reason: "the signature names a public key that is not an Ed25519 key" } satisfies SignatureCheck
        }
        const valid = yield* Effect.try(() =>
          Crypto.verify(null, Buffer.from(payload, "utf8"), named, Buffer.from(signature.value, "base64"))
        ).pipe(Effect.orElseSucceed(() => false))
        if (!valid) {
          return {
            status: "invalid",
            reason: "the signature does not match the bundle: it was changed after it was signed"
          } satisfies SignatureCheck
        }
        const runner = yield* read
        if (Option.isNone(runner)) {
          return {
            status: "other_key",
            reason: `the bundle is signed, but the runner has no key (${keyFile}) to check it against`
          } satisfies SignatureCheck
        }
        if (runner.value.publicKey !== signature.publicKey) {
          return { status: "other_key", reason: "the bundle is signed with a key that is not the runner's" } satisfies SignatureCheck
        }
        return { status: "signed" } satisfies SignatureCheck
      })

    const keyCreatedAt = Effect.map(read, Option.map((key) => key.createdAt))

    return EvidenceSigner.of({ sign, check, keyCreatedAt })
  })

/** The `EvidenceSigner` service for the key at `keyFile`. Requires `FileSystem` and `Path` (e.g. `NodeContext.layer`). */
export const layer = (options: { readonly keyFile: string }): Layer.Layer<
  EvidenceSigner,
  never,
  FileSystem.FileSystem | Path.Path
> => Layer.effect(EvidenceSigner, make(options))
