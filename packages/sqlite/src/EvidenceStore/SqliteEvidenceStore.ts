/**
 * SqliteEvidenceStore: each bundle as a row in the shared SQLite file (for queries) and as files a person can
 * open under `<stateDir>/runs/<issueId>/<attempt>/`: `evidence.json` (the Schema-encoded bundle, pretty),
 * `evidence.md` (`renderEvidenceMarkdown`) and `diff.patch` (when the bundle has a non-empty patch).
 *
 * The stored document (the `evidence.bundle` column and evidence.json alike) is the Schema-encoded bundle plus a
 * `signature` member: Ed25519 by the runner's key (`EvidenceSigner`) over the canonical JSON (RFC 8785) of the
 * document without it (docs/evidence.md, "The signature"). Readers check it on the stored text itself, so a
 * bundle stays checkable after the Schema gains fields.
 *
 * `put` is the last gate before a bundle reaches disk: every string in it goes through the `Redactor` (secret values
 * and token formats, docs/security.md "Redaction") before it is signed and written, so the signature covers the
 * redacted text and nothing in the row or the files holds what the redactor knows to be secret. `putStage` passes
 * every string of a stage artifact through it the same way.
 */
import { FileSystem, Path } from "@effect/platform"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import {
  attemptKey,
  canonicalJson,
  checkSeal,
  EvidenceError,
  EvidenceSigner,
  EvidenceStore,
  type EvidenceStoreShape,
  type EvidenceSummary,
  Redactor,
  renderEvidenceMarkdown,
  type SealedEvidence,
  SIGNATURE_MEMBER,
  StageArtifact,
  type StoredEvidence,
  type StoredStage
} from "@switchyard/core"
import { EvidenceBundle, IssueId, TerminalState } from "@switchyard/domain"
import { Clock, Effect, Either, Layer, Option, Schema } from "effect"
import { formatParseError } from "../internal/rows.js"
import { describe } from "../Sql.js"

/** How many checked seals a store remembers (a few violation windows); past it the memory starts over. */
export const SEAL_CACHE_LIMIT = 1_000

/** File names inside a run directory. */
export const EVIDENCE_JSON = "evidence.json"
export const EVIDENCE_MARKDOWN = "evidence.md"
export const DIFF_PATCH = "diff.patch"

/**
 * A stored document (the `evidence.bundle` column, evidence.json) decoded as the bundle; its `signature` member is
 * ignored here (the seal is checked by `sealed` / `sealedFile`).
 */
export const BundleJson = Schema.parseJson(EvidenceBundle)

/** The summary columns of an `evidence` row. */
export const EvidenceSummaryRow = Schema.Struct({
  issue_id: IssueId,
  attempt: Schema.Int,
  outcome: TerminalState,
  summary: Schema.String,
  created_at: Schema.Number,
  dir: Schema.String
})

const decodeBundle = Schema.decodeUnknown(BundleJson)
const encodeBundle = Schema.encode(EvidenceBundle)
/** A stored document as parsed JSON, not yet checked (the seal is judged on exactly what was stored). */
const parseDocument = Schema.decodeUnknownEither(Schema.parseJson())

/**
 * The stored document of `bundle`, as `put` writes it: the Schema-encoded bundle plus its `signature` (the
 * `EvidenceSigner`'s, over the canonical JSON of the encoded bundle), as compact JSON (the `evidence.bundle` column)
 * and indented (evidence.json). Fails `EvidenceError` (operation `put`) when the bundle does not encode or cannot
 * be signed.
 */
export const storedDocument = (bundle: EvidenceBundle): Effect.Effect<
  { readonly compact: string; readonly pretty: string },
  EvidenceError,
  EvidenceSigner
