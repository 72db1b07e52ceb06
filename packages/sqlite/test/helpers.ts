/** Test helpers: scratch directories with real SQLite files, and a sample evidence bundle. */
import { FileSystem, Path } from "@effect/platform"
import {
  AgentReport,
  CommandResult,
  ConfinementRecord,
  DiffReport,
  EvidenceBundle,
  IssueId,
  TaskPacket,
  type TerminalState,
  Verdict
} from "@switchyard/domain"
import { Confinement, staticRedactor } from "@switchyard/core"
import { Ed25519EvidenceSigner } from "@switchyard/node"
import { Effect, Layer, type Scope } from "effect"
import * as NodePath from "node:path"
import { layerAll } from "../src/index.js"

export interface Scratch {
  readonly dir: string
  readonly filename: string
  readonly stateDir: string
}

/** A temp directory removed when the scope closes; the database goes in a sub-directory that does not exist yet. */
export const scratch: Effect.Effect<Scratch, never, FileSystem.FileSystem | Path.Path | Scope.Scope> = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const dir = yield* Effect.orDie(fs.makeTempDirectoryScoped({ prefix: "switchyard-sqlite-" }))
  return { dir, filename: path.join(dir, "state", "switchyard.db"), stateDir: path.join(dir, "state") }
})

/** Where the runner's evidence key of a scratch state directory lives (`<stateDir>/keys/evidence.ed25519`). */
export const keyFileOf = (paths: Scratch): string => NodePath.join(paths.stateDir, Ed25519EvidenceSigner.KEY_FILE)

/** The real node:crypto signer with its key in the scratch state directory. */
export const signerLayer = (paths: Scratch) => Ed25519EvidenceSigner.layer({ keyFile: keyFileOf(paths) })

/** The secret value the stores' redactor knows in these tests ({@link redactorLayer}). */
export const TEST_SECRET = "sqlite-test-secret-value-271828"

/** The redactor every stored bundle goes through in these tests: {@link TEST_SECRET} and the token formats. */
export const redactorLayer = staticRedactor([TEST_SECRET])

/**
 * Opens (and migrates) the stores over `filename`, signing with {@link signerLayer} and redacting with
 * {@link redactorLayer}, for the rest of the current scope.
 */
export const open = (paths: Scratch, prefix?: string) =>
  Layer.build(
    layerAll({ filename: paths.filename, stateDir: paths.stateDir, prefix }).pipe(
      Layer.provideMerge(signerLayer(paths)),
      Layer.provide(redactorLayer)
    )
  ).pipe(Effect.orDie)

export const id = (text: string): IssueId => IssueId.make(text)

export const commandResult = (command: string, exitCode: number | null, extra: Partial<ConstructorParameters<typeof CommandResult>[0]> = {}) =>
  new CommandResult({
    command,
    exitCode,
    signal: null,
    timedOut: false,
    environmentFailure: exitCode === null,
    durationMs: 1_250,
    outputHead: "",
    outputTail: exitCode === 0 ? "ok\n" : "FAIL expected 2 to be 3\n",
    ...extra
  })

