/**
 * A throwaway PostgreSQL server for tests and benches (../shared/reference/integrations.md §5): `initdb` into a
 * temp directory, `pg_ctl start` on a free loopback port with fsync off (what a killed server wrote stays in the OS
 * cache; commits stay synchronous, so a server killed mid-run loses no committed decision), stopped and removed by
 * `stop()`.
 * `initdb` refuses root, so as root it runs as the `postgres` user the Debian package creates.
 *
 * This is the edge of the test program (plain Node, synchronous child processes): nothing here runs in the product.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import * as Pg from "pg"

export interface PgServer {
  /** `postgres://test@127.0.0.1:<port>/postgres` (trust authentication, loopback only). */
  readonly url: string
  readonly port: number
  /** The data directory (for `pg_ctl restart` in fault tests). */
  readonly dataDir: string
  /** `postgres://test@127.0.0.1:<port>/<database>`. */
  readonly urlOf: (database: string) => string
  /** `pg_ctl stop -m fast` then `start` again on the same port (connections are dropped). */
  readonly restart: () => void
  /** `pg_ctl stop -m immediate` (no clean shutdown). */
  readonly kill: () => void
  readonly start: () => void
  /** Stops the server and removes its directory. */
  readonly stop: () => void
}

const candidates = (name: string): ReadonlyArray<string> => {
  const dirs = ["/usr/local/bin"]
  const lib = "/usr/lib/postgresql"
  if (fs.existsSync(lib)) {
    for (const version of fs.readdirSync(lib).sort().reverse()) dirs.push(path.join(lib, version, "bin"))
  }
  for (const dir of (process.env.PATH ?? "").split(":")) if (dir !== "") dirs.push(dir)
  return dirs.map((dir) => path.join(dir, name))
}

/** The directory holding `initdb` and `pg_ctl`, or null when PostgreSQL is not installed. */
export const findBinDir = (): string | null => {
  for (const initdb of candidates("initdb")) {
    const dir = path.dirname(initdb)
    if (fs.existsSync(initdb) && fs.existsSync(path.join(dir, "pg_ctl"))) return dir
  }
  return null
}

/** Why the PostgreSQL tests are skipped here, or null when they can run. */
export const unavailable = (): string | null =>
  findBinDir() === null
    ? "PostgreSQL binaries (initdb, pg_ctl) are not installed: `apt-get install -y postgresql` (.ci/run does) to run the PostgreSQL tests"
    : null

/** A free TCP port on 127.0.0.1 (asks the kernel for one, then closes it). */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

/** Starts a server; throws (test setup) when the binaries are missing or a step fails. */
export const startServer = async (): Promise<PgServer> => {
  const bin = findBinDir()
  if (bin === null) throw new Error(unavailable() ?? "PostgreSQL is not installed")
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "switchyard-pg-"))
  fs.chmodSync(root, 0o755)
  const asRoot = process.getuid?.() === 0
  if (asRoot) execFileSync("chown", ["postgres", root])
  const run = (tool: string, args: ReadonlyArray<string>) =>
    asRoot
      ? execFileSync("runuser", ["-u", "postgres", "--", path.join(bin, tool), ...args], { stdio: "pipe" })
      : execFileSync(path.join(bin, tool), [...args], { stdio: "pipe" })
  const dataDir = path.join(root, "data")
  const log = path.join(root, "log")
  run("initdb", ["-D", dataDir, "-A", "trust", "-U", "test", "--no-sync", "-E", "UTF8"])
  const port = await freePort()
  const options = `-k ${root} -p ${port} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`
  const start = () => run("pg_ctl", ["-D", dataDir, "-w", "-l", log, "-o", options, "start"])
  start()
  const urlOf = (database: string) => `postgres://test@127.0.0.1:${port}/${database}`
  let stopped = false
  return {
    url: urlOf("postgres"),
    port,
    dataDir,
    urlOf,
    start,
    restart: () => {
      run("pg_ctl", ["-D", dataDir, "-w", "-m", "fast", "stop"])
      start()
    },
    kill: () => {
      run("pg_ctl", ["-D", dataDir, "-w", "-m", "immediate", "stop"])
    },
    stop: () => {
      if (stopped) return
      stopped = true
      try {
        run("pg_ctl", ["-D", dataDir, "-w", "-m", "immediate", "stop"])
      } catch {
        // already stopped
      }
      fs.rmSync(root, { recursive: true, force: true })
    }
  }
}

/** Runs `statement` once on `url` (a new connection each call) and returns its rows: test assertions and setup. */
export const query = async <R = Record<string, unknown>>(url: string, statement: string, params: ReadonlyArray<unknown> = []): Promise<Array<R>> => {
  const client = new Pg.Client({ connectionString: url })
  await client.connect()
  try {
    const result = await client.query(statement, [...params])
    return result.rows as Array<R>
  } finally {
    await client.end()
  }
}

/** Creates database `name` on the server at `adminUrl` and returns its URL. */
export const createDatabase = async (server: PgServer, name: string): Promise<string> => {
  await query(server.url, `CREATE DATABASE ${name}`)
  return server.urlOf(name)
}
