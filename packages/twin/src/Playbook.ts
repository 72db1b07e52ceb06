/**
 * Playbook: the scripted "brain" a model twin replays.
 *
 * A playbook maps an issue (found by a regex or a substring in the conversation's first user message or its
 * system prompt) to a list of turns. Each turn is one model reply (text, a tool call), a pause, a hang, or a
 * scripted HTTP error. The twin picks the turn for a request with one rule (see `turnIndex`): the number of
 * assistant messages already in the request (Claude Code replays the whole conversation on every request)
 * plus the number of errors and hangs already served to that conversation.
 *
 * Everything here is pure; the HTTP side lives in `Twin.ts`.
 */
import { Array as Arr, Either, Option, Schema } from "effect"

/** Token counts reported for one reply; they show up in Claude Code's `result` line. */
export const TurnUsage = Schema.Struct({
  inputTokens: Schema.optionalWith(Schema.NonNegativeInt, { default: () => 100 }),
  outputTokens: Schema.optionalWith(Schema.NonNegativeInt, { default: () => 50 })
})
export type TurnUsage = typeof TurnUsage.Type

/** Default usage for a turn that names none: 100 input and 50 output tokens. */
export const defaultUsage: TurnUsage = { inputTokens: 100, outputTokens: 50 }

/**
 * A `Bash` tool call. Claude Code runs `command` in its cwd and sends the output back as a `tool_result`.
 * `text`, when given, is sent as a text block before the tool call (narration).
 */
export const BashTurn = Schema.Struct({
  tool: Schema.Literal("Bash"),
  command: Schema.String,
  description: Schema.optional(Schema.String),
  text: Schema.optional(Schema.String),
  usage: Schema.optional(TurnUsage)
})
export type BashTurn = typeof BashTurn.Type

/**
 * Any other tool call (`Edit`, `Read`, ...): `input` is sent as the tool_use input unchanged.
 * With `claude --bare` only `Bash`, `Edit` and `Read` exist; other names come back as an error tool_result.
 */
export const ToolTurn = Schema.Struct({
  tool: Schema.NonEmptyString,
  input: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  text: Schema.optional(Schema.String),
  usage: Schema.optional(TurnUsage)
})
export type ToolTurn = typeof ToolTurn.Type

/** A final text reply (`stop_reason: "end_turn"`): Claude Code ends the run with it. */
export const TextTurn = Schema.Struct({
  text: Schema.String,
  usage: Schema.optional(TurnUsage)
})
export type TextTurn = typeof TextTurn.Type

/** Wait `delayMs` milliseconds before the next turn's reply (it consumes no request). */
export const DelayTurn = Schema.Struct({ delayMs: Schema.NonNegativeInt })
export type DelayTurn = typeof DelayTurn.Type

/** Never answer: keep the socket open. Served once; a retry of the same request gets the next turn. */
export const HangTurn = Schema.Struct({ hang: Schema.Literal(true) })
export type HangTurn = typeof HangTurn.Type

/** The HTTP statuses a playbook can script, with the Anthropic error type each one carries. */
export const ErrorStatus = Schema.Literal(429, 500, 529)
export type ErrorStatus = typeof ErrorStatus.Type

/**
 * Reply with HTTP `error` and an Anthropic error body, `times` times in a row (default 1), then move on.
 * 429 → `rate_limit_error`, 500 → `api_error`, 529 → `overloaded_error`.
 */
export const ErrorTurn = Schema.Struct({
  error: ErrorStatus,
  times: Schema.optionalWith(Schema.Int.pipe(Schema.greaterThanOrEqualTo(1)), { default: () => 1 }),
  message: Schema.optional(Schema.String)
})
export type ErrorTurn = typeof ErrorTurn.Type

/** One scripted step. Tool turns come first in the union so `{tool, text}` is not read as a text turn. */
export const Turn = Schema.Union(BashTurn, ToolTurn, TextTurn, DelayTurn, HangTurn, ErrorTurn)
export type Turn = typeof Turn.Type

const compiles = (source: string, flags: string | undefined): boolean =>
  Either.isRight(Either.try(() => new RegExp(source, flags)))

/** Match when the text contains `contains` (case-sensitive substring). */
export const ContainsMatch = Schema.Struct({ contains: Schema.NonEmptyString })
/** Match when the JavaScript regular expression `regex` (with optional `flags`) finds a match. */
export const RegexMatch = Schema.Struct({
  regex: Schema.NonEmptyString,
  flags: Schema.optional(Schema.String)
}).pipe(Schema.filter((m) => compiles(m.regex, m.flags) || `invalid regular expression: /${m.regex}/`))
export const Match = Schema.Union(ContainsMatch, RegexMatch)
export type Match = typeof Match.Type

/** A script for the conversations whose first user message or system prompt matches `match`. */
export const Entry = Schema.Struct({
  /** A label for logs and recorded requests (defaults to the match text). */
  name: Schema.optional(Schema.String),
  match: Match,
  turns: Schema.Array(Turn)
})
export type Entry = typeof Entry.Type

