/**
 * @switchyard/node: the process runner, the git-worktree Sandbox, the command AgentStation, the process Verifier
 * and process-table access for the Supervisor.
 */
export * as CommandAgent from "./AgentStation/CommandAgent.js"
export * as NodeProcessControl from "./ProcessControl/NodeProcessControl.js"
export * as ProcessRunner from "./ProcessRunner/ProcessRunner.js"
export * as GitWorktreeSandbox from "./Sandbox/GitWorktreeSandbox.js"
export * as ProcessVerifier from "./Verifier/ProcessVerifier.js"
export * as GitIntegration from "./Integration/GitIntegration.js"
export * as AgentEnv from "./AgentStation/AgentEnv.js"
export * as AgentEvent from "./AgentStation/AgentEvent.js"
export * as ClaudeCodeAgent from "./AgentStation/ClaudeCodeAgent.js"
export * as ClaudeStream from "./AgentStation/ClaudeStream.js"
export * as CliStation from "./AgentStation/CliStation.js"
export * as CodexAgent from "./AgentStation/CodexAgent.js"
export * as CodexStream from "./AgentStation/CodexStream.js"
export * as RoutedAgentStation from "./AgentStation/RoutedAgentStation.js"
export * as RunFiles from "./AgentStation/RunFiles.js"
export * as Transcript from "./AgentStation/Transcript.js"
export * as Ed25519EvidenceSigner from "./EvidenceSigner/Ed25519EvidenceSigner.js"
