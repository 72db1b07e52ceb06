/**
 * The `switchyard` command line (@effect/cli). Every query has `--json`; errors go to stderr as one sentence a
 * person can act on, with a non-zero exit (see edge.ts).
 *
 * Each command lives in `commands/<name>/`: `options.ts` declares its options and their parsed type, `handler.ts`
 * implements it. This module imports every `options.ts` statically and every handler dynamically (on first use),
 * so a command evaluates only the modules it needs: `status` never loads the agent stations, the workflow parser or
 * the model twin (docs/benchmarks.md, "status --json"). No handler imports this module.
 */
import { Command } from "@effect/cli"
import { Effect } from "effect"
import { demoConfig, demoDescription } from "./commands/demo/options.js"
import { evidenceConfig, evidenceDescription } from "./commands/evidence/options.js"
import { initConfig, initDescription } from "./commands/init/options.js"
import {
  issueCheckConfig,
  issueCheckDescription,
  issueCommentConfig,
  issueCommentDescription,
  issueCreateConfig,
  issueCreateDescription,
  issueDescription,
  issueListConfig,
  issueListDescription,
  issueShowConfig,
  issueShowDescription,
  issueUpdateConfig,
  issueUpdateDescription
} from "./commands/issue/options.js"
import { runConfig, runDescription } from "./commands/run/options.js"
import { serveConfig, serveDescription } from "./commands/serve/options.js"
import { statusConfig, statusDescription } from "./commands/status/options.js"
import { landConfig, landDescription, trustConfig, trustDescription } from "./commands/trust/options.js"
import { verifyConfig, verifyDescription } from "./commands/verify/options.js"
import { VERSION } from "./version.js"

/** Runs `f` with the module `load` imports (a dynamic import, evaluated the first time only). */
const lazy = <M, A, E, R>(load: () => Promise<M>, f: (module: M) => Effect.Effect<A, E, R>) =>
  Effect.promise(load).pipe(Effect.flatMap(f))

const issueHandler = () => import("./commands/issue/handler.js")

const init = Command.make("init", initConfig, () => lazy(() => import("./commands/init/handler.js"), (m) => m.init))
  .pipe(Command.withDescription(initDescription))

const issue = Command.make("issue").pipe(
  Command.withDescription(issueDescription),
  Command.withSubcommands([
    Command.make("create", issueCreateConfig, (o) => lazy(issueHandler, (m) => m.create(o)))
      .pipe(Command.withDescription(issueCreateDescription)),
    Command.make("list", issueListConfig, (o) => lazy(issueHandler, (m) => m.list(o)))
      .pipe(Command.withDescription(issueListDescription)),
    Command.make("show", issueShowConfig, (o) => lazy(issueHandler, (m) => m.show(o)))
      .pipe(Command.withDescription(issueShowDescription)),
    Command.make("update", issueUpdateConfig, (o) => lazy(issueHandler, (m) => m.update(o)))
      .pipe(Command.withDescription(issueUpdateDescription)),
    Command.make("comment", issueCommentConfig, (o) => lazy(issueHandler, (m) => m.comment(o)))
      .pipe(Command.withDescription(issueCommentDescription)),
    Command.make("check", issueCheckConfig, (o) => lazy(() => import("./commands/issue/check.js"), (m) => m.check(o)))
      .pipe(Command.withDescription(issueCheckDescription))
  ])
)

const run = Command.make("run", runConfig, (o) => lazy(() => import("./commands/run/handler.js"), (m) => m.run(o)))
  .pipe(Command.withDescription(runDescription))

const status = Command.make("status", statusConfig, (o) => lazy(() => import("./commands/status/handler.js"), (m) => m.status(o)))
  .pipe(Command.withDescription(statusDescription))

const evidence = Command.make(
  "evidence",
  evidenceConfig,
  (o) => lazy(() => import("./commands/evidence/handler.js"), (m) => m.evidence(o))
).pipe(Command.withDescription(evidenceDescription))

const verify = Command.make("verify", verifyConfig, (o) => lazy(() => import("./commands/verify/handler.js"), (m) => m.verify(o)))
  .pipe(Command.withDescription(verifyDescription))

const trustHandler = () => import("./commands/trust/handler.js")

const trust = Command.make("trust", trustConfig, (o) => lazy(trustHandler, (m) => m.trust(o)))
  .pipe(Command.withDescription(trustDescription))

const land = Command.make("land", landConfig, (o) => lazy(trustHandler, (m) => m.land(o)))
  .pipe(Command.withDescription(landDescription))

const serve = Command.make("serve", serveConfig, (o) => lazy(() => import("./commands/serve/handler.js"), (m) => m.serve(o)))
  .pipe(Command.withDescription(serveDescription))

const demo = Command.make(
  "demo",
  demoConfig,
  (o) => lazy(() => import("./commands/demo/handler.js"), (m) => m.demo(o))
).pipe(Command.withDescription(demoDescription))

/** The `switchyard` command with every subcommand. */
export const switchyard = Command.make("switchyard").pipe(
  Command.withDescription("Switchyard: issues in, validated change out"),
  Command.withSubcommands([init, issue, run, status, evidence, verify, trust, land, serve, demo])
)

/** Parses argv and runs the chosen command (see edge.ts `runCli`). */
export const cli = Command.run(switchyard, { name: "switchyard", version: VERSION })
