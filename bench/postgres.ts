/**
 * Benchmark 8: the PostgreSQL store (issue 16, docs/scale.md) against SQLite and against the raw operation, in one
 * run, on a throwaway PostgreSQL server (packages/pg/test/server.ts), at `BENCH_PG_ISSUES` issues (default 100k).
 *
 * - Claim throughput: three claimers (three pools, as three runners), each working through the same list of `todo`
 *   ids in its own rotation with 4 claims in flight, until every id is claimed once; claims per second. PostgreSQL:
 *   `PgOrchestrator.claim` (`FOR UPDATE SKIP LOCKED` + lease insert, one transaction). SQLite: `SqliteOrchestrator.claim`
 *   (`BEGIN IMMEDIATE`) on a file with the same issues. Raw: three `pg` clients running the bare queue query
 *   `WITH c AS (SELECT … FOR UPDATE SKIP LOCKED LIMIT 1) UPDATE … RETURNING` on the same table shape.
 * - Ready read (the tick's hot path): `PgTracker.ready` (one query over the `todo` rows) vs `SqliteTracker.ready`
 *   (its trigger-maintained index) vs a raw `SELECT * FROM issues WHERE status = 'todo'` on PostgreSQL.
 * - Dispatch latency: `switchyard run` (the built CLI, `polling.interval_ms: 60000`) on PostgreSQL (LISTEN/NOTIFY)
 *   with `BENCH_PG_ISSUES` issues of history, from an issue's `created_at` (stamped by `switchyard issue create`) to
 *   the runner's `claim.acquired`; against the same on SQLite (PRAGMA data_version polled every 200 ms, an empty
 *   repo) and a raw NOTIFY → LISTEN round trip between two `pg` clients.
 *
 * Seeding: `issues` rows inserted by `generate_series` in the row shape `PgTracker` writes (checked by reading
 * issues back through it); SQLite through bench/seed.ts. Correctness is asserted (every id claimed exactly once,
 * every pushed issue claimed), never timing.
 */
import { NodeContext } from "@effect/platform-node"
import { Orchestrator, Tracker } from "@switchyard/core"
import { IssueId } from "@switchyard/domain"
import { Ed25519EvidenceSigner, EnvRedactor } from "@switchyard/node"
import { layerAll as pgLayerAll } from "@switchyard/pg"
import { layerAll } from "@switchyard/sqlite"
import { Context, Effect, Layer, Logger, LogLevel, Option, Scope } from "effect"
import { join } from "node:path"
import * as Pg from "pg"
import { createDatabase, type PgServer, query, startServer, unavailable } from "../packages/pg/test/server.js"
import { makeRepo, median, ms, mustSwitchyard, noopAgent, now, range, ratio, settings, sleep, startSwitchyard, table, tempDir } from "./lib.js"
import { migrate } from "./seed.js"

/** Issues in the databases (`BENCH_PG_ISSUES`, default 100k); 30% `todo`. */
const ISSUES = Number(process.env.BENCH_PG_ISSUES ?? 100_000)
/** Distinct issues claimed per claim-throughput measure (`BENCH_PG_CLAIMS`, default 1500). */
const CLAIMS = Number(process.env.BENCH_PG_CLAIMS ?? 1_500)
const CLAIMERS = 3

export interface PostgresResult {
  readonly issues: number
  readonly claims: { readonly pg: number; readonly sqlite: number; readonly raw: number }
  readonly ready: { readonly pg: ReadonlyArray<number>; readonly sqlite: ReadonlyArray<number>; readonly raw: ReadonlyArray<number>; readonly refs: number }
  readonly dispatch: { readonly pg: ReadonlyArray<number>; readonly sqlite: ReadonlyArray<number>; readonly raw: ReadonlyArray<number> }
  readonly skipped: string | null
}

