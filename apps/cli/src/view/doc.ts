/**
 * How every terminal view is built and turned into text: a `Doc` (@effect/printer) whose styles are `Ansi`
 * annotations (@effect/printer-ansi), rendered with colour on a terminal and as plain text otherwise. Views build
 * docs from the helpers below (`text`, `styled`, `cell`, `row`, `rows`) and never write escape codes or padding by
 * hand. JSON output does not come here: it goes through the Schema encoders.
 */
import * as Ansi from "@effect/printer-ansi/Ansi"
import * as AnsiDoc from "@effect/printer-ansi/AnsiDoc"
import * as Doc from "@effect/printer/Doc"
import type { TerminalState } from "@switchyard/domain"
import { Config, Console, Effect } from "effect"

export { Ansi, Doc }

/** A terminal view: a document annotated with ANSI styles. */
export type View = AnsiDoc.AnsiDoc

/** How to render a view. */
export interface RenderOptions {
  /** Emit ANSI styles. Without it the text has no escape codes (the styles are dropped, the layout is the same). */
  readonly color: boolean
}

/**
 * Renders `view` to a string. The text is sanitized first (`Doc.sanitize`: control characters other than tab and
 * newline are dropped), because views show text from agents, diffs and issues that must not drive the reader's
 * terminal; the styles are annotations, not text, so they survive. Pure.
 */
export const render = (view: View, options: RenderOptions): string => {
  const safe = Doc.sanitize(view)
  return options.color
    ? AnsiDoc.render(safe, { style: "pretty" })
    : Doc.render(Doc.unAnnotate(safe), { style: "pretty" })
}

/**
 * Whether views printed on stdout get colour: stdout is a TTY and `NO_COLOR` is unset or empty
 * (https://no-color.org). Piped or redirected output is plain text.
 */
export const colorEnabled: Effect.Effect<boolean> = Effect.gen(function*() {
  const noColor = yield* Config.string("NO_COLOR").pipe(Config.withDefault(""), Effect.orElseSucceed(() => ""))
  return process.stdout.isTTY === true && noColor === ""
})

/** Prints `view` on stdout as one `Console.log`, coloured when {@link colorEnabled}. */
export const print = (view: View): Effect.Effect<void> =>
  colorEnabled.pipe(Effect.flatMap((color) => Console.log(render(view, { color }))))

/** Plain text as a doc; a `\n` starts a new line. */
export const text = (s: string): View =>
  s.includes("\n") ? rows(s.split("\n").map(leaf)) : leaf(s)

const leaf = (s: string): View => (s.length === 0 ? Doc.empty : s.length === 1 ? Doc.char(s) : Doc.text(s))

/** `s` in the given styles (combined, e.g. a colour and bold); nothing at all for an empty `s`. */
export const styled = (s: string, ...styles: ReadonlyArray<Ansi.Ansi>): View =>
  s === "" ? Doc.empty : styles.reduce<View>((doc, style) => Doc.annotate(doc, style), text(s))

/**
 * A table cell: `content` padded with spaces to `width` columns (never cut: longer content just takes more), in
 * the given styles. The styles go around the padded cell, never inside `Doc.fill`: @effect/printer 0.51's layout
 * resets its column count to 0 where an annotation ends (`UndoAnnotation` in `wadlerLeijen`), so a `fill` or
 * `width` around styled content measures wrongly, and an `align` after a styled part aligns to the wrong column.
 * (A `fill` of plain text measures a difference of two columns, which stays right.) Views therefore indent with
 * `Doc.nest`, which does not measure. test/views.test.ts checks that colour never moves a column.
 */
export const cell = (content: string, width: number, ...styles: ReadonlyArray<Ansi.Ansi>): View =>
  content === "" ? Doc.spaces(width) : styles.reduce<View>((doc, style) => Doc.annotate(doc, style), Doc.fill(text(content), width))

/** Parts side by side on one line, with nothing between them. */
export const row = (...parts: ReadonlyArray<string | View>): View => Doc.hcat(parts.map(part))

/** One view per line (an empty doc is an empty line). */
export const rows = (views: Iterable<View>): View => Doc.concatWith(views, (above, below) => Doc.hcat([above, Doc.hardLine, below]))

const part = (p: string | View): View => (typeof p === "string" ? text(p) : p)

/** Erases the screen and moves the cursor home (what `status --watch` prints before each snapshot). */
export const clearScreen: string = Ansi.stringify(Ansi.combine(Ansi.eraseScreen, Ansi.cursorTo(0, 0)))

/** Colour of each terminal state, in every view: green PR_READY, yellow NO_OP, red ESCALATE, magenta RETRYABLE_FAILURE. */
export const OUTCOME_STYLE: Record<TerminalState, Ansi.Ansi> = {
  PR_READY: Ansi.green,
  NO_OP: Ansi.yellow,
  ESCALATE: Ansi.red,
  RETRYABLE_FAILURE: Ansi.magenta
}
