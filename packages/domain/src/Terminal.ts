/**
 * Terminal control sequences in text the factory captured from processes (test runners colour their output).
 * One definition for everyone who reads or renders such text: the test-count parser strips the sequences before
 * matching summaries, and `evidence.md` strips them (and other control characters) before quoting output.
 */

/**
 * ANSI escape sequences: CSI (`ESC [ … final`, e.g. SGR colours `\x1b[31m`, cursor moves, `\x1b[2K`), OSC
 * (`ESC ] … BEL` or `ESC ] … ESC \`, e.g. window titles and hyperlinks), and two-character escapes (`ESC c`,
 * `ESC =`, `ESC 7`). Also the 8-bit CSI (`\x9b`). Global: use with `replace`.
 */
export const ANSI_SEQUENCE = /\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]|\x1b[0-~]/g

/** `text` without ANSI escape sequences ({@link ANSI_SEQUENCE}); every other character kept. */
export const stripAnsi = (text: string): string => text.replace(ANSI_SEQUENCE, "")

/**
 * `text` as plain printable text: ANSI sequences removed, `\r\n` made `\n`, a lone `\r` (a progress bar
 * redrawing its line) made `\n`, and every other C0/C1 control character except tab and newline removed.
 */
export const stripTerminalControls = (text: string): string =>
  stripAnsi(text)
    .replace(/\r\n?/g, "\n")
    .replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, "")
