/** `switchyard verify ID`: re-runs the verification of an issue's PR_READY candidate now (placeholder). */
import { Args, Command } from "@effect/cli"
import { Console } from "effect"

export const verifyCommand = Command.make("verify", { id: Args.text({ name: "id" }) }, (o) =>
  Console.log(`verify ${o.id}: not implemented yet`))
