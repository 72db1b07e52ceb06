/**
 * Confinement: what fences in every process that runs code the agent wrote or could influence (the agent, the
 * hooks that run after it started, every reproduction, validation and test-count command). The vocabulary is
 * closed; what was in force for an attempt is recorded in its evidence bundle (docs/security.md).
 */
import { Schema } from "effect"

/**
 * `bwrap`: bubblewrap namespaces (own PID/net/IPC/UTS/user namespaces, capabilities dropped, everything but the
 * sandbox read-only, the main repo, `.switchyard/` and other sandboxes not visible). `none`: an ordinary child
 * process of the runner, the only choice where bubblewrap does not exist (not Linux); stated in every bundle.
 */
export const ConfinementKind = Schema.Literal("bwrap", "none")
export type ConfinementKind = typeof ConfinementKind.Type

/**
 * `sandbox.network`: `none` (default) gives confined processes no network at all, except the agent CLI stations'
 * one hole to their model endpoint; `host` shares the host's network with everything (an explicit opt-out).
 */
export const SandboxNetwork = Schema.Literal("none", "host")
export type SandboxNetwork = typeof SandboxNetwork.Type

/** The network one confined process got: nothing, only its model endpoint, or the host's. */
export const NetworkInForce = Schema.Literal("none", "model_endpoint", "host")
export type NetworkInForce = typeof NetworkInForce.Type

/** What was in force for the agent of an attempt, as stored in its evidence bundle. */
export class ConfinementRecord extends Schema.Class<ConfinementRecord>("ConfinementRecord")({
  kind: ConfinementKind,
  /** The agent's network (verification and hooks after the agent always get `sandbox.network`). */
  network: NetworkInForce,
  /** With `model_endpoint`: the one `host:port` the agent could reach. */
  egress: Schema.NullOr(Schema.String),
  /** One sentence a reviewer can read, e.g. `bubblewrap 0.8.0: own PID and network namespaces, …`. */
  detail: Schema.String
}) {
  /** True when the agent ran as an ordinary process of the runner's user. */
  get unconfined(): boolean {
    return this.kind === "none"
  }
}

/**
 * What changed outside the sandbox while the agent ran (the integrity check, docs/security.md): the part of the
 * main repository each `sandbox_escape:<what>` cause names.
 */
export const EscapeTarget = Schema.Literal("refs", "hooks", "config", "attributes", "head", "worktree")
export type EscapeTarget = typeof EscapeTarget.Type