/** `n` issues, the first `todo` share todo and the rest done, in PgTracker's row shape (JSON text, ISO times). */
const seedPg = async (url: string, n: number, todoShare: number) => {
  const todo = Math.floor(n * todoShare)
  await query(url, `INSERT INTO issues (id, title, body, status, priority, labels, parent, blocked_by, reproduction,
      validation, scope, non_goals, comments, created_at, updated_at)
    SELECT 'SY-' || g, 'seeded ' || g, 'Seeded by bench/postgres.ts.', CASE WHEN g <= ${todo} THEN 'todo' ELSE 'done' END,
      (ARRAY['critical','high','medium','low','none'])[1 + g % 5], CASE WHEN g % 3 = 0 THEN '["bug"]' ELSE '["docs","ui"]' END,
      NULL, '[]', NULL, '[]', '[]', '[]', '[]',
      to_char(TIMESTAMP '2025-01-01' + g * INTERVAL '1 second', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
      to_char(TIMESTAMP '2025-01-01' + g * INTERVAL '1 second', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
    FROM generate_series(1, ${n}) g`)
  await query(url, `INSERT INTO id_counters (prefix, counter) VALUES ('SY', ${n})`)
  await query(url, "ANALYZE")
  return todo
}

/** The same issues in a SQLite file, inserted through better-sqlite3 in SqliteTracker's row shape. */
const seedSqlite = async (filename: string, n: number, todoShare: number) => {
  await migrate(filename)
  const { openDatabase } = await import("./lib.js")
  const db = openDatabase(filename)
  const todo = Math.floor(n * todoShare)
  const insert = db.prepare(`INSERT INTO issues (id, title, body, status, priority, labels, blocked_by, validation, scope,
    non_goals, comments, created_at, updated_at) VALUES (?, ?, 'Seeded by bench/postgres.ts.', ?, ?, ?, '[]', '[]', '[]', '[]', '[]', ?, ?)`)
  const priorities = ["critical", "high", "medium", "low", "none"]
  db.transaction(() => {
    for (let g = 1; g <= n; g++) {
      const at = new Date(Date.UTC(2025, 0, 1) + g * 1000).toISOString()
      insert.run(`SY-${g}`, `seeded ${g}`, g <= todo ? "todo" : "done", priorities[g % 5], g % 3 === 0 ? '["bug"]' : '["docs","ui"]', at, at)
    }
    db.prepare("INSERT INTO id_counters (prefix, counter) VALUES ('SY', ?)").run(n)
  })()
  db.close()
  return todo
}

type Stores = Context.Context<Tracker | Orchestrator>

const run = <A>(effect: Effect.Effect<A, unknown, Scope.Scope>) =>
  Effect.runPromise(Effect.scoped(effect).pipe(Logger.withMinimumLogLevel(LogLevel.Error)) as Effect.Effect<A>)

/** Opens the stores `layer` builds, `copies` times (separate clients: separate runners). */
const openStores = (layer: Layer.Layer<Tracker | Orchestrator, unknown, never>, copies: number) =>
  Effect.forEach(Array.from({ length: copies }), () => Layer.build(layer), { concurrency: 1 })

const signed = (stateDir: string) =>
  Layer.mergeAll(Ed25519EvidenceSigner.layer({ keyFile: join(stateDir, "keys/evidence.ed25519") }), EnvRedactor.layer({})).pipe(
    Layer.provideMerge(NodeContext.layer)
  )

/** Every claimer works through `ids` from its own offset, 4 claims in flight; returns claims/s and the winners. */
const claimAll = (orchestrators: ReadonlyArray<Context.Tag.Service<typeof Orchestrator>>, ids: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const t0 = now()
    const won = yield* Effect.forEach(orchestrators, (o, k) => {
      const rotated = [...ids.slice((k * ids.length) / orchestrators.length), ...ids.slice(0, (k * ids.length) / orchestrators.length)]
      return Effect.forEach(rotated, (id) => o.claim(IssueId.make(id), 1, 600_000), { concurrency: 4 })
    }, { concurrency: "unbounded" })
    const seconds = (now() - t0) / 1000
    const winners = won.flat().filter(Option.isSome).map((l) => l.value.issue_id as string)
    if (winners.length !== ids.length || new Set(winners).size !== ids.length) {
      throw new Error(`claims: ${winners.length} won for ${ids.length} ids (${new Set(winners).size} distinct)`)
    }
    return ids.length / seconds
  })

