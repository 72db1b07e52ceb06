/**
 * Rendering the WORKFLOW.md prompt template with liquidjs in strict mode (Symphony SPEC §5.4, §12): an unknown
 * variable or filter fails the render instead of printing nothing.
 *
 * A template is code from the repo, and a 90-byte loop can render a 135 MB prompt (threat model A20), so every
 * parse and render is bounded: the template's length ({@link MAX_TEMPLATE_CHARS}, liquidjs `parseLimit`), the
 * render time ({@link RENDER_LIMIT_MS}, `renderLimit`), what filters and ranges allocate ({@link MEMORY_LIMIT},
 * `memoryLimit`), and the rendered prompt itself ({@link MAX_PROMPT_BYTES}, checked as it is written, so a loop
 * stops at the limit instead of running to the end). Each limit fails the render with a one-line reason naming it.
 */
import type { Issue, IssueStatus, TaskPacket } from "@switchyard/domain"
import { DateTime, Effect } from "effect"
import { assert, Context, Drop, type Emitter, Liquid, type Template, toValue, toValueSync } from "liquidjs"
import { PromptRenderError } from "./errors.js"

/** The longest prompt template, in characters (liquidjs `parseLimit`): 1 Mi. */
export const MAX_TEMPLATE_CHARS = 1024 * 1024
/** The longest a render may take, in ms (liquidjs `renderLimit`); a normal prompt takes about 1 ms. */
export const RENDER_LIMIT_MS = 2_000
/**
 * What one render may allocate, in liquidjs units (liquidjs `memoryLimit`): elements of ranges and arrays, and
 * characters of strings that filters build (`json`, `join`, `append`, ...). 16 Mi.
 */
export const MEMORY_LIMIT = 16 * 1024 * 1024
/**
 * The largest rendered prompt, in UTF-8 bytes: 2 MiB. More than any model's context holds (about 200k tokens are
 * well under 1 MiB of text), and room for an issue body at its limit (`MAX_BODY_BYTES`) shown twice.
 */
export const MAX_PROMPT_BYTES = 2 * 1024 * 1024

/**
 * One engine for every template. `templates: {}` replaces the file system, so `{% include %}`/`{% render %}`
 * cannot read files from disk (a template comes from the repo, but it should not read outside it).
 */
const engine = new Liquid({
  strictVariables: true,
  strictFilters: true,
  ownPropertyOnly: true,
  templates: {},
  parseLimit: MAX_TEMPLATE_CHARS,
  renderLimit: RENDER_LIMIT_MS,
  memoryLimit: MEMORY_LIMIT
})

const PROMPT_TOO_LARGE = `the rendered prompt is over ${MAX_PROMPT_BYTES} bytes (2 MiB, the prompt size limit)`

/** liquidjs's own `stringify` (not exported): what an output tag writes for a value. */
const stringify = (value: unknown): string => {
  const plain: unknown = toValue(value)
  if (typeof plain === "string") return plain
  if (plain === null || plain === undefined) return ""
  if (Array.isArray(plain)) return plain.map(stringify).join("")
  return String(plain)
}

/**
 * An emitter that stops the render once the output passes {@link MAX_PROMPT_BYTES}: a write over it fails the
 * render at once (liquidjs `assert`, the library's own way to abort, as its limits do), so a runaway loop costs
 * at most 2 MiB of output. Characters are counted here (never more than the UTF-8 bytes); bytes are checked at
 * the end.
 */
class CappedEmitter implements Emitter {
  buffer = ""
  overflowed = false
  write(html: unknown): void {
    const text = stringify(html)
    if (this.buffer.length + text.length > MAX_PROMPT_BYTES) this.overflowed = true
    assert(!this.overflowed, PROMPT_TOO_LARGE)
    this.buffer += text
  }
}

/** Parsed templates by their text. Bounded: the oldest entry goes once it holds {@link CACHE_LIMIT} texts. */
const cache = new Map<string, Array<Template>>()
const CACHE_LIMIT = 64

