// Bundles the CLI into one ESM file so `switchyard` starts as plain JavaScript (no TS loader at run time).
// better-sqlite3 stays external: it is a native addon resolved from node_modules.
import { build } from "esbuild"
import { fileURLToPath } from "node:url"

const here = fileURLToPath(new URL(".", import.meta.url))
await build({
  absWorkingDir: here,
  entryPoints: ["src/main.ts"],
  outfile: "dist/main.mjs",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: "linked",
  logLevel: "warning",
  external: ["better-sqlite3"],
  banner: { js: "import { createRequire as __sy_createRequire } from 'node:module'; const require = __sy_createRequire(import.meta.url);" }
})