/**
 * The whole playbook. Entries are tried in order; the first match wins; `default` is used when none match.
 * `sideReply` answers requests that are not the main conversation (no `tools`), `exhaustedReply` answers a
 * conversation that has run past the end of its script (or matched nothing and has no default).
 */
export const Playbook = Schema.Struct({
  entries: Schema.optionalWith(Schema.Array(Entry), { default: () => [] }),
  default: Schema.optional(Schema.Array(Turn)),
  sideReply: Schema.optionalWith(Schema.String, { default: () => "OK." }),
  exhaustedReply: Schema.optionalWith(Schema.String, { default: () => "(model twin) The script is exhausted." })
})
export type Playbook = typeof Playbook.Type
export type PlaybookInput = typeof Playbook.Encoded

/** Decode a playbook from an unknown value (e.g. parsed JSON); fails with a `ParseError`. */
export const decode = Schema.decodeUnknown(Playbook)
/** Decode a playbook from JSON text; fails with a `ParseError`. */
export const decodeJson = Schema.decodeUnknown(Schema.parseJson(Playbook))

/** A reply the twin can send: optional narration text, then optionally one tool call. */
export interface Reply {
  readonly _tag: "Reply"
  readonly text: string | undefined
  readonly tool: { readonly name: string; readonly input: Readonly<Record<string, unknown>> } | undefined
  readonly usage: TurnUsage
}

/** What one request gets: an optional pause (ms), then a reply, an HTTP error, or silence. */
export type Slot =
  | { readonly _tag: "Reply"; readonly delayMs: number; readonly reply: Reply }
  | { readonly _tag: "Error"; readonly delayMs: number; readonly status: ErrorStatus; readonly message: string | undefined }
  | { readonly _tag: "Hang"; readonly delayMs: number }

/** Whether a slot adds an assistant message to the conversation (only replies do). */
export const isReplySlot = (slot: Slot): boolean => slot._tag === "Reply"

/** A text-only reply with the default usage. */
export const textReply = (text: string, usage: TurnUsage = defaultUsage): Reply => ({
  _tag: "Reply",
  text,
  tool: undefined,
  usage
})

const toReply = (turn: BashTurn | ToolTurn | TextTurn): Reply => {
  const usage = turn.usage ?? defaultUsage
  if (!("tool" in turn)) return textReply(turn.text, usage)
  const input: Record<string, unknown> = "command" in turn
    ? { command: turn.command, ...(turn.description === undefined ? {} : { description: turn.description }) }
    : turn.input
  return { _tag: "Reply", text: turn.text, tool: { name: turn.tool, input }, usage }
}

/**
 * Expand turns into one slot per request: an error with `times: n` becomes n slots, a delay is folded into the
 * next slot (delays add up; a trailing delay is dropped).
 */
export const slots = (turns: ReadonlyArray<Turn>): ReadonlyArray<Slot> => {
  const out: Array<Slot> = []
  let pending = 0
  for (const turn of turns) {
    if ("delayMs" in turn) {
      pending += turn.delayMs
    } else if ("hang" in turn) {
      out.push({ _tag: "Hang", delayMs: pending })
      pending = 0
    } else if ("error" in turn) {
      for (let i = 0; i < turn.times; i++) {
        out.push({ _tag: "Error", delayMs: i === 0 ? pending : 0, status: turn.error, message: turn.message })
      }
      pending = 0
    } else {
      out.push({ _tag: "Reply", delayMs: pending, reply: toReply(turn) })
      pending = 0
    }
  }
  return out
}

/**
 * The slot index for a request: assistant messages already in the request, plus errors and hangs already
 * served to this conversation. Each request replays the whole conversation, so this survives retries,
 * restarts of the agent process and `--resume`.
 */
export const turnIndex = (assistantMessages: number, nonRepliesServed: number): number =>
  assistantMessages + nonRepliesServed

/** A script chosen for a conversation: its label and its slots. */
export interface Script {
  readonly name: string
  readonly slots: ReadonlyArray<Slot>
}

const matches = (match: Match, text: string): boolean =>
  "contains" in match ? text.includes(match.contains) : new RegExp(match.regex, match.flags).test(text)

/**
 * Choose the script for a conversation: the first entry whose match hits `firstUserText` or `systemText`,
 * else `default` (named "default"), else none.
 */
export const select = (playbook: Playbook, firstUserText: string, systemText: string): Option.Option<Script> =>
  Arr.findFirst(playbook.entries, (entry) => matches(entry.match, firstUserText) || matches(entry.match, systemText))
    .pipe(
      Option.map((entry): Script => ({
        name: entry.name ?? ("contains" in entry.match ? entry.match.contains : `/${entry.match.regex}/`),
        slots: slots(entry.turns)
      })),
      Option.orElse(() =>
        Option.map(Option.fromNullable(playbook.default), (turns): Script => ({ name: "default", slots: slots(turns) }))
      )
    )
