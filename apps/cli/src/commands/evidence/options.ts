/** The options of `switchyard evidence` and their parsed type. */
import { type Command, Options } from "@effect/cli"
import { id, json } from "../flags.js"

export const evidenceConfig = {
  id,
  json,
  md: Options.boolean("md").pipe(Options.withDescription("print the markdown bundle")),
  attempt: Options.integer("attempt").pipe(Options.optional)
}
export type EvidenceOptions = Command.Command.ParseConfig<typeof evidenceConfig>

export const evidenceDescription = "the evidence bundle of an issue's latest (or --attempt N) attempt"
