/**
 * The fp tracker (`tracker.kind: fp`, docs/trackers.md): a `MirrorTracker` whose remote is the fp project of the
 * repository, driven through its CLI with `@effect/platform`'s `Command` (as fiberplane's factories do): `fp issue
 * list --format json`, `fp issue show ID --format json`, `fp issue update ID --status S --property k=v`, `fp comment
 * add ID TEXT`. JSON shapes as in ../shared/reference/integrations.md §2 (decoded with Schema; hostile until then).
 *
 * Ids: fp's ids (`SWYRD-abc12345`) are not `<PREFIX>-<n>`, so each gets a number once (`tracker_ids`): `FP-<n>`.
 * fp statuses are `todo | in-progress | done`; Switchyard's run data lives in fp properties, as tarmac keeps its
 * own: `switchyard_state` (`running`, `in-review`, `escalated`, `no-op`) and, for PR_READY, `switchyard_branch`.
 * - read: `todo` → todo; `done` → done; `in-progress` → by `switchyard_state` (running → in_progress, in-review →
 *   in_review, escalated → blocked); an `in-progress` issue without it is someone else's: `backlog`, never
 *   dispatched or repaired. Properties are only in `show`, so the `in-progress` issues are shown one by one.
 * - write: claim → `in-progress` + `running`; PR_READY → `in-review` (+ branch); ESCALATE → `escalated` (stays
 *   in-progress, not re-dispatched); NO_OP → `done` + `no-op`; back to todo → `todo`, the property cleared;
 *   comments with `fp comment add`, each carrying a marker so a retry does not post it twice.
 * fp issues carry no labels: `tracker.required_labels` cannot be met, so preflight refuses them with kind fp.
 * Task-packet fields (reproduction, validation, scope, non_goals) come from a ```` ```switchyard ```` YAML block in
 * the description, as on GitHub and Linear (not from properties: those are only in `show`, one call per issue).
 */
import { Command, type CommandExecutor } from "@effect/platform"
import * as SqlClient from "@effect/sql/SqlClient"
import { type Tracker, TrackerError } from "@switchyard/core"
import { Issue, IssueId, type IssueStatus } from "@switchyard/domain"
import { Chunk, Effect, Either, Layer, Option, ParseResult, Schema, Stream } from "effect"
import * as MirrorTracker from "../Mirror/MirrorTracker.js"
import { endingComment, marker } from "../GitHub/GitHubTracker.js"
import { packetOf } from "../GitHub/mapping.js"

export const FpStatus = Schema.Literal("todo", "in-progress", "done")

/** An item of `fp issue list --format json` (`{issues: [...]}`). */
export const FpListItem = Schema.Struct({
  id: Schema.String.pipe(Schema.minLength(1)),
  title: Schema.String,
  description: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null }),
  status: FpStatus,
  priority: Schema.optionalWith(Schema.NullOr(Schema.Literal("low", "medium", "high", "critical")), { default: () => null }),
  parent: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null }),
  dependencies: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
  createdAt: Schema.DateTimeUtc,
  updatedAt: Schema.DateTimeUtc
})
export type FpListItem = typeof FpListItem.Type

/** `fp issue show ID --format json`: the item plus properties and comments. */
export const FpShown = Schema.Struct({
  ...FpListItem.fields,
  properties: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.Unknown }), { default: () => ({}) }),
  comments: Schema.optionalWith(Schema.Array(Schema.Struct({ content: Schema.String })), { default: () => [] })
})

const FpList = Schema.Struct({ issues: Schema.Array(Schema.Unknown) })

/** How the fp CLI failed: its exit code and stderr (first line), or that it could not be started. */
export class FpError extends Schema.TaggedError<FpError>()("FpError", {
  args: Schema.Array(Schema.String),
  exitCode: Schema.NullOr(Schema.Number),
  stderr: Schema.String
}) {
  override get message() {
    return `fp ${this.args.slice(0, 2).join(" ")} failed${this.exitCode === null ? "" : ` (exit ${this.exitCode})`}: ${
      this.stderr.trim().split("\n")[0] || "no output"
    }`
  }
}

