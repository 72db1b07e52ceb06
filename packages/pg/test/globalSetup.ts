/**
 * Starts one throwaway PostgreSQL server for the package's tests (server.ts) and hands its URL to them as
 * `inject("pgUrl")`; null (and one line saying why and how to fix it) where the PostgreSQL binaries are absent, so
 * the PostgreSQL suites are skipped there and only there.
 */
import type { TestProject } from "vitest/node"
import { startServer, unavailable } from "./server.js"

declare module "vitest" {
  export interface ProvidedContext {
    pgUrl: string | null
  }
}

export default async function setup(project: TestProject) {
  const why = unavailable()
  if (why !== null) {
    process.stderr.write(`@switchyard/pg: PostgreSQL tests skipped: ${why}\n`)
    project.provide("pgUrl", null)
    return
  }
  const server = await startServer()
  project.provide("pgUrl", server.url)
  return () => server.stop()
}
