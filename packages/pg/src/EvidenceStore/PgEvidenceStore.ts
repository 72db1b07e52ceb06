/**
 * PgEvidenceStore: evidence bundles in the PostgreSQL database every runner host shares. The signed, redacted
 * document is the `evidence.bundle` row (the same document `SqliteEvidenceStore` stores, built by its
 * `storedDocument` and `redactBundle`), so `get`, `latest`, `list`, `sealed` and `status` read the same bundle on
 * every host. The files a person opens (`evidence.json`, `evidence.md`, `diff.patch` under
 * `<stateDir>/runs/<issueId>/<attempt>/`) are written on the host that stored the bundle and written again from the
 * row by `location` on any other host that asks for them.
 */
import { FileSystem, Path } from "@effect/platform"
import * as SqlClient from "@effect/sql/SqlClient"
import {
  attemptKey,
  checkSeal,
  EvidenceError,
  EvidenceSigner,
  EvidenceStore,
  type EvidenceStoreShape,
  type EvidenceSummary,
  Redactor,
  renderEvidenceMarkdown,
  type SealedEvidence,
  StageArtifact,
  type StoredEvidence,
  type StoredStage
} from "@switchyard/core"
import { type EvidenceBundle, IssueId, TerminalState } from "@switchyard/domain"
import { SqliteEvidenceStore } from "@switchyard/sqlite"
import { Clock, Effect, Either, Layer, Option, Schema } from "effect"
import { resilient } from "../internal/resilient.js"
import { describe, formatParseError } from "../internal/rows.js"

const { BundleJson, DIFF_PATCH, EVIDENCE_JSON, EVIDENCE_MARKDOWN, EvidenceSummaryRow, redactBundle, SEAL_CACHE_LIMIT, storedDocument } =
  SqliteEvidenceStore

const decodeBundle = Schema.decodeUnknown(BundleJson)
const parseDocument = Schema.decodeUnknownEither(Schema.parseJson())
const decodeSummary = Schema.decodeUnknown(EvidenceSummaryRow)
const ArtifactJson = Schema.parseJson(StageArtifact)
const encodeArtifactFields = Schema.encode(StageArtifact)
const decodeArtifact = Schema.decodeUnknown(ArtifactJson)

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
 * Builds the store. `stateDir` (e.g. `<repo>/.switchyard`) is resolved to an absolute path once, so the `dir`
 * recorded in the database does not depend on the current directory of a later reader.
 */
export const make = (options: { readonly stateDir: string }): Effect.Effect<
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
      }).pipe(Effect.withSpan("PgEvidenceStore.put", { attributes: { issueId: given.issueId, attempt: given.attempt } }))

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
     * Writes the files of a bundle stored by another host (its row is the source): evidence.json is the stored
     * document, indented; evidence.md and diff.patch are rendered from the decoded bundle. No row: nothing written.
     */
    const materialize = (issueId: IssueId, attempt: number, files: ReturnType<typeof filesOf>) =>
      Effect.gen(function*() {
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
      sql<{ issue_id: string; attempt: number }>`
        SELECT e.issue_id, e.attempt
        FROM jsonb_array_elements(${JSON.stringify(attempts.map((a) => [a.issueId, a.attempt]))}::jsonb) k
        JOIN evidence e ON e.issue_id = k ->> 0 AND e.attempt = (k ->> 1)::int`.pipe(
        Effect.mapError(failure("stored")),
        Effect.map((rows) => new Set(rows.map((row) => `${row.issue_id}#${row.attempt}`)))
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
      /** `[outcome, verdict.cause, fingerprint.commit]` read by PostgreSQL, for the others (null when not JSON). */
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
    // verify brings its whole text, checked here; the others only the three fields PostgreSQL extracts (no JSON is parsed
    // or canonicalised in JS for them: the cost of a status is the few bundles it verifies, not the window).
    const sealed = (
      attempts: ReadonlyArray<{ readonly issueId: IssueId; readonly attempt: number }>,
      verify?: ReadonlySet<string>
    ) =>
      Effect.gen(function*() {
        const result = new Map<string, SealedEvidence>()
        if (attempts.length === 0) return result
        const keys = attempts.map((a) => [a.issueId, a.attempt, verify === undefined || verify.has(attemptKey(a.issueId, a.attempt)) ? 1 : 0])
        const rows = yield* sql`
          SELECT e.issue_id, e.attempt, e.created_at,
                 CASE WHEN (k ->> 2)::int = 1 THEN e.bundle END AS bundle,
                 CASE WHEN (k ->> 2)::int = 1 THEN NULL
                      ELSE jsonb_build_array(e.bundle::jsonb -> 'outcome', e.bundle::jsonb #> '{verdict,cause}',
                        e.bundle::jsonb #> '{fingerprint,commit}')::text END AS claims
          FROM jsonb_array_elements(${JSON.stringify(keys)}::jsonb) k
          JOIN evidence e ON e.issue_id = k ->> 0 AND e.attempt = (k ->> 1)::int`.pipe(
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
 * The `EvidenceStore` service: rows in the `SqlClient` of `PgSql.layer`, files under `<stateDir>/runs/`, signed by
 * the `EvidenceSigner` (e.g. `Ed25519EvidenceSigner.layer` of @switchyard/node, key in `<stateDir>/keys/`).
 * Requires `SqlClient`, `EvidenceSigner`, `FileSystem` and `Path` (e.g. `NodeContext.layer`).
 */
export const layer = (options: { readonly stateDir: string }): Layer.Layer<
  EvidenceStore,
  never,
  SqlClient.SqlClient | FileSystem.FileSystem | Path.Path | EvidenceSigner | Redactor
> => Layer.effect(EvidenceStore, Effect.map(make(options), resilient))
