/**
 * Loading WORKFLOW.md: split the optional YAML front matter from the Liquid prompt body, decode the front matter
 * into the typed `WorkflowConfig`, and check the template parses. Pure: reading the file and resolving paths
 * against the platform (the workspace root, `<repo>/WORKFLOW.md`) is `NodeWorkflowFile` in @switchyard/node.
 *
 * Format (Symphony SPEC §5.2): when the first line is `---`, the lines up to the next `---` line are YAML front
 * matter and the rest is the prompt template; otherwise the whole file is the template and the config is `{}`.
 * The template is trimmed. Unknown keys are ignored (SPEC §5.3). Rules and defaults: docs/workflow.md.
 */
import { WorkflowConfig, WorkflowDefinition } from "@switchyard/domain"
import { Effect, Option, ParseResult, Schema, SchemaAST } from "effect"
import * as YAML from "yaml"
import { firstInvalidRoute, normalizeLabel } from "../AgentStation/routing.js"
import { WorkflowError } from "./errors.js"
import { parseTemplate } from "./prompt.js"

/** The file name the loader looks for at the repo's top level. */
export const WORKFLOW_FILE_NAME = "WORKFLOW.md"

/**
 * The prompt used when the body of WORKFLOW.md is empty. The first sentence is Symphony's minimal default
 * (SPEC §5.4); the rest points the agent at the task packet and the result file (ours).
 */
export const DEFAULT_PROMPT = [
  "You are working on an issue from the configured tracker.",
  "",
  "Issue {{ issue.id }}: {{ issue.title }}",
  "",
  "{{ issue.body }}",
  "",
  "The task packet below has the scope, reproduction, validation, no-op rules and output contract; when you are "
  + "done, write your claim as JSON to the file named by $SWITCHYARD_RESULT_FILE.",
  "",
  "{{ packet | json: 2 }}"
].join("\n")

/** The two halves of a WORKFLOW.md file. Line numbers are 1-based and count from the top of the file. */
interface SplitFile {
  /** The YAML between the `---` lines, or null when the file has no front matter. */
  readonly frontMatter: string | null
  /** File line of the first front-matter line (the one after the opening `---`). */
  readonly frontMatterLine: number
  /** The trimmed body. */
  readonly body: string
  /** File line and column of the first character of the trimmed body. */
  readonly bodyLine: number
  readonly bodyColumn: number
}

const fail = (path: string, kind: WorkflowError["kind"], reason: string, key: string | null = null) =>
  new WorkflowError({ path, kind, key, reason })

/** Where `trimmed` starts inside `raw` (its trimmed-away prefix), as a line and column offset. */
const prefixOffset = (raw: string): { readonly lines: number; readonly column: number } => {
  const prefix = raw.slice(0, raw.length - raw.trimStart().length)
  const lines = prefix.split("\n")
  return { lines: lines.length - 1, column: (lines[lines.length - 1] ?? "").length }
}

const splitFile = (path: string, text: string): Effect.Effect<SplitFile, WorkflowError> => {
  const source = text.startsWith("\uFEFF") ? text.slice(1) : text
  const lines = source.split(/\r?\n/)
  if (lines[0]?.trimEnd() !== "---") {
    const offset = prefixOffset(source)
    return Effect.succeed({
      frontMatter: null,
      frontMatterLine: 1,
      body: source.trim(),
      bodyLine: 1 + offset.lines,
      bodyColumn: 1 + offset.column
    })
  }
  const close = lines.findIndex((line, index) => index > 0 && line.trimEnd() === "---")
  if (close === -1) {
    return Effect.fail(
      fail(path, "workflow_parse_error", "the front matter opened by `---` on line 1 is never closed by a `---` line")
    )
  }
  const rawBody = lines.slice(close + 1).join("\n")
  const offset = prefixOffset(rawBody)
  return Effect.succeed({
    frontMatter: lines.slice(1, close).join("\n"),
    frontMatterLine: 2,
    body: rawBody.trim(),
    bodyLine: close + 2 + offset.lines,
    bodyColumn: 1 + offset.column
  })
}

/** Parses the front matter into a plain object. Empty front matter (or only comments) is `{}`. */
const parseFrontMatter = (
  path: string,
  yaml: string,
  firstLine: number
): Effect.Effect<Record<string, unknown>, WorkflowError> =>
  Effect.gen(function*() {
    const doc = YAML.parseDocument(yaml, { prettyErrors: true, uniqueKeys: true })
    const error = doc.errors[0]
    if (error !== undefined) {
      const where = error.linePos?.[0]
      const what = (error.message.split("\n")[0] ?? error.message).replace(/ at line \d+, column \d+:?$/, "")
      const at = where === undefined ? "" : ` (line ${where.line + firstLine - 1}, column ${where.col})`
      return yield* fail(path, "workflow_parse_error", `invalid YAML front matter: ${what}${at}`)
    }
    if (doc.contents === null) return {}
    if (!YAML.isMap(doc.contents)) {
      const got = YAML.isSeq(doc.contents)
        ? "a list"
        : YAML.isScalar(doc.contents)
        ? `the ${doc.contents.value === null ? "value null" : `${typeof doc.contents.value} ${JSON.stringify(doc.contents.value)}`}`
        : "something else"
      return yield* fail(
        path,
        "workflow_front_matter_not_a_map",
        `the front matter must be a YAML map of settings, got ${got}`
      )
    }
    const contents = doc.contents
    return yield* Effect.try({
      try: () => contents.toJS(doc, { maxAliasCount: 100 }) as Record<string, unknown>,
      catch: (cause) =>
        fail(path, "workflow_parse_error", `invalid YAML front matter: ${cause instanceof Error ? cause.message : String(cause)}`)
    })
  })

