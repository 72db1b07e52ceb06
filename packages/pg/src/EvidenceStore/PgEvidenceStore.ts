/**
 * PgEvidenceStore: evidence bundles in the PostgreSQL database every runner host shares. The same store as
 * `SqliteEvidenceStore` (its `makeWith`: the signed, redacted document is the `evidence.bundle` row), so `get`,
 * `latest`, `list`, `sealed` and `status` read the same bundle on every host. The files a person opens
 * (`evidence.json`, `evidence.md`, `diff.patch` under `<stateDir>/runs/<issueId>/<attempt>/`) are written on the
 * host that stored the bundle and written again from the row by `location` and `sealedFile` on any other host that
 * asks for them.
 */
import type { FileSystem, Path } from "@effect/platform"
import * as SqlClient from "@effect/sql/SqlClient"
import { type EvidenceSigner, EvidenceStore, type EvidenceStoreShape, type Redactor } from "@switchyard/core"
import { SqliteEvidenceStore } from "@switchyard/sqlite"
import { Effect, Layer } from "effect"
import { resilient } from "../internal/resilient.js"

/**
 * Builds the store over the current `SqlClient` (migrated by `PgSql.layer`): the many-key reads use
 * `jsonb_array_elements`; files missing on this host are written from the row. `stateDir` as in
 * `SqliteEvidenceStore.makeWith`.
 */
export const make = (options: { readonly stateDir: string }): Effect.Effect<
  EvidenceStoreShape,
  never,
  SqlClient.SqlClient | FileSystem.FileSystem | Path.Path | EvidenceSigner | Redactor
> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    SqliteEvidenceStore.makeWith(options, {
      name: "PgEvidenceStore",
      stored: (keys) =>
        sql`
          SELECT e.issue_id, e.attempt
          FROM jsonb_array_elements(${keys}::jsonb) k
          JOIN evidence e ON e.issue_id = k ->> 0 AND e.attempt = (k ->> 1)::int`,
      sealed: (keys) =>
        sql`
          SELECT e.issue_id, e.attempt, e.created_at,
                 CASE WHEN (k ->> 2)::int = 1 THEN e.bundle END AS bundle,
                 CASE WHEN (k ->> 2)::int = 1 THEN NULL
                      ELSE jsonb_build_array(e.bundle::jsonb -> 'outcome', e.bundle::jsonb #> '{verdict,cause}',
                        e.bundle::jsonb #> '{fingerprint,commit}')::text END AS claims
          FROM jsonb_array_elements(${keys}::jsonb) k
          JOIN evidence e ON e.issue_id = k ->> 0 AND e.attempt = (k ->> 1)::int`,
      materialize: true
    }))

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
