/** The options of `switchyard verify` and their parsed type. */
import type { Command } from "@effect/cli"
import { id, json, workflow } from "../flags.js"

export const verifyConfig = { id, json, workflow }
export type VerifyOptions = Command.Command.ParseConfig<typeof verifyConfig>

export const verifyDescription =
  "check that an issue's evidence still holds: fresh (branch head, tree and base unchanged) and re-verified now; exit 1 if not"
