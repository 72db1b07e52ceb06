/**
 * The `status` command's options, shared by the full CLI (Cli.ts) and the status entry point (statusMain.ts).
 */
import { Options } from "@effect/cli"
import type { Command } from "@effect/cli"

export const statusConfig = {
  json: Options.boolean("json").pipe(Options.withDescription("print JSON instead of text")),
  watch: Options.boolean("watch").pipe(Options.withDescription("refresh every second until interrupted")),
  check: Options.boolean("check").pipe(Options.withDescription("exit 3 when there is any violation (for scripts)"))
}
export type StatusOptions = Command.Command.ParseConfig<typeof statusConfig>

export const statusDescription = "the four layers: tracker, orchestrator, workers, human"
