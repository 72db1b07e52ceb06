/**
 * Confinement: the one place where a process that runs code the agent wrote or could influence is fenced in.
 * Every agent station, every hook that runs after the agent started and every reproduction, validation and
 * test-count command goes through `wrap` (docs/security.md has the rule for each). Implementations:
 * `BwrapConfinement` (bubblewrap, Linux) and `Unconfined` (`sandbox.confinement: none`), in @switchyard/node.
 */
import type { ConfinementKind, ConfinementRecord, NetworkInForce } from "@switchyard/domain"
import { Context, type Effect, type Scope } from "effect"
import type { ConfinementError, ConfinementUnavailable } from "./errors.js"

/** The network a confined process asks for; the service decides what it gets (`sandbox.network`). */
export type NetworkRequest =
  | "none"
  /** An agent CLI's model API (`agent.base_url`, or the CLI's default endpoint): the one destination it may reach. */
  | { readonly modelEndpoint: string }

/** Where a confined process runs and what it may write. Every path is absolute and exists. */
export interface ConfinedSpec {
  /** Working directory; must be inside one of `writable`. */
  readonly cwd: string
  /** Directories the process may write (the sandbox, a checkout, the attempt's io directory). */
  readonly writable: ReadonlyArray<string>
  /** A private HOME that outlives one process (an attempt's, so an agent CLI can resume its session). */
  readonly home: string
  readonly network: NetworkRequest
  /**
   * Directories bound in read-only (`source` at `target`, a path inside `writable`), each with `scratch`
   * directories inside it that get a private, empty, writable tmpfs: a reused install in a verification checkout
   * (`GitSandbox`, issue 12 item 4). A confinement that cannot mount (none) must not be given any.
   */
  readonly mounts?: ReadonlyArray<ReadOnlyMount> | undefined
}

/** A directory bound read-only into a confined process's tree, with writable scratch directories inside. */
export interface ReadOnlyMount {
  readonly source: string
  readonly target: string
  readonly scratch: ReadonlyArray<string>
}

/** A command ready to spawn: the program and arguments, and its whole environment (nothing is inherited). */
export interface Confined {
  readonly argv: ReadonlyArray<string>
  readonly env: Readonly<Record<string, string>>
  /** The network the process got. */
  readonly network: NetworkInForce
  /** With `model_endpoint`: the one `host:port` it can reach. */
  readonly egress: string | null
}

export interface ConfinementShape {
  readonly kind: ConfinementKind
  /** One line for `switchyard run` and status, e.g. `bubblewrap 0.8.0, network: none but the model endpoints`. */
  readonly summary: string
  /**
   * Checks the confinement can be had now (bubblewrap installed and able to create namespaces), by starting one
   * confined `true`. Fails `ConfinementUnavailable` with what to install or how to opt out.
   */
  readonly check: Effect.Effect<void, ConfinementUnavailable>
  /**
   * Wraps `argv` (with its whole environment `env`, already allow-listed by the caller) so it runs confined by
   * `spec`. HOME and TMPDIR are set here. The egress bridge of a `modelEndpoint` request lives as long as
   * `Scope`. Fails `ConfinementError` when a path of `spec` is missing or the bridge cannot listen, and
   * `ConfinementUnavailable` when bubblewrap cannot run.
   */
  readonly wrap: (
    argv: ReadonlyArray<string>,
    env: Readonly<Record<string, string>>,
    spec: ConfinedSpec
  ) => Effect.Effect<Confined, ConfinementError | ConfinementUnavailable, Scope.Scope>
  /** The record stored in evidence for a process that got `network` (and `egress`). */
  readonly record: (network: NetworkInForce, egress: string | null) => ConfinementRecord
}

export class Confinement extends Context.Tag("switchyard/Confinement")<Confinement, ConfinementShape>() {}
