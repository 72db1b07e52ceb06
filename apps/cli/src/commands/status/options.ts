/**
 * The options of `switchyard status` and their parsed type, shared by the full CLI (Cli.ts) and the status entry
 * point (statusMain.ts).
 */
import { type Command, Options } from "@effect/cli"
import { json } from "../flags.js"

export const statusConfig = {
  json,
  watch: Options.boolean("watch").pipe(Options.withDescription("refresh every second until interrupted")),
  check: Options.boolean("check").pipe(Options.withDescription("exit 3 when there is any violation (for scripts)"))
}
export type StatusOptions = Command.Command.ParseConfig<typeof statusConfig>

export const statusDescription = "the four layers: tracker, orchestrator, workers, human"
