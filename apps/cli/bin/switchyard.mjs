#!/usr/bin/env node
// The `switchyard` binary: loads the bundled CLI (built by `pnpm build`, which `pnpm install` runs).
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"

const main = fileURLToPath(new URL("../dist/main.mjs", import.meta.url))
if (!existsSync(main)) {
  process.stderr.write(`switchyard: the CLI is not built (${main} is missing). Run \`pnpm build\` at the repo root.\n`)
  process.exit(1)
}
await import(main)
