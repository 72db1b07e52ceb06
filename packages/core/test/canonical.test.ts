import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { canonicalJson, splitSignature } from "../src/EvidenceSigner/canonical.js"

describe("canonicalJson (RFC 8785)", () => {
  it("matches the RFC 8785 §3.2.2 example: sorted members, ES number and string serialisation, no whitespace", () => {
    // The input of RFC 8785 §3.2.2 ("Input data"), and its canonical output from §3.2.3.
    const input = String.raw`{
      "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
      "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
      "literals": [null, true, false]
    }`
    expect(canonicalJson(JSON.parse(input))).toBe(
      String.raw`{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`
    )
  })

  it("sorts member names by UTF-16 code units (the RFC 8785 §3.2.3 sorting example)", () => {
    const input = JSON.parse(String.raw`{
      "\u20ac": "Euro Sign", "\r": "Carriage Return", "\ufb33": "Hebrew Letter Dalet With Dagesh", "1": "One",
      "\ud83d\ude00": "Emoji: Grinning Face", "\u0080": "Control", "\u00f6": "Latin Small Letter O With Diaeresis"
    }`)
    // Compared as text: a parsed object would list the integer-like "1" first whatever the order.
    const order = ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\ud83d\ude00", "\ufb33"]
    expect(canonicalJson(input)).toBe(`{${order.map((k) => `${JSON.stringify(k)}:${JSON.stringify(input[k])}`).join(",")}}`)
  })

  it("is the same for a value and for the JSON.parse of its stored text (what signing and checking each see)", () => {
    const value = {
      b: [1, undefined, Number.NaN, -0, { z: 1, a: undefined }],
      a: "x",
      c: Number.POSITIVE_INFINITY,
      d: undefined,
      nested: { y: [true, false, null], x: 1.5e-7 }
    }
    const stored = JSON.parse(JSON.stringify(value, null, 2))
    expect(canonicalJson(value)).toBe(canonicalJson(stored))
    expect(canonicalJson(value)).toBe(`{"a":"x","b":[1,null,null,0,{"z":1}],"c":null,"nested":{"x":1.5e-7,"y":[true,false,null]}}`)
  })

  it("does not depend on the order members were written in", () => {
    expect(canonicalJson({ outcome: "PR_READY", attempt: 1, verdict: { cause: "verified", state: "PR_READY" } })).toBe(
      canonicalJson({ verdict: { state: "PR_READY", cause: "verified" }, attempt: 1, outcome: "PR_READY" })
    )
    expect(canonicalJson({ outcome: "PR_READY" })).not.toBe(canonicalJson({ outcome: "ESCALATE" }))
  })
})

describe("splitSignature", () => {
  const signature = { algorithm: "ed25519", publicKey: "cGs=", value: "c2ln" }

  it("signs the document without its signature member, whatever else it holds", () => {
    const split = splitSignature({ outcome: "PR_READY", attempt: 1, signature })
    expect(split.payload).toBe(`{"attempt":1,"outcome":"PR_READY"}`)
    expect(split.signature).toEqual(Either.right(signature))
  })

  it("has no signature for an unsigned document, and a reason for a malformed one", () => {
    expect(splitSignature({ outcome: "NO_OP" })).toEqual({ payload: `{"outcome":"NO_OP"}`, signature: null })
    const malformed = splitSignature({ outcome: "NO_OP", signature: { algorithm: "hmac-sha256", value: 1 } })
    expect(malformed.payload).toBe(`{"outcome":"NO_OP"}`)
    expect(Either.isLeft(malformed.signature!)).toBe(true)
    expect(Either.getLeft(malformed.signature!)).toMatchObject({ _tag: "Some" })
    expect(String(Either.merge(malformed.signature!))).toContain("the signature is malformed")
  })
})
