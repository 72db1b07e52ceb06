/** Helpers every command implementation shares: the repo root, the store, JSON output. */
import { FileSystem } from "@effect/platform"
import { parseWorkflow } from "@switchyard/core"
import { Issue, TrackerConfig } from "@switchyard/domain"
import { GitSandbox, NodeWorkflowFile } from "@switchyard/node"
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

/**
 * `tracker:` of the repo's workflow file (`<repo>/WORKFLOW.md`), for commands that do not load the workflow (issue
 * create, status). An absent file, or one that does not parse (the command that loads it reports that), gives the
 * defaults: the embedded tracker, no required labels. Never fails.
 */
export const workflowTracker = (root: string): Effect.Effect<TrackerConfig, never, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = NodeWorkflowFile.workflowPath(root)
    const text = yield* fs.readFileString(path).pipe(Effect.option)
    if (Option.isNone(text)) return TrackerConfig.make({})
    const parsed = yield* Effect.option(parseWorkflow(path, text.value))
    return Option.match(parsed, { onNone: () => TrackerConfig.make({}), onSome: (def) => def.config.tracker })
  })
