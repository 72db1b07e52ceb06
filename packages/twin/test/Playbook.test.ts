import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Option, Schema } from "effect"
import { readFileSync } from "node:fs"
import * as Playbook from "../src/Playbook.js"
import { fixturePath } from "./support.js"

const make = Schema.decodeSync(Playbook.Playbook)

describe("Playbook", () => {
  it("decodes a tool turn with narration as a tool turn, not a text turn", () => {
    const pb = make({ default: [{ tool: "Bash", command: "ls", text: "Looking." }, { text: "Done." }] })
    const slots = Playbook.slots(pb.default ?? [])
    expect(slots).toHaveLength(2)
    const first = slots[0]!
    expect(first._tag).toBe("Reply")
    if (first._tag !== "Reply") return
    expect(first.reply.text).toBe("Looking.")
    expect(first.reply.tool).toEqual({ name: "Bash", input: { command: "ls" } })
    expect(first.reply.usage).toEqual({ inputTokens: 100, outputTokens: 50 })
  })

  it("passes Edit/Read input through and keeps per-turn usage", () => {
    const pb = make({
      default: [{ tool: "Edit", input: { file_path: "a.ts", old_string: "a", new_string: "b" }, usage: { outputTokens: 7 } }]
    })
    const [slot] = Playbook.slots(pb.default ?? [])
    expect(slot).toEqual({
      _tag: "Reply",
      delayMs: 0,
      reply: {
        _tag: "Reply",
        text: undefined,
        tool: { name: "Edit", input: { file_path: "a.ts", old_string: "a", new_string: "b" } },
        usage: { inputTokens: 100, outputTokens: 7 }
      }
    })
  })

  it("expands errors by `times`, folds delays into the next slot, keeps hangs", () => {
    const pb = make({
      default: [
        { delayMs: 5 },
        { delayMs: 10 },
        { error: 529, times: 3 },
        { hang: true },
        { error: 429 },
        { delayMs: 20 },
        { text: "ok" },
        { delayMs: 99 }
      ]
    })
    const slots = Playbook.slots(pb.default ?? [])
    expect(slots.map((s) => [s._tag, s.delayMs])).toEqual([
      ["Error", 15],
      ["Error", 0],
      ["Error", 0],
      ["Hang", 0],
      ["Error", 0],
      ["Reply", 20]
    ])
    expect(slots.filter(Playbook.isReplySlot)).toHaveLength(1)
  })

  it("selects by substring or regex against the first user text or the system prompt, else default", () => {
    const pb = make({
      entries: [
        { name: "one", match: { contains: "ISSUE-1\n" }, turns: [{ text: "one" }] },
        { match: { regex: "issue-(2|3)\\b", flags: "i" }, turns: [{ text: "two" }] }
      ],
      default: [{ text: "fallback" }]
    })
    const name = (user: string, system = "") => Option.map(Playbook.select(pb, user, system), (s) => s.name)
    expect(name("fix ISSUE-1\nplease")).toEqual(Option.some("one"))
    expect(name("fix ISSUE-12")).toEqual(Option.some("default"))
    expect(name("nothing", "You work on Issue-3 today")).toEqual(Option.some("/issue-(2|3)\\b/"))
    expect(Playbook.select(make({ entries: [] }), "x", "y")).toEqual(Option.none())
  })

  it("counts the turn index from assistant messages plus served errors", () => {
    expect(Playbook.turnIndex(0, 0)).toBe(0)
    expect(Playbook.turnIndex(2, 3)).toBe(5)
  })

  it.effect("decodes the fixture playbook JSON and rejects bad ones", () =>
    Effect.gen(function*() {
      const pb = yield* Playbook.decodeJson(readFileSync(fixturePath("playbook.json"), "utf8"))
      expect(pb.entries.map((e) => e.name)).toEqual(["write", "overload"])
      expect(pb.sideReply).toBe("OK.")
      const badRegex = yield* Effect.exit(Playbook.decode({ entries: [{ match: { regex: "(" }, turns: [] }] }))
      expect(Exit.isFailure(badRegex)).toBe(true)
      const badStatus = yield* Effect.exit(Playbook.decode({ default: [{ error: 503 }] }))
      expect(Exit.isFailure(badStatus)).toBe(true)
      const badTimes = yield* Effect.exit(Playbook.decode({ default: [{ error: 529, times: 0 }] }))
      expect(Exit.isFailure(badTimes)).toBe(true)
    }))
})
