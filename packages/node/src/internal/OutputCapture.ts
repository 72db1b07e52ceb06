/**
 * Bounded capture of a process's combined output: the first `headBytes`, the last `tailBytes` and the total
 * byte count. Memory stays O(headBytes + tailBytes) however much the process writes.
 * @internal
 */
export class OutputCapture {
  private readonly head: Buffer
  private headLength = 0
  private tail: Buffer = Buffer.alloc(0)
  /** Total bytes seen, kept or not. */
  total = 0

  constructor(readonly headBytes: number, readonly tailBytes: number) {
    this.head = Buffer.alloc(Math.max(0, headBytes))
  }

  push(chunk: Uint8Array): void {
    this.total += chunk.length
    if (this.headLength < this.head.length) {
      const n = Math.min(chunk.length, this.head.length - this.headLength)
      this.head.set(chunk.subarray(0, n), this.headLength)
      this.headLength += n
    }
    if (this.tailBytes <= 0) return
    if (chunk.length >= this.tailBytes) {
      // Copy, so the (possibly large) chunk is not retained.
      this.tail = Buffer.from(chunk.subarray(chunk.length - this.tailBytes))
    } else {
      const keep = Math.min(this.tail.length, this.tailBytes - chunk.length)
      this.tail = Buffer.concat([this.tail.subarray(this.tail.length - keep), chunk])
    }
  }

  /** The head as text; an incomplete UTF-8 sequence at the cut is dropped. */
  headText(): string {
    return new TextDecoder().decode(this.head.subarray(0, this.headLength), { stream: true })
  }

  /** The tail as text; when the tail was cut, leading UTF-8 continuation bytes are skipped. */
  tailText(): string {
    let start = 0
    if (this.total > this.tail.length) {
      while (start < 3 && start < this.tail.length && (this.tail[start] & 0xc0) === 0x80) start++
    }
    return new TextDecoder().decode(this.tail.subarray(start))
  }
}
