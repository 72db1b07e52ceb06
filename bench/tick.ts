/**
 * Benchmark 1: the tick's read path at 1k/10k/100k issues, in process, against the raw SQLite query for the
 * eligible set.
 *
 * Factory = what `tick` (packages/core/src/Orchestrator/loop.ts) reads before it claims anything:
 * `tracker.ready` (one SQL query: blockers, open children and order) + `orchestrator.leases` + `orchestrator.retries` +
 * `eligibleRefs(...)`, over the real
 * `layerAll` (SqliteTracker, SqliteOrchestrator, SqliteEvidenceStore) on a seeded database file.
 * Raw = `SELECT * FROM issues WHERE status = 'todo'` through better-sqlite3 on the same file.
 */
import { NodeContext } from "@effect/platform-node"
import { eligibleRefs, Orchestrator, Tracker } from "@switchyard/core"
import { Ed25519EvidenceSigner, EnvRedactor } from "@switchyard/node"
import { layerAll } from "@switchyard/sqlite"
import { Clock, Effect, Layer, ManagedRuntime } from "effect"
import { join } from "node:path"
import { median, ms, now, openDatabase, ratio, settings, table, tempDir } from "./lib.js"
import { sampleIds, seed, type SeedResult, verifySeed } from "./seed.js"

interface Phases {
  readonly candidates: number
  readonly leasesRetries: number
  readonly eligible: number
  readonly total: number
  readonly todo: number
  readonly eligibleCount: number
  readonly invalid: number
}

/** The tick's read path, timed phase by phase (ms). */
const tickRead = Effect.gen(function*() {
  const tracker = yield* Tracker
  const orchestrator = yield* Orchestrator
  const t0 = now()
  const ready = yield* tracker.ready
  const t1 = now()
  const leases = yield* orchestrator.leases
  const retries = yield* orchestrator.retries
  const t2 = now()
  const at = yield* Clock.currentTimeMillis
  const eligible = eligibleRefs(ready.refs, {
    now: at,
    claimed: new Set(leases.map((l) => l.issue_id)),
    retryDue: new Map(retries.map((r) => [r.issue_id, r.due_at]))
  })
  const t3 = now()
  return {
    candidates: t1 - t0,
    leasesRetries: t2 - t1,
    eligible: t3 - t2,
    total: t3 - t0,
    todo: ready.refs.length,
    eligibleCount: eligible.length,
    invalid: ready.invalid.length
  } satisfies Phases
})

export interface TickRow {
  readonly seed: SeedResult
  readonly raw: number
  readonly factory: Phases
}

export const seededFile = async (issues: number): Promise<SeedResult> => {
  const dir = tempDir(`db${issues}`)
  const result = await seed(join(dir, "switchyard.db"), { issues })
  await verifySeed(result.filename, sampleIds(result.filename))
  return result
}

export const benchTick = async (seeded: (n: number) => Promise<SeedResult>): Promise<Array<TickRow>> => {
  const rows: Array<TickRow> = []
  for (const size of settings.sizes) {
    const s = await seeded(size)
    const runtime = ManagedRuntime.make(
      layerAll({ filename: s.filename, stateDir: join(s.filename, "..") }).pipe(
        Layer.provide(Ed25519EvidenceSigner.layer({ keyFile: join(s.filename, "..", Ed25519EvidenceSigner.KEY_FILE) })),
        Layer.provide(EnvRedactor.layer()),
        Layer.provide(NodeContext.layer)
      )
    )
    const db = openDatabase(s.filename, { readonly: true })
    const stmt = db.prepare("SELECT * FROM issues WHERE status = 'todo'")
    // Warm up both (open, migrations check, statement caches), then alternate them run by run.
    await runtime.runPromise(tickRead)
    const rawTodo = stmt.all().length
    const samples: Array<Phases> = []
    const raws: Array<number> = []
    for (let i = 0; i < settings.runs; i++) {
      samples.push(await runtime.runPromise(tickRead))
      const t0 = now()
      stmt.all()
      raws.push(now() - t0)
    }
    await runtime.dispose()
    db.close()
    const last = samples[samples.length - 1]!
    if (last.invalid > 0) throw new Error(`tick bench: ${last.invalid} seeded rows did not decode`)
    // The ready set is the todo issues minus those blocked or with open children: never more than the raw set.
    if (last.todo > rawTodo || last.todo === 0) {
      throw new Error(`tick bench: raw query saw ${rawTodo} todo issues, the tracker's ready set ${last.todo}`)
    }
    const raw = median(raws)

    const pick = (k: keyof Phases) => median(samples.map((x) => x[k]))
    rows.push({
      seed: s,
      raw,
      factory: {
        candidates: pick("candidates"),
        leasesRetries: pick("leasesRetries"),
        eligible: pick("eligible"),
        total: pick("total"),
        todo: last.todo,
        eligibleCount: last.eligibleCount,
        invalid: last.invalid
      }
    })
    console.error(`  tick: ${size} issues done (seeded in ${ms(s.ms)} ms)`)
  }
  return rows
}

export const tickTable = (rows: ReadonlyArray<TickRow>): string =>
  table(
    ["issues", "ready", "eligible", "raw SELECT ms", "tick read ms", "ratio", "tracker.ready ms", "leases+retries ms", "eligibleRefs ms"],
    rows.map((r) => [
      String(r.seed.issues),
      String(r.factory.todo),
      String(r.factory.eligibleCount),
      ms(r.raw),
      ms(r.factory.total),
      ratio(r.factory.total, r.raw),
      ms(r.factory.candidates),
      ms(r.factory.leasesRetries),
      ms(r.factory.eligible)
    ])
  )