/** What to say for each liquidjs limit (its message starts with `<resource> limit exceeded`). */
const LIMIT_REASONS: ReadonlyArray<readonly [string, string]> = [
  [
    "parse length limit exceeded",
    `the template is longer than ${MAX_TEMPLATE_CHARS} characters (1 Mi, the template size limit, liquidjs parseLimit)`
  ],
  [
    "template render limit exceeded",
    `rendering took longer than ${RENDER_LIMIT_MS} ms (the render time limit, liquidjs renderLimit); look for a loop that runs too long`
  ],
  [
    "memory alloc limit exceeded",
    `the template built more than ${MEMORY_LIMIT} elements or characters (16 Mi, the render memory limit, liquidjs memoryLimit); look for a large range or a filter in a loop`
  ]
]

/** A liquidjs error as one clean line: `undefined variable: issue.nope (line 2, column 4)`. */
const liquidReason = (error: unknown): string => {
  const message = error instanceof Error ? error.message : String(error)
  const first = message.split("\n")[0] ?? message
  const limit = LIMIT_REASONS.find(([prefix]) => first.startsWith(prefix))
  return limit !== undefined ? limit[1] : first.replace(/, line:(\d+), col:(\d+)$/, " (line $1, column $2)")
}

/**
 * Parses a Liquid template (strict filters: an unknown filter is a parse error), caching the result by text so
 * repeated renders of the same WORKFLOW.md body parse once. Fails with `PromptRenderError` whose reason is one
 * line, e.g. `undefined filter: shout (line 1, column 1)`; line and column count within `template`.
 */
export const parseTemplate = (template: string): Effect.Effect<ReadonlyArray<Template>, PromptRenderError> =>
  Effect.suspend(() => {
    const cached = cache.get(template)
    if (cached !== undefined) return Effect.succeed(cached)
    return Effect.try({
      try: () => engine.parse(template),
      catch: (error) => new PromptRenderError({ reason: liquidReason(error) })
    }).pipe(
      Effect.tap((parsed) =>
        Effect.sync(() => {
          if (cache.size >= CACHE_LIMIT) {
            const oldest = cache.keys().next()
            if (oldest.done !== true) cache.delete(oldest.value)
          }
          cache.set(template, parsed)
        })
      )
    )
  })

/** What a prompt is rendered from. `attempt` is 1-based (the first run is 1). */
export interface PromptInput {
  readonly issue: Issue
  readonly attempt: number
  readonly packet: TaskPacket
  /** The status of each of `issue.blocked_by` the tracker knows (`Tracker.statuses`); a missing id renders as null. */
  readonly blockerStatuses?: ReadonlyMap<string, IssueStatus>
}

/**
 * One entry of `issue.blocked_by` in a template. It reads as the blocker's id wherever a string is expected
 * (`{{ b }}`, `join`, `contains`, comparisons), so templates written for a list of ids keep working, and it has
 * Symphony's blocker-ref fields (SPEC §4.1.1) `id`, `identifier` and `state`, plus `status` (= state; null when
 * the blocker is unknown to the tracker).
 */
export class BlockerRef extends Drop {
  readonly id: string
  readonly identifier: string
  readonly state: IssueStatus | null
  readonly status: IssueStatus | null
  constructor(id: string, state: IssueStatus | null) {
    super()
    this.id = id
    this.identifier = id
    this.state = state
    this.status = state
  }
  override valueOf(): string {
    return this.id
  }
  override toString(): string {
    return this.id
  }
}

/**
 * The `issue` template variable: every Issue field (timestamps as ISO-8601 strings, arrays kept as arrays so a
 * template can iterate them) plus Symphony's field names (SPEC §4.1.1) so a Symphony template renders unchanged:
 * `identifier` (= id), `description` (= body), `state` (= status), `url` (null), `branch_name`
 * (`switchyard/<id>`), `assignee_id` (null), `native_ref` (null), `dispatchable` (true). `blocked_by` is a list
 * of {@link BlockerRef}s, their states taken from `blockerStatuses` (issue id → status; absent ids are null).
 */
