/**
 * What every tracker checks on a write, whatever the caller: the title and body sizes of `IssueInput` /
 * `IssuePatch` and the body of a comment (limits in @switchyard/domain `MAX_TITLE_BYTES`, `MAX_BODY_BYTES`).
 * A caller that builds an `IssueInput` without decoding it (or a plain object typed as one) is still refused.
 */
import { IssueBody, IssueTitle } from "@switchyard/domain"
import { Effect, ParseResult, Schema } from "effect"
import { TrackerError } from "./errors.js"

const validateTitle = Schema.validate(IssueTitle)
const validateBody = Schema.validate(IssueBody)

/** The messages of a ParseError, one sentence each, joined with `; ` (the limit schemas word them for people). */
const sentences = (error: ParseResult.ParseError): string =>
  ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) => issue.message).join("; ")

/**
 * Refuses a write whose title is blank, padded or over `MAX_TITLE_BYTES`, or whose body is over `MAX_BODY_BYTES`
 * (UTF-8 bytes); absent fields are not checked. Fails with `TrackerError` for `operation`, e.g. `tracker create
 * failed: invalid issue: the title is 1500 bytes (UTF-8), over the limit of 1024 bytes (1 KiB); shorten it`.
 */
export const checkIssueText = (
  operation: string,
  text: { readonly title?: string | undefined; readonly body?: string | undefined }
): Effect.Effect<void, TrackerError> =>
  Effect.all([
    text.title === undefined ? Effect.void : validateTitle(text.title),
    text.body === undefined ? Effect.void : validateBody(text.body)
  ]).pipe(
    Effect.asVoid,
    Effect.mapError((error) => new TrackerError({ operation, reason: `invalid issue: ${sentences(error)}`, cause: error }))
  )

/** Refuses a comment body over `MAX_BODY_BYTES` (UTF-8 bytes) with `TrackerError` (operation `comment`). */
export const checkCommentBody = (body: string): Effect.Effect<void, TrackerError> =>
  validateBody(body).pipe(
    Effect.asVoid,
    Effect.mapError((error) =>
      new TrackerError({ operation: "comment", reason: `invalid comment: ${sentences(error).replace("the body", "the comment")}`, cause: error })
    )
  )
