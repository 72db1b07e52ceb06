/** The options of `switchyard demo` and their parsed type. */
import { type Command, Options } from "@effect/cli"

/** `--agent` for the demo: which station runs the five issues. */
export const demoAgents = ["command", "claude-code"] as const
export type DemoAgent = (typeof demoAgents)[number]

/** `--tracker` for the demo: the embedded tracker, or GitHub Issues / Linear on a local twin. */
export const demoTrackers = ["switchyard", "github", "linear"] as const
export type DemoTracker = (typeof demoTrackers)[number]

export const demoConfig = {
  keep: Options.boolean("keep").pipe(Options.withDescription("keep the example repo (its path is printed)")),
  agent: Options.choice("agent", demoAgents).pipe(
    Options.optional,
    Options.withDescription("which agent runs the demo (default: claude-code when its binary runs here)")
  ),
  tracker: Options.choice("tracker", demoTrackers).pipe(
    Options.withDefault("switchyard" as const),
    Options.withDescription("where the issues come from: the embedded tracker, or GitHub Issues / Linear on a local twin")
  )
}
export type DemoOptions = Command.Command.ParseConfig<typeof demoConfig>

export const demoDescription = "build an example monorepo in a temp dir and run the factory on it"
