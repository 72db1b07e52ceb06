/**
 * Workflow: the repo's WORKFLOW.md as a service. `current` re-reads the file on every call so edits apply to
 * the next dispatch without a restart (Symphony SPEC §6.2); an invalid edit keeps the last good definition and
 * logs a warning, but the very first load fails startup (SPEC §6.3). Implementation: `NodeWorkflowFile`
 * (@switchyard/node); `Workflow.layerStatic` serves a fixed definition.
 */
import type { WorkflowDefinition } from "@switchyard/domain"
import { Context, Effect, Layer } from "effect"
import type { WorkflowError } from "./errors.js"

export interface WorkflowShape {
  /** Absolute path of the repo's top level. */
  readonly repoRoot: string
  /** Absolute path of the `.switchyard/` state directory. */
  readonly stateDir: string
  readonly current: Effect.Effect<WorkflowDefinition, WorkflowError>
}

export class Workflow extends Context.Tag("switchyard/Workflow")<Workflow, WorkflowShape>() {
  /** A `Workflow` that always returns `def` (no file, no reload), for tests and embedding. */
  static readonly layerStatic = (def: WorkflowDefinition, repoRoot: string, stateDir: string): Layer.Layer<Workflow> =>
    Layer.succeed(Workflow, Workflow.of({ repoRoot, stateDir, current: Effect.succeed(def) }))
}
