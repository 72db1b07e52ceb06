/** The options of `switchyard trust` and `switchyard land`, and their parsed types. */
import type { Command } from "@effect/cli"
import { json, workflow } from "../flags.js"

export const trustConfig = { json, workflow }
export type TrustOptions = Command.Command.ParseConfig<typeof trustConfig>

export const trustDescription =
  "show the trust ladder: each change class, its rung, its history and the next promotion (records human merges and reverts first)"

export const landConfig = { json, workflow }
export type LandOptions = Command.Command.ParseConfig<typeof landConfig>

export const landDescription =
  "land every PR_READY change whose class has earned auto_land, on fresh evidence (re-verified when the base moved); the rest waits for review"