// ---------------------------------------------------------------------------------------------------------------
// Decode errors: the first offending key and a short sentence, instead of Schema's whole tree.

/** Renders a ParseResult path as a dotted key: `agent.max_attempts`, `verify.validation[0]`. */
const dottedKey = (path: ReadonlyArray<PropertyKey>): string =>
  path.reduce<string>(
    (acc, segment) =>
      typeof segment === "number" ? `${acc}[${segment}]` : acc === "" ? String(segment) : `${acc}.${String(segment)}`,
    ""
  )

const isNullish = (ast: SchemaAST.AST): boolean =>
  ast._tag === "UndefinedKeyword" || (ast._tag === "Literal" && ast.literal === null)

/** Names every refinement in a chain carries (`Int`, `positive`, `nonNegative`, ...). */
const refinementNames = (ast: SchemaAST.Refinement): { readonly names: ReadonlySet<string>; readonly base: SchemaAST.AST } => {
  const names = new Set<string>()
  let current: SchemaAST.AST = ast
  while (SchemaAST.isRefinement(current)) {
    Option.map(SchemaAST.getIdentifierAnnotation(current), (name) => names.add(name))
    Option.map(SchemaAST.getTitleAnnotation(current), (name) => names.add(name))
    current = current.from
  }
  return { names, base: current }
}

const withoutArticle = (text: string): string => text.replace(/^(a|an) /, "")

/** A short English description of what a schema accepts, e.g. `a positive integer`, `a list of strings`. */
const describe = (ast: SchemaAST.AST): string => {
  switch (ast._tag) {
    case "Refinement": {
      const { base, names } = refinementNames(ast)
      const sign = names.has("positive") ? "positive " : names.has("nonNegative") ? "non-negative " : ""
      if (names.has("Int")) return sign === "" ? "an integer" : `a ${sign}integer`
      if (sign !== "") return `a ${sign}number`
      return Option.getOrElse(SchemaAST.getDescriptionAnnotation(ast), () => describe(base))
    }
    case "StringKeyword":
      return "a string"
    case "NumberKeyword":
      return "a number"
    case "BooleanKeyword":
      return "true or false"
    case "Literal":
      return ast.literal === null ? "null" : JSON.stringify(ast.literal)
    case "TupleType": {
      const element = ast.rest[0]
      return element === undefined ? "a list" : `a list of ${withoutArticle(describe(element.type))}s`
    }
    case "TypeLiteral": {
      const index = ast.indexSignatures[0]
      return index === undefined ? "a map of settings" : `a map of names to ${withoutArticle(describe(index.type))}s`
    }
    case "Union": {
      const members = ast.types.filter((member) => !isNullish(member))
      return members.length === 0 ? "null" : members.map(describe).join(" or ")
    }
    case "Transformation":
      return describe(ast.from)
    case "Declaration":
      return describe(ast.typeParameters[0] ?? ast)
    default:
      return String(ast)
  }
}

/** A value as a reader would write it: `-1`, `"abc"`, `[1,2]`; long values are cut at 60 characters. */
const showValue = (value: unknown): string => {
  const text = value === undefined ? "nothing" : JSON.stringify(value) ?? String(value)
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}

interface Leaf {
  readonly expected: SchemaAST.AST
  readonly actual: unknown
}

/**
 * The first leaf of a ParseIssue tree (the order ArrayFormatter uses) together with the closest declared schema
 * above it: for `-1` against `Int.pipe(positive())` that is the refinement, not the inner `number` keyword.
 */
const firstLeaf = (issue: ParseResult.ParseIssue, declared: SchemaAST.AST | undefined): Leaf | undefined => {
  switch (issue._tag) {
    case "Pointer":
      return firstLeaf(issue.issue, undefined)
    case "Composite": {
      const first = Array.isArray(issue.issues) ? issue.issues[0] : issue.issues
      const here = declared ?? (SchemaAST.isUnion(issue.ast) ? issue.ast : undefined)
      return first === undefined ? undefined : firstLeaf(first as ParseResult.ParseIssue, here)
    }
    case "Refinement":
      return issue.kind === "Predicate"
        ? { expected: declared ?? issue.ast, actual: issue.actual }
        : firstLeaf(issue.issue, declared ?? issue.ast)
    case "Transformation":
      return firstLeaf(issue.issue, declared)
    case "Type":
      return { expected: declared ?? issue.ast, actual: issue.actual }
    default:
      return undefined
  }
}

