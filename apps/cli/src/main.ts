/** The `switchyard` CLI's entry point (bundled to dist/switchyard.cjs): every command, each loaded on first use. */
import { cli } from "./Cli.js"
import { runCli } from "./edge.js"

runCli(cli)