/** Raw queue claims: `clients` pg clients take the next todo row with SKIP LOCKED until `n` were taken. */
const rawClaims = async (url: string, clients: number, n: number) => {
  const pools = await Promise.all(Array.from({ length: clients }, async () => {
    const c = new Pg.Client({ connectionString: url })
    await c.connect()
    return c
  }))
  let taken = 0
  const seen = new Set<string>()
  const t0 = now()
  await Promise.all(pools.map(async (c) => {
    while (taken < n) {
      const r = await c.query(`WITH c AS (
          SELECT id FROM issues WHERE status = 'todo' ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
        UPDATE issues i SET status = 'in_progress' FROM c WHERE i.id = c.id RETURNING i.id`)
      const id = r.rows[0]?.id as string | undefined
      if (id === undefined) break
      if (seen.has(id)) throw new Error(`raw claim: ${id} claimed twice`)
      seen.add(id)
      taken += 1
    }
  }))
  const seconds = (now() - t0) / 1000
  await Promise.all(pools.map((c) => c.end()))
  return taken / seconds
}

const timed = async (runs: number, f: () => Promise<unknown>) => {
  await f()
  const out: Array<number> = []
  for (let i = 0; i < runs; i++) {
    const t0 = now()
    await f()
    out.push(now() - t0)
  }
  return out
}

/** NOTIFY from one client to another's LISTEN, wall ms per round trip. */
const rawNotify = async (url: string, runs: number) => {
  const listener = new Pg.Client({ connectionString: url })
  const sender = new Pg.Client({ connectionString: url })
  await listener.connect()
  await sender.connect()
  await listener.query("LISTEN bench_ping")
  const out: Array<number> = []
  for (let i = 0; i <= runs; i++) {
    const got = new Promise<void>((resolve) => listener.once("notification", () => resolve()))
    const t0 = now()
    await sender.query("NOTIFY bench_ping, 'x'")
    await got
    if (i > 0) out.push(now() - t0)
  }
  await listener.end()
  await sender.end()
  return out
}

/** created_at → claim.acquired for `runs` issues created by `switchyard issue create` while `run` waits (poll 60 s). */
const dispatchLatencies = async (repo: ReturnType<typeof makeRepo>, runs: number, read: (id: string) => Promise<number>) => {
  const { child, out, exit } = startSwitchyard(repo.root, "run")
  const latencies: Array<number> = []
  try {
    await out.waitFor(/runner\.started/, 60_000)
    await sleep(500)
    for (let i = 0; i < runs; i++) {
      const id = (await mustSwitchyard(repo.root, "issue", "create", "--title", `pushed ${i + 1}`)).stdout.trim()
      await out.waitFor(new RegExp(`\\s${id}\\s+claim\\.acquired`), 30_000)
      await out.waitFor(new RegExp(`\\s${id}\\s+terminal\\.`), 60_000)
      latencies.push(await read(id))
      await sleep(250 + Math.floor(Math.random() * 200))
    }
  } finally {
    child.kill("SIGTERM")
  }
  await exit
  return latencies
}

