export * from "./guards.js"
export * from "./testCounts.js"
export * from "./Verifier.js"
export * from "./proof.js"
