import { defineProject } from "vitest/config"

export default defineProject({
  test: {
    name: "@switchyard/pg",
    // One throwaway PostgreSQL server for every test file of this package (test/globalSetup.ts); each test makes its
    // own database on it.
    globalSetup: ["./test/globalSetup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000
  }
})
