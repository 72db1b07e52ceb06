import { assert, describe, it } from "@effect/vitest"
import { Issue, IssueComment, IssueId, WorkflowConfig } from "@switchyard/domain"
import { DateTime, Effect } from "effect"
import {
  buildTaskPacket,
  defaultWorkflowFile,
  EVIDENCE_REQUIRED,
  MAX_PROMPT_BYTES,
  MAX_TEMPLATE_CHARS,
  MEMORY_LIMIT,
  NO_OP_RULES,
  parseTemplate,
  parseWorkflow,
  PromptRenderError,
  renderPrompt,
  RENDER_LIMIT_MS,
  RESULT_FORMAT
} from "../src/Workflow/index.js"

const at = (iso: string) => DateTime.unsafeMake(iso) as DateTime.Utc

const sampleIssue = (overrides: Partial<ConstructorParameters<typeof Issue>[0]> = {}) =>
  Issue.make({
    id: IssueId.make("SY-12"),
    title: "Fix the parser",
    body: "It crashes on empty input.",
    status: "todo",
    priority: "high",
    labels: ["bug", "parser"],
    parent: null,
    blocked_by: [IssueId.make("SY-3")],
    reproduction: "pnpm vitest run parser",
    validation: ["pnpm vitest run parser", "pnpm -s lint"],
    scope: ["src/parser/**"],
    non_goals: ["rewrite the lexer"],
    comments: [IssueComment.make({ author: "ana", body: "Seen in prod.", created_at: at("2026-01-02T10:00:00Z") })],
    created_at: at("2026-01-01T09:30:00Z"),
    updated_at: at("2026-01-03T08:00:00Z"),
    ...overrides
  })

const config = (yaml: string) => Effect.map(parseWorkflow("/r/WORKFLOW.md", `---\n${yaml}\n---\nx`), (d) => d.config)

const render = (template: string, attempt = 1, issue = sampleIssue()) =>
  Effect.gen(function*() {
    const cfg = yield* config("verify:\n  validation: [pnpm -s tsc -b]")
    return yield* renderPrompt(template, {
      issue,
      attempt,
      packet: buildTaskPacket(issue, cfg, attempt, "/runs/SY-12/1/result.json")
    })
  })

