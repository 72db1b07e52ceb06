/** The options of `switchyard serve` (and the `--port`/`--host` that `switchyard run` shares) and their parsed type. */
import { type Command, Options } from "@effect/cli"

/** `--port N`: where the API and the page listen; 0 picks a free port (printed on the first line). */
export const port = Options.integer("port").pipe(
  Options.withDescription("serve the API and the page on this port (0: a free one, printed as `listening on …`)")
)

/** `--host H`: the address to bind; anything but loopback needs SWITCHYARD_API_TOKEN. */
export const host = Options.text("host").pipe(
  Options.withDefault("127.0.0.1"),
  Options.withDescription("the address to bind (default 127.0.0.1; any other needs SWITCHYARD_API_TOKEN)")
)

export const serveConfig = {
  port: port.pipe(Options.withDefault(4680)),
  host
}
export type ServeOptions = Command.Command.ParseConfig<typeof serveConfig>

export const serveDescription = "serve the HTTP API and the live page of this repo's factory (docs/api.md)"