export const benchPostgres = async (): Promise<PostgresResult> => {
  const why = unavailable()
  const empty = { pg: [], sqlite: [], raw: [] }
  if (why !== null) {
    return { issues: ISSUES, claims: { pg: 0, sqlite: 0, raw: 0 }, ready: { ...empty, refs: 0 }, dispatch: empty, skipped: why }
  }
  const server: PgServer = await startServer()
  try {
    const stateDir = tempDir("pg-state")
    // --- claims and ready reads at ISSUES -----------------------------------------------------------------------
    const pgUrl = await createDatabase(server, "bench_claims")
    const pgLayer = (url: string) => pgLayerAll({ url, stateDir }).pipe(Layer.provide(signed(stateDir))) as Layer.Layer<Tracker | Orchestrator, unknown, never>
    // Migrate, then seed, then check a seeded row reads back through PgTracker.
    await run(Effect.asVoid(Layer.build(pgLayer(pgUrl))))
    const todo = await seedPg(pgUrl, ISSUES, 0.3)
    const sqliteFile = join(tempDir("pg-sqlite"), "switchyard.db")
    await seedSqlite(sqliteFile, ISSUES, 0.3)
    const sqliteLayer = layerAll({ filename: sqliteFile, stateDir }).pipe(Layer.provide(signed(stateDir))) as Layer.Layer<Tracker | Orchestrator, unknown, never>
    const ids = Array.from({ length: Math.min(CLAIMS, todo) }, (_, i) => `SY-${i + 1}`)
    console.error(`  postgres: seeded ${ISSUES} issues in each store; claiming ${ids.length} ids with ${CLAIMERS} claimers…`)

    const { pgClaims, pgReady, refs } = await run(Effect.gen(function*() {
      const contexts: ReadonlyArray<Stores> = yield* openStores(pgLayer(pgUrl), CLAIMERS)
      const tracker = Context.get(contexts[0]!, Tracker)
      const back = yield* tracker.get("SY-3")
      if (back.status !== "todo" || back.labels[0] !== "bug") throw new Error("seeded row does not read back through PgTracker")
      const readyOnce = yield* tracker.ready
      if (readyOnce.refs.length !== todo) throw new Error(`ready: ${readyOnce.refs.length} refs, expected ${todo}`)
      const pgReady = yield* Effect.promise(() => timed(settings.runs, () => Effect.runPromise(tracker.ready)))
      const pgClaims = yield* claimAll(contexts.map((c) => Context.get(c, Orchestrator)), ids)
      return { pgClaims, pgReady, refs: readyOnce.refs.length }
    }))
    const rawReady = await (async () => {
      const c = new Pg.Client({ connectionString: pgUrl })
      await c.connect()
      const out = await timed(settings.runs, () => c.query("SELECT * FROM issues WHERE status = 'todo'"))
      await c.end()
      return out
    })()
    const { sqliteClaims, sqliteReady } = await run(Effect.gen(function*() {
      const contexts: ReadonlyArray<Stores> = yield* openStores(sqliteLayer, CLAIMERS)
      const tracker = Context.get(contexts[0]!, Tracker)
      const sqliteReady = yield* Effect.promise(() => timed(settings.runs, () => Effect.runPromise(tracker.ready)))
      const sqliteClaims = yield* claimAll(contexts.map((c) => Context.get(c, Orchestrator)), ids)
      return { sqliteClaims, sqliteReady }
    }))
    const rawUrl = await createDatabase(server, "bench_raw")
    await run(Effect.asVoid(Layer.build(pgLayer(rawUrl))))
    await seedPg(rawUrl, ISSUES, 0.3)
    const raw = await rawClaims(rawUrl, CLAIMERS, ids.length)
    console.error(`  postgres: claims/s pg ${pgClaims.toFixed(0)}, sqlite ${sqliteClaims.toFixed(0)}, raw ${raw.toFixed(0)}; dispatch…`)

    // --- dispatch latency ---------------------------------------------------------------------------------------
    const dispatchUrl = await createDatabase(server, "bench_dispatch")
    await run(Effect.asVoid(Layer.build(pgLayer(dispatchUrl))))
    await seedPg(dispatchUrl, ISSUES, 0)
    const workflow = (repo: ReturnType<typeof makeRepo>) =>
      repo.writeWorkflow(`agent:\n  command: ${JSON.stringify(repo.script("noop.sh", noopAgent))}\n  max_concurrent_agents: 1\npolling:\n  interval_ms: 60000`)
    const pgRepo = makeRepo("pg-dispatch")
    workflow(pgRepo)
    process.env.SWITCHYARD_DATABASE_URL = dispatchUrl
    const pgDispatch = await dispatchLatencies(pgRepo, settings.dispatchRuns, async (id) => {
      const [row] = await query<{ created_at: string; at: number }>(dispatchUrl, `SELECT i.created_at, (SELECT MIN(at) FROM events e
        WHERE e.issue_id = i.id AND e.type = 'claim.acquired') AS at FROM issues i WHERE i.id = $1`, [id])
      return Number(row!.at) - Date.parse(row!.created_at)
    }).finally(() => {
      delete process.env.SWITCHYARD_DATABASE_URL
    })
    const sqliteRepo = makeRepo("sqlite-dispatch")
    workflow(sqliteRepo)
    await migrate(sqliteRepo.database)
    const { openDatabase } = await import("./lib.js")
    const sqliteDispatch = await dispatchLatencies(sqliteRepo, settings.dispatchRuns, async (id) => {
      const db = openDatabase(sqliteRepo.database, { readonly: true })
      const created = db.prepare("SELECT created_at FROM issues WHERE id = ?").get(id) as { created_at: string }
      const claimed = db.prepare("SELECT MIN(at) AS at FROM events WHERE issue_id = ? AND type = 'claim.acquired'").get(id) as { at: number }
      db.close()
      return claimed.at - Date.parse(created.created_at)
    })
    const notify = await rawNotify(dispatchUrl, settings.dispatchRuns)
    console.error("  postgres: done")
    return {
      issues: ISSUES,
      claims: { pg: pgClaims, sqlite: sqliteClaims, raw },
      ready: { pg: pgReady, sqlite: sqliteReady, raw: rawReady, refs },
      dispatch: { pg: pgDispatch, sqlite: sqliteDispatch, raw: notify },
      skipped: null
    }
  } finally {
    server.stop()
  }
}

