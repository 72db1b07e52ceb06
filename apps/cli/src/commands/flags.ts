/**
 * Options and arguments several commands share. Declarations only: Cli.ts and statusMain.ts import this module
 * statically, so it must stay free of anything a handler loads.
 */
import { Args, Options } from "@effect/cli"

/** `--json`: print JSON instead of text. */
export const json = Options.boolean("json").pipe(Options.withDescription("print JSON instead of text"))

/** A text option `--<name>` with its help line. */
export const text = (name: string, description: string) => Options.text(name).pipe(Options.withDescription(description))

/** The issue id argument, e.g. `SY-12`. */
export const id = Args.text({ name: "id" }).pipe(Args.withDescription("issue id, e.g. SY-12"))

/**
 * `--workflow PATH`: the workflow file to use instead of `<repo>/WORKFLOW.md`, resolved against the cwd (see
 * {@link workflowPathOf}).
 */
export const workflow = Options.text("workflow").pipe(
  Options.optional,
  Options.withDescription("the workflow file to use instead of <repo>/WORKFLOW.md (relative to the current directory)")
)
