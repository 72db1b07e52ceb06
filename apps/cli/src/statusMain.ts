/**
 * The entry point of `switchyard status` (bundled to dist/status.cjs; bin/switchyard.mjs picks it when the first
 * argument is `status`). It declares the same `status` command as Cli.ts, but imports its handler statically, so
 * the bundler keeps only what status uses: no agent stations, workflow parser, prompt templates or model twin are
 * loaded or evaluated. This is what keeps `status --json` fast on a big tracker (docs/benchmarks.md).
 */
import { Command } from "@effect/cli"
import { status } from "./commands/status/handler.js"
import { statusConfig, statusDescription } from "./commands/status/options.js"
import { runCli } from "./edge.js"
import { VERSION } from "./version.js"

const statusCommand = Command.make("status", statusConfig, status).pipe(Command.withDescription(statusDescription))

runCli(Command.run(Command.make("switchyard").pipe(Command.withSubcommands([statusCommand])), { name: "switchyard", version: VERSION }))
