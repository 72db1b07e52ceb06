// Bundles the CLI into two CommonJS files so `switchyard` starts as plain JavaScript (no TS loader at run time)
// and bin/switchyard.mjs can run it through V8's code cache (docs/benchmarks.md):
// - dist/switchyard.cjs: every command (src/main.ts), each command's implementation initialised on first use;
// - dist/status.cjs: `switchyard status` alone (src/statusMain.ts), statically imported so the bundler keeps only
//   what status uses. (A lazily initialised module must initialise everything its package's index re-exports.)
// CommonJS, not ESM: on Node 20 only a classic script can be compiled with a code cache, and esbuild turns each
// command's dynamic `import()` into a lazily initialised module, so a command evaluates only what it uses.
// better-sqlite3 stays external: it is a native addon resolved from node_modules (and so does the OpenTelemetry SDK).
import { build } from "esbuild"
import { existsSync, readFileSync, rmSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const here = fileURLToPath(new URL(".", import.meta.url))

/**
 * `import text from "<file>?raw"`: the file's text as a string in the bundle (the web page's files and the browser
 * bundles of diff2html and Chart.js, src/server/page.ts), so the CLI serves them with no file next to it. A relative
 * path is the importer's; a package path is looked up in node_modules from the importer up, ignoring the package's
 * `exports` (browser bundles are not exported to Node).
 */
const rawText = {
  name: "raw-text",
  setup(b) {
    b.onResolve({ filter: /\?raw$/ }, (args) => {
      const spec = args.path.slice(0, -"?raw".length)
      if (spec.startsWith(".")) return { path: join(args.resolveDir, spec), namespace: "raw" }
      for (let dir = args.resolveDir; ; dir = dirname(dir)) {
        const candidate = join(dir, "node_modules", spec)
        if (existsSync(candidate)) return { path: candidate, namespace: "raw" }
        if (dirname(dir) === dir) return { errors: [{ text: `cannot find ${spec} in node_modules above ${args.resolveDir}` }] }
      }
    })
    b.onLoad({ filter: /.*/, namespace: "raw" }, (args) => ({ contents: readFileSync(args.path, "utf8"), loader: "text" }))
  }
}
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
  // The OpenTelemetry SDK (loaded only when OTEL_* asks for export, src/telemetry.ts) is resolved from node_modules
  // like the addon, so the bundle every command parses does not carry it; @effect/opentelemetry is bundled (it must
  // share the bundle's one copy of effect).
  external: ["better-sqlite3", "@opentelemetry/*", "pg-native"],
  // `import()` of an external becomes `require` (the bundle runs as a vm.Script on Node 20, which has no dynamic
  // import callback).
  supported: { "dynamic-import": false },
  plugins: [rawText],
  // `import.meta.url` (the demo finds the checkout from it) becomes the bundle's own file URL.
  define: { "import.meta.url": "__sy_import_meta_url" },
  banner: { js: "const __sy_import_meta_url = require('node:url').pathToFileURL(__filename).href;" }
})
