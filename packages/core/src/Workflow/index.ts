export * from "./errors.js"
export * from "./Workflow.js"
