/** @switchyard/twin: a model twin for the real `claude` and `codex` CLIs, and typed decoding of Claude Code stream-json. */
export * as Messages from "./Messages.js"
export * as Playbook from "./Playbook.js"
export * as Responses from "./Responses.js"
export * as Twin from "./Twin.js"
export * as GitHubTwin from "./GitHubTwin.js"
export * as LinearTwin from "./LinearTwin.js"
export * as GitHubHosting from "./GitHubHosting.js"
