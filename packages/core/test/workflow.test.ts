import { assert, describe, it } from "@effect/vitest"
import { WorkflowDefinition } from "@switchyard/domain"
import { Effect } from "effect"
import { spawnSync } from "node:child_process"
import {
  DEFAULT_PROMPT,
  defaultWorkflowFile,
  parseWorkflow,
  renderWorkflowFile,
  validationCommands,
  Workflow,
  WorkflowError
} from "../src/Workflow/index.js"

const parse = (text: string) => parseWorkflow("/repo/WORKFLOW.md", text)
const parseError = (text: string) => Effect.flip(parse(text))

describe("parseWorkflow", () => {
  it.effect("a file without front matter is all prompt, with every default", () =>
    Effect.gen(function*() {
      const def = yield* parse("\n  Fix {{ issue.id }} please.  \n\n")
      assert.strictEqual(def.prompt_template, "Fix {{ issue.id }} please.")
      assert.strictEqual(def.path, "/repo/WORKFLOW.md")
      const c = def.config
      // Symphony SPEC §0 constants
      assert.strictEqual(c.polling.interval_ms, 30_000)
      assert.strictEqual(c.hooks.timeout_ms, 60_000)
      assert.strictEqual(c.agent.max_concurrent_agents, 10)
      assert.strictEqual(c.agent.max_turns, 20)
      assert.strictEqual(c.agent.max_retry_backoff_ms, 300_000)
      assert.strictEqual(c.agent.stall_timeout_ms, 300_000)
      assert.strictEqual(c.agent.timeout_ms, 3_600_000)
      assert.strictEqual(c.agent.retry_base_delay_ms, 10_000)
      // ours
      assert.strictEqual(c.workspace.root, null)
      assert.strictEqual(c.agent.kind, "command")
      assert.strictEqual(c.agent.command, null)
      assert.strictEqual(c.agent.max_attempts, 3)
      assert.deepStrictEqual(c.agent.max_concurrent_agents_by_label, {})
      assert.strictEqual(c.agent.permission_mode, "acceptEdits")
      assert.deepStrictEqual(c.agent.allowed_tools, ["Bash"])
      assert.strictEqual(c.agent.max_revisions, 2)
      assert.strictEqual(c.agent.max_cost_usd, null)
      assert.deepStrictEqual(c.agents, {})
      assert.deepStrictEqual(c.routes, [])
      assert.deepStrictEqual(c.verify, {
        validation: [],
        reproduction: null,
        timeout_ms: 600_000,
        max_added_file_bytes: 1_048_576,
        protected_paths: [],
        compare_test_counts: true,
        base_cache: true,
        reuse_install: true,
        env: []
      })
      assert.deepStrictEqual(c.orchestrator, { heartbeat_ms: 5_000, lease_ttl_ms: 30_000, worktree_retention_ms: 0, max_runner_deaths: 3 })
      assert.deepStrictEqual(c.hooks, {
        after_create: null,
        before_run: null,
        after_run: null,
        before_remove: null,
        timeout_ms: 60_000,
        env: []
      })
      assert.deepStrictEqual(c.sandbox, { confinement: "bwrap", network: "none", readable: [], writable: [], hidden: [], package_store: "auto" })
    }))

  it.effect("empty front matter and null values mean the defaults", () =>
    Effect.gen(function*() {
      const empty = yield* parse("---\n---\nbody")
      assert.strictEqual(empty.config.polling.interval_ms, 30_000)
      assert.strictEqual(empty.prompt_template, "body")
      const nulls = yield* parse("---\n# only a comment\nagent:\n  max_attempts: null\nverify: null\n---\nbody")
      assert.strictEqual(nulls.config.agent.max_attempts, 3)
      assert.strictEqual(nulls.config.verify.timeout_ms, 600_000)
    }))

  it.effect("decodes a full config", () =>
    Effect.gen(function*() {
      const def = yield* parse(`---
polling:
  interval_ms: 1000
workspace:
  root: ./sandboxes
hooks:
  after_create: |
    pnpm install --offline
    echo ready
  before_run: echo before
  after_run: echo after
  before_remove: echo bye
  timeout_ms: 5000
agent:
  kind: command
  command: claude -p "$(cat prompt.md)"
  max_concurrent_agents: 4
  max_concurrent_agents_by_label: { migration: 1 }
  max_attempts: 5
  retry_base_delay_ms: 2000
  max_retry_backoff_ms: 60000
  timeout_ms: 900000
  stall_timeout_ms: 0
  max_turns: 7
  max_log_bytes: 1048576
verify:
  validation: ["pnpm -s tsc -b", "pnpm vitest run"]
  reproduction: pnpm vitest run repro
  timeout_ms: 120000
orchestrator:
  heartbeat_ms: 1000
  lease_ttl_ms: 9000
  worktree_retention_ms: 86400000
---
Do {{ issue.title }}.
`)
      const c = def.config
      assert.strictEqual(c.polling.interval_ms, 1000)
      assert.strictEqual(c.workspace.root, "./sandboxes")
      assert.deepStrictEqual(c.hooks, {
        after_create: "pnpm install --offline\necho ready\n",
        before_run: "echo before",
        after_run: "echo after",
        before_remove: "echo bye",
        timeout_ms: 5000,
        env: []
      })
      assert.deepStrictEqual(c.agent, {
        kind: "command",
        command: "claude -p \"$(cat prompt.md)\"",
        max_concurrent_agents: 4,
        max_concurrent_agents_by_label: { migration: 1 },
        max_attempts: 5,
        retry_base_delay_ms: 2000,
        max_retry_backoff_ms: 60000,
        timeout_ms: 900000,
        stall_timeout_ms: 0,
        max_turns: 7,
        model: null,
        permission_mode: "acceptEdits",
        allowed_tools: ["Bash"],
        disallowed_tools: [],
        append_system_prompt: null,
        env: [],
        base_url: null,
        extra_args: [],
        max_cost_usd: null,
        max_tokens: null,
        max_log_bytes: 1_048_576,
        max_revisions: 2,
        max_ci_revisions: 2
      })
      assert.deepStrictEqual(c.verify, {
        validation: ["pnpm -s tsc -b", "pnpm vitest run"],
        reproduction: "pnpm vitest run repro",
        timeout_ms: 120000,
        max_added_file_bytes: 1_048_576,
        protected_paths: [],
        compare_test_counts: true,
        base_cache: true,
        reuse_install: true,
        env: []
      })
      assert.deepStrictEqual(c.orchestrator, { heartbeat_ms: 1000, lease_ttl_ms: 9000, worktree_retention_ms: 86400000, max_runner_deaths: 3 })
      assert.strictEqual(def.prompt_template, "Do {{ issue.title }}.")
    }))

  it.effect("ignores unknown keys, so a Symphony file decodes", () =>
    Effect.gen(function*() {
      const def = yield* parse(`---
tracker:
  kind: linear
  active_states: [Todo, In Progress]
  assignee: me
  required_labels: [Symphony]
codex:
  command: codex app-server
agent:
  max_concurrent_agents: 3
  max_concurrent_agents_by_state: { todo: 2 }
  surprise: true
server:
  port: 4000
---
{{ issue.identifier }}`)
      assert.strictEqual(def.config.agent.max_concurrent_agents, 3)
      assert.isFalse("surprise" in def.config.agent)
      // Symphony's tracker keys are read (docs/trackers.md, "Linear"); unknown ones elsewhere are ignored.
      assert.strictEqual(def.config.tracker.kind, "linear")
      assert.deepStrictEqual(def.config.tracker.required_labels, ["Symphony"])
      assert.deepStrictEqual(def.config.tracker.active_states, ["Todo", "In Progress"])
      // `assignee` is read (GitHub applies it); the Linear tracker does not apply Symphony's `me` yet (docs/trackers.md).
      assert.strictEqual(def.config.tracker.assignee, "me")
    }))

  it.effect("accepts CRLF line endings and a byte-order mark", () =>
    Effect.gen(function*() {
      const def = yield* parse("\uFEFF---\r\nagent:\r\n  max_attempts: 7\r\n---\r\nhello\r\n")
      assert.strictEqual(def.config.agent.max_attempts, 7)
      assert.strictEqual(def.prompt_template, "hello")
    }))

  it.effect("an empty body gets the default prompt", () =>
    Effect.gen(function*() {
      const def = yield* parse("---\npolling:\n  interval_ms: 5000\n---\n   \n")
      assert.strictEqual(def.prompt_template, DEFAULT_PROMPT)
      assert.isTrue(def.prompt_template.startsWith("You are working on an issue from the configured tracker."))
      assert.include(def.prompt_template, "$SWITCHYARD_RESULT_FILE")
    }))

  it.effect("normalizes label caps: trimmed and lower-cased", () =>
    Effect.gen(function*() {
      const def = yield* parse("---\nagent:\n  max_concurrent_agents_by_label:\n    ' Needs Review ': 2\n    Migration: 1\n---\nx")
      assert.deepStrictEqual(def.config.agent.max_concurrent_agents_by_label, { "needs review": 2, migration: 1 })
    }))

  it.effect("rejects blank and colliding label caps", () =>
    Effect.gen(function*() {
      const blank = yield* parseError("---\nagent:\n  max_concurrent_agents_by_label: { '  ': 2 }\n---\nx")
      assert.strictEqual(blank.kind, "workflow_invalid_config")
      assert.strictEqual(blank.key, "agent.max_concurrent_agents_by_label")
      assert.strictEqual(blank.reason, "label names must not be blank")
      const twice = yield* parseError("---\nagent:\n  max_concurrent_agents_by_label: { Bug: 2, ' bug': 1 }\n---\nx")
      assert.strictEqual(twice.kind, "workflow_invalid_config")
      assert.include(twice.reason, "same label")
    }))

  it.effect("a route naming an agent that agents: does not define is rejected at load time", () =>
    Effect.gen(function*() {
      const unknown = yield* parseError(
        "---\nagents:\n  fast: { kind: command, command: 'echo' }\nroutes:\n  - { label: ui, agent: fast }\n  - { label: db, agent: slow }\n---\nx"
      )
      assert.strictEqual(unknown.kind, "workflow_invalid_config")
      assert.strictEqual(unknown.key, "routes.1.agent")
      assert.include(unknown.reason, "\"slow\"")
      assert.include(unknown.reason, "defines only \"fast\"")
      const none = yield* parseError("---\nroutes:\n  - { label: ui, agent: claude }\n---\nx")
      assert.strictEqual(none.key, "routes.0.agent")
      assert.include(none.reason, "defines no station")
      const ok = yield* parse("---\nagents:\n  fast: { kind: command, command: 'echo' }\nroutes:\n  - { label: ui, agent: fast }\n---\nx")
      assert.deepStrictEqual(ok.config.routes, [{ label: "ui", agent: "fast" }])
    }))

  it.effect("a YAML syntax error is workflow_parse_error with the file line", () =>
    Effect.gen(function*() {
      const error = yield* parseError("---\npolling:\n  interval_ms: 1\na: b: c\n---\nbody")
      assert.instanceOf(error, WorkflowError)
      assert.strictEqual(error.kind, "workflow_parse_error")
      assert.strictEqual(error.key, null)
      assert.strictEqual(
        error.reason,
        "invalid YAML front matter: Nested mappings are not allowed in compact mappings (line 4, column 4)"
      )
      assert.strictEqual(
        error.message,
        "/repo/WORKFLOW.md: invalid YAML front matter: Nested mappings are not allowed in compact mappings (line 4, column 4) [workflow_parse_error]"
      )
      const duplicate = yield* parseError("---\nagent: {}\nagent: {}\n---\nbody")
      assert.strictEqual(duplicate.kind, "workflow_parse_error")
      assert.include(duplicate.reason, "(line 3, column 1)")
    }))

  it.effect("an unclosed front matter is workflow_parse_error", () =>
    Effect.gen(function*() {
      const error = yield* parseError("---\nagent:\n  max_attempts: 2\nDo the thing.")
      assert.strictEqual(error.kind, "workflow_parse_error")
      assert.include(error.reason, "never closed")
    }))

  it.effect("front matter that is not a map is workflow_front_matter_not_a_map", () =>
    Effect.gen(function*() {
      const list = yield* parseError("---\n- a\n- b\n---\nbody")
      assert.strictEqual(list.kind, "workflow_front_matter_not_a_map")
      assert.strictEqual(list.reason, "the front matter must be a YAML map of settings, got a list")
      const scalar = yield* parseError("---\njust words\n---\nbody")
      assert.strictEqual(scalar.kind, "workflow_front_matter_not_a_map")
      assert.include(scalar.reason, "got the string \"just words\"")
    }))

  it.effect("an invalid value names the first offending key and says what was expected", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [string, string, string]> = [
        ["agent:\n  max_attempts: -1", "agent.max_attempts", "expected a positive integer, got -1"],
        ["agent:\n  max_attempts: 1.5", "agent.max_attempts", "expected a positive integer, got 1.5"],
        ["polling:\n  interval_ms: fast", "polling.interval_ms", "expected a positive integer, got \"fast\""],
        ["agent:\n  kind: gpt", "agent.kind", "expected \"command\" or \"claude-code\" or \"codex\", got \"gpt\""],
        ["agent:\n  command: 5", "agent.command", "expected a string, got 5"],
        ["verify:\n  validation: [ok, 1]", "verify.validation[1]", "expected a string, got 1"],
        ["verify:\n  validation: pnpm test", "verify.validation", "expected a list of strings, got \"pnpm test\""],
        ["polling: 3", "polling", "expected a map of settings, got 3"],
        [
          "agent:\n  max_concurrent_agents_by_label: { bug: 0 }",
          "agent.max_concurrent_agents_by_label.bug",
          "expected a positive integer, got 0"
        ],
        [
          "orchestrator:\n  worktree_retention_ms: -5",
          "orchestrator.worktree_retention_ms",
          "expected a non-negative integer, got -5"
        ],
        // two bad keys: the first one in schema order (polling comes before agent) is reported
        ["agent:\n  max_attempts: 0\npolling:\n  interval_ms: -3", "polling.interval_ms", "expected a positive integer, got -3"]
      ]
      for (const [yaml, key, reason] of cases) {
        const error = yield* parseError(`---\n${yaml}\n---\nbody`)
        assert.strictEqual(error.kind, "workflow_invalid_config", yaml)
        assert.strictEqual(error.key, key, yaml)
        assert.strictEqual(error.reason, reason, yaml)
      }
      const error = yield* parseError("---\nagent:\n  max_attempts: -1\n---\nbody")
      assert.strictEqual(
        error.message,
        "/repo/WORKFLOW.md (agent.max_attempts): expected a positive integer, got -1 [workflow_invalid_config]"
      )
    }))

  it.effect("a template syntax error or unknown filter is template_parse_error with the file line", () =>
    Effect.gen(function*() {
      const unclosed = yield* parseError("---\nagent: {}\n---\n\nHello\n{% if issue.id %}\nno end")
      assert.strictEqual(unclosed.kind, "template_parse_error")
      assert.strictEqual(unclosed.reason, "tag {% if issue.id %} not closed (line 6, column 1)")
      const filter = yield* parseError("---\nagent: {}\n---\n  Hi {{ issue.id | shout }}")
      assert.strictEqual(filter.kind, "template_parse_error")
      assert.strictEqual(filter.reason, "undefined filter: shout (line 4, column 6)")
      const noFrontMatter = yield* parseError("{{ issue.id ")
      assert.strictEqual(noFrontMatter.kind, "template_parse_error")
    }))
})

