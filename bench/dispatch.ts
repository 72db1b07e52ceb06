/**
 * Benchmark 3: dispatch latency for an issue created by another process. `switchyard run` (no --once) runs with
 * `polling.interval_ms: 60000` and a NO_OP agent, so only the push (the runner noticing another process's
 * commit) can be fast. Measured: from the issue's `created_at` (stamped by the `switchyard issue create` process
 * just before its INSERT commits) to the `at` of the runner's `claim.acquired` event, both read back from the
 * database (the same wall clock, ms). Timing from the create process's exit instead would under-count: the
 * runner often claims before that process has finished exiting. Raw: the wall time of a `node -e` process doing
 * one raw SQLite INSERT (the external write itself).
 */
import { join } from "node:path"
import {
  betterSqlitePath,
  openDatabase,
  makeRepo,
  median,
  ms,
  mustRun,
  mustSwitchyard,
  noopAgent,
  range,
  ratio,
  settings,
  sleep,
  startSwitchyard,
  table,
  tempDir
} from "./lib.js"
import { migrate } from "./seed.js"

export interface DispatchResult {
  readonly latencies: ReadonlyArray<number>
  readonly createWall: number
  readonly rawInsert: number
  readonly exitCode: number | null
}

export const benchDispatch = async (): Promise<DispatchResult> => {
  const repo = makeRepo("dispatch")
  repo.writeWorkflow(`agent:
  command: ${JSON.stringify(repo.script("noop.sh", noopAgent))}
  max_concurrent_agents: 1
polling:
  interval_ms: 60000`)
  await migrate(repo.database)
  const { child: runner, out, exit } = startSwitchyard(repo.root, "run")
  const ids: Array<string> = []
  const createWalls: Array<number> = []
  try {
    await out.waitFor(/runner\.started/)
    await sleep(300)
    for (let i = 0; i < settings.dispatchRuns; i++) {
      const created = await mustSwitchyard(repo.root, "issue", "create", "--title", `pushed ${i + 1}`)
      const id = created.stdout.trim()
      await out.waitFor(new RegExp(`\\s${id}\\s+claim\\.acquired`), 10_000)
      ids.push(id)
      createWalls.push(created.wallMs)
      await out.waitFor(new RegExp(`\\s${id}\\s+terminal\\.`), 30_000)
      // Let the runner settle (and the 200 ms data_version poll drift to a random phase) before the next one.
      await sleep(250 + Math.floor(Math.random() * 200))
    }
  } finally {
    runner.kill("SIGTERM")
  }
  const exitCode = (await exit).code
  const db = openDatabase(repo.database, { readonly: true })
  const latencies = ids.map((id) => {
    const created = db.prepare("SELECT created_at FROM issues WHERE id = ?").get(id) as { created_at: string }
    const claimed = db.prepare("SELECT MIN(at) AS at FROM events WHERE issue_id = ? AND type = 'claim.acquired'").get(id) as {
      at: number
    }
    return claimed.at - Date.parse(created.created_at)
  })
  db.close()

  // Raw: one INSERT in a fresh process, into a scratch database with the same schema.
  const scratch = join(tempDir("dispatch-raw"), "scratch.db")
  await migrate(scratch)
  let n = 0
  const rawInsert = async () =>
    (await mustRun(process.execPath, [
      "-e",
      `const D = require(${JSON.stringify(betterSqlitePath)}); const db = new D(${JSON.stringify(scratch)}); ` +
      `const at = new Date().toISOString(); db.prepare("INSERT INTO issues (id, title, status, priority, created_at, updated_at) VALUES (?, 'raw', 'todo', 'medium', ?, ?)").run(${
        JSON.stringify(`SY-${++n}`)
      }, at, at); db.close()`
    ], repo.tmp)).wallMs
  await rawInsert()
  const raws: Array<number> = []
  for (let i = 0; i < settings.dispatchRuns; i++) raws.push(await rawInsert())
  console.error(`  dispatch: done`)
  return { latencies, createWall: median(createWalls), rawInsert: median(raws), exitCode }
}

export const dispatchTable = (r: DispatchResult): string =>
  [
    table(
      ["measure (ms)", "median", "min–max", "× raw"],
      [
        ["issue created_at → claim.acquired (interval 60000)", ms(median(r.latencies)), range(r.latencies), ratio(median(r.latencies), r.rawInsert)],
        ["`switchyard issue create` process wall time", ms(r.createWall), "", ratio(r.createWall, r.rawInsert)],
        ["raw: `node -e` one better-sqlite3 INSERT", ms(r.rawInsert), "", "1.0×"]
      ]
    ),
    "",
    `runner stopped with SIGTERM: exit ${r.exitCode}${r.exitCode === 143 ? " (as expected)" : " (expected 143)"}`
  ].join("\n")
