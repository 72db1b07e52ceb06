/**
 * The one network hole of a confined agent CLI: its model endpoint (Claude Code's own Linux sandbox works the same
 * way: no network namespace access, a proxy reached through a unix socket bound into the sandbox).
 *
 * Outside the sandbox, the runner listens on a unix socket and forwards to exactly one `host:port`:
 * - `relay` (the endpoint is on loopback, e.g. a model twin on 127.0.0.1): every connection is piped to it as is;
 * - `connect` (a remote endpoint, e.g. https://api.anthropic.com): an HTTP CONNECT proxy that tunnels only to
 *   that `host:port` and answers anything else with 403.
 * Inside, `BRIDGE_SCRIPT` (run by the runner's own node binary) listens on the sandbox's loopback and pipes each
 * connection to the socket, then runs the agent. Nothing else of the host network is reachable.
 * @internal
 */
import { Effect, type Scope } from "effect"
import * as Http from "node:http"
import * as Net from "node:net"
import { ConfinementError } from "@switchyard/core"

/** Where a model endpoint URL points, and how the bridge reaches it. */
export interface Egress {
  /** The one `host:port` reachable. */
  readonly host: string
  readonly port: number
  /**
   * For an endpoint on loopback (a model twin): the port the bridge also listens on inside the sandbox, relaying
   * as is, so the agent uses the URL unchanged. Null for a remote endpoint (reached through the proxy only).
   */
  readonly relayPort: number | null
  /** The port of the in-sandbox CONNECT proxy (`PROXY_PORT`, or the next one when the endpoint uses it). */
  readonly proxyPort: number
  /**
   * Variables the agent gets: `HTTPS_PROXY`/`HTTP_PROXY` to the in-sandbox proxy (so a CLI's other traffic, e.g.
   * telemetry or update checks, is refused at once instead of waiting out DNS timeouts), and `NO_PROXY` for
   * loopback so a relayed endpoint is reached directly.
   */
  readonly env: Readonly<Record<string, string>>
}

/** The port the in-sandbox proxy listens on (the sandbox has its own loopback); 3129 when the endpoint uses 3128. */
export const PROXY_PORT = 3128

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1"])

/**
 * The egress for a model endpoint URL (`http(s)://host[:port][/path]`). Pure. Fails `ConfinementError` for a URL
 * that does not parse or is not http/https.
 */
export const egressFor = (url: string): Effect.Effect<Egress, ConfinementError> =>
  Effect.try({
    try: () => new URL(url),
    catch: () => new ConfinementError({ operation: "egress", reason: `the model endpoint ${JSON.stringify(url)} is not a URL` })
  }).pipe(
    Effect.filterOrFail(
      (u) => u.protocol === "http:" || u.protocol === "https:",
      (u) => new ConfinementError({ operation: "egress", reason: `the model endpoint ${url} is ${u.protocol}, not http or https` })
    ),
    Effect.map((u): Egress => {
      const port = u.port === "" ? (u.protocol === "https:" ? 443 : 80) : Number(u.port)
      const hostname = u.hostname.replace(/^\[|\]$/g, "")
      const loopback = LOOPBACK.has(hostname)
      const proxyPort = loopback && port === PROXY_PORT ? PROXY_PORT + 1 : PROXY_PORT
      const proxy = `http://127.0.0.1:${proxyPort}`
      return {
        host: hostname === "localhost" ? "127.0.0.1" : hostname,
        port,
        relayPort: loopback ? port : null,
        proxyPort,
        env: {
          HTTPS_PROXY: proxy,
          https_proxy: proxy,
          HTTP_PROXY: proxy,
          http_proxy: proxy,
          ...(loopback ? { NO_PROXY: "127.0.0.1,localhost,::1", no_proxy: "127.0.0.1,localhost,::1" } : {})
        }
      }
    })
  )

const pipeBoth = (a: Net.Socket, b: Net.Socket) => {
  const end = () => {
    a.destroy()
    b.destroy()
  }
  a.on("error", end).on("close", end)
  b.on("error", end).on("close", end)
  a.pipe(b).pipe(a)
}