export const postgresTable = (r: PostgresResult): string => {
  if (r.skipped !== null) return `skipped: ${r.skipped}`
  const rate = (x: number) => `${x.toFixed(0)}/s`
  return [
    table(["claims (distinct ids, 3 claimers × 4 in flight)", "claims/s", "÷ raw"], [
      ["PgOrchestrator.claim (SKIP LOCKED + epoch + lease, one statement)", rate(r.claims.pg), ratio(r.claims.raw, r.claims.pg)],
      ["SqliteOrchestrator.claim (BEGIN IMMEDIATE)", rate(r.claims.sqlite), ratio(r.claims.raw, r.claims.sqlite)],
      ["raw: `WITH … FOR UPDATE SKIP LOCKED LIMIT 1` UPDATE … RETURNING", rate(r.claims.raw), "1.0×"]
    ]),
    "",
    table([`ready read at ${r.issues} issues (${r.ready.refs} ready)`, "median", "min–max", "× raw"], [
      ["PgTracker.ready (one query over the todo rows)", ms(median(r.ready.pg)), range(r.ready.pg), ratio(median(r.ready.pg), median(r.ready.raw))],
      ["SqliteTracker.ready (trigger-kept index)", ms(median(r.ready.sqlite)), range(r.ready.sqlite), ratio(median(r.ready.sqlite), median(r.ready.raw))],
      ["raw: PostgreSQL `SELECT * FROM issues WHERE status = 'todo'`", ms(median(r.ready.raw)), range(r.ready.raw), "1.0×"]
    ]),
    "",
    table(["dispatch: created_at → claim.acquired (poll 60 s)", "median", "min–max", "× raw"], [
      [`PostgreSQL, LISTEN/NOTIFY (${r.issues} issues of history)`, ms(median(r.dispatch.pg)), range(r.dispatch.pg), ratio(median(r.dispatch.pg), median(r.dispatch.raw))],
      ["SQLite, PRAGMA data_version every 200 ms (empty)", ms(median(r.dispatch.sqlite)), range(r.dispatch.sqlite), ratio(median(r.dispatch.sqlite), median(r.dispatch.raw))],
      ["raw: NOTIFY → LISTEN round trip, two `pg` clients", ms(median(r.dispatch.raw)), range(r.dispatch.raw), "1.0×"]
    ])
  ].join("\n")
}