export const issueVariables = (
  issue: Issue,
  blockerStatuses: ReadonlyMap<string, IssueStatus> = new Map()
): Record<string, unknown> => ({
  id: issue.id,
  title: issue.title,
  body: issue.body,
  status: issue.status,
  priority: issue.priority,
  labels: [...issue.labels],
  parent: issue.parent,
  blocked_by: issue.blocked_by.map((id) => new BlockerRef(id, blockerStatuses.get(id) ?? null)),
  reproduction: issue.reproduction,
  validation: [...issue.validation],
  scope: [...issue.scope],
  non_goals: [...issue.non_goals],
  comments: issue.comments.map((comment) => ({
    author: comment.author,
    body: comment.body,
    created_at: DateTime.formatIso(comment.created_at)
  })),
  created_at: DateTime.formatIso(issue.created_at),
  updated_at: DateTime.formatIso(issue.updated_at),
  identifier: issue.id,
  description: issue.body,
  state: issue.status,
  url: null,
  branch_name: `switchyard/${issue.id}`,
  assignee_id: null,
  native_ref: null,
  dispatchable: true
})

/** The `packet` template variable: the TaskPacket's fields, snake_case as in the class, as plain data. */
export const packetVariables = (packet: TaskPacket): Record<string, unknown> => ({
  issue_id: packet.issue_id,
  title: packet.title,
  intent: packet.intent,
  source: { tracker: packet.source.tracker, issue_id: packet.source.issue_id, labels: [...packet.source.labels] },
  attempt: packet.attempt,
  scope: [...packet.scope],
  non_goals: [...packet.non_goals],
  reproduction: packet.reproduction,
  validation: [...packet.validation],
  no_op_rules: [...packet.no_op_rules],
  evidence_required: [...packet.evidence_required],
  output_contract: { result_file: packet.output_contract.result_file, format: packet.output_contract.format }
})

/**
 * Every variable a template sees: `issue` ({@link issueVariables}), `attempt` (null on the first run, else the
 * 1-based attempt number, SPEC §5.4/§12.3) and `packet` ({@link packetVariables}).
 */
export const promptScope = (input: PromptInput): Record<string, unknown> => ({
  issue: issueVariables(input.issue, input.blockerStatuses),
  attempt: input.attempt === 1 ? null : input.attempt,
  packet: packetVariables(input.packet)
})

/**
 * Renders a prompt template for one attempt with liquidjs (strictVariables, strictFilters). The variables are
 * those of {@link promptScope}. Parsed templates are cached by text.
 *
 * Fails with `PromptRenderError` (Symphony's `template_render_error`, SPEC §5.5) when the template does not parse
 * or names an unknown variable or filter; the reason is one line with the template line and column, e.g.
 * `undefined variable: issue.nope (line 2, column 4)`. Only the attempt fails (SPEC §12.4). It also fails, with a
 * reason naming the limit, when the template is over {@link MAX_TEMPLATE_CHARS} characters, the render takes over
 * {@link RENDER_LIMIT_MS} ms or allocates over {@link MEMORY_LIMIT}, or the prompt passes {@link MAX_PROMPT_BYTES}
 * bytes (UTF-8); the render stops as soon as one is reached.
 */
export const renderPrompt = (template: string, input: PromptInput): Effect.Effect<string, PromptRenderError> =>
  parseTemplate(template).pipe(
    Effect.flatMap((parsed) => {
      const emitter = new CappedEmitter()
      return Effect.try({
        try: () => {
          const context = new Context(promptScope(input), engine.options, { sync: true }, { liquid: engine })
          toValueSync(engine.renderer.renderTemplates(parsed as Array<Template>, context, emitter))
          return emitter.buffer
        },
        catch: (error) => new PromptRenderError({ reason: emitter.overflowed ? PROMPT_TOO_LARGE : liquidReason(error) })
      })
    }),
    Effect.filterOrFail(
      (prompt) => Buffer.byteLength(prompt, "utf8") <= MAX_PROMPT_BYTES,
      () => new PromptRenderError({ reason: PROMPT_TOO_LARGE })
    )
  )
