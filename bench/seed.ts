/**
 * Seeds a real switchyard database fast: the schema comes from the real migrations (`Sql.layer`), the rows from
 * raw better-sqlite3 inserts in one transaction, in exactly the shape `SqliteTracker` writes (JSON text for the
 * array columns, ISO-8601 UTC text for times, `id_counters` at the last id so `issue create` continues after
 * them). `verifySeed` reads issues back through the real `SqliteTracker` and re-encodes them to prove it.
 */
import { NodeContext } from "@effect/platform-node"
import { Tracker } from "@switchyard/core"
import { Ed25519EvidenceSigner, EnvRedactor } from "@switchyard/node"
import { layerAll, Sql, SqliteEvidenceStore, SqliteTracker } from "@switchyard/sqlite"
import { Effect, Layer, Logger, LogLevel, Schema } from "effect"
import { dirname, join } from "node:path"
import { sampleBundle } from "../packages/sqlite/test/helpers.js"
import { openDatabase } from "./lib.js"

/** How a seeded tracker looks (fractions of all issues; the rest of the statuses are `done`). */
export interface SeedOptions {
  readonly issues: number
  /** Share of `todo` issues (default 0.3). */
  readonly todo?: number
  /** Add `blocked_by` edges, parents, labels, reproductions and a few pending retries (default true). */
  readonly mixed?: boolean
  /** With `mixed`, give 20% of the issues a reproduction command (default true). */
  readonly reproductions?: boolean
  /**
   * With `mixed`, the share of `done` issues that went through the factory (default 0.1): each gets an ended
   * attempt and an evidence row holding a full bundle (tests/helpers' `sampleBundle`, encoded and signed exactly as
   * `SqliteEvidenceStore.put` stores it, with a key in `<dir>/keys/`). Status reads the newest outcomes, checks
   * their signatures, and sums the token totals from them.
   */
  readonly evidence?: number
}

export interface SeedResult {
  readonly filename: string
  readonly issues: number
  readonly byStatus: Readonly<Record<string, number>>
  /** Evidence bundles seeded (one ended attempt each). */
  readonly bundles: number
  readonly ms: number
}

