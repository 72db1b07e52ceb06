/**
 * Where a repo keeps its state, and the store layer the read-only commands need. Kept apart from layers.ts so
 * `status`, `issue` and `evidence` load neither the agent stations nor the workflow modules.
 */
import { layerAll } from "@switchyard/sqlite"
import * as NodePath from "node:path"

/** Where a repo keeps its state: `<repo>/.switchyard/` with `switchyard.db` and `runs/`. */
export const statePaths = (repoRoot: string) => {
  const stateDir = NodePath.join(repoRoot, ".switchyard")
  return { stateDir, database: NodePath.join(stateDir, "switchyard.db") }
}

/**
 * Tracker + Orchestrator + EvidenceStore for a repo (enough for `issue`, `status`, `evidence`). Needs `FileSystem`
 * and `Path`, which the CLI's own context provides (edge.ts), so the Node platform layer is not built twice.
 */
export const storeLayer = (repoRoot: string) => {
  const { database, stateDir } = statePaths(repoRoot)
  return layerAll({ filename: database, stateDir })
}