describe("Workflow.layerStatic", () => {
  it.effect("layerStatic serves a fixed definition", () =>
    Effect.gen(function*() {
      const def = yield* parseWorkflow("/x/WORKFLOW.md", "static")
      const workflow = yield* Workflow.pipe(Effect.provide(Workflow.layerStatic(def, "/x", "/x/.sy")))
      assert.strictEqual(workflow.repoRoot, "/x")
      assert.strictEqual(workflow.stateDir, "/x/.sy")
      assert.strictEqual(yield* workflow.current, def)
    }))
})

describe("defaultWorkflowFile", () => {
  it.effect("parses, and every key has its default except agent.command", () =>
    Effect.gen(function*() {
      const def = yield* parseWorkflow("/repo/WORKFLOW.md", defaultWorkflowFile)
      const defaults = (yield* parseWorkflow("/repo/WORKFLOW.md", "x")).config
      assert.deepStrictEqual(
        { ...def.config, agent: { ...def.config.agent, command: null } },
        { ...defaults }
      )
      assert.include(def.prompt_template, "{{ issue.id }}")
      assert.include(def.prompt_template, "$SWITCHYARD_RESULT_FILE")
      assert.instanceOf(def, WorkflowDefinition)
    }))

  it.effect("documents every key with a comment", () =>
    Effect.gen(function*() {
      const def = yield* parseWorkflow("/repo/WORKFLOW.md", defaultWorkflowFile)
      const lines = defaultWorkflowFile.split("\n")
      for (const [section, values] of Object.entries(def.config)) {
        for (const key of Object.keys(values as object)) {
          const line = lines.find((l) => l.trimStart().startsWith(`${key}:`))
          assert.isDefined(line, `${section}.${key} is in the file`)
          assert.include(line, "#", `${section}.${key} has a comment`)
        }
      }
    }))

  it.live("the placeholder agent.command fails clearly", () =>
    Effect.gen(function*() {
      const def = yield* parseWorkflow("/repo/WORKFLOW.md", defaultWorkflowFile)
      const command = def.config.agent.command
      assert.isNotNull(command)
      const result = yield* Effect.sync(() => spawnSync("sh", ["-c", command ?? ""], { encoding: "utf8" }))
      assert.strictEqual(result.status, 2)
      assert.include(result.stderr, "set agent.command in WORKFLOW.md")
    }))
})