/** Deterministic PRNG (mulberry32), so every run seeds the same tracker. */
const prng = (seed: number) => () => {
  seed = (seed + 0x6D2B79F5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const LABELS = ["bug", "feature", "docs", "infra", "ui", "perf"]
const PRIORITIES = ["critical", "high", "medium", "low", "none"]
const BODY = "Seeded by bench/seed.ts. The widget renders twice when the list is empty; expected once. " +
  "Steps: open the page, clear the filter, observe two spinners. Logs attached in the first comment."
/** The `verdict.cause` of the seeded bundles (tests/helpers' `sampleBundle`), also written to their attempts rows. */
const SEEDED_CAUSE = sampleBundle().verdict.cause
/** 2025-01-01T00:00:00.000Z; issue n is created n seconds later. */
const EPOCH = Date.UTC(2025, 0, 1)

/** Creates (and migrates) the database through the real `Sql.layer`, then closes it. */
export const migrate = (filename: string) =>
  Effect.runPromise(
    Effect.scoped(Layer.build(Sql.layer({ filename }).pipe(Layer.provide(NodeContext.layer))))
  )

/**
 * Writes `options.issues` issues `SY-1…SY-n` into `filename` (created and migrated first). With `mixed`,
 * about 30% are todo, 45% done, 10% backlog, 5% each cancelled/in_review/blocked; 10% have one or two
 * `blocked_by` edges to earlier issues, 5% a parent, most have labels, 20% a reproduction, and 1% of the todo
 * issues (at most 50) a pending retry, half of them due.
 */
export const seed = async (filename: string, options: SeedOptions): Promise<SeedResult> => {
  const t0 = performance.now()
  await migrate(filename)
  const mixed = options.mixed ?? true
  const todoShare = options.todo ?? 0.3
  const random = prng(42)
  const pick = <A>(xs: ReadonlyArray<A>): A => xs[Math.floor(random() * xs.length)]!
  const earlier = (i: number) => `SY-${1 + Math.floor(random() * (i - 1))}`
  const status = (): string => {
    if (!mixed) return "todo"
    const r = random()
    if (r < todoShare) return "todo"
    const rest = (r - todoShare) / (1 - todoShare) // spread the others over the remaining share
    return rest < 0.643 ? "done" : rest < 0.786 ? "backlog" : rest < 0.857 ? "cancelled" : rest < 0.929 ? "in_review" : "blocked"
  }

  const db = openDatabase(filename)
  const insert = db.prepare(
    `INSERT INTO issues (id, title, body, status, priority, labels, parent, blocked_by, reproduction, validation,
       scope, non_goals, comments, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
  )
  const retry = db.prepare("INSERT INTO retries (issue_id, attempt, due_at, error) VALUES (?, 1, ?, ?)")
  const counter = db.prepare(
    "INSERT INTO id_counters (prefix, counter) VALUES ('SY', ?) ON CONFLICT (prefix) DO UPDATE SET counter = excluded.counter"
  )
  const attemptRow = db.prepare(
    `INSERT INTO attempts (issue_id, attempt, runner_id, started_at, ended_at, branch, sandbox_path, base_commit,
       "commit", terminal_state, cause, counted)
     VALUES (?, 1, 'bench:1:0', ?, ?, ?, NULL, ?, ?, ?, ?, 1)`
  )
  const evidenceRow = db.prepare(
    "INSERT INTO evidence (issue_id, attempt, outcome, summary, created_at, dir, bundle) VALUES (?, 1, ?, ?, ?, ?, ?)"
  )
  const evidenceShare = mixed ? options.evidence ?? 0.1 : 0
  const pendingEvidence: Array<{ readonly id: string; readonly outcome: "NO_OP" | "PR_READY"; readonly ended: number }> = []
  let bundles = 0
  const byStatus: Record<string, number> = {}
  const retryBudget = Math.min(50, Math.floor(options.issues * todoShare * 0.01))
  let retries = 0
  const nowMs = Date.now()
  db.transaction(() => {
    for (let i = 1; i <= options.issues; i++) {
      const s = status()
      byStatus[s] = (byStatus[s] ?? 0) + 1
      const at = new Date(EPOCH + i * 1000).toISOString()
      const labels = mixed ? [...new Set(Array.from({ length: Math.floor(random() * 3) }, () => pick(LABELS)))] : []
      const blockedBy = mixed && i > 2 && random() < 0.1
        ? [...new Set(Array.from({ length: 1 + Math.floor(random() * 2) }, () => earlier(i)))]
        : []
      const parent = mixed && i > 1 && random() < 0.05 ? earlier(i) : null
      const reproduction = mixed && random() < 0.2 && (options.reproductions ?? true) ? `node -e "process.exit(${i % 2})"` : null
      const validation = mixed && random() < 0.1 ? ["pnpm test"] : []
      const scope = mixed && random() < 0.2 ? ["src/**"] : []
      insert.run(
        `SY-${i}`,
        `Seeded issue ${i}: the widget renders twice`,
        mixed ? BODY : "",
        s,
        mixed ? pick(PRIORITIES) : "medium",
        JSON.stringify(labels),
        parent,
        JSON.stringify(blockedBy),
        reproduction,
        JSON.stringify(validation),
        JSON.stringify(scope),
        "[]",
        "[]",
        at,
        at
      )
      if (s === "done" && evidenceShare > 0 && random() < evidenceShare) {
        bundles++
        const outcome = bundles % 3 === 0 ? "NO_OP" : "PR_READY"
        const ended = EPOCH + i * 1000 + 600_000
        // The row says what the bundle says (outcome, verdict.cause), as a real run leaves it: status checks that.
        attemptRow.run(`SY-${i}`, ended - 120_000, ended, `switchyard/SY-${i}`, "0".repeat(40), "1".repeat(40), outcome, SEEDED_CAUSE)
        pendingEvidence.push({ id: `SY-${i}`, outcome, ended })
      }
      if (mixed && s === "todo" && retries < retryBudget && random() < 0.05) {
        retries++
        retry.run(`SY-${i}`, retries % 2 === 0 ? nowMs - 60_000 : nowMs + 3_600_000, "seeded retry")
      }
    }
    if (options.issues > 0) counter.run(options.issues)
  })()
  // The bundles are signed by the real store code (async: the key file), then inserted in a second transaction.
  const documents = await Effect.runPromise(
    Effect.forEach(pendingEvidence, (e) => {
      const bundle = sampleBundle({ issueId: e.id, attempt: 1, outcome: e.outcome })
      return Effect.map(SqliteEvidenceStore.storedDocument(bundle), (doc) => ({ ...e, summary: bundle.summary, json: doc.compact }))
    }).pipe(
      Effect.provide(Ed25519EvidenceSigner.layer({ keyFile: join(dirname(filename), Ed25519EvidenceSigner.KEY_FILE) })),
      Effect.provide(NodeContext.layer),
      Logger.withMinimumLogLevel(LogLevel.Warning)
    )
  )
  db.transaction(() => {
    for (const d of documents) evidenceRow.run(d.id, d.outcome, d.summary, d.ended, `/nonexistent/runs/${d.id}/1`, d.json)
  })()
  db.pragma("wal_checkpoint(TRUNCATE)")
  db.close()
  return { filename, issues: options.issues, byStatus, bundles, ms: performance.now() - t0 }
}

const sortKeys = (row: Record<string, unknown>) => JSON.stringify(Object.fromEntries(Object.entries(row).sort()))

/**
 * Reads `ids` through the real `SqliteTracker` (`tracker.get`), encodes each back to a row with
 * `SqliteTracker.IssueFromRow` and compares it, column by column, with the raw row: a seeded row that is not
 * exactly what the tracker would write fails the benchmark here.
 */
export const verifySeed = async (filename: string, ids: ReadonlyArray<string>): Promise<void> => {
  const db = openDatabase(filename, { readonly: true })
  const raw = ids.map((id) => db.prepare("SELECT * FROM issues WHERE id = ?").get(id))
  db.close()
  const encoded = await Effect.runPromise(
    Effect.gen(function*() {
      const tracker = yield* Tracker
      return yield* Effect.forEach(ids, (id) =>
        tracker.get(id).pipe(Effect.flatMap(Schema.encode(SqliteTracker.IssueFromRow))))
    }).pipe(
      Effect.provide(
        layerAll({ filename, stateDir: dirname(filename) }).pipe(
          Layer.provide(Ed25519EvidenceSigner.layer({ keyFile: join(dirname(filename), Ed25519EvidenceSigner.KEY_FILE) })),
          Layer.provide(EnvRedactor.layer()),
          Layer.provide(NodeContext.layer)
        )
      )
    )
  )
  ids.forEach((id, k) => {
    const row = raw[k]
    if (row === undefined) throw new Error(`seed check: ${id} is missing`)
    const a = sortKeys(row)
    const b = sortKeys(encoded[k] as unknown as Record<string, unknown>)
    if (a !== b) throw new Error(`seed check: ${id} differs from what SqliteTracker writes\n  seeded:  ${a}\n  tracker: ${b}`)
  })
}

/** Ids worth verifying: one with a parent, one with blockers, one with labels and a reproduction. */
export const sampleIds = (filename: string): Array<string> => {
  const db = openDatabase(filename, { readonly: true })
  const one = (where: string) =>
    (db.prepare(`SELECT id FROM issues WHERE ${where} ORDER BY rowid LIMIT 1`).get()?.id as string | undefined)
  const ids = [
    one("parent IS NOT NULL"),
    one("blocked_by <> '[]'"),
    one("labels <> '[]' AND reproduction IS NOT NULL"),
    one("1 = 1")
  ].filter((id): id is string => id !== undefined)
  db.close()
  return [...new Set(ids)]
}