/** True when a CONNECT target `host:port` is the one allowed. */
export const connectAllowed = (target: string, egress: Pick<Egress, "host" | "port">): boolean => {
  const at = target.lastIndexOf(":")
  if (at <= 0) return false
  const host = target.slice(0, at).replace(/^\[|\]$/g, "").toLowerCase()
  const allowed = egress.host.toLowerCase()
  const same = host === allowed || (LOOPBACK.has(host) && LOOPBACK.has(allowed === "127.0.0.1" ? "localhost" : allowed))
  return same && Number(target.slice(at + 1)) === egress.port
}

const listen = (server: Net.Server, socketPath: string) =>
  Effect.acquireRelease(
    Effect.async<Net.Server, ConfinementError>((resume) => {
      server.once("error", (error) =>
        resume(Effect.fail(new ConfinementError({ operation: "egress", reason: `cannot listen on ${socketPath}: ${error.message}` }))))
      server.listen(socketPath, () => resume(Effect.succeed(server)))
    }),
    (s) =>
      Effect.async<void>((resume) => {
        s.close(() => resume(Effect.void))
      })
  ).pipe(Effect.asVoid)

/**
 * The proxy half, outside the sandbox: an HTTP CONNECT proxy on the unix socket `socketPath` (for the life of the
 * scope) that tunnels only to `egress.host:egress.port` and answers anything else with 403. Fails
 * `ConfinementError` when the socket cannot be listened on.
 */
export const serveProxy = (socketPath: string, egress: Egress): Effect.Effect<void, ConfinementError, Scope.Scope> =>
  listen(
    Http.createServer((_, res) => {
      res.writeHead(403, { "content-type": "text/plain" }).end("switchyard: only CONNECT to the model endpoint\n")
    }).on("connect", (req: Http.IncomingMessage, client: Net.Socket, head: Buffer) => {
      if (!connectAllowed(req.url ?? "", egress)) {
        client.end(`HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\n\r\nswitchyard: ${req.url} is not the model endpoint\n`)
        return
      }
      const upstream = Net.connect(egress.port, egress.host, () => {
        client.write("HTTP/1.1 200 Connection Established\r\n\r\n")
        if (head.length > 0) upstream.write(head)
        pipeBoth(client, upstream)
      })
      upstream.on("error", () => client.end("HTTP/1.1 502 Bad Gateway\r\n\r\n"))
    }),
    socketPath
  )

/** The relay half, outside the sandbox: every connection on `socketPath` is piped to `egress.host:egress.port`. */
export const serveRelay = (socketPath: string, egress: Egress): Effect.Effect<void, ConfinementError, Scope.Scope> =>
  listen(Net.createServer((client) => pipeBoth(client, Net.connect(egress.port, egress.host))), socketPath)

/**
 * The in-sandbox half, for `node -e BRIDGE_SCRIPT -- <socket> <port> [<socket> <port>...] -- <program> [args...]`:
 * listens on 127.0.0.1:<port> of the sandbox's loopback for each pair and pipes every connection to its unix
 * socket; once all listen, runs the program with the same stdio, forwarding SIGTERM/SIGINT/SIGHUP, and exits with
 * its exit code (128 + signal number when it was killed, 127 when it could not start, 125 when the bridge could not
 * listen).
 */
export const BRIDGE_SCRIPT = `"use strict";
const net = require("net"), cp = require("child_process"), os = require("os");
const args = process.argv.slice(1), sep = args.indexOf("--");
const pairs = args.slice(0, sep), argv = args.slice(sep + 1);
const fail = (e) => { process.stderr.write("switchyard egress bridge: " + e.message + "\\n"); process.exit(125); };
let waiting = pairs.length / 2;
const start = () => {
  const child = cp.spawn(argv[0], argv.slice(1), { stdio: "inherit" });
  for (const s of ["SIGTERM", "SIGINT", "SIGHUP"]) process.on(s, () => child.kill(s));
  child.on("error", (e) => { process.stderr.write("cannot start " + argv[0] + ": " + e.message + "\\n"); process.exit(127); });
  child.on("exit", (code, sig) => process.exit(code === null ? 128 + (os.constants.signals[sig] || 9) : code));
};
for (let i = 0; i < pairs.length; i += 2) {
  const sock = pairs[i];
  const server = net.createServer((c) => {
    const u = net.connect(sock);
    const end = () => { c.destroy(); u.destroy(); };
    c.on("error", end).on("close", end); u.on("error", end).on("close", end);
    c.pipe(u).pipe(c);
  });
  server.on("error", fail);
  server.listen(Number(pairs[i + 1]), "127.0.0.1", () => { if (--waiting === 0) start(); });
}
`