> =>
  Effect.gen(function*() {
    const signer = yield* EvidenceSigner
    const encoded = yield* encodeBundle(bundle).pipe(
      Effect.mapError((error) =>
        new EvidenceError({ operation: "put", reason: `bundle does not encode: ${formatParseError(error)}`, cause: error })
      )
    )
    const signature = yield* signer.sign(canonicalJson(encoded)).pipe(
      Effect.mapError((error) => new EvidenceError({ operation: "put", reason: error.message, cause: error }))
    )
    const document = { ...encoded, [SIGNATURE_MEMBER]: signature }
    return { compact: JSON.stringify(document), pretty: JSON.stringify(document, null, 2) }
  })
const decodeSummary = Schema.decodeUnknown(EvidenceSummaryRow)
const ArtifactJson = Schema.parseJson(StageArtifact)
const encodeArtifactFields = Schema.encode(StageArtifact)
const decodeArtifact = Schema.decodeUnknown(ArtifactJson)

const decodeEncoded = Schema.decodeUnknown(EvidenceBundle)

/** `value` (a Schema-encoded, JSON-shaped value) with `f` applied to every string in it, keys excepted. Pure. */
const mapStrings = (value: unknown, f: (text: string) => string): unknown =>
  typeof value === "string"
    ? f(value)
    : Array.isArray(value)
    ? value.map((item) => mapStrings(item, f))
    : value !== null && typeof value === "object"
    ? Object.fromEntries(Object.entries(value).map(([key, item]) => [key, mapStrings(item, f)]))
    : value

/**
 * `bundle` with every text field redacted by `redact` (walked on its encoded form, so a field added to the Schema is
 * covered without a change here). Fails `EvidenceError` (operation `put`) when the bundle does not encode, or no
 * longer decodes once redacted (a redaction inside a constrained field).
 */
export const redactBundle = (
  bundle: EvidenceBundle,
  redact: (text: string) => string
): Effect.Effect<EvidenceBundle, EvidenceError> =>
  encodeBundle(bundle).pipe(
    Effect.flatMap((encoded) => decodeEncoded(mapStrings(encoded, redact))),
    Effect.mapError((error) =>
      new EvidenceError({ operation: "put", reason: `bundle cannot be redacted: ${formatParseError(error)}`, cause: error })
    )
  )

/**
 * What differs between the SQL databases the evidence index runs on (SQLite here, PostgreSQL in @switchyard/pg):
 * the two many-key reads (JSON functions differ) and whether a bundle's files are written again from its row.
 */
export interface EvidenceDialect {
  /** The span prefix, e.g. `SqliteEvidenceStore`. */
  readonly name: string
  /** The `evidence` rows (issue_id, attempt) of `keys`, JSON text of `[issueId, attempt]` pairs. */
  readonly stored: (keys: string) => Effect.Effect<ReadonlyArray<Record<string, unknown>>, SqlError>
  /**
   * The rows of `keys` (JSON text of `[issueId, attempt, verify]` triples, verify 0/1): issue_id, attempt,
   * created_at, `bundle` (the stored text, only where verify is 1) and `claims` (JSON text of `[outcome,
   * verdict.cause, fingerprint.commit]` read by the database, only where verify is 0 and the text is JSON).
   */
  readonly sealed: (keys: string) => Effect.Effect<ReadonlyArray<Record<string, unknown>>, SqlError>
  /**
   * Whether `location` and `sealedFile` write a bundle's files from its row when this host has none (the bundle
   * was stored on another host sharing the database). SQLite: false (one host; a missing file is reported).
   */
  readonly materialize: boolean
}

/**
 * Builds the store over the current `SqlClient` with a database's {@link EvidenceDialect}. `stateDir` (e.g.
 * `<repo>/.switchyard`) is resolved to an absolute path once, so the `dir` recorded in the database does not
 * depend on the current directory of a later reader.
 */
export const makeWith = (options: { readonly stateDir: string }, dialect: EvidenceDialect): Effect.Effect<
  EvidenceStoreShape,
  never,
  SqlClient.SqlClient | FileSystem.FileSystem | Path.Path | EvidenceSigner | Redactor
> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const signer = yield* EvidenceSigner
    const redactor = yield* Redactor
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const runsRoot = path.join(path.resolve(options.stateDir), "runs")

    const failure = (operation: string) => (error: unknown) =>
      new EvidenceError({ operation, reason: describe(error), cause: error })

    const dirOf = (operation: string, issueId: IssueId, attempt: number) =>
      Number.isSafeInteger(attempt) && attempt >= 0
        ? Effect.succeed(path.join(runsRoot, issueId, String(attempt)))
        : Effect.fail(new EvidenceError({ operation, reason: `attempt must be a non-negative integer, got ${attempt}` }))

    const runDir = (issueId: IssueId, attempt: number) =>
      Effect.gen(function*() {
        const dir = yield* dirOf("runDir", issueId, attempt)
        yield* fs.makeDirectory(dir, { recursive: true }).pipe(Effect.mapError(failure("runDir")))
        return dir
      })

    /** Writes `file` through a temporary sibling and a rename, so a reader never sees half a file. */
    const writeAtomic = (file: string, content: string) =>
      Effect.gen(function*() {
        const temporary = `${file}.${process.pid}.${yield* Clock.currentTimeMillis}.tmp`
        yield* fs.writeFileString(temporary, content).pipe(
          Effect.zipRight(fs.rename(temporary, file)),
          Effect.tapError(() => fs.remove(temporary, { force: true }).pipe(Effect.ignore))
        )
      })

    const filesOf = (dir: string) => ({
      json: path.join(dir, EVIDENCE_JSON),
      markdown: path.join(dir, EVIDENCE_MARKDOWN),
      patch: path.join(dir, DIFF_PATCH)
    })

    const put = (given: EvidenceBundle) =>
      Effect.gen(function*() {
        const bundle = yield* redactBundle(given, redactor.redact)
        const dir = yield* runDir(bundle.issueId, bundle.attempt)
        const files = filesOf(dir)
        const { compact, pretty } = yield* storedDocument(bundle).pipe(Effect.provideService(EvidenceSigner, signer))
        const patch = bundle.diff !== null && bundle.diff.patch !== "" ? bundle.diff.patch : null

        yield* writeAtomic(files.json, `${pretty}\n`).pipe(Effect.mapError(failure("put")))
        yield* writeAtomic(files.markdown, renderEvidenceMarkdown(bundle)).pipe(Effect.mapError(failure("put")))
        if (patch !== null) {
          yield* writeAtomic(files.patch, patch).pipe(Effect.mapError(failure("put")))
        } else {
          yield* fs.remove(files.patch, { force: true }).pipe(Effect.mapError(failure("put")))
        }

        const createdAt = yield* Clock.currentTimeMillis
        yield* sql`
          INSERT INTO evidence ${
          sql.insert({
            issue_id: bundle.issueId,
            attempt: bundle.attempt,
            outcome: bundle.outcome,
            summary: bundle.summary,
            created_at: createdAt,
            dir,
            bundle: compact,
            input_tokens: bundle.usage.inputTokens,
            output_tokens: bundle.usage.outputTokens,
            cost_usd: bundle.usage.costUsd
          })
        }
          ON CONFLICT (issue_id, attempt) DO UPDATE SET
            outcome = excluded.outcome, summary = excluded.summary, created_at = excluded.created_at,
            dir = excluded.dir, bundle = excluded.bundle, input_tokens = excluded.input_tokens,
            output_tokens = excluded.output_tokens, cost_usd = excluded.cost_usd`.pipe(Effect.mapError(failure("put")))

        return { dir, json: files.json, markdown: files.markdown, patch: patch === null ? null : files.patch }
      }).pipe(Effect.withSpan(`${dialect.name}.put`, { attributes: { issueId: given.issueId, attempt: given.attempt } }))

    /** Decodes a stored bundle; one that no longer decodes fails naming its issue and attempt. */
    const decodeStored = (operation: string, row: { readonly attempt: unknown; readonly bundle: unknown }, issueId: IssueId) =>
      decodeBundle(row.bundle).pipe(
        Effect.mapError((error) =>
          new EvidenceError({
            operation,
            reason: `the stored evidence of ${issueId} attempt ${String(row.attempt)} no longer decodes (${
              formatParseError(error)
            })`,
            cause: error
          })
        )
      )

    const putStage = (issueId: IssueId, attempt: number, epoch: number, artifact: StageArtifact) =>
      Effect.gen(function*() {
        // Stage artifacts reach disk too: the same gate as `put`, every string redacted.
        const data = yield* encodeArtifactFields(artifact).pipe(
          Effect.map((encoded) => JSON.stringify(mapStrings(encoded, redactor.redact))),
          Effect.mapError((error) =>
            new EvidenceError({ operation: "putStage", reason: `artifact does not encode: ${formatParseError(error)}`, cause: error })
          )
        )
        const at = yield* Clock.currentTimeMillis
        yield* sql`
          INSERT INTO stage_artifacts (issue_id, attempt, seq, stage, at, epoch, data)
          SELECT ${issueId}, ${attempt}, COALESCE(MAX(seq), 0) + 1, ${artifact._tag}, ${at}, ${epoch}, ${data}
          FROM stage_artifacts WHERE issue_id = ${issueId} AND attempt = ${attempt}`.pipe(Effect.mapError(failure("putStage")))
      })

    const stages = (issueId: IssueId, attempt: number) =>
      Effect.gen(function*() {
        const rows = yield* sql<{ seq: number; at: number; data: string }>`
          SELECT seq, at, data FROM stage_artifacts WHERE issue_id = ${issueId} AND attempt = ${attempt} ORDER BY seq`.pipe(
          Effect.mapError(failure("stages"))
        )
        return yield* Effect.forEach(rows, (row) =>
          decodeArtifact(row.data).pipe(
            Effect.map((artifact): StoredStage => ({ seq: row.seq, at: row.at, artifact })),
            Effect.mapError((error) =>
              new EvidenceError({
                operation: "stages",
                reason: `stage ${row.seq} of ${issueId} attempt ${attempt} no longer decodes (${formatParseError(error)})`,
                cause: error
              })
            )
          ))
      })

    const latest = (issueId: IssueId) =>
      Effect.gen(function*() {
        const rows = yield* sql<{ attempt: unknown; bundle: unknown }>`
          SELECT attempt, bundle FROM evidence WHERE issue_id = ${issueId} ORDER BY attempt DESC LIMIT 1`.pipe(
          Effect.mapError(failure("latest"))
        )
        const row = rows[0]
        if (row === undefined) return Option.none<EvidenceBundle>()
        return Option.some(yield* decodeStored("latest", row, issueId))
      })

    const get = (issueId: IssueId, attempt: number) =>
      Effect.gen(function*() {
        const rows = yield* sql<{ attempt: unknown; bundle: unknown }>`
          SELECT attempt, bundle FROM evidence WHERE issue_id = ${issueId} AND attempt = ${attempt}`.pipe(
          Effect.mapError(failure("get"))
        )
        const row = rows[0]
        if (row === undefined) return Option.none<EvidenceBundle>()
        return Option.some(yield* decodeStored("get", row, issueId))
      })

    const list = (issueId: IssueId) =>
      Effect.gen(function*() {
        const rows = yield* sql`
          SELECT issue_id, attempt, outcome, summary, created_at, dir FROM evidence
          WHERE issue_id = ${issueId} ORDER BY attempt`.pipe(Effect.mapError(failure("list")))
        return yield* Effect.forEach(rows, (row) =>
          decodeSummary(row).pipe(
            Effect.map((decoded): EvidenceSummary => ({
              issueId: decoded.issue_id,
              attempt: decoded.attempt,
              outcome: decoded.outcome,
              summary: decoded.summary,
              createdAt: decoded.created_at,
              dir: decoded.dir
            })),
            Effect.mapError((error) =>
              new EvidenceError({
                operation: "list",
                reason: `an evidence row of ${issueId} does not decode (${formatParseError(error)})`,
                cause: error
              })
            )
          ))
      })

    /**
     * Writes the files of a bundle stored by another host (its row is the source) when `dialect.materialize`:
     * evidence.json is the stored document, indented; evidence.md and diff.patch are rendered from the decoded
     * bundle. Files already here, or no row: nothing written.
     */
    const materialize = (issueId: IssueId, attempt: number, files: ReturnType<typeof filesOf>) =>
      !dialect.materialize ? Effect.void : Effect.gen(function*() {
        if (yield* fs.exists(files.json)) return
        const rows = yield* sql<{ attempt: unknown; bundle: unknown }>`
          SELECT attempt, bundle FROM evidence WHERE issue_id = ${issueId} AND attempt = ${attempt}`
        const row = rows[0]
        if (row === undefined || typeof row.bundle !== "string") return
        const bundle = yield* decodeStored("location", row, issueId)
        const document = parseDocument(row.bundle)
        if (Either.isLeft(document)) return
        yield* runDir(issueId, attempt)
        yield* writeAtomic(files.json, `${JSON.stringify(document.right, null, 2)}\n`)
        yield* writeAtomic(files.markdown, renderEvidenceMarkdown(bundle))
        if (bundle.diff !== null && bundle.diff.patch !== "") yield* writeAtomic(files.patch, bundle.diff.patch)
      }).pipe(Effect.mapError(failure("location")))

    const location = (issueId: IssueId, attempt: number) =>
      Effect.gen(function*() {
        const dir = yield* dirOf("location", issueId, attempt)
        const files = filesOf(dir)
        yield* materialize(issueId, attempt, files)
        const hasPatch = yield* fs.exists(files.patch).pipe(Effect.mapError(failure("location")))
        return { dir, json: files.json, markdown: files.markdown, patch: hasPatch ? files.patch : null } satisfies
          StoredEvidence
      })

    const UsageTotals = Schema.Struct({
      bundles: Schema.NullOr(Schema.Number),
      input_tokens: Schema.NullOr(Schema.Number),
      output_tokens: Schema.NullOr(Schema.Number),
      cost_usd: Schema.NullOr(Schema.Number)
    })
    const usageTotals = sql`
      SELECT COUNT(*) AS bundles,
             SUM(input_tokens) AS input_tokens,
             SUM(output_tokens) AS output_tokens,
             SUM(cost_usd) AS cost_usd
      FROM evidence`.pipe(
      Effect.mapError(failure("usageTotals")),
      Effect.flatMap((rows) =>
        Schema.decodeUnknown(UsageTotals)(rows[0]).pipe(
          Effect.mapError((error) => new EvidenceError({ operation: "usageTotals", reason: formatParseError(error) }))
        )
      ),
      Effect.map((r) => ({
        bundles: r.bundles ?? 0,
        inputTokens: r.input_tokens ?? 0,
        outputTokens: r.output_tokens ?? 0,
        costUsd: r.cost_usd
      }))
    )

    // One query for any number of attempts: the keys travel as one JSON array of [issueId, attempt] pairs.
    const stored = (attempts: ReadonlyArray<{ readonly issueId: IssueId; readonly attempt: number }>) =>
      dialect.stored(JSON.stringify(attempts.map((a) => [a.issueId, a.attempt]))).pipe(
        Effect.mapError(failure("stored")),
        Effect.map((rows) => new Set(rows.map((row) => `${String(row.issue_id)}#${String(row.attempt)}`)))
      )

    /** The seal of one stored text (row or file) of `issueId`'s attempt, stored at `storedAt`. */
    const sealOf = (text: unknown, issueId: IssueId, attempt: number, storedAt: number, keyCreatedAt: Option.Option<number>) =>
      Either.match(parseDocument(text), {
        onLeft: (): Effect.Effect<SealedEvidence, EvidenceError> =>
          Effect.succeed({
            issueId,
            attempt,
            outcome: null,
            cause: null,
            fingerprintCommit: null,
            storedAt,
            seal: { status: "invalid", detail: "the stored bundle is not JSON" }
          }),
        onRight: (document) =>
          checkSeal(document, { issueId, attempt, storedAt }, keyCreatedAt).pipe(
            Effect.provideService(EvidenceSigner, signer),
            Effect.mapError((error) => new EvidenceError({ operation: "sealed", reason: error.message, cause: error }))
          )
      })

    const keyCreatedAt = signer.keyCreatedAt.pipe(
      Effect.mapError((error) => new EvidenceError({ operation: "sealed", reason: error.message, cause: error }))
    )

    const SealRow = Schema.Struct({
      issue_id: IssueId,
      attempt: Schema.Int,
      created_at: Schema.Number,
      /** The stored text, only for the rows whose seal is checked. */
      bundle: Schema.NullOr(Schema.String),
      /** `[outcome, verdict.cause, fingerprint.commit]` read by the database, for the others (null when not JSON). */
      claims: Schema.NullOr(Schema.String)
    })
    const decodeSealRow = Schema.decodeUnknown(SealRow)
    const decodeClaims = Schema.decodeUnknownOption(
      Schema.parseJson(Schema.Tuple(Schema.NullOr(TerminalState), Schema.NullOr(Schema.String), Schema.NullOr(Schema.String)))
    )

    // A long-lived reader (the supervisor on every tick, `status --watch`) sees the same rows again and again. A seal
    // is a function of the stored text, its storage time and the key's creation time, so a row whose text is the one
    // already checked keeps its result: the text is still read and compared in full, only the crypto is skipped.
    const checked = new Map<
      string,
      { readonly text: string; readonly storedAt: number; readonly keyCreatedAt: number | null; readonly sealed: SealedEvidence }
    >()

    // One query for any number of attempts (the keys travel as one JSON array with a verify flag each). A row to
    // verify brings its whole text, checked here; the others only the three fields the database extracts (no JSON is parsed
    // or canonicalised in JS for them: the cost of a status is the few bundles it verifies, not the window).
    const sealed = (
      attempts: ReadonlyArray<{ readonly issueId: IssueId; readonly attempt: number }>,
      verify?: ReadonlySet<string>
    ) =>
      Effect.gen(function*() {
        const result = new Map<string, SealedEvidence>()
        if (attempts.length === 0) return result
        const keys = attempts.map((a) => [a.issueId, a.attempt, verify === undefined || verify.has(attemptKey(a.issueId, a.attempt)) ? 1 : 0])
        const rows = yield* dialect.sealed(JSON.stringify(keys)).pipe(
          Effect.mapError(failure("sealed"))
        )
        const created = yield* keyCreatedAt
        const createdMs = Option.getOrNull(created)
        if (checked.size > SEAL_CACHE_LIMIT) checked.clear()
        for (const raw of rows) {
          const row = yield* decodeSealRow(raw).pipe(
            Effect.mapError((error) => new EvidenceError({ operation: "sealed", reason: formatParseError(error), cause: error }))
          )
          const key = attemptKey(row.issue_id, row.attempt)
          if (result.has(key)) continue
          if (row.bundle === null) {
            const [outcome, cause, fingerprintCommit] = Option.getOrElse(decodeClaims(row.claims), () => [null, null, null] as const)
            result.set(key, {
              issueId: row.issue_id,
              attempt: row.attempt,
              outcome,
              cause,
              fingerprintCommit,
              storedAt: row.created_at,
              seal: null
            })
            continue
          }
          const hit = checked.get(key)
          if (hit !== undefined && hit.text === row.bundle && hit.storedAt === row.created_at && hit.keyCreatedAt === createdMs) {
            result.set(key, hit.sealed)
            continue
          }
          const seal = yield* sealOf(row.bundle, row.issue_id, row.attempt, row.created_at, created)
          checked.set(key, { text: row.bundle, storedAt: row.created_at, keyCreatedAt: createdMs, sealed: seal })
          result.set(key, seal)
        }
        return result
      })

    const sealedFile = (issueId: IssueId, attempt: number) =>
      Effect.gen(function*() {
        const rows = yield* sql<{ created_at: number }>`
          SELECT created_at FROM evidence WHERE issue_id = ${issueId} AND attempt = ${attempt}`.pipe(
          Effect.mapError(failure("sealedFile"))
        )
        const row = rows[0]
        if (row === undefined) return Option.none<SealedEvidence>()
        const files = filesOf(yield* dirOf("sealedFile", issueId, attempt))
        yield* materialize(issueId, attempt, files)
        const file = files.json
        const text = yield* fs.readFileString(file).pipe(
          Effect.map(Option.some),
          Effect.catchIf((e) => e._tag === "SystemError" && e.reason === "NotFound", () => Effect.succeed(Option.none<string>())),
          Effect.mapError(failure("sealedFile"))
        )
        if (Option.isNone(text)) return Option.none<SealedEvidence>()
        return Option.some(yield* sealOf(text.value, issueId, attempt, Number(row.created_at), yield* keyCreatedAt))
      })

    return {
      runDir,
      put,
      putStage,
      stages,
      latest,
      get,
      list,
      stored,
      sealed,
      sealedFile,
      location,
      usageTotals
    } satisfies EvidenceStoreShape
  })

