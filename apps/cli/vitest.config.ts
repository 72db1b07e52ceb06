import { defineProject } from "vitest/config"

// End-to-end tests run the built CLI against real git repos and processes: seconds, not milliseconds.
export default defineProject({ test: { name: "@switchyard/cli", testTimeout: 120_000, hookTimeout: 60_000 } })
