import { FileSystem, Path } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer } from "effect"
import { Sql } from "../src/index.js"
import { scratch } from "./helpers.js"

const client = (filename: string) =>
  Layer.build(Sql.layer({ filename })).pipe(Effect.map((context) => Context.get(context, SqlClient.SqlClient)))

describe("Sql.layer", () => {
  it.scoped("creates the parent directory, enables WAL and busy_timeout, and migrates once", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const paths = yield* scratch
      const filename = path.join(paths.dir, "a", "b", "switchyard.db")
      const sql = yield* client(filename)
      expect(yield* fs.exists(filename)).toBe(true)
      expect(yield* sql.unsafe("PRAGMA busy_timeout").unprepared).toEqual([{ timeout: 5000 }])
      expect(yield* sql.unsafe("PRAGMA journal_mode").unprepared).toEqual([{ journal_mode: "wal" }])
      const tables = yield* sql<{ name: string }>`
        SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`
      expect(tables.map((t) => t.name)).toEqual([
        "attempts",
        "base_results",
        "dispatch_index",
        "dispatch_stale",
        "effect_sql_migrations",
        "events",
        "evidence",
        "id_counters",
        "issue_blockers",
        "issue_epochs",
        "issues",
        "leases",
        "orphans",
        "retries",
        "stage_artifacts",
        "tracker_health",
        "tracker_ids",
        "tracker_outbox"
      ])
      const indexes = yield* sql<{ name: string }>`
        SELECT name FROM sqlite_master WHERE type = 'index' AND name IN ('issues_status', 'evidence_usage') ORDER BY name`
      expect(indexes.map((i) => i.name)).toEqual(["evidence_usage", "issues_status"])

      // A second client on the same file finds the schema done and adds no migration row.
      const again = yield* client(filename)
      const migrations = yield* again<{ migration_id: number; name: string }>`SELECT migration_id, name FROM effect_sql_migrations`
      expect(migrations).toEqual([
        { migration_id: 1, name: "init" },
        { migration_id: 2, name: "ready_index" },
        { migration_id: 3, name: "evidence_usage" },
        { migration_id: 4, name: "evidence_usage_index" },
        { migration_id: 5, name: "fencing_stages" },
        { migration_id: 6, name: "base_results" },
        { migration_id: 7, name: "tracker_outbox" },
        { migration_id: 8, name: "orphans" }
      ])
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("fails with SqliteOpenError when the file cannot be a database", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const paths = yield* scratch
      const notADatabase = path.join(paths.dir, "notes.txt")
      yield* fs.writeFileString(notADatabase, "this is not sqlite ".repeat(100))
      const exit = yield* Effect.exit(client(notADatabase))
      expect(Exit.isFailure(exit)).toBe(true)
      const error = yield* Effect.flip(client(notADatabase))
      expect(error._tag).toBe("SqliteOpenError")
      expect(error.filename).toBe(notADatabase)
      expect(error.message).toContain("not a database")

      const directory = yield* Effect.flip(client(paths.dir))
      expect(directory._tag).toBe("SqliteOpenError")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("immediateTransaction commits on success and rolls back on failure", () =>
    Effect.gen(function*() {
      const paths = yield* scratch
      const sql = yield* client(paths.filename)
      const insert = (id: string) => sql`INSERT INTO retries (issue_id, attempt, due_at, error) VALUES (${id}, 1, 0, '')`
      yield* Sql.immediateTransaction(sql)(insert("SY-1"))
      const failed = yield* Effect.exit(Sql.immediateTransaction(sql)(insert("SY-2").pipe(Effect.zipRight(Effect.fail("boom")))))
      expect(failed).toStrictEqual(Exit.fail("boom"))
      // Nested calls are savepoints of the outer transaction.
      yield* Sql.immediateTransaction(sql)(
        insert("SY-3").pipe(Effect.zipRight(Effect.ignore(Sql.immediateTransaction(sql)(insert("SY-4").pipe(Effect.zipRight(Effect.fail("inner")))))))
      )
      const rows = yield* sql<{ issue_id: string }>`SELECT issue_id FROM retries ORDER BY issue_id`
      expect(rows.map((row) => row.issue_id)).toEqual(["SY-1", "SY-3"])
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("opening a current file skips the Migrator, so it never waits for another process's write lock", () =>
    Effect.gen(function*() {
      const paths = yield* scratch
      const first = yield* client(paths.filename)
      expect(yield* Effect.provideService(Sql.isCurrent, SqlClient.SqlClient, first)).toBe(true)
      // Another connection holds the write lock (a runner in the middle of a claim, say).
      const holder = yield* Effect.acquireRelease(
        Layer.build(SqliteClient.layer({ filename: paths.filename })).pipe(
          Effect.map((ctx) => Context.get(ctx, SqlClient.SqlClient)),
          Effect.flatMap((sql) => Effect.as(sql.unsafe("BEGIN IMMEDIATE").unprepared, sql))
        ),
        (sql) => Effect.orDie(sql.unsafe("ROLLBACK").unprepared)
      )
      expect(holder).toBeDefined()
      // The Migrator would need that lock (its transaction is BEGIN IMMEDIATE) and give up only after
      // BUSY_TIMEOUT_MS; a reader of a current file must not care. 2 s is far below the 5 s it would wait.
      const reader = yield* client(paths.filename).pipe(Effect.timeout("2 seconds"))
      const rows = yield* reader<{ n: number }>`SELECT COUNT(*) AS n FROM issues`
      expect(rows).toEqual([{ n: 0 }])
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("isCurrent is false on a new file and on one an older switchyard migrated", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const paths = yield* scratch
      yield* fs.makeDirectory(path.dirname(paths.filename), { recursive: true }).pipe(Effect.orDie)
      const raw = yield* Layer.build(SqliteClient.layer({ filename: paths.filename })).pipe(
        Effect.map((ctx) => Context.get(ctx, SqlClient.SqlClient))
      )
      expect(yield* Effect.provideService(Sql.isCurrent, SqlClient.SqlClient, raw)).toBe(false)
      yield* Migrator.make({})({ loader: Migrator.fromRecord({ "0001_init": Sql.migrations["0001_init"]! }) }).pipe(
        Effect.provideService(SqlClient.SqlClient, raw)
      )
      expect(yield* Effect.provideService(Sql.isCurrent, SqlClient.SqlClient, raw)).toBe(false)
      // Opening it through Sql.layer brings it up to date.
      yield* client(paths.filename)
      expect(yield* Effect.provideService(Sql.isCurrent, SqlClient.SqlClient, raw)).toBe(true)
    }).pipe(Effect.provide(NodeContext.layer)))
})