describe("renderPrompt", () => {
  it.effect("renders issue fields, timestamps as ISO strings, and iterable arrays", () =>
    Effect.gen(function*() {
      const out = yield* render(
        "{{ issue.id }}|{{ issue.title }}|{{ issue.status }}|{{ issue.priority }}|{{ issue.created_at }}|"
          + "{% for l in issue.labels %}[{{ l }}]{% endfor %}|{{ issue.blocked_by | join: ',' }}|"
          + "{% for c in issue.comments %}{{ c.author }}: {{ c.body }} @ {{ c.created_at }}{% endfor %}|"
          + "{{ issue.parent }}|{{ issue.non_goals | first }}|{{ issue.scope.size }}"
      )
      assert.strictEqual(
        out,
        "SY-12|Fix the parser|todo|high|2026-01-01T09:30:00.000Z|[bug][parser]|SY-3|"
          + "ana: Seen in prod. @ 2026-01-02T10:00:00.000Z||rewrite the lexer|1"
      )
    }))

  it.effect("blocked_by entries read as ids and carry Symphony's blocker-ref fields with the tracker's state", () =>
    Effect.gen(function*() {
      const cfg = yield* config("verify:\n  validation: [pnpm -s tsc -b]")
      const issue = sampleIssue({ blocked_by: [IssueId.make("SY-3"), IssueId.make("SY-9")] })
      const out = yield* renderPrompt(
        "{% for b in issue.blocked_by %}{{ b }}={{ b.identifier }}/{{ b.id }}:{{ b.state }}:{{ b.status }};{% endfor %}"
          + "|{{ issue.blocked_by | join: ',' }}|{% if issue.blocked_by contains 'SY-9' %}has SY-9{% endif %}",
        {
          issue,
          attempt: 1,
          packet: buildTaskPacket(issue, cfg, 1, "/runs/SY-12/1/result.json"),
          // SY-9 is unknown to the tracker: its state renders as nothing (null), not as an error.
          blockerStatuses: new Map([["SY-3", "done" as const]])
        }
      )
      assert.strictEqual(out, "SY-3=SY-3/SY-3:done:done;SY-9=SY-9/SY-9::;|SY-3,SY-9|has SY-9")
      const unknown = yield* Effect.flip(render("{% for b in issue.blocked_by %}{{ b.url }}{% endfor %}"))
      assert.include(unknown.reason, "undefined variable")
    }))

  it.effect("attempt is null on the first run and the number on a retry", () =>
    Effect.gen(function*() {
      const template = "{% if attempt %}retry {{ attempt }}{% else %}first run{% endif %}|{{ attempt }}"
      assert.strictEqual(yield* render(template, 1), "first run|")
      assert.strictEqual(yield* render(template, 3), "retry 3|3")
    }))

  it.effect("renders the packet", () =>
    Effect.gen(function*() {
      const out = yield* render(
        "{{ packet.issue_id }}|{{ packet.intent }}|{{ packet.reproduction }}|"
          + "{% for v in packet.validation %}<{{ v }}>{% endfor %}|{{ packet.output_contract.result_file }}|"
          + "{{ packet.source.tracker }}|{{ packet.attempt }}|{{ packet.no_op_rules.size }}",
        2
      )
      assert.strictEqual(
        out,
        "SY-12|It crashes on empty input.|pnpm vitest run parser|"
          + "<pnpm -s tsc -b><pnpm vitest run parser><pnpm -s lint>|/runs/SY-12/1/result.json|switchyard|2|3"
      )
    }))

  it.effect("a Symphony template renders unchanged", () =>
    Effect.gen(function*() {
      const symphony = `You are working on {{ issue.identifier }}: {{ issue.title }}
State: {{ issue.state }}
{% if issue.url %}URL: {{ issue.url }}{% endif %}
{% if attempt %}Continuation attempt {{ attempt }}.{% endif %}
Branch: {{ issue.branch_name }}
Labels: {% for label in issue.labels %}{{ label }} {% endfor %}
{{ issue.description }}
{% if issue.dispatchable %}go{% endif %}{{ issue.assignee_id }}{{ issue.native_ref }}`
      assert.strictEqual(
        yield* render(symphony, 2),
        `You are working on SY-12: Fix the parser
State: todo

Continuation attempt 2.
Branch: switchyard/SY-12
Labels: bug parser 
It crashes on empty input.
go`
      )
    }))

  it.effect("an unknown variable fails the render", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(render("Hello\n{{ issue.assignee }}"))
      assert.instanceOf(error, PromptRenderError)
      assert.strictEqual(error.reason, "undefined variable: issue.assignee (line 2, column 4)")
      assert.strictEqual(
        error.message,
        "prompt template failed to render: undefined variable: issue.assignee (line 2, column 4) [template_render_error]"
      )
      const top = yield* Effect.flip(render("{% if tracker %}x{% endif %}"))
      assert.include(top.reason, "undefined variable: tracker")
    }))

  it.effect("an unknown filter fails the render", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(render("{{ issue.title | shout }}"))
      assert.strictEqual(error.reason, "undefined filter: shout (line 1, column 1)")
    }))

  it.effect("a syntax error fails the render", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(render("{% for x in issue.labels %}{{ x }}"))
      assert.include(error.reason, "not closed")
    }))

  it.effect("include and render cannot read files from disk", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(render("{% include '/etc/hostname' %}"))
      assert.instanceOf(error, PromptRenderError)
    }))

  it.effect("a 90-byte nested loop stops at the prompt size limit with one line naming it (threat model A20)", () =>
    Effect.gen(function*() {
      // 16 bytes a turn: the limit is reached after 131,072 turns, well inside the render time limit even on a
      // loaded machine (2 bytes a turn took a million turns, and over 2 s under load, so the time limit hit first).
      const template = "{% for i in (1..999) %}{% for j in (1..999) %}xxxxxxxxxxxxxxxx{% endfor %}{% endfor %}"
      assert.isAtMost(template.length, 90)
      const error = yield* Effect.flip(render(template))
      assert.instanceOf(error, PromptRenderError)
      assert.strictEqual(error.reason, `the rendered prompt is over ${MAX_PROMPT_BYTES} bytes (2 MiB, the prompt size limit)`)
      assert.notInclude(error.message, "\n")
    }))

  it.effect("the size limit counts UTF-8 bytes, and leaves room for the default prompt with a body at its limit", () =>
    Effect.gen(function*() {
      // 0.7 Mi three-byte characters: under the limit in characters, over it in bytes.
      const wide = "€".repeat(Math.ceil(MAX_PROMPT_BYTES / 3) + 1)
      const error = yield* Effect.flip(render("{{ issue.body }}", 1, sampleIssue({ body: wide })))
      assert.include(error.reason, "prompt size limit")
      const body = "b".repeat(256 * 1024)
      const definition = yield* parseWorkflow("/r/WORKFLOW.md", defaultWorkflowFile)
      const out = yield* render(definition.prompt_template, 1, sampleIssue({ body }))
      assert.include(out, body)
      assert.isAtMost(Buffer.byteLength(out), MAX_PROMPT_BYTES)
    }))

  it.effect("a range too large to allocate stops at the memory limit", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(render("{% for i in (1..20000000) %}{% endfor %}"))
      assert.include(error.reason, `more than ${MEMORY_LIMIT} elements or characters`)
      assert.include(error.reason, "liquidjs memoryLimit")
    }))

  it.effect("a loop that allocates and prints nothing stops at the render time limit", () =>
    Effect.gen(function*() {
      // A billion iterations over a 1000-element list: nothing is printed and nothing new is allocated per turn.
      const xs = `{% assign xs = "${Array.from({ length: 1000 }, () => "x").join(",")}" | split: "," %}`
      const error = yield* Effect.flip(
        render(`${xs}{% for a in xs %}{% for b in xs %}{% for c in xs %}{% endfor %}{% endfor %}{% endfor %}`)
      )
      assert.strictEqual(
        error.reason,
        `rendering took longer than ${RENDER_LIMIT_MS} ms (the render time limit, liquidjs renderLimit); look for a loop that runs too long`
      )
    }))

  it.effect("a template over the length limit is refused when it is parsed, and when WORKFLOW.md loads", () =>
    Effect.gen(function*() {
      const template = "x".repeat(MAX_TEMPLATE_CHARS + 1)
      const error = yield* Effect.flip(parseTemplate(template))
      assert.include(error.reason, `longer than ${MAX_TEMPLATE_CHARS} characters`)
      const loaded = yield* Effect.flip(parseWorkflow("/r/WORKFLOW.md", `---\nagent: {}\n---\n${template}`))
      assert.strictEqual(loaded.kind, "template_parse_error")
      assert.include(loaded.message, "liquidjs parseLimit")
    }))

  it.effect("parsed templates are cached by text", () =>
    Effect.gen(function*() {
      const a = yield* parseTemplate("cached {{ issue.id }}")
      const b = yield* parseTemplate("cached {{ issue.id }}")
      const c = yield* parseTemplate("other {{ issue.id }}")
      assert.strictEqual(a, b)
      assert.notStrictEqual(a, c)
    }))

  it.effect("the default WORKFLOW.md prompt renders for a sample issue", () =>
    Effect.gen(function*() {
      const def = yield* parseWorkflow("/r/WORKFLOW.md", defaultWorkflowFile)
      const first = yield* render(def.prompt_template, 1)
      assert.include(first, "SY-12")
      assert.include(first, "Fix the parser")
      assert.include(first, "It crashes on empty input.")
      assert.include(first, "    pnpm vitest run parser")
      assert.include(first, "- `pnpm -s tsc -b`\n- `pnpm vitest run parser`\n- `pnpm -s lint`")
      assert.include(first, "- `src/parser/**`")
      assert.include(first, "- rewrite the lexer")
      assert.include(first, "$SWITCHYARD_RESULT_FILE")
      assert.include(first, RESULT_FORMAT)
      assert.include(first, NO_OP_RULES[0])
      assert.notInclude(first, "attempt 1")
      const retry = yield* render(def.prompt_template, 2)
      assert.include(retry, "This is attempt 2")

      // an issue with no reproduction, validation, scope or non-goals leaves those sections out
      const bare = sampleIssue({ reproduction: null, validation: [], scope: [], non_goals: [], labels: [] })
      const plain = yield* renderPrompt(def.prompt_template, {
        issue: bare,
        attempt: 1,
        packet: buildTaskPacket(bare, WorkflowConfig.make({}), 1, "/r.json")
      })
      assert.notInclude(plain, "Reproduction:")
      assert.notInclude(plain, "Validation:")
      assert.notInclude(plain, "Scope:")
      assert.notInclude(plain, "Non-goals:")
      assert.notInclude(plain, "Labels:")
    }))

  it.effect("the empty-body default prompt renders for a sample issue", () =>
    Effect.gen(function*() {
      const def = yield* parseWorkflow("/r/WORKFLOW.md", "---\nagent: {}\n---\n")
      const out = yield* render(def.prompt_template)
      assert.isTrue(out.startsWith("You are working on an issue from the configured tracker."))
      assert.include(out, "Issue SY-12: Fix the parser")
      assert.include(out, "\"result_file\": \"/runs/SY-12/1/result.json\"")
    }))
})

