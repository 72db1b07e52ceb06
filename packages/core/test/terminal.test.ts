import { describe, expect, it } from "@effect/vitest"
import { stripAnsi, stripTerminalControls } from "@switchyard/domain"
import { Option } from "effect"
import { parseTestCounts } from "../src/Verifier/testCounts.js"

const ESC = "\x1b"

describe("stripTerminalControls", () => {
  it("removes SGR colours, cursor moves, OSC titles and hyperlinks, and two-character escapes", () => {
    const text = `${ESC}[1m${ESC}[32m✓${ESC}[39m${ESC}[22m ok ${ESC}[2K${ESC}[1G` +
      `${ESC}]0;title${ESC}\\${ESC}]8;;https://x.test${ESC}\\link${ESC}]8;;${ESC}\\ ${ESC}]52;c;Y3VybA==\x07${ESC}c${ESC}7done`
    expect(stripTerminalControls(text)).toBe("✓ ok link done")
  })

  it("turns \\r\\n and a lone \\r into newlines and drops other control characters, keeping tabs", () => {
    expect(stripTerminalControls("a\r\nb\rc\td\x00\x07\x08e\x9b31mf")).toBe("a\nb\nc\tdef")
    expect(stripTerminalControls(`${ESC}`)).toBe("")
  })

  it("keeps printable text as it is", () => {
    expect(stripTerminalControls("Tests  3 passed (3) · ✓ [x] {ok}")).toBe("Tests  3 passed (3) · ✓ [x] {ok}")
  })

  it("is the sequence the test-count parser strips (one definition)", () => {
    const coloured = `${ESC}[2m      Tests ${ESC}[22m ${ESC}[1m${ESC}[32m3 passed${ESC}[39m${ESC}[22m${ESC}[90m (3)${ESC}[39m`
    expect(stripAnsi(coloured)).toBe("      Tests  3 passed (3)")
    expect(Option.getOrThrow(parseTestCounts(coloured)).passed).toBe(3)
  })
})
