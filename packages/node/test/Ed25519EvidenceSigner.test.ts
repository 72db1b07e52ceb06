/**
 * The node:crypto evidence signer on real files: the key is created on the first signature (0600 in a 0700
 * directory), signatures check with node:crypto itself, an edited payload or another key is caught, and checking
 * never creates a key. `checkSeal` (core) on top of it: what `status` and `verify` conclude about a stored document.
 */
import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { canonicalJson, checkSeal, EvidenceSigner } from "@switchyard/core"
import { IssueId } from "@switchyard/domain"
import { Effect, Option } from "effect"
import * as Crypto from "node:crypto"
import * as NodePath from "node:path"
import { Ed25519EvidenceSigner } from "../src/index.js"

const tempDir = Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "switchyard-sign-" }))
const signerAt = (keyFile: string) => Ed25519EvidenceSigner.make({ keyFile })

describe("Ed25519EvidenceSigner", () => {
  it.scoped("creates the key on the first signature, private to the runner, and signs so node:crypto verifies it", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* tempDir
      const keyFile = NodePath.join(dir, ".switchyard", "keys", "evidence.ed25519")
      const signer = yield* signerAt(keyFile)
      expect(yield* signer.keyCreatedAt).toEqual(Option.none())
      expect(yield* fs.exists(keyFile)).toBe(false)

      const payload = canonicalJson({ issueId: "SY-1", outcome: "PR_READY" })
      const signature = yield* signer.sign(payload)
      expect(signature.algorithm).toBe("ed25519")
      expect((yield* fs.stat(keyFile)).mode & 0o777).toBe(0o600)
      expect((yield* fs.stat(NodePath.dirname(keyFile))).mode & 0o777).toBe(0o700)
      expect(Option.isSome(yield* signer.keyCreatedAt)).toBe(true)
      // Only the key file is left in the directory (no temporary file).
      expect(yield* fs.readDirectory(NodePath.dirname(keyFile))).toEqual(["evidence.ed25519"])

      // Independently of the code under test: the named public key is the key file's, and verifies the signature.
      const pem = yield* fs.readFileString(keyFile)
      const publicKey = Crypto.createPublicKey({ key: Buffer.from(signature.publicKey, "base64"), format: "der", type: "spki" })
      expect(Crypto.createPublicKey(pem).export({ format: "der", type: "spki" }).toString("base64")).toBe(signature.publicKey)
      expect(Crypto.verify(null, Buffer.from(payload), publicKey, Buffer.from(signature.value, "base64"))).toBe(true)
      expect(JSON.stringify(signature)).not.toContain(pem.split("\n")[1]!)

      expect(yield* signer.check(payload, signature)).toEqual({ status: "signed" })
      // A later signer over the same file uses the same key (it is created once).
      const again = yield* (yield* signerAt(keyFile)).sign(payload)
      expect(again.publicKey).toBe(signature.publicKey)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("an edited payload is invalid; a valid signature by another key is another key's", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const runner = yield* signerAt(NodePath.join(dir, "runner", "evidence.ed25519"))
      const forger = yield* signerAt(NodePath.join(dir, "forger", "evidence.ed25519"))
      const honest = canonicalJson({ issueId: "SY-2", outcome: "ESCALATE" })
      const forged = canonicalJson({ issueId: "SY-2", outcome: "PR_READY" })
      const signature = yield* runner.sign(honest)

      expect(yield* runner.check(forged, signature)).toMatchObject({
        status: "invalid",
        reason: "the signature does not match the bundle: it was changed after it was signed"
      })
      // The forger re-signs the edited bundle with a key of their own: valid, but not the runner's.
      const resigned = yield* forger.sign(forged)
      expect(yield* forger.check(forged, resigned)).toEqual({ status: "signed" })
      expect(yield* runner.check(forged, resigned)).toMatchObject({ status: "other_key" })
      // A signature naming the runner's key but made by the forger's does not verify.
      expect(yield* runner.check(forged, { ...resigned, publicKey: signature.publicKey })).toMatchObject({ status: "invalid" })
      expect(yield* runner.check(honest, { ...signature, publicKey: "bm90IGEga2V5" })).toMatchObject({ status: "invalid" })
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("checking never creates a key: without one, a signed bundle cannot be the runner's", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* tempDir
      const other = yield* signerAt(NodePath.join(dir, "other", "evidence.ed25519"))
      const payload = canonicalJson({ a: 1 })
      const signature = yield* other.sign(payload)
      const keyFile = NodePath.join(dir, "reader", "evidence.ed25519")
      const reader = yield* signerAt(keyFile)
      const checked = yield* reader.check(payload, signature)
      expect(checked).toEqual({
        status: "other_key",
        reason: `the bundle is signed, but the runner has no key (${keyFile}) to check it against`
      })
      expect(yield* fs.exists(keyFile)).toBe(false)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("runners that sign at once for the first time end up with one key", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const keyFile = NodePath.join(dir, "keys", "evidence.ed25519")
      const signers = yield* Effect.all([signerAt(keyFile), signerAt(keyFile), signerAt(keyFile)])
      const signatures = yield* Effect.forEach(signers, (s) => s.sign("{}"), { concurrency: "unbounded" })
      expect(new Set(signatures.map((s) => s.publicKey)).size).toBe(1)
      for (const s of signatures) expect(yield* signers[0]!.check("{}", s)).toEqual({ status: "signed" })
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("a key file that is not an Ed25519 PEM key fails with a message naming the file", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* tempDir
      const keyFile = NodePath.join(dir, "evidence.ed25519")
      yield* fs.writeFileString(keyFile, "not a key\n", { mode: 0o600 })
      const error = yield* Effect.flip((yield* signerAt(keyFile)).sign("{}"))
      expect(error.message).toBe(`the evidence signing key ${keyFile} cannot be used: it is not a PEM private key`)
    }).pipe(Effect.provide(NodeContext.layer)))
})

describe("checkSeal", () => {
  const issueId = IssueId.make("SY-3")
  const bundle = { issueId: "SY-3", attempt: 1, outcome: "ESCALATE", verdict: { cause: "validation_failed" }, fingerprint: null }

  it.scoped("tells a signed, an edited, a stripped, a legacy and a moved bundle apart", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const signer = yield* signerAt(NodePath.join(dir, "keys", "evidence.ed25519"))
      const signature = yield* signer.sign(canonicalJson(bundle))
      const created = Option.getOrThrow(yield* signer.keyCreatedAt)
      const seal = (document: unknown, storedAt = created + 1, stored = { issueId, attempt: 1 }) =>
        checkSeal(document, { ...stored, storedAt }, Option.some(created)).pipe(
          Effect.provideService(EvidenceSigner, signer),
          Effect.map((s) => s.seal?.status)
        )

      expect(yield* seal({ ...bundle, signature })).toBe("signed")
      // Member order and whitespace do not matter: the payload is canonical.
      expect(yield* seal(JSON.parse(JSON.stringify({ signature, ...bundle }, null, 2)))).toBe("signed")
      expect(yield* seal({ ...bundle, outcome: "PR_READY", signature })).toBe("invalid")
      expect(yield* seal(bundle)).toBe("unsigned")
      expect(yield* seal(bundle, created - 1)).toBe("unsigned_legacy")
      expect(yield* seal({ ...bundle, signature: { algorithm: "none" } })).toBe("invalid")
      // A genuine signed bundle copied under another issue's row is not that issue's evidence.
      expect(yield* seal({ ...bundle, signature }, created + 1, { issueId: IssueId.make("SY-4"), attempt: 1 })).toBe("invalid")
      expect(yield* seal({ ...bundle, signature }, created + 1, { issueId, attempt: 2 })).toBe("invalid")
      expect(yield* seal("not an object")).toBe("invalid")

      const read = yield* checkSeal({ ...bundle, signature }, { issueId, attempt: 1, storedAt: 5 }, Option.none()).pipe(
        Effect.provideService(EvidenceSigner, signer)
      )
      expect(read).toEqual({
        issueId,
        attempt: 1,
        outcome: "ESCALATE",
        cause: "validation_failed",
        fingerprintCommit: null,
        storedAt: 5,
        seal: { status: "signed", detail: null }
      })
    }).pipe(Effect.provide(NodeContext.layer)))
})