/** Maps a WorkflowConfig decode failure to `workflow_invalid_config` naming the first offending key. */
const invalidConfig = (path: string, error: ParseResult.ParseError): WorkflowError => {
  const first = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  const key = first === undefined || first.path.length === 0 ? null : dottedKey(first.path)
  const leaf = firstLeaf(error.issue, undefined)
  const reason = leaf !== undefined
    ? `expected ${describe(leaf.expected)}, got ${showValue(leaf.actual)}`
    : first !== undefined
    ? first.message.replace(/^Expected/, "expected").replace(/, actual /, ", got ")
    : "invalid settings"
  return fail(path, "workflow_invalid_config", reason, key)
}

/**
 * Normalizes `agent.max_concurrent_agents_by_label` keys (trim + lowercase, as Symphony does for its per-state
 * map, SPEC §5.3.5). A blank key, or two keys that normalize to the same label, is `workflow_invalid_config`.
 */
const normalizeLabelCaps = (path: string, config: WorkflowConfig): Effect.Effect<WorkflowConfig, WorkflowError> => {
  const key = "agent.max_concurrent_agents_by_label"
  const caps: Record<string, number> = {}
  const seen = new Map<string, string>()
  for (const [label, cap] of Object.entries<number>(config.agent.max_concurrent_agents_by_label)) {
    const normalized = normalizeLabel(label)
    if (normalized === "") return Effect.fail(fail(path, "workflow_invalid_config", "label names must not be blank", key))
    const previous = seen.get(normalized)
    if (previous !== undefined) {
      return Effect.fail(
        fail(
          path,
          "workflow_invalid_config",
          `labels ${JSON.stringify(previous)} and ${JSON.stringify(label)} are the same label once trimmed and lower-cased`,
          key
        )
      )
    }
    seen.set(normalized, label)
    caps[normalized] = cap
  }
  return Effect.succeed(
    WorkflowConfig.make({ ...config, agent: { ...config.agent, max_concurrent_agents_by_label: caps } })
  )
}

/**
 * Every `routes[i].agent` must name a station under `agents:` (docs/agents.md "Routing"; the rule is
 * `firstInvalidRoute`); otherwise the file is `workflow_invalid_config` at load time, naming the route, instead of
 * each routed attempt failing at run time.
 */
const checkRoutes = (path: string, config: WorkflowConfig): Effect.Effect<WorkflowConfig, WorkflowError> => {
  const invalid = firstInvalidRoute(config)
  return invalid === null
    ? Effect.succeed(config)
    : Effect.fail(fail(path, "workflow_invalid_config", invalid.reason, `routes.${invalid.index}.agent`))
}

/**
 * Parses the text of a WORKFLOW.md file.
 *
 * - `path` is only recorded in the definition and in errors; nothing is read.
 * - Front matter: optional, between a first line `---` and the next `---` line (SPEC §5.2). Parsed with the
 *   `yaml` package (YAML 1.2, duplicate keys rejected) and decoded into `WorkflowConfig` (defaults built in,
 *   unknown keys ignored, SPEC §5.3). `agent.max_concurrent_agents_by_label` keys are trimmed and lower-cased.
 * - Body: trimmed; parsed once with liquidjs (strict filters) to catch syntax errors early. An empty body is
 *   replaced with {@link DEFAULT_PROMPT} (SPEC §5.4 MAY).
 *
 * Fails with `WorkflowError`, kind (SPEC §5.5 plus ours):
 * - `workflow_parse_error`: YAML syntax error (with file line and column) or an unclosed front matter;
 * - `workflow_front_matter_not_a_map`: the front matter is a list or a scalar;
 * - `workflow_invalid_config`: a value has the wrong type or range; `key` is the dotted path of the first
 *   offending key (e.g. `agent.max_attempts`) and `reason` a sentence like `expected a positive integer, got -1`;
 *   also a route naming an agent that `agents:` does not define (`routes.<i>.agent`);
 * - `template_parse_error`: a Liquid syntax error or unknown filter, with the file line and column.
 */
export const parseWorkflow = (path: string, text: string): Effect.Effect<WorkflowDefinition, WorkflowError> =>
  Effect.gen(function*() {
    const split = yield* splitFile(path, text)
    const raw = split.frontMatter === null ? {} : yield* parseFrontMatter(path, split.frontMatter, split.frontMatterLine)
    const decoded = yield* Schema.decodeUnknown(WorkflowConfig)(raw).pipe(
      Effect.mapError((error) => invalidConfig(path, error))
    )
    const config = yield* normalizeLabelCaps(path, decoded).pipe(Effect.flatMap((c) => checkRoutes(path, c)))
    const template = split.body === "" ? DEFAULT_PROMPT : split.body
    yield* parseTemplate(template).pipe(
      Effect.mapError((error) =>
        fail(
          path,
          "template_parse_error",
          error.reason.replace(
            /\(line (\d+), column (\d+)\)$/,
            (_, line: string, column: string) =>
              `(line ${Number(line) + split.bodyLine - 1}, column ${
                Number(line) === 1 ? Number(column) + split.bodyColumn - 1 : Number(column)
              })`
          )
        )
      )
    )
    return WorkflowDefinition.make({ path, config, prompt_template: template })
  })
