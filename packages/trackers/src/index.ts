/**
 * @switchyard/trackers: external trackers as `Tracker` Layers (docs/trackers.md). Each mirrors its issues into the
 * embedded store and writes back through a durable outbox (`MirrorTracker`); the orchestrator's state stays in
 * SQLite whatever the kind.
 */
export * as GitHubApi from "./GitHub/GitHubApi.js"
export * as GitHubHosting from "./GitHub/hosting.js"
export * as GitHubLander from "./GitHub/GitHubLander.js"
export * as GitHubCi from "./GitHub/GitHubCi.js"
export * as GitHubMapping from "./GitHub/mapping.js"
export * as GitHubTracker from "./GitHub/GitHubTracker.js"
export * as MirrorTracker from "./Mirror/MirrorTracker.js"
export * as FpTracker from "./Fp/FpTracker.js"
export * as LinearApi from "./Linear/LinearApi.js"
export * as LinearMapping from "./Linear/mapping.js"
export * as LinearTracker from "./Linear/LinearTracker.js"
