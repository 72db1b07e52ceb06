/**
 * @switchyard/node: the process runner, the git-worktree Sandbox, the command AgentStation, the process Verifier
 * and process-table access for the Supervisor.
 */
export * as CommandAgent from "./AgentStation/CommandAgent.js"
export * as NodeProcessControl from "./ProcessControl/NodeProcessControl.js"
export * as ProcessRunner from "./ProcessRunner/ProcessRunner.js"
export * as GitWorktreeSandbox from "./Sandbox/GitWorktreeSandbox.js"
export * as ProcessVerifier from "./Verifier/ProcessVerifier.js"
