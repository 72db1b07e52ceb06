/**
 * @switchyard/pg: the PostgreSQL-backed Tracker, Orchestrator, EvidenceStore and BaseResults, for runners on
 * several hosts sharing one database (docs/scale.md). SQLite (@switchyard/sqlite) stays the embedded default.
 */
import type { FileSystem, Path } from "@effect/platform"
import type * as SqlClient from "@effect/sql/SqlClient"
import type * as PgClient from "@effect/sql-pg/PgClient"
import type {
  BaseResults,
  EvidenceSigner,
  EvidenceStore,
  Orchestrator,
  OrchestratorError,
  Redactor,
  Tracker,
  TrackerError
} from "@switchyard/core"
import { Layer } from "effect"
import * as PgBaseResultsModule from "./BaseResults/PgBaseResults.js"
import * as PgEvidenceStoreModule from "./EvidenceStore/PgEvidenceStore.js"
import * as PgOrchestratorModule from "./Orchestrator/PgOrchestrator.js"
import * as PgSqlModule from "./PgSql.js"
import * as PgTrackerModule from "./Tracker/PgTracker.js"

export * as PgBaseResults from "./BaseResults/PgBaseResults.js"
export * as PgEvidenceStore from "./EvidenceStore/PgEvidenceStore.js"
export * as PgOrchestrator from "./Orchestrator/PgOrchestrator.js"
export * as PgSql from "./PgSql.js"
export * as PgTracker from "./Tracker/PgTracker.js"
export { PgOpenError } from "./PgSql.js"

/**
 * Everything a runner needs over one PostgreSQL database: `Tracker`, `Orchestrator`, `EvidenceStore` and
 * `BaseResults`, plus the `SqlClient`/`PgClient` they share (opened and migrated by `PgSql.layer`).
 * `url` is `postgres://…`, `stateDir` the root of this host's run directories (evidence files a person opens),
 * `prefix` the issue id prefix (default `SY`), `hostId` this runner's host (default `os.hostname()`). The
 * `EvidenceSigner` and `Redactor` come from outside, as for `layerAll` of @switchyard/sqlite.
 */
export const layerAll = (options: {
  readonly url: string
  readonly stateDir: string
  readonly prefix?: string | undefined
  readonly hostId?: string | undefined
  readonly maxConnections?: number | undefined
}): Layer.Layer<
  Tracker | Orchestrator | EvidenceStore | BaseResults | SqlClient.SqlClient | PgClient.PgClient,
  PgSqlModule.PgOpenError | TrackerError | OrchestratorError,
  FileSystem.FileSystem | Path.Path | EvidenceSigner | Redactor
> =>
  Layer.mergeAll(
    PgTrackerModule.layer({ prefix: options.prefix }),
    PgOrchestratorModule.layer({ hostId: options.hostId }),
    PgEvidenceStoreModule.layer({ stateDir: options.stateDir }),
    PgBaseResultsModule.layer
  ).pipe(Layer.provideMerge(PgSqlModule.layer({ url: options.url, maxConnections: options.maxConnections })))
