/** The options of `switchyard run` and their parsed type. */
import { type Command, Options } from "@effect/cli"
import { workflow } from "../flags.js"
import { host, port } from "../serve/options.js"

export const runConfig = {
  once: Options.boolean("once").pipe(Options.withDescription("drain: return when nothing is eligible, waiting or running")),
  concurrency: Options.integer("concurrency").pipe(Options.optional, Options.withDescription("override agent.max_concurrent_agents")),
  workflow,
  port: port.pipe(Options.optional),
  host
}
export type RunOptions = Command.Command.ParseConfig<typeof runConfig>

export const runDescription = "run the factory line on the eligible issues"
