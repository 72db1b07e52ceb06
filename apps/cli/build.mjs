// Bundles the CLI into two CommonJS files so `switchyard` starts as plain JavaScript (no TS loader at run time)
// and bin/switchyard.mjs can run it through V8's code cache (docs/benchmarks.md):
// - dist/switchyard.cjs: every command (src/main.ts), each command's implementation initialised on first use;
// - dist/status.cjs: `switchyard status` alone (src/statusMain.ts), statically imported so the bundler keeps only
//   what status uses. (A lazily initialised module must initialise everything its package's index re-exports.)
// CommonJS, not ESM: on Node 20 only a classic script can be compiled with a code cache, and esbuild turns each
// command's dynamic `import()` into a lazily initialised module, so a command evaluates only what it uses.
// better-sqlite3 stays external: it is a native addon resolved from node_modules.
import { build } from "esbuild"
import { rmSync } from "node:fs"
import { fileURLToPath } from "node:url"

const here = fileURLToPath(new URL(".", import.meta.url))
// Start clean: this also drops code caches made for an older bundle.
rmSync(new URL("dist", import.meta.url), { recursive: true, force: true })
await build({
  absWorkingDir: here,
  entryPoints: { switchyard: "src/main.ts", status: "src/statusMain.ts" },
  outdir: "dist",
  outExtension: { ".js": ".cjs" },
  // Minified: parsing and compiling the bundle is a large part of start-up; the source map points back to the
  // TypeScript (run with `node --enable-source-maps` for mapped stack traces).
  minify: true,
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  sourcemap: "linked",
  logLevel: "warning",
  // pg-native: the pg driver's optional native binding, required only when asked for (never here).
  external: ["better-sqlite3", "pg-native"],
  // `import.meta.url` (the demo finds the checkout from it) becomes the bundle's own file URL.
  define: { "import.meta.url": "__sy_import_meta_url" },
  banner: { js: "const __sy_import_meta_url = require('node:url').pathToFileURL(__filename).href;" }
})
