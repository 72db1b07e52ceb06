#!/usr/bin/env node
// The `switchyard` binary: runs the bundled CLI (dist/switchyard.cjs, or dist/status.cjs for `status`; built by
// `pnpm build`, which `pnpm install` runs) with V8's code cache, so a second start skips most of the parsing and compiling of the bundle.
//
// - Node >= 22.1: `module.enableCompileCache()` does it all.
// - Node 20: the bundle is compiled as a `vm.Script` with the cached data of an earlier run of the same command.
//   The cache is written after the first run (`createCachedData()` then holds every function that run compiled,
//   which is why this is not done with `v8-compile-cache`: that package caches only what is compiled eagerly,
//   i.e. almost nothing of an esbuild bundle). Files: dist/.v8-cache/<command>-<size>-<mtime>.bin, keyed by the
//   bundle's size and mtime so a rebuilt bundle never meets a stale cache (V8 checks only the source length).
//   A cache that cannot be read or written (read-only install) only costs speed; V8 rejects a cache made by
//   another Node version and it is rewritten.
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs"
import Module, { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import vm from "node:vm"

// `status` has its own, smaller bundle (src/statusMain.ts): it is the command scripts and watchers call most.
const bundle = fileURLToPath(new URL(process.argv[2] === "status" ? "../dist/status.cjs" : "../dist/switchyard.cjs", import.meta.url))
if (!existsSync(bundle)) {
  process.stderr.write(`switchyard: the CLI is not built (${bundle} is missing). Run \`pnpm build\` at the repo root.\n`)
  process.exit(1)
}
const cacheDir = join(dirname(bundle), ".v8-cache")

if (typeof Module.enableCompileCache === "function") {
  Module.enableCompileCache(cacheDir)
  createRequire(import.meta.url)(bundle)
} else {
  const { mtimeMs, size } = statSync(bundle)
  // One cache per command: each holds the functions its command compiled.
  const command = /^[a-z]+$/.test(process.argv[2] ?? "") ? process.argv[2] : "default"
  const cacheFile = join(cacheDir, `${command}-${size}-${Math.floor(mtimeMs)}.bin`)
  const cachedData = existsSync(cacheFile) ? readFileSync(cacheFile) : undefined
  const script = new vm.Script(Module.wrap(readFileSync(bundle, "utf8")), { filename: bundle, cachedData })
  if (cachedData === undefined || script.cachedDataRejected === true) {
    process.once("exit", () => {
      try {
        mkdirSync(cacheDir, { recursive: true })
        const partial = `${cacheFile}.${process.pid}`
        writeFileSync(partial, script.createCachedData())
        renameSync(partial, cacheFile) // atomic: concurrent first runs never leave a torn cache
      } catch {
        // Not writable (e.g. a read-only global install): run without a cache.
      }
    })
  }
  const module = new Module(bundle)
  module.filename = bundle
  module.paths = Module._nodeModulePaths(dirname(bundle))
  const require = createRequire(bundle)
  script.runInThisContext().call(module.exports, module.exports, require, module, bundle, dirname(bundle))
}
