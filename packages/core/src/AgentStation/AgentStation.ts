/**
 * AgentStation: runs one coding agent (a real CLI) in a sandbox and reports what it did.
 * It never fails: a crash, a timeout or a missing binary is reported in the `AgentReport` so the decision
 * table can classify it. Every station runs its CLI through the `Confinement` service. Implementations:
 * `CommandAgent`, `ClaudeCodeAgent`, `CodexAgent` and `RoutedAgentStation` (the one of `input.agent.kind`), all in
 * @switchyard/node.
 *
 * Stations read no configuration of their own: the caller routes (`Routing.route`, routing.ts) and passes the
 * resolved agent config in `AgentRunInput.agent`, so one run uses one version of WORKFLOW.md throughout.
 */
import type { AgentConfig, AgentReport, Issue, TaskPacket } from "@switchyard/domain"
import { Context, type Effect } from "effect"

export interface AgentRunInput {
  readonly issue: Issue
  readonly packet: TaskPacket
  /** The rendered WORKFLOW.md prompt. */
  readonly prompt: string
  readonly attempt: number
  /** The agent's cwd: the sandbox worktree root. */
  readonly sandboxPath: string
  /**
   * The attempt's evidence directory (under `.switchyard/`, never visible to the agent): transcripts, logs and
   * copies of the prompt, task packet and result file go here.
   */
  readonly runDir: string
  /**
   * The agent's own directory for the files it exchanges with Switchyard (`$SWITCHYARD_PROMPT_FILE`,
   * `$SWITCHYARD_TASK_FILE`, `$SWITCHYARD_RESULT_FILE`): writable by the agent, so everything read back from it is
   * hostile input.
   */
  readonly ioDir: string
  /** The attempt's private HOME (kept across revision turns, so a CLI can resume its session). */
  readonly home: string
  /**
   * The agent config to run with: `agent:` with the routed `agents.<name>` merged over it (`Routing.resolve`).
   * Its `kind` picks the station, its `timeout_ms` is the run's wall-clock limit (ms; on expiry the process group
   * gets SIGTERM, then SIGKILL), and its command, model, env allow-list and budgets are what the station uses.
   */
  readonly agent: AgentConfig
  /**
   * How `agent` was chosen, recorded as `AgentReport.route`: e.g. `label frontend → claude (claude-code)` or
   * `default (command)`. Null when the caller did not route (it runs one station directly); the report's route is
   * then null.
   */
  readonly route: string | null
  /** Called once the process is spawned, with its pid (which is also its process-group id). */
  readonly onSpawn: (pid: number) => Effect.Effect<void>
  /** Called on agent output (callers throttle what they do with it). */
  readonly onOutput: Effect.Effect<void>
  /**
   * Set for a revision turn after the Verifier rejected the previous diff: `feedback` is the shortest useful
   * failure summary. Stations that can resume (Claude Code `--resume <sessionId>`) send only `feedback` as the
   * next user turn; the others re-run with `prompt` followed by `feedback`.
   */
  readonly continuation: { readonly sessionId: string | null; readonly feedback: string; readonly turn: number } | null
}

export interface AgentStationShape {
  readonly kind: string
  readonly run: (input: AgentRunInput) => Effect.Effect<AgentReport>
}

export class AgentStation extends Context.Tag("switchyard/AgentStation")<AgentStation, AgentStationShape>() {}
