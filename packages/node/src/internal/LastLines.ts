/**
 * The last lines of a run's output, for `AgentReport.outputTail`: whole lines, newest kept, within a byte budget,
 * held raw and redacted once at the end. Lines are never cut before redaction (a secret split at a cut would
 * not be recognised); the redacted text is cut to the budget instead. Memory: the budget plus one line.
 * @internal
 */
import { OutputCapture } from "./OutputCapture.js"

export class LastLines {
  private lines: Array<string> = []
  private start = 0
  private held = 0

  /** `budget`: bytes (UTF-8) of text to keep. */
  constructor(readonly budget: number) {}

  /** Adds one line (without its newline). */
  push(line: string): void {
    this.lines.push(line)
    this.held += line.length + 1
    // Characters, not bytes: never more than the bytes, so at least `budget` bytes stay. The newest line stays.
    while (this.start < this.lines.length - 1 && this.held - (this.lines[this.start]!.length + 1) >= this.budget) {
      this.held -= this.lines[this.start]!.length + 1
      this.start += 1
    }
    if (this.start > 1024 && this.start * 2 > this.lines.length) {
      this.lines = this.lines.slice(this.start)
      this.start = 0
    }
  }

  /** The kept lines, each followed by a newline, redacted with `redact`, then cut to the last `budget` bytes. */
  text(redact: (text: string) => string): string {
    const joined = this.lines.slice(this.start).map((line) => `${line}\n`).join("")
    const capture = new OutputCapture(0, this.budget)
    capture.push(Buffer.from(redact(joined), "utf8"))
    return capture.tailText()
  }
}
