/** Helpers every command implementation shares: the repo root, the store, JSON output. */
import { Issue } from "@switchyard/domain"
import { GitSandbox } from "@switchyard/node"
import { Console, Effect, Option, Schema } from "effect"
import * as NodePath from "node:path"
import { storeLayer } from "../store.js"

/** Prints `value` as indented JSON on stdout. */
export const printJson = (value: unknown) => Console.log(JSON.stringify(value, null, 2))

/** An issue as it is stored and printed (snake_case fields, ISO-8601 times). */
export const encodeIssue = Schema.encodeSync(Issue)

/** The git repo the command runs in (NotAGitRepo otherwise). */
export const repoRoot = Effect.suspend(() => GitSandbox.findRepoRoot(process.cwd()))

/** Runs `f` with the repo's Tracker, Orchestrator and EvidenceStore. */
export const withStore = <A, E, R>(f: (root: string) => Effect.Effect<A, E, R>) =>
  repoRoot.pipe(Effect.flatMap((root) => f(root).pipe(Effect.provide(storeLayer(root)))))

/** The absolute path `--workflow` names (resolved against the process cwd), or undefined for `<repo>/WORKFLOW.md`. */
export const workflowPathOf = (flag: Option.Option<string>): string | undefined =>
  Option.match(flag, { onNone: () => undefined, onSome: (p) => NodePath.resolve(process.cwd(), p) })
