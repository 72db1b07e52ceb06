/** SWITCHYARD_API_TOKEN: the bearer token of the API (docs/api.md), read through Effect's Config. */
import { Config, Effect, Option, Redacted } from "effect"

/** The token, or null when unset or empty. Never logged: it is read as a Redacted value. */
export const apiToken = Config.option(Config.redacted("SWITCHYARD_API_TOKEN")).pipe(
  Effect.map(Option.map(Redacted.value)),
  Effect.map((t) => Option.isSome(t) && t.value !== "" ? t.value : null),
  Effect.orElseSucceed(() => null)
)