export interface FpTrackerOptions {
  /** The fp binary (default `fp` on PATH). */
  readonly command: string
  /** Where fp runs (the repository: fp finds its project from the directory). */
  readonly cwd: string
  readonly pollMs: number
}

const STATE_OF: Record<string, IssueStatus> = { running: "in_progress", "in-review": "in_review", escalated: "blocked" }

/** The fp status and `switchyard_state` a Switchyard status is written as. */
export const fpWrite = (status: IssueStatus): { readonly status: typeof FpStatus.Type; readonly state: string } =>
  status === "in_progress"
    ? { status: "in-progress", state: "running" }
    : status === "in_review"
    ? { status: "in-progress", state: "in-review" }
    : status === "blocked"
    ? { status: "in-progress", state: "escalated" }
    : status === "done"
    ? { status: "done", state: "no-op" }
    : { status: "todo", state: "" }

/** Runs `fp args…` in `cwd`: stdout, or `FpError` on a non-zero exit or a failure to start. */
export const runFp = (options: Pick<FpTrackerOptions, "command" | "cwd">, args: ReadonlyArray<string>) =>
  Effect.scoped(Effect.gen(function*() {
    const process = yield* Command.start(Command.make(options.command, ...args).pipe(Command.workingDirectory(options.cwd)))
    const text = (s: Stream.Stream<Uint8Array, unknown>) =>
      Stream.decodeText(s).pipe(Stream.runCollect, Effect.map((c) => Chunk.join(c, "")))
    const [stdout, stderr, code] = yield* Effect.all([text(process.stdout), text(process.stderr), process.exitCode], {
      concurrency: 3
    })
    if (code !== 0) return yield* new FpError({ args: [...args], exitCode: code, stderr })
    return stdout
  })).pipe(
    Effect.catchAll((e) =>
      e instanceof FpError ? Effect.fail(e) : Effect.fail(new FpError({ args: [...args], exitCode: null, stderr: String(e) }))
    )
  )

const parseJson = (text: string) => Either.try(() => JSON.parse(text) as unknown)

