export * from "./AgentStation/AgentStation.js"
export * from "./EvidenceStore/errors.js"
export * from "./EvidenceStore/EvidenceStore.js"
export * from "./EvidenceStore/markdown.js"
export * from "./Integration/Integration.js"
export * from "./Orchestrator/backoff.js"
export * from "./Orchestrator/errors.js"
export * from "./Orchestrator/loop.js"
export * from "./Orchestrator/Orchestrator.js"
export * from "./Sandbox/errors.js"
export * from "./Sandbox/Sandbox.js"
export * as Supervisor from "./Supervisor/Supervisor.js"
export { ProcessControl, type ProcessControlShape } from "./ProcessControl/ProcessControl.js"
export {
  branchViolations,
  checkOutcomes,
  evidenceViolations,
  findViolations,
  type OutcomeCheck,
  SEAL_WINDOW,
  VIOLATION_WINDOW,
  type Violation,
  type ViolationKind
} from "./Supervisor/violations.js"
export * from "./Tracker/eligibility.js"
export * as MemoryTracker from "./Tracker/MemoryTracker.js"
export * from "./Tracker/errors.js"
export * from "./Tracker/limits.js"
export * from "./Tracker/Tracker.js"
export * from "./Verifier/index.js"
export * from "./EvidenceStore/bundle.js"
export * from "./Line/artifacts.js"
export * as Decide from "./Line/decide.js"
export { applyRetryPolicy, decide, type DecisionInput, escapeVerdict } from "./Line/decide.js"
export * from "./Line/progress.js"
export * from "./Line/revision.js"
export { runAttempt } from "./Line/runAttempt.js"
export * from "./Line/settle.js"
export { AFTER_RUN_ON_INTERRUPT_MS, type AttemptObserver, type LineContext, verifyPolicy } from "./Line/stages.js"
export * from "./Line/summary.js"
export * as FiberWorkerPool from "./WorkerPool/FiberWorkerPool.js"
export * from "./WorkerPool/WorkerPool.js"
export * from "./Workflow/index.js"
export * from "./Confinement/Confinement.js"
export * from "./Confinement/errors.js"
export * from "./Sandbox/integrity.js"
export * from "./EvidenceSigner/canonical.js"
export * from "./EvidenceSigner/errors.js"
export * from "./EvidenceSigner/EvidenceSigner.js"
export * from "./EvidenceSigner/seal.js"
export * as KillPointsModule from "./KillPoints/KillPoints.js"
export { KillPoints, type KillPointsShape } from "./KillPoints/KillPoints.js"
