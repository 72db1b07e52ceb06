/**
 * The redaction rule (Redactor/patterns.ts) and the `Redactor` built on it: secret values (raw and JSON-escaped)
 * become `[REDACTED]`, token formats are masked, and a `CommandResult` is redacted in every text field.
 */
import { describe, expect, it } from "@effect/vitest"
import { makeRedactor, maskTokens, redact, secretEnvNames, withJsonEscaped } from "../src/index.js"
import { result } from "./fixtures.js"

/** Token-format strings assembled at run time, so this file holds no literal that looks like a real key. */
const GITHUB = `ghp_${"a1B2c3D4e5".repeat(3)}abcdef`
const ANTHROPIC = `sk-ant-api03-${"Zx9Yw8Vu7T".repeat(3)}`

describe("redact and secretEnvNames", () => {
  it("redact replaces secret values of 8+ characters, longest first", () => {
    expect(redact("token=abcdefgh12 and abcdefgh and abc", ["abcdefgh", "abcdefgh12", "abc"]))
      .toBe("token=[REDACTED] and [REDACTED] and abc")
  })

  it("secretEnvNames picks names that look secret and have a value", () => {
    expect(
      secretEnvNames({
        GITHUB_TOKEN: "x",
        AWS_SECRET_ACCESS_KEY: "y",
        DB_PASSWORD: "z",
        OPENAI_API_KEY: "k",
        GOOGLE_APPLICATION_CREDENTIALS: "/p",
        EMPTY_TOKEN: "",
        UNSET_SECRET: undefined,
        HOME: "/root",
        PATH: "/bin"
      })
    ).toEqual(["AWS_SECRET_ACCESS_KEY", "DB_PASSWORD", "GITHUB_TOKEN", "GOOGLE_APPLICATION_CREDENTIALS", "OPENAI_API_KEY"])
  })

  it("maskTokens keeps the first 4 characters of GitHub and Anthropic keys", () => {
    expect(GITHUB).toHaveLength(40)
    expect(maskTokens(`a ${GITHUB} b ${ANTHROPIC} c`)).toBe("a ghp_… b sk-a… c")
  })

  it("withJsonEscaped adds the form a value takes inside a JSON string", () => {
    expect(withJsonEscaped(['pa"ss\\word-123'])).toEqual(['pa"ss\\word-123', 'pa\\"ss\\\\word-123'])
  })
})

describe("Redactor", () => {
  const SECRET = 'runner-"secret"-value-77'

  it("redact removes the value raw and JSON-escaped, and masks token formats (no value needed)", () => {
    const redactor = makeRedactor([SECRET, "short"])
    const line = JSON.stringify({ text: `leak ${SECRET} ${GITHUB}` })
    expect(line).toContain('runner-\\"secret\\"-value-77')
    expect(redactor.redact(line)).toBe(JSON.stringify({ text: "leak [REDACTED] ghp_…" }))
    expect(redactor.redact(`raw ${SECRET} short`)).toBe("raw [REDACTED] short")
    expect(makeRedactor([]).redact(ANTHROPIC)).toBe("sk-a…")
    // the values kept for detection: usable ones only
    expect(redactor.secrets).toEqual([SECRET])
  })

  it("redactResult redacts the command and both output ends, and keeps the rest", () => {
    const redactor = makeRedactor([SECRET])
    const r = result(`echo ${SECRET}`, 0, { outputHead: `${SECRET}\n`, outputTail: `${GITHUB}\n`, durationMs: 12 })
    const clean = redactor.redactResult(r)
    expect(clean.command).toBe("echo [REDACTED]")
    expect(clean.outputHead).toBe("[REDACTED]\n")
    expect(clean.outputTail).toBe("ghp_…\n")
    expect(clean.exitCode).toBe(0)
    expect(clean.durationMs).toBe(12)
    expect(clean.passed).toBe(true)
  })
})
