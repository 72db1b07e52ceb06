/**
 * An in-memory Tracker: for tests and for embedding Switchyard where issues come from elsewhere.
 * Same contract as `SqliteTracker`, nothing persisted. `layer({ prefix, issues })` can be seeded.
 */
import {
  Issue,
  IssueComment,
  IssueId,
  type IssueInput,
  type IssueStatus,
  issueStatuses,
  resolvedStatuses
} from "@switchyard/domain"
import { DateTime, Effect, Layer, Option, PubSub, Schema, Stream, SynchronizedRef } from "effect"
import { eligibleIssues, summarizeReady } from "./eligibility.js"
import { InvalidIssueId, IssueNotFound } from "./errors.js"
import { checkCommentBody, checkIssueText } from "./limits.js"
import { type ReadySet, Tracker, type TrackerShape } from "./Tracker.js"

const parseId = (raw: string) =>
  Schema.decodeUnknown(IssueId)(raw).pipe(Effect.mapError(() => new InvalidIssueId({ input: raw })))

/** Builds an in-memory tracker; ids are `<prefix>-<n>` (default `SY`). */
export const make = (options: { readonly prefix?: string; readonly issues?: ReadonlyArray<Issue> } = {}) =>
  Effect.gen(function*() {
    const prefix = options.prefix ?? "SY"
    const seed = options.issues ?? []
    const state = yield* SynchronizedRef.make({
      next: seed.length + 1,
      issues: new Map<string, Issue>(seed.map((i) => [i.id, i]))
    })
    const require = (id: IssueId) =>
      SynchronizedRef.get(state).pipe(
        Effect.flatMap((s) => Option.fromNullable(s.issues.get(id))),
        Effect.mapError(() => new IssueNotFound({ id }))
      )
    const written = yield* PubSub.sliding<void>(1)
    const published = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.tap(effect, () => PubSub.publish(written, undefined))
    const put = (issue: Issue) =>
      SynchronizedRef.update(state, (s) => ({ ...s, issues: new Map(s.issues).set(issue.id, issue) }))

    const create = (input: IssueInput) =>
      SynchronizedRef.modifyEffect(state, (s) =>
        Effect.gen(function*() {
          yield* checkIssueText("create", input)
          for (const ref of [...input.blocked_by, ...(input.parent === null ? [] : [input.parent])]) {
            if (!s.issues.has(ref)) return yield* new IssueNotFound({ id: ref })
          }
          const now = yield* DateTime.now
          const issue = new Issue({
            ...input,
            id: IssueId.make(`${prefix}-${s.next}`),
            comments: [],
            created_at: now,
            updated_at: now
          })
          return [issue, { next: s.next + 1, issues: new Map(s.issues).set(issue.id, issue) }] as const
        }))

    const update: TrackerShape["update"] = (raw, patch) =>
      Effect.gen(function*() {
        const id = yield* parseId(raw)
        yield* checkIssueText("update", patch)
        const issue = yield* require(id)
        const defined = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined))
        const updated = new Issue({ ...issue, ...defined, updated_at: yield* DateTime.now })
        yield* put(updated)
        return updated
      })

    const ready: Effect.Effect<ReadySet> = SynchronizedRef.get(state).pipe(Effect.map((s) => {
      const all = [...s.issues.values()]
      const snapshot = {
        todo: all.filter((i) => i.status === "todo"),
        statusOf: new Map(all.map((i) => [i.id as string, i.status])),
        openChildren: new Set(
          all.filter((i) => i.parent !== null && !resolvedStatuses.has(i.status)).map((i) => i.parent as string)
        ),
        invalid: []
      }
      const refs = eligibleIssues(snapshot, { now: 0, claimed: new Set(), retryDue: new Map() })
        .map((i) => ({ id: i.id, priority: i.priority, labels: i.labels }))
      return { refs, invalid: [] }
    }))

    return Tracker.of({
      changes: Stream.fromPubSub(written),
      create: (input) => published(create(input)),
      get: (raw) => parseId(raw).pipe(Effect.flatMap(require)),
      statuses: (ids) =>
        SynchronizedRef.get(state).pipe(
          Effect.map((s) => {
            const found = new Map<string, IssueStatus>()
            for (const id of ids) {
              const issue = s.issues.get(id as IssueId)
              if (issue !== undefined) found.set(id, issue.status)
            }
            return found
          })
        ),
      list: (filter) =>
        SynchronizedRef.get(state).pipe(
          Effect.map((s) => [...s.issues.values()].filter((i) => filter?.status === undefined || i.status === filter.status))
        ),
      update: (id, patch) => published(update(id, patch)),
      transition: (id, from, to) =>
        published(SynchronizedRef.modifyEffect(state, (s) =>
          Effect.gen(function*() {
            const issue = s.issues.get(id)
            if (issue === undefined) return yield* new IssueNotFound({ id })
            if (!from.includes(issue.status)) return [false, s] as const
            const moved = new Issue({ ...issue, status: to, updated_at: yield* DateTime.now })
            return [true, { ...s, issues: new Map(s.issues).set(id, moved) }] as const
          }))),
      comment: (raw, body, author) =>
        published(Effect.gen(function*() {
          const id = yield* parseId(raw)
          yield* checkCommentBody(body)
          const issue = yield* require(id)
          const now = yield* DateTime.now
          const updated = new Issue({
            ...issue,
            comments: [...issue.comments, new IssueComment({ author, body, created_at: now })],
            updated_at: now
          })
          yield* put(updated)
          return updated
        })),
      candidates: SynchronizedRef.get(state).pipe(Effect.map((s) => {
        const all = [...s.issues.values()]
        return {
          todo: all.filter((i) => i.status === "todo"),
          statusOf: new Map(all.map((i) => [i.id as string, i.status])),
          openChildren: new Set(
            all.filter((i) => i.parent !== null && !resolvedStatuses.has(i.status)).map((i) => i.parent as string)
          ),
          invalid: []
        }
      })),
      ready,
      readySummary: (options) =>
        Effect.zipWith(
          ready,
          SynchronizedRef.get(state),
          (set, s) => summarizeReady(set, options, [...s.issues.values()].filter((i) => i.status === "todo").length)
        ),
      counts: SynchronizedRef.get(state).pipe(Effect.map((s) => {
        const counts = Object.fromEntries(issueStatuses.map((st) => [st, 0])) as Record<IssueStatus, number>
        for (const i of s.issues.values()) counts[i.status] += 1
        return counts
      }))
    })
  })

/** A fresh in-memory Tracker per layer build. */
export const layer = (options?: Parameters<typeof make>[0]) => Layer.effect(Tracker, make(options))