/** The fp remote of a mirror. */
export const remote = (options: FpTrackerOptions) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const executor = yield* Effect.context<CommandExecutor.CommandExecutor>()
    const fp = (args: ReadonlyArray<string>) => runFp(options, args).pipe(Effect.provide(executor))
    const failure = (operation: string) => (e: { readonly message: string }) => new TrackerError({ operation, reason: e.message, cause: e })

    /** `FP-<n>` of an fp id, allocated once (`tracker_ids`). */
    const idOf = (external: string) =>
      Effect.gen(function*() {
        const found = yield* sql<{ number: number }>`SELECT number FROM tracker_ids WHERE kind = 'fp' AND external_id = ${external}`
        if (found[0] !== undefined) return IssueId.make(`FP-${found[0].number}`)
        const made = yield* sql<{ number: number }>`
          INSERT INTO tracker_ids (kind, external_id, number)
          VALUES ('fp', ${external}, (SELECT COALESCE(MAX(number), 0) + 1 FROM tracker_ids WHERE kind = 'fp'))
          RETURNING number`
        return IssueId.make(`FP-${made[0]!.number}`)
      }).pipe(Effect.mapError(failure("fp ids")))
    const externalOf = (id: string) =>
      sql<{ external_id: string }>`SELECT external_id FROM tracker_ids WHERE kind = 'fp' AND number = ${Number(id.slice(3))}`.pipe(
        Effect.map((rows) => Option.fromNullable(rows[0]?.external_id)),
        Effect.mapError(failure("fp ids"))
      )

    type Shown = typeof FpShown.Type
    /** `fp issue show`: the issue, or None when fp says it does not exist. */
    const show = (external: string): Effect.Effect<Option.Option<Shown>, { readonly message: string }> =>
      Effect.gen(function*() {
        const out = yield* Effect.either(fp(["issue", "show", external, "--format", "json"]))
        if (Either.isLeft(out)) {
          if (/not found|no such issue/i.test(out.left.stderr)) return Option.none<Shown>()
          return yield* Effect.fail({ message: out.left.message })
        }
        const json = parseJson(out.right)
        if (Either.isLeft(json)) return yield* Effect.fail({ message: `fp issue show ${external}: not JSON` })
        const decoded = Schema.decodeUnknownEither(FpShown)(json.right)
        if (Either.isLeft(decoded)) {
          return yield* Effect.fail({ message: `fp issue show ${external}: ${ParseResult.TreeFormatter.formatErrorSync(decoded.left)}` })
        }
        return Option.some(decoded.right)
      })

    const toIssue = (item: FpListItem, properties: Readonly<Record<string, unknown>>) =>
      Effect.gen(function*() {
        const id = yield* idOf(item.id)
        const state = typeof properties["switchyard_state"] === "string" ? properties["switchyard_state"] : ""
        const status: IssueStatus = item.status === "todo"
          ? "todo"
          : item.status === "done"
          ? "done"
          : STATE_OF[state] ?? "backlog"
        const title = item.title.trim()
        if (title === "") return Either.left({ id: item.id, reason: "its title is blank" })
        // The task packet: the same ```switchyard YAML block in the description as on GitHub and Linear.
        const packet = packetOf(item.description ?? "")
        if (Either.isLeft(packet)) return Either.left({ id: item.id, reason: packet.left })
        return Either.right(
          new Issue({
            id,
            title,
            body: item.description ?? "",
            status,
            priority: item.priority ?? "medium",
            labels: [],
            parent: item.parent === null ? null : yield* idOf(item.parent),
            blocked_by: yield* Effect.forEach(item.dependencies, idOf),
            reproduction: packet.right.reproduction,
            validation: packet.right.validation,
            scope: packet.right.scope,
            non_goals: packet.right.non_goals,
            comments: [],
            created_at: item.createdAt,
            updated_at: item.updatedAt
          })
        )
      })

    const pull = Effect.gen(function*() {
      const text = yield* fp(["issue", "list", "--format", "json", "--limit", "500"]).pipe(Effect.mapError(failure("read issues")))
      const json = parseJson(text)
      if (Either.isLeft(json)) return yield* new TrackerError({ operation: "read issues", reason: "fp issue list printed no JSON" })
      const list = yield* Schema.decodeUnknown(FpList)(json.right).pipe(
        Effect.mapError((e) => new TrackerError({ operation: "read issues", reason: `fp issue list: ${ParseResult.TreeFormatter.formatErrorSync(e)}` }))
      )
      const issues: Array<Issue> = []
      const invalid: Array<{ id: string; reason: string }> = []
      for (const raw of list.issues) {
        const item = Schema.decodeUnknownEither(FpListItem)(raw)
        if (Either.isLeft(item)) {
          const rawId = typeof raw === "object" && raw !== null && "id" in raw ? String((raw as { id: unknown }).id) : "?"
          invalid.push({ id: `fp ${rawId}`, reason: ParseResult.TreeFormatter.formatErrorSync(item.left) })
          continue
        }
        // Properties are only in `show`: read them for the in-progress issues, whose state they carry.
        const properties = item.right.status === "in-progress"
          ? Option.match(yield* show(item.right.id).pipe(Effect.mapError(failure("read issues"))), {
            onNone: () => ({}),
            onSome: (s) => s.properties
          })
          : {}
        const mapped = yield* toIssue(item.right, properties)
        if (Either.isLeft(mapped)) invalid.push({ id: `fp ${mapped.left.id}`, reason: mapped.left.reason })
        else issues.push(mapped.right)
      }
      return Option.some({ issues, invalid })
    })

    const refresh = (id: IssueId) =>
      Effect.gen(function*() {
        const external = yield* externalOf(id)
        if (Option.isNone(external)) return Option.none()
        const shown = yield* show(external.value).pipe(Effect.mapError(failure(`refresh ${id}`)))
        if (Option.isNone(shown)) return Option.none()
        const mapped = yield* toIssue(shown.value, shown.value.properties)
        if (Either.isLeft(mapped)) return yield* new TrackerError({ operation: `refresh ${id}`, reason: mapped.left.reason })
        return Option.some(mapped.right)
      })

    const Payload = {
      state: Schema.parseJson(Schema.Struct({ status: Schema.String })),
      comment: Schema.parseJson(Schema.Struct({ body: Schema.String })),
      branch: Schema.parseJson(Schema.Struct({ branch: Schema.String }))
    }

    const deliver = (row: MirrorTracker.OutboxRow): Effect.Effect<void, MirrorTracker.DeliveryError> =>
      Effect.gen(function*() {
        const external = yield* externalOf(row.issue_id)
        if (Option.isNone(external)) return
        if (row.op === "state") {
          const { status } = yield* Schema.decodeUnknown(Payload.state)(row.payload)
          const w = fpWrite(status as IssueStatus)
          yield* fp(["issue", "update", external.value, "--status", w.status, "--property", `switchyard_state=${w.state}`])
          return
        }
        if (row.op === "comment") {
          const { body } = yield* Schema.decodeUnknown(Payload.comment)(row.payload)
          const tag = marker(row.id)
          const shown = yield* show(external.value)
          if (Option.isNone(shown)) return
          if (shown.value.comments.some((c) => c.content.includes(tag))) return
          yield* fp(["comment", "add", external.value, `${body}\n\n${tag}`])
          return
        }
        if (row.op === "branch") {
          const { branch } = yield* Schema.decodeUnknown(Payload.branch)(row.payload)
          yield* fp(["issue", "update", external.value, "--property", `switchyard_branch=${branch}`])
          return
        }
        return yield* Effect.fail({ message: `unknown write-back ${JSON.stringify(row.op)}` })
      }).pipe(Effect.mapError((e) => ({ message: "message" in e ? String(e.message) : String(e), retryAfterMs: null })))

    return {
      kind: "fp",
      prefix: "FP",
      pull,
      refresh,
      deliver,
      endingWrites: (ending) => {
        const writes: Array<MirrorTracker.OutboxWrite> = []
        const body = endingComment(ending)
        if (body !== null) {
          writes.push({
            op: "comment",
            payload: {
              body: ending.branch === null ? body : body.replace("A pull request with the evidence follows.", `The verified commit is on branch \`${ending.branch}\`.`)
            }
          })
        }
        if (ending.branch !== null) writes.push({ op: "branch", payload: { branch: ending.branch } })
        return writes
      },
      rateLimit: Effect.succeed(null)
    } satisfies MirrorTracker.Remote
  })

/** The fp tracker as the `Tracker` service (see `MirrorTracker.layer`). */
export const layer = (
  options: FpTrackerOptions
): Layer.Layer<Tracker, TrackerError, SqlClient.SqlClient | Tracker | CommandExecutor.CommandExecutor> =>
  Layer.unwrapEffect(Effect.map(remote(options), (r) => MirrorTracker.layer(r, { pollMs: options.pollMs })))

/** `run`'s check: fp runs here and knows the project (`fp issue list` succeeds). The one line to show, or null. */
export const preflight = (options: Pick<FpTrackerOptions, "command" | "cwd">) =>
  runFp(options, ["issue", "list", "--format", "json", "--limit", "1"]).pipe(
    Effect.as(null),
    Effect.catchAll((e) => Effect.succeed(e.exitCode === null ? `${options.command} cannot be run: ${e.stderr}` : e.message))
  )