/**
 * Builds the SQLite store (see {@link makeWith}): the many-key reads use `json_each`/`json_extract`.
 */
export const make = (options: { readonly stateDir: string }): Effect.Effect<
  EvidenceStoreShape,
  never,
  SqlClient.SqlClient | FileSystem.FileSystem | Path.Path | EvidenceSigner | Redactor
> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    makeWith(options, {
      name: "SqliteEvidenceStore",
      stored: (keys) =>
        sql`
          SELECT e.issue_id, e.attempt FROM json_each(${keys}) k
          JOIN evidence e ON e.issue_id = json_extract(k.value, '$[0]') AND e.attempt = json_extract(k.value, '$[1]')`,
      sealed: (keys) =>
        sql`
          SELECT e.issue_id, e.attempt, e.created_at,
                 CASE WHEN json_extract(k.value, '$[2]') = 1 THEN e.bundle END AS bundle,
                 CASE WHEN json_extract(k.value, '$[2]') = 1 OR NOT json_valid(e.bundle) THEN NULL
                      ELSE json_extract(e.bundle, '$.outcome', '$.verdict.cause', '$.fingerprint.commit') END AS claims
          FROM json_each(${keys}) k
          JOIN evidence e ON e.issue_id = json_extract(k.value, '$[0]') AND e.attempt = json_extract(k.value, '$[1]')`,
      materialize: false
    }))

/**
 * The `EvidenceStore` service: rows in the `SqlClient` of `Sql.layer`, files under `<stateDir>/runs/`, signed by
 * the `EvidenceSigner` (e.g. `Ed25519EvidenceSigner.layer` of @switchyard/node, key in `<stateDir>/keys/`).
 * Requires `SqlClient`, `EvidenceSigner`, `FileSystem` and `Path` (e.g. `NodeContext.layer`).
 */
export const layer = (options: { readonly stateDir: string }): Layer.Layer<
  EvidenceStore,
  never,
  SqlClient.SqlClient | FileSystem.FileSystem | Path.Path | EvidenceSigner | Redactor
> => Layer.effect(EvidenceStore, make(options))