describe("renderWorkflowFile", () => {
  it.effect("fills in the install hook and validation, still parses, and keeps every other default", () =>
    Effect.gen(function*() {
      const text = renderWorkflowFile({
        install: "pnpm install --frozen-lockfile --prefer-offline",
        validation: ["pnpm run typecheck", "pnpm test"]
      })
      const def = yield* parseWorkflow("/repo/WORKFLOW.md", text)
      assert.strictEqual(def.config.hooks.after_create, "pnpm install --frozen-lockfile --prefer-offline")
      assert.deepStrictEqual(def.config.verify.validation, ["pnpm run typecheck", "pnpm test"])
      const base = (yield* parseWorkflow("/repo/WORKFLOW.md", defaultWorkflowFile)).config
      assert.deepStrictEqual(
        { ...def.config, hooks: base.hooks, verify: base.verify },
        { ...base }
      )
      assert.include(text.split("\n").find((l) => l.includes("after_create:")), "#")
    }))

  it("with nothing detected it is exactly the default file", () => {
    assert.strictEqual(renderWorkflowFile({ install: null, validation: [] }), defaultWorkflowFile)
  })

  it("validation comes from the typecheck, lint and test scripts, in that order, skipping npm init's placeholder", () => {
    assert.deepStrictEqual(
      validationCommands("pnpm", { test: "vitest run", build: "tsc", lint: "eslint .", typecheck: "tsc -b" }),
      ["pnpm run typecheck", "pnpm run lint", "pnpm test"]
    )
    assert.deepStrictEqual(validationCommands("npm", { test: "echo \"Error: no test specified\" && exit 1" }), [])
    assert.deepStrictEqual(validationCommands("yarn", { test: "  " }), [])
  })
})