describe("buildTaskPacket", () => {
  it.effect("merges the issue with the workflow's verify defaults", () =>
    Effect.gen(function*() {
      const cfg = yield* config(
        "verify:\n  validation: [pnpm -s tsc -b, pnpm vitest run parser]\n  reproduction: pnpm vitest run default"
      )
      const packet = buildTaskPacket(sampleIssue(), cfg, 2, "/runs/result.json")
      assert.strictEqual(packet.issue_id, "SY-12")
      assert.strictEqual(packet.title, "Fix the parser")
      assert.strictEqual(packet.intent, "It crashes on empty input.")
      assert.strictEqual(packet.attempt, 2)
      assert.deepStrictEqual(packet.source, { tracker: "switchyard", issue_id: IssueId.make("SY-12"), labels: ["bug", "parser"] })
      // the issue's reproduction wins over the workflow default
      assert.strictEqual(packet.reproduction, "pnpm vitest run parser")
      // workflow validation first, then the issue's, without duplicates
      assert.deepStrictEqual(packet.validation, ["pnpm -s tsc -b", "pnpm vitest run parser", "pnpm -s lint"])
      assert.deepStrictEqual(packet.scope, ["src/parser/**"])
      assert.deepStrictEqual(packet.non_goals, ["rewrite the lexer"])
      assert.deepStrictEqual(packet.no_op_rules, NO_OP_RULES)
      assert.deepStrictEqual(packet.evidence_required, EVIDENCE_REQUIRED)
      assert.deepStrictEqual(packet.output_contract, { result_file: "/runs/result.json", format: RESULT_FORMAT })

      const noRepro = buildTaskPacket(sampleIssue({ reproduction: null }), cfg, 1, "/r.json")
      assert.strictEqual(noRepro.reproduction, "pnpm vitest run default")
      const neither = buildTaskPacket(sampleIssue({ reproduction: null }), WorkflowConfig.make({}), 1, "/r.json")
      assert.strictEqual(neither.reproduction, null)
    }))
})
