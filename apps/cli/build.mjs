// Bundles the CLI into ESM (dist/main.mjs plus on-demand chunks) so `switchyard` starts as plain JavaScript
// (no TS loader at run time).
// better-sqlite3 stays external: it is a native addon resolved from node_modules.
import { build } from "esbuild"
import { rmSync } from "node:fs"
import { fileURLToPath } from "node:url"

const here = fileURLToPath(new URL(".", import.meta.url))
// Start clean: chunk names carry content hashes, so old ones would otherwise pile up.
rmSync(new URL("dist", import.meta.url), { recursive: true, force: true })
await build({
  absWorkingDir: here,
  entryPoints: ["src/main.ts"],
  outdir: "dist",
  outExtension: { ".js": ".mjs" },
  entryNames: "[name]",
  // Commands that need heavy modules (the demo's model twin) load them as separate chunks on demand.
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
  // Minified: parsing and compiling the bundle is most of the CLI's start-up time. Names are kept for stack
  // traces, and the source map points back to the TypeScript.
  minify: true,
  keepNames: true,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: "linked",
  logLevel: "warning",
  external: ["better-sqlite3"],
  banner: { js: "import { createRequire as __sy_createRequire } from 'node:module'; const require = __sy_createRequire(import.meta.url);" }
})
