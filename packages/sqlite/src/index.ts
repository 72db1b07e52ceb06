/**
 * @switchyard/sqlite: the SQLite-backed Tracker, Orchestrator, EvidenceStore and BaseResults, sharing one client per process.
 */
import type { FileSystem, Path } from "@effect/platform"
import type * as SqlClient from "@effect/sql/SqlClient"
import type * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import type { BaseResults, EvidenceSigner, EvidenceStore, Orchestrator, Redactor, Tracker, TrackerError } from "@switchyard/core"
import { Layer } from "effect"
import * as SqliteBaseResultsModule from "./BaseResults/SqliteBaseResults.js"
import * as SqliteEvidenceStoreModule from "./EvidenceStore/SqliteEvidenceStore.js"
import * as SqliteOrchestratorModule from "./Orchestrator/SqliteOrchestrator.js"
import * as SqlModule from "./Sql.js"
import * as SqliteTrackerModule from "./Tracker/SqliteTracker.js"

export * as SqliteBaseResults from "./BaseResults/SqliteBaseResults.js"
export * as SqliteEvidenceStore from "./EvidenceStore/SqliteEvidenceStore.js"
export * as SqliteOrchestrator from "./Orchestrator/SqliteOrchestrator.js"
export * as Sql from "./Sql.js"
/** Row decoding helpers, shared with the PostgreSQL stores (@switchyard/pg). */
export * as Rows from "./internal/rows.js"
export * as SqliteTracker from "./Tracker/SqliteTracker.js"
export * as TrackerHealth from "./Tracker/TrackerHealth.js"
/** Re-exported at the top level so the types of composed layers can be named by importers. */
export { SqliteOpenError } from "./Sql.js"

/**
 * Everything a runner needs over one SQLite file: `Tracker`, `Orchestrator`, `EvidenceStore` and `BaseResults`, plus the
 * `SqlClient`/`SqliteClient` they share (opened and migrated by `Sql.layer`).
 * `filename` is the database (e.g. `<repo>/.switchyard/switchyard.db`), `stateDir` the root of the run
 * directories (e.g. `<repo>/.switchyard`), `prefix` the issue id prefix (default `SY`). The `EvidenceSigner` that
 * signs the bundles and the `Redactor` every stored bundle goes through come from outside (e.g.
 * `Ed25519EvidenceSigner.layer` and `EnvRedactor.layer` of @switchyard/node).
 */
export const layerAll = (options: {
  readonly filename: string
  readonly stateDir: string
  readonly prefix?: string | undefined
}): Layer.Layer<
  Tracker | Orchestrator | EvidenceStore | BaseResults | SqlClient.SqlClient | SqliteClient.SqliteClient,
  SqlModule.SqliteOpenError | TrackerError,
  FileSystem.FileSystem | Path.Path | EvidenceSigner | Redactor
> =>
  Layer.mergeAll(
    SqliteTrackerModule.layer({ prefix: options.prefix }),
    SqliteOrchestratorModule.layer,
    SqliteEvidenceStoreModule.layer({ stateDir: options.stateDir }),
    SqliteBaseResultsModule.layer
  ).pipe(Layer.provideMerge(SqlModule.layer({ filename: options.filename })))
