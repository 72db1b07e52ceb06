import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { describe, expect, it } from "@effect/vitest"
import { AgentTurn, EvidenceSigner, EvidenceStore } from "@switchyard/core"
import { AgentReport, DiffReport, EvidenceBundle, MAX_BODY_BYTES, TaskPacket } from "@switchyard/domain"
import { Context, Effect, Layer, Option, Schema, TestClock } from "effect"
import { readFileSync } from "node:fs"
import * as path from "node:path"
import { Ed25519EvidenceSigner } from "@switchyard/node"
import { Sql, SqliteEvidenceStore } from "../src/index.js"
import { commandResult, id, keyFileOf, open, redactorLayer, sampleBundle, scratch, TEST_SECRET } from "./helpers.js"

const stores = Effect.gen(function*() {
  const paths = yield* scratch
  const context = yield* open(paths)
  return { paths, evidence: Context.get(context, EvidenceStore), sql: Context.get(context, SqlClient.SqlClient) }
})

describe("SqliteEvidenceStore", () => {
  it.scoped("put writes evidence.json, evidence.md and diff.patch under runs/<id>/<attempt>", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const { evidence, paths } = yield* stores
      const bundle = sampleBundle({ issueId: "SY-7", attempt: 2 })
      const stored = yield* evidence.put(bundle)

      const dir = path.join(paths.stateDir, "runs", "SY-7", "2")
      expect(stored).toEqual({
        dir,
        json: path.join(dir, "evidence.json"),
        markdown: path.join(dir, "evidence.md"),
        patch: path.join(dir, "diff.patch")
      })
      const json = yield* fs.readFileString(stored.json)
      expect(json).toContain('\n  "schemaVersion": 1')
      const fromFile = yield* Schema.decodeUnknown(Schema.parseJson(EvidenceBundle))(json)
      expect(yield* Schema.encode(EvidenceBundle)(fromFile)).toEqual(yield* Schema.encode(EvidenceBundle)(bundle))

      const markdown = yield* fs.readFileString(stored.markdown)
      expect(markdown.split("\n")[0]).toBe("# SY-7 · PR_READY: sum() adds its arguments again")
      for (const reason of bundle.verdict.reasons) expect(markdown).toContain(reason)

      expect(yield* fs.readFileString(path.join(dir, "diff.patch"))).toBe(bundle.diff?.patch)
      // No temporary files are left behind.
      expect((yield* fs.readDirectory(dir)).sort()).toEqual(["diff.patch", "evidence.json", "evidence.md"])
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("the issue body is stored once (as task.packet.intent); bundles written with it twice still decode", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const { evidence, sql } = yield* stores
      const sample = sampleBundle({ issueId: "SY-7", attempt: 1 })
      const body = "b".repeat(MAX_BODY_BYTES)
      const bundle = new EvidenceBundle({
        ...sample,
        task: { ...sample.task, body, packet: new TaskPacket({ ...sample.task.packet, intent: body }) }
      })
      const stored = yield* evidence.put(bundle)
      const file = yield* fs.readFileString(stored.json)
      const parsed = JSON.parse(file) as { task: Record<string, unknown> }
      expect(Object.keys(parsed.task)).toEqual(["title", "packet"])
      expect(file.split(body)).toHaveLength(2) // the body appears exactly once
      const rows = yield* sql<{ bundle: string }>`SELECT bundle FROM evidence WHERE issue_id = 'SY-7'`
      expect(rows[0]!.bundle.split(body)).toHaveLength(2)
      // Read back, the bundle has its body again.
      const read = Option.getOrThrow(yield* evidence.get(id("SY-7"), 1))
      expect(read.task.body).toBe(body)
      expect(read.task.packet.intent).toBe(body)
      // A body that differs from the packet's intent is kept.
      const other = new EvidenceBundle({ ...sample, attempt: 2, task: { ...sample.task, body: "another body" } })
      const otherFile = JSON.parse(yield* fs.readFileString((yield* evidence.put(other)).json)) as { task: { body?: string } }
      expect(otherFile.task.body).toBe("another body")

      // A schemaVersion 1 evidence.json written before this change, with the body twice, still decodes.
      const old = readFileSync(new URL("./fixtures/evidence-v1-body-twice.json", import.meta.url), "utf8")
      expect((JSON.parse(old) as { task: { body: string } }).task.body).toBe("sum(1, 2) returns 2")
      const decoded = yield* Schema.decodeUnknown(Schema.parseJson(EvidenceBundle))(old)
      expect(decoded.task.body).toBe("sum(1, 2) returns 2")
      expect(decoded).toEqual(sample)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("put redacts every text field before it signs and writes: the row, evidence.json, evidence.md, diff.patch", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const { evidence, sql } = yield* stores
      // A token format assembled at run time (no key-like literal in the source), and the redactor's secret value.
      const token = `ghp_${"Q7w8E9r0T1".repeat(3)}yuiop1`
      const leaky = sampleBundle({ issueId: "SY-9", attempt: 1 })
      const bundle = new EvidenceBundle({
        ...leaky,
        summary: `fixed; the key is ${TEST_SECRET}`,
        agent: new AgentReport({ ...leaky.agent!, outputTail: `echo ${token}\n`, summary: `saw ${JSON.stringify(TEST_SECRET)}` }),
        validation: [commandResult(`curl -H "Bearer ${TEST_SECRET}"`, 0, { outputHead: `${token}\n` })],
        diff: leaky.diff === null ? null : new DiffReport({ ...leaky.diff, patch: `${leaky.diff.patch}+const key = "${token}"\n` })
      })
      const stored = yield* evidence.put(bundle)

      const rows = yield* sql<{ bundle: string; summary: string }>`SELECT bundle, summary FROM evidence WHERE issue_id = 'SY-9'`
      const texts = {
        row: rows[0]!.bundle,
        summary: rows[0]!.summary,
        json: yield* fs.readFileString(stored.json),
        markdown: yield* fs.readFileString(stored.markdown),
        patch: yield* fs.readFileString(stored.patch!)
      }
      for (const [where, text] of Object.entries(texts)) {
        expect(text, where).not.toContain(TEST_SECRET)
        expect(text, where).not.toContain(token)
      }
      expect(texts.summary).toBe("fixed; the key is [REDACTED]")
      expect(texts.markdown).toContain("[REDACTED]")
      expect(texts.patch).toContain('+const key = "ghp_…"')
      const read = Option.getOrThrow(yield* evidence.get(id("SY-9"), 1))
      expect(read.agent?.outputTail).toBe("echo ghp_…\n")
      expect(read.validation[0]!.command).toBe('curl -H "Bearer [REDACTED]"')
      // What was signed is what was stored: the redacted document.
      expect((yield* evidence.sealed([{ issueId: id("SY-9"), attempt: 1 }], new Set(["SY-9#1"]))).get("SY-9#1")?.seal)
        .toEqual({ status: "signed", detail: null })
      expect(Option.getOrThrow(yield* evidence.sealedFile(id("SY-9"), 1)).seal?.status).toBe("signed")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("putStage redacts a stage artifact the same way before it is stored", () =>
    Effect.gen(function*() {
      const { evidence, sql } = yield* stores
      const token = `sk-ant-api03-${"Zx9Yw8Vu7T".repeat(3)}`
      const agent = sampleBundle().agent!
      const turn = new AgentTurn({
        turn: 0,
        report: new AgentReport({ ...agent, outputTail: `${TEST_SECRET} ${token}\n` }),
        escapes: [],
        restored: [],
        noted: [`saw ${TEST_SECRET}`]
      })
      yield* evidence.putStage(id("SY-9"), 1, 1, turn)
      const rows = yield* sql<{ data: string }>`SELECT data FROM stage_artifacts WHERE issue_id = 'SY-9'`
      expect(rows[0]!.data).not.toContain(TEST_SECRET)
      expect(rows[0]!.data).not.toContain(token)
      const [stored] = yield* evidence.stages(id("SY-9"), 1)
      const read = stored!.artifact as AgentTurn
      expect(read.report.outputTail).toBe("[REDACTED] sk-a…\n")
      expect(read.noted).toEqual(["saw [REDACTED]"])
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("get, latest and list read back what was stored", () =>
    Effect.gen(function*() {
      const { evidence } = yield* stores
      yield* TestClock.adjust(1_000)
      yield* evidence.put(sampleBundle({ issueId: "SY-7", attempt: 1, outcome: "RETRYABLE_FAILURE" }))
      yield* TestClock.adjust(1_000)
      yield* evidence.put(sampleBundle({ issueId: "SY-7", attempt: 2, outcome: "PR_READY" }))
      yield* evidence.put(sampleBundle({ issueId: "SY-8", attempt: 1, outcome: "NO_OP" }))

      const latest = Option.getOrThrow(yield* evidence.latest(id("SY-7")))
      expect([latest.attempt, latest.outcome]).toEqual([2, "PR_READY"])
      expect(latest).toBeInstanceOf(EvidenceBundle)
      const first = Option.getOrThrow(yield* evidence.get(id("SY-7"), 1))
      expect(first.outcome).toBe("RETRYABLE_FAILURE")
      expect(first.validation.map((result) => result.command)).toEqual(["pnpm tsc -b", "pnpm lint"])
      expect(Option.isNone(yield* evidence.get(id("SY-7"), 3))).toBe(true)
      expect(Option.isNone(yield* evidence.latest(id("SY-9")))).toBe(true)

      const summaries = yield* evidence.list(id("SY-7"))
      expect(summaries.map((s) => [s.issueId, s.attempt, s.outcome, s.createdAt])).toEqual([
        ["SY-7", 1, "RETRYABLE_FAILURE", 1_000],
        ["SY-7", 2, "PR_READY", 2_000]
      ])
      expect(summaries[0]?.summary).toBe("sum() adds its arguments again")
      expect(yield* evidence.list(id("SY-9"))).toEqual([])
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("replacing a bundle with one without a diff removes the old diff.patch", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const { evidence } = yield* stores
      const withDiff = yield* evidence.put(sampleBundle({ attempt: 1 }))
      expect(withDiff.patch).not.toBeNull()
      expect((yield* evidence.location(id("SY-7"), 1)).patch).toBe(withDiff.patch)

      const withoutDiff = yield* evidence.put(sampleBundle({ attempt: 1, outcome: "NO_OP", withDiff: false }))
      expect(withoutDiff.patch).toBeNull()
      expect(yield* fs.exists(withDiff.patch ?? "")).toBe(false)
      expect((yield* evidence.location(id("SY-7"), 1)).patch).toBeNull()
      expect(Option.getOrThrow(yield* evidence.latest(id("SY-7"))).outcome).toBe("NO_OP")
      expect(yield* evidence.list(id("SY-7"))).toHaveLength(1)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("runDir creates the run directory; bad attempts are refused", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const { evidence, paths } = yield* stores
      const dir = yield* evidence.runDir(id("SY-3"), 4)
      expect(dir).toBe(path.join(paths.stateDir, "runs", "SY-3", "4"))
      expect((yield* fs.stat(dir)).type).toBe("Directory")
      expect((yield* Effect.flip(evidence.runDir(id("SY-3"), -1)))._tag).toBe("EvidenceError")
      expect((yield* Effect.flip(evidence.location(id("SY-3"), 1.5)))._tag).toBe("EvidenceError")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("a stored bundle that no longer decodes is an EvidenceError naming the issue and attempt", () =>
    Effect.gen(function*() {
      const { evidence, sql } = yield* stores
      yield* evidence.put(sampleBundle({ issueId: "SY-7", attempt: 1 }))
      yield* evidence.put(sampleBundle({ issueId: "SY-7", attempt: 2 }))
      yield* sql`UPDATE evidence SET bundle = '{"schemaVersion": 99}' WHERE issue_id = 'SY-7' AND attempt = 2`

      const fromGet = yield* Effect.flip(evidence.get(id("SY-7"), 2))
      expect(fromGet._tag).toBe("EvidenceError")
      expect(fromGet.message).toContain("SY-7 attempt 2")
      expect(fromGet.message).toContain("schemaVersion")
      expect((yield* Effect.flip(evidence.latest(id("SY-7")))).message).toContain("SY-7 attempt 2")
      // The other attempt still reads.
      expect(Option.isSome(yield* evidence.get(id("SY-7"), 1))).toBe(true)

      yield* sql`UPDATE evidence SET bundle = 'not json' WHERE issue_id = 'SY-7' AND attempt = 1`
      expect((yield* Effect.flip(evidence.get(id("SY-7"), 1))).message).toContain("SY-7 attempt 1")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("the layer resolves a relative stateDir once", () =>
    Effect.gen(function*() {
      const paths = yield* scratch
      const context = yield* open(paths)
      const sql = Context.get(context, SqlClient.SqlClient)
      const evidence = yield* SqliteEvidenceStore.make({ stateDir: path.relative(process.cwd(), paths.stateDir) }).pipe(
        Effect.provideService(SqlClient.SqlClient, sql),
        Effect.provideService(EvidenceSigner, Context.get(context, EvidenceSigner)),
        Effect.provide(redactorLayer)
      )
      const stored = yield* evidence.put(sampleBundle())
      expect(path.isAbsolute(stored.dir)).toBe(true)
      expect(stored.dir).toBe(path.join(paths.stateDir, "runs", "SY-7", "1"))
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("usageTotals sums the usage columns written by put (a re-put replaces, null costs stay null)", () =>
    Effect.gen(function*() {
      const { evidence } = yield* stores
      const withUsage = (attempt: number, inputTokens: number, outputTokens: number, costUsd: number | null) =>
        new EvidenceBundle({ ...sampleBundle({ issueId: "SY-7", attempt }), usage: { inputTokens, outputTokens, costUsd } })
      expect(yield* evidence.usageTotals).toEqual({ bundles: 0, inputTokens: 0, outputTokens: 0, costUsd: null })
      yield* evidence.put(withUsage(1, 100, 10, null))
      expect(yield* evidence.usageTotals).toEqual({ bundles: 1, inputTokens: 100, outputTokens: 10, costUsd: null })
      yield* evidence.put(withUsage(2, 1_000, 200, 0.5))
      yield* evidence.put(withUsage(2, 2_000, 300, 0.25)) // the same attempt again replaces its row
      expect(yield* evidence.usageTotals).toEqual({ bundles: 2, inputTokens: 2_100, outputTokens: 310, costUsd: 0.25 })
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("migration 3 fills the usage columns of bundles stored before it", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const paths = yield* scratch
      yield* fs.makeDirectory(paths.stateDir, { recursive: true }).pipe(Effect.orDie)
      // A database as an older switchyard left it: migrations 1 and 2, bundles with usage only inside the JSON.
      yield* Effect.scoped(Effect.gen(function*() {
        const sql = yield* Layer.build(SqliteClient.layer({ filename: paths.filename })).pipe(
          Effect.map((ctx) => Context.get(ctx, SqlClient.SqlClient))
        )
        yield* Migrator.make({})({
          loader: Migrator.fromRecord({
            "0001_init": Sql.migrations["0001_init"]!,
            "0002_ready_index": Sql.migrations["0002_ready_index"]!
          })
        }).pipe(Effect.provideService(SqlClient.SqlClient, sql))
        const rows = [
          { attempt: 1, usage: { inputTokens: 40, outputTokens: 4, costUsd: 0.01 } },
          { attempt: 2, usage: { inputTokens: 60, outputTokens: 6, costUsd: null } }
        ]
        for (const row of rows) {
          const bundle = new EvidenceBundle({ ...sampleBundle({ issueId: "SY-3", attempt: row.attempt }), usage: row.usage })
          const json = Schema.encodeSync(Schema.parseJson(EvidenceBundle))(bundle)
          yield* sql`INSERT INTO evidence (issue_id, attempt, outcome, summary, created_at, dir, bundle)
            VALUES ('SY-3', ${row.attempt}, 'PR_READY', 's', 0, '/nowhere', ${json})`
        }
        // A bundle that does not parse keeps zeros instead of failing the migration.
        yield* sql`INSERT INTO evidence (issue_id, attempt, outcome, summary, created_at, dir, bundle)
          VALUES ('SY-4', 1, 'NO_OP', 's', 0, '/nowhere', '{not json')`
      }))
      const { evidence } = yield* Effect.map(open(paths), (context) => ({ evidence: Context.get(context, EvidenceStore) }))
      expect(yield* evidence.usageTotals).toEqual({ bundles: 3, inputTokens: 100, outputTokens: 10, costUsd: 0.01 })
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("stored names the attempts that have a bundle, in one read", () =>
    Effect.gen(function*() {
      const { evidence } = yield* stores
      yield* evidence.put(sampleBundle({ issueId: "SY-7", attempt: 1 }))
      yield* evidence.put(sampleBundle({ issueId: "SY-7", attempt: 3 }))
      yield* evidence.put(sampleBundle({ issueId: "SY-8", attempt: 1, outcome: "NO_OP" }))
      const asked = [
        { issueId: id("SY-7"), attempt: 1 },
        { issueId: id("SY-7"), attempt: 2 },
        { issueId: id("SY-7"), attempt: 3 },
        { issueId: id("SY-8"), attempt: 2 },
        { issueId: id("SY-9"), attempt: 1 }
      ]
      expect([...(yield* evidence.stored(asked))].sort()).toEqual(["SY-7#1", "SY-7#3"])
      expect((yield* evidence.stored([])).size).toBe(0)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("put signs the bundle in the row and in evidence.json; both check as the runner's", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const { evidence, paths } = yield* stores
      const stored = yield* evidence.put(sampleBundle({ issueId: "SY-7", attempt: 1, outcome: "ESCALATE" }))
      const file = JSON.parse(yield* fs.readFileString(stored.json))
      expect(file.signature).toMatchObject({ algorithm: "ed25519" })
      expect((yield* fs.stat(keyFileOf(paths))).mode & 0o777).toBe(0o600)

      const sealed = yield* evidence.sealed([{ issueId: id("SY-7"), attempt: 1 }, { issueId: id("SY-7"), attempt: 2 }])
      expect([...sealed.keys()]).toEqual(["SY-7#1"])
      expect(sealed.get("SY-7#1")).toMatchObject({
        outcome: "ESCALATE",
        cause: "verified",
        fingerprintCommit: null,
        seal: { status: "signed", detail: null }
      })
      expect(Option.getOrThrow(yield* evidence.sealedFile(id("SY-7"), 1)).seal?.status).toBe("signed")
      expect(Option.isNone(yield* evidence.sealedFile(id("SY-7"), 2))).toBe(true)
      expect((yield* evidence.sealed([])).size).toBe(0)
      // Only the keys asked for are verified; the others come back with their claims and no seal.
      yield* evidence.put(sampleBundle({ issueId: "SY-8", attempt: 1, outcome: "NO_OP" }))
      const some = yield* evidence.sealed([{ issueId: id("SY-7"), attempt: 1 }, { issueId: id("SY-8"), attempt: 1 }], new Set(["SY-8#1"]))
      expect(some.get("SY-7#1")).toMatchObject({ outcome: "ESCALATE", cause: "verified", seal: null })
      expect(some.get("SY-8#1")).toMatchObject({ outcome: "NO_OP", seal: { status: "signed" } })
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("a signed bundle edited by hand (ESCALATE -> PR_READY), in the row or in evidence.json, is invalid", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const { evidence, sql } = yield* stores
      const stored = yield* evidence.put(sampleBundle({ issueId: "SY-7", attempt: 1, outcome: "ESCALATE" }))
      const sy7 = [{ issueId: id("SY-7"), attempt: 1 }]
      // Checked once before the edit: what the store remembers of that check must not hide the edit.
      expect((yield* evidence.sealed(sy7)).get("SY-7#1")?.seal?.status).toBe("signed")
      yield* sql`UPDATE evidence SET outcome = 'PR_READY',
        bundle = json_set(bundle, '$.outcome', 'PR_READY', '$.verdict.state', 'PR_READY', '$.verdict.cause', 'verified')
        WHERE issue_id = 'SY-7' AND attempt = 1`
      const row = (yield* evidence.sealed(sy7)).get("SY-7#1")
      expect(row).toMatchObject({
        outcome: "PR_READY",
        cause: "verified",
        seal: { status: "invalid", detail: "the signature does not match the bundle: it was changed after it was signed" }
      })
      // The edited bundle still decodes: reading it is not refused, only trusting it.
      expect(Option.getOrThrow(yield* evidence.get(id("SY-7"), 1)).outcome).toBe("PR_READY")

      expect(Option.getOrThrow(yield* evidence.sealedFile(id("SY-7"), 1)).seal?.status).toBe("signed")
      const text = yield* fs.readFileString(stored.json)
      yield* fs.writeFileString(stored.json, text.replace(`"outcome": "ESCALATE"`, `"outcome": "PR_READY"`))
      expect(Option.getOrThrow(yield* evidence.sealedFile(id("SY-7"), 1)).seal).toMatchObject({ status: "invalid" })
      yield* fs.writeFileString(stored.json, "{ not json")
      expect(Option.getOrThrow(yield* evidence.sealedFile(id("SY-7"), 1)).seal).toEqual({
        status: "invalid",
        detail: "the stored bundle is not JSON"
      })
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("a bundle signed with another key, a copied bundle and a stripped signature are told apart from legacy ones", () =>
    Effect.gen(function*() {
      const { evidence, paths, sql } = yield* stores
      yield* evidence.put(sampleBundle({ issueId: "SY-7", attempt: 1 })) // creates the runner's key
      const keyCreated = (yield* FileSystem.FileSystem.pipe(Effect.flatMap((fs) => fs.stat(keyFileOf(paths))))).mtime
      const after = Option.getOrThrow(keyCreated).getTime() + 1_000

      // A forger with a key of their own signs a PR_READY bundle for SY-8.
      const forged = yield* SqliteEvidenceStore.storedDocument(sampleBundle({ issueId: "SY-8", attempt: 1 })).pipe(
        Effect.provide(Ed25519EvidenceSigner.layer({ keyFile: path.join(paths.dir, "forger", "evidence.ed25519") }))
      )
      yield* sql`INSERT INTO evidence (issue_id, attempt, outcome, summary, created_at, dir, bundle)
        VALUES ('SY-8', 1, 'PR_READY', 's', ${after}, '/nowhere', ${forged.compact})`
      // The runner's genuine SY-7 bundle copied under SY-9.
      yield* sql`INSERT INTO evidence (issue_id, attempt, outcome, summary, created_at, dir, bundle)
        SELECT 'SY-9', 1, outcome, summary, created_at, dir, bundle FROM evidence WHERE issue_id = 'SY-7'`
      // Unsigned: one stored before the key existed (an older switchyard), one after (signature stripped).
      const unsigned = Schema.encodeSync(Schema.parseJson(EvidenceBundle))(sampleBundle({ issueId: "SY-10", attempt: 1 }))
      yield* sql`INSERT INTO evidence (issue_id, attempt, outcome, summary, created_at, dir, bundle)
        VALUES ('SY-10', 1, 'PR_READY', 's', 0, '/nowhere', ${unsigned})`
      const stripped = yield* sql<{ bundle: string }>`SELECT json_remove(bundle, '$.signature') AS bundle FROM evidence WHERE issue_id = 'SY-7'`
      yield* sql`UPDATE evidence SET bundle = ${stripped[0]!.bundle}, created_at = ${after} WHERE issue_id = 'SY-7'`

      const sealed = yield* evidence.sealed(["SY-7", "SY-8", "SY-9", "SY-10"].map((i) => ({ issueId: id(i), attempt: 1 })))
      const status = (key: string) => sealed.get(key)?.seal
      expect(status("SY-8#1")).toEqual({ status: "other_key", detail: "the bundle is signed with a key that is not the runner's" })
      expect(status("SY-9#1")).toEqual({ status: "invalid", detail: "the bundle is the one of SY-7 attempt 1, stored as SY-9 attempt 1" })
      expect(status("SY-10#1")?.status).toBe("unsigned_legacy")
      expect(status("SY-7#1")?.status).toBe("unsigned")
      // Legacy bundles still decode as before.
      expect(Option.getOrThrow(yield* evidence.get(id("SY-10"), 1)).issueId).toBe("SY-10")
    }).pipe(Effect.provide(NodeContext.layer)))
})
