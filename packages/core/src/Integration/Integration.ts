/**
 * Integration: what happens after PR_READY beyond the local branch — optionally push it (`integration.push`)
 * and run `integration.pr_command` (e.g. `gh pr create ...`). A failure here is recorded in the evidence and
 * never loses the verified change. Implementation: `GitIntegration` (@switchyard/node).
 */
import type { EvidenceBundle, IntegrationConfig } from "@switchyard/domain"
import { Context, type Effect } from "effect"

export interface IntegrationResult {
  /** Null when pushing is off. */
  readonly pushed: boolean | null
  readonly pushError: string | null
  readonly prUrl: string | null
  readonly prError: string | null
}

export interface IntegrationShape {
  /**
   * Publishes a PR_READY branch as `config` (the attempt's `integration:`) says. `evidenceMd` is the absolute path
   * of the stored evidence.md. Never fails: every problem is reported in the result. Returns null when nothing is
   * configured.
   */
  readonly publish: (input: {
    readonly bundle: EvidenceBundle
    readonly branch: string
    readonly evidenceMd: string
    readonly config: IntegrationConfig
  }) => Effect.Effect<IntegrationResult | null>
}

export class Integration extends Context.Tag("switchyard/Integration")<Integration, IntegrationShape>() {}
