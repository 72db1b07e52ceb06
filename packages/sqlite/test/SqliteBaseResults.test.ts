import { NodeContext } from "@effect/platform-node"
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import { BaseResults, BaseRun } from "@switchyard/core"
import { Context, Effect, Option } from "effect"
import { BASE_RESULTS_LIMIT } from "../src/BaseResults/SqliteBaseResults.js"
import { commandResult, open, scratch } from "./helpers.js"

const run = (ranAt: number, exitCode = 0) =>
  new BaseRun({ base_commit: "a".repeat(40), results: [commandResult("pnpm test", exitCode)], ran_at: ranAt })

describe("SqliteBaseResults", () => {
  it.scoped("stores a base run, finds it again from another connection, and replaces it under the same key", () =>
    Effect.gen(function*() {
      const paths = yield* scratch
      const first = yield* open(paths)
      const cache = Context.get(first, BaseResults)
      assert.isTrue(Option.isNone(yield* cache.lookup("k1")))
      yield* cache.store("k1", run(1_000, 1))

      // Another runner on the same database (a new client, as after a restart) sees it.
      const second = yield* open(paths)
      const found = yield* Context.get(second, BaseResults).lookup("k1")
      assert.isTrue(Option.isSome(found))
      assert.strictEqual(Option.getOrThrow(found).results[0]!.exitCode, 1)
      assert.strictEqual(Option.getOrThrow(found).ran_at, 1_000)

      yield* cache.store("k1", run(2_000, 0))
      assert.strictEqual(Option.getOrThrow(yield* cache.lookup("k1")).results[0]!.exitCode, 0)
      assert.isTrue(Option.isNone(yield* cache.lookup("k2")))
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("a row that no longer decodes is a miss, and the oldest rows go past the limit", () =>
    Effect.gen(function*() {
      const paths = yield* scratch
      const ctx = yield* open(paths)
      const cache = Context.get(ctx, BaseResults)
      const sql = Context.get(ctx, SqlClient.SqlClient)
      yield* sql`INSERT INTO base_results (key, base_commit, ran_at, data) VALUES ('bad', 'x', 1, '{"results": 7}')`
      assert.isTrue(Option.isNone(yield* cache.lookup("bad")))

      yield* sql`DELETE FROM base_results`
      yield* sql`INSERT INTO base_results (key, base_commit, ran_at, data)
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${BASE_RESULTS_LIMIT})
        SELECT 'old' || i, 'x', i, '{}' FROM n`
      yield* cache.store("newest", run(10_000_000))
      const [{ count }] = yield* sql<{ count: number }>`SELECT count(*) AS count FROM base_results`
      assert.strictEqual(count, BASE_RESULTS_LIMIT)
      assert.isTrue(Option.isSome(yield* cache.lookup("newest")))
      const [{ oldest }] = yield* sql<{ oldest: number }>`SELECT min(ran_at) AS oldest FROM base_results`
      assert.strictEqual(oldest, 2)
    }).pipe(Effect.provide(NodeContext.layer)))
})