/** A sample PR_READY bundle for `issueId`/`attempt`, with a diff whose patch has `patchLines` changed lines. */
export const sampleBundle = (options: {
  readonly issueId?: string
  readonly attempt?: number
  readonly outcome?: TerminalState
  readonly patchLines?: number
  readonly withDiff?: boolean
} = {}): EvidenceBundle => {
  const issueId = id(options.issueId ?? "SY-7")
  const attempt = options.attempt ?? 1
  const outcome = options.outcome ?? "PR_READY"
  const patchLines = options.patchLines ?? 3
  const patch = [
    "diff --git a/src/sum.ts b/src/sum.ts",
    "--- a/src/sum.ts",
    "+++ b/src/sum.ts",
    "@@ -1,3 +1,3 @@",
    ...Array.from({ length: patchLines }, (_, i) => `+export const line${i} = ${i}`)
  ].join("\n") + "\n"
  return new EvidenceBundle({
    schemaVersion: 1,
    issueId,
    attempt,
    outcome,
    summary: "sum() adds its arguments again",
    task: {
      title: "sum() returns the wrong total",
      body: "sum(1, 2) returns 2",
      packet: new TaskPacket({
        issue_id: issueId,
        title: "sum() returns the wrong total",
        intent: "sum(1, 2) returns 2",
        source: { tracker: "sqlite", issue_id: issueId, labels: ["bug"] },
        attempt,
        scope: ["src/**"],
        non_goals: [],
        reproduction: "pnpm vitest run sum",
        validation: ["pnpm tsc -b"],
        no_op_rules: [],
        evidence_required: ["reproduction"],
        output_contract: { result_file: ".switchyard/result.json", format: "json" }
      })
    },
    reproduction: {
      command: "pnpm vitest run sum",
      before: commandResult("pnpm vitest run sum", 1),
      after: commandResult("pnpm vitest run sum", 0)
    },
    agent: new AgentReport({
      kind: "command",
      command: "my-agent --fix",
      exitCode: 0,
      signal: null,
      timedOut: false,
      crashed: false,
      durationMs: 42_000,
      outputTail: "edited src/sum.ts\n",
      claim: "PR_READY",
      claimError: null,
      summary: "fixed the off-by-one in sum",
      plan: "read sum.ts, fix the loop",
      question: outcome === "ESCALATE" ? "Should sum() accept strings?" : null,
      residualRisk: null
    }),
    diff: options.withDiff === false ? null : new DiffReport({
      baseCommit: "a".repeat(40),
      branch: `switchyard/${issueId}-${attempt}`,
      commit: "b".repeat(40),
      tree: "c".repeat(40),
      files: ["src/sum.ts"],
      stat: " src/sum.ts | 2 +-\n 1 file changed",
      patch,
      patchTruncated: false
    }),
    validation: [commandResult("pnpm tsc -b", 0), commandResult("pnpm lint", 0)],
    verdict: new Verdict({
      state: outcome,
      cause: "verified",
      reasons: ["The reproduction failed on the base and passes on the candidate.", "All 2 validation commands exit 0."]
    }),
    residualRisk: ["Only the checks listed above were run."],
    question: outcome === "ESCALATE" ? "Should sum() accept strings?" : null,
    timings: { startedAt: 1_000, endedAt: 61_000, stagesMs: { sandbox: 120, agent: 42_000, verify: 9_000 } }
  })
}

/** An agent report as a stand-in agent station gives it: `claim`, or a crash (SIGSEGV). */
export const standInReport = (claim: "PR_READY" | "NO_OP" | "ESCALATE" | null, crashed = false) =>
  new AgentReport({
    kind: "command",
    command: "stand-in",
    exitCode: crashed ? null : 0,
    signal: crashed ? "SIGSEGV" : null,
    timedOut: false,
    crashed,
    durationMs: 1,
    outputTail: "",
    claim,
    claimError: null,
    summary: claim === null ? null : `claims ${claim}`,
    plan: null,
    question: claim === "ESCALATE" ? "which one?" : null,
    residualRisk: null
  })

/** A repository integrity snapshot that never changes (stand-in sandboxes). */
export const standInIntegrity = {
  refs: new Map(),
  hooks: new Map(),
  config: null,
  attributes: null,
  head: { symbolic: "refs/heads/main", commit: "b".repeat(40) },
  status: ""
}

/** No confinement, as a stand-in. */
export const standInConfinement = Confinement.of({
  kind: "none",
  summary: "stand-in",
  check: Effect.void,
  wrap: (argv, env) => Effect.succeed({ argv, env, network: "host", egress: null }),
  record: () => ConfinementRecord.make({ kind: "none", network: "host", egress: null, detail: "stand-in" })
})
