/**
 * `switchyard demo`: the main job on a real example. Builds a small git monorepo with real `node --test` tests
 * in a temp dir, files five issues designed to end in each terminal state (one through a retry), runs the line,
 * and explains what happened.
 *
 * The agent is the real Claude Code CLI when its binary runs here (the devDependency of @switchyard/twin, or
 * `claude` on PATH), driven by a scripted model twin started in this process: a local Messages API server that
 * replays one playbook per issue doing what the scripted agent does. No real model is involved, but Claude Code's
 * tools run for real in each sandbox. Without the binary (or with `--agent command`) the scripted command agent
 * from examples/agents/ runs instead.
 */
import { Command, type CommandExecutor, FileSystem, Path } from "@effect/platform"
import { EvidenceStore, Orchestrator, renderEvidenceMarkdown, runLine, Tracker } from "@switchyard/core"
import { IssueInput } from "@switchyard/domain"
import { BwrapConfinement, ProcessRunner } from "@switchyard/node"
import { GitHubTwin, LinearTwin, Playbook, Twin } from "@switchyard/twin"
import { Config, Console, Duration, Effect, Option, Schema } from "effect"
import { fileURLToPath } from "node:url"
import { lineLayer, statePaths } from "../../layers.js"
import { ensureStateDir } from "../../store.js"
import { printProgress } from "../../view/progress.js"
import { cell, print, row } from "../../view/doc.js"
import { statusView } from "../../view/status.js"
import { statusSnapshot } from "../status/snapshot.js"
import type { DemoAgent, DemoOptions, DemoTracker } from "./options.js"

const files: Record<string, string> = {
  "package.json": JSON.stringify(
    { name: "example-shop", private: true, type: "module", workspaces: ["packages/*"], scripts: { test: "node --test" } },
    null,
    2
  ) + "\n",
  "README.md": "# example-shop\n\nA tiny monorepo for the Switchyard demo. `npm test` runs `node --test`.\n",
  "packages/math/package.json": JSON.stringify({ name: "@shop/math", type: "module" }, null, 2) + "\n",
  "packages/math/src/average.js":
    "export const average = (xs) => {\n  const total = xs.reduce((a, b) => a + b, 0)\n  return total / xs.length\n}\n",
  "packages/math/test/average.test.js":
    `import { test } from "node:test"\nimport assert from "node:assert/strict"\nimport { average } from "../src/average.js"\n\ntest("average of numbers", () => {\n  assert.equal(average([1, 2, 3]), 2)\n})\n`,
  "packages/strings/package.json": JSON.stringify({ name: "@shop/strings", type: "module" }, null, 2) + "\n",
  "packages/strings/src/slugify.js":
    `export const slugify = (s) => s.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+/, "")\n`,
  "packages/strings/src/capitalize.js":
    "export const capitalize = (s) => (s.length === 0 ? s : s[0].toUpperCase() + s.slice(1))\n",
  "packages/strings/src/pad.js": "// TODO: honour width\nexport const padLeft = (s, width) => s\n",
  "packages/strings/test/slugify.test.js":
    `import { test } from "node:test"\nimport assert from "node:assert/strict"\nimport { slugify } from "../src/slugify.js"\n\ntest("slugify joins words", () => {\n  assert.equal(slugify("Hello World"), "hello-world")\n})\n`,
  "packages/strings/test/capitalize.test.js":
    `import { test } from "node:test"\nimport assert from "node:assert/strict"\nimport { capitalize } from "../src/capitalize.js"\n\ntest("capitalize a word", () => {\n  assert.equal(capitalize("shop"), "Shop")\n})\n`
}

const check = (module: string, expr: string) =>
  `node --input-type=module -e "import * as m from './${module}'; process.exit(${expr} ? 0 : 1)"`

interface DemoIssue {
  readonly input: ConstructorParameters<typeof IssueInput>[0]
  readonly expect: string
}

const demoIssues: ReadonlyArray<DemoIssue> = [
  {
    input: {
      title: "average() returns NaN for an empty list",
      body: "`average([])` should be 0. Add a regression test.",
      priority: "high",
      labels: ["math", "script:fix-average"],
      reproduction: check("packages/math/src/average.js", "m.average([]) === 0"),
      scope: ["packages/math/**"]
    },
    expect: "PR_READY: a real fix, verified in a clean checkout"
  },
  {
    input: {
      title: "capitalize('') throws",
      body: "Reported by a user on an old version.",
      priority: "medium",
      labels: ["strings", "script:no-op"],
      reproduction: check("packages/strings/src/capitalize.js", "m.capitalize('') === ''")
    },
    expect: "NO_OP: the reproduction already passes, so the agent never starts"
  },
  {
    input: {
      title: "Make the strings package better",
      body: "It could be nicer.",
      priority: "low",
      labels: ["strings", "script:escalate"]
    },
    expect: "ESCALATE: too vague; the agent asks a question"
  },
  {
    input: {
      title: "slugify() leaves trailing dashes",
      body: "`slugify('Hello, world!')` gives `hello-world-`.",
      priority: "medium",
      labels: ["strings", "script:flaky"],
      reproduction: check("packages/strings/src/slugify.js", "m.slugify('Hello, world!') === 'hello-world'"),
      scope: ["packages/strings/**"]
    },
    expect: "RETRYABLE_FAILURE, then PR_READY: attempt 1 fails, the retry fixes it"
  },
  {
    input: {
      title: "padLeft() ignores the width",
      body: "`padLeft('7', 3)` should be `'  7'`.",
      priority: "medium",
      labels: ["strings", "script:lie"],
      reproduction: check("packages/strings/src/pad.js", "m.padLeft('7', 3) === '  7'")
    },
    expect: "ESCALATE: the agent claims a fix but changed nothing; the verifier does not believe it"
  }
]

/** The `agent:` keys of each demo mode. */
const commandAgentKeys = (agentPath: string) => `  kind: command
  command: ${JSON.stringify(`node ${JSON.stringify(agentPath)}`)}`

const claudeAgentKeys = (claude: string, twinUrl: string) => `  kind: claude-code
  command: ${JSON.stringify(claude)}
  # The model twin; remove base_url (and the dummy key) to run the real model with your ANTHROPIC_API_KEY.
  base_url: ${JSON.stringify(twinUrl)}
  env: [ANTHROPIC_API_KEY]
  # --bare: no hooks, plugins or CLAUDE.md discovery from the machine; auth strictly by ANTHROPIC_API_KEY.
  extra_args: [--bare]
  max_turns: 10`

/** The `tracker:` block of the GitHub demo: the twin's repository, only issues labelled `ready`. */
const githubTrackerKeys = (twin: GitHubTwin.GitHubTwinShape) => `tracker:
  kind: github
  repo: ${twin.owner}/${twin.repo}
  # The local GitHub twin; remove api_url to use api.github.com with a real token in $GITHUB_TOKEN.
  api_url: ${JSON.stringify(twin.url)}
  required_labels: [ready]
`

/** The `tracker:` block of the Linear demo: the twin's project, only issues labelled `ready`. */
const linearTrackerKeys = (twin: LinearTwin.LinearTwinShape) => `tracker:
  kind: linear
  project_slug: ${twin.projectSlug}
  # The local Linear twin; remove api_url to use api.linear.app with a real key in $LINEAR_API_KEY.
  api_url: ${JSON.stringify(twin.url)}
  required_labels: [ready]
`

/** Linear's priority number (1 urgent … 4 low, 0 none) of a demo priority. */
const linearPriority = (p: string | undefined): number =>
  p === "critical" ? 1 : p === "high" ? 2 : p === "medium" ? 3 : p === "low" ? 4 : 0

/** What the Linear twin holds now: each issue's state and comments. */
const showLinear = (twin: LinearTwin.LinearTwinShape) =>
  Effect.gen(function*() {
    const s = yield* twin.state
    yield* rule(`Linear (the twin): what Switchyard wrote back to project ${twin.projectSlug}`)
    for (const issue of s.issues) {
      yield* Console.log(`  ${issue.team}-${issue.number} ${issue.title}\n      state: ${issue.state}`)
      for (const c of s.comments.filter((c) => c.issue === issue.uuid)) {
        yield* Console.log(`      comment: ${c.body.split("\n").find((l) => l.trim() !== "") ?? ""}`)
      }
    }
  })

/** The body of a demo issue on GitHub: its text, then the task-packet fields in a ```switchyard block (YAML). */
const githubBody = (d: DemoIssue): string => {
  const fields = [
    ...(d.input.reproduction ? [`reproduction: ${JSON.stringify(d.input.reproduction)}`] : []),
    ...(d.input.scope && d.input.scope.length > 0 ? [`scope: ${JSON.stringify(d.input.scope)}`] : [])
  ]
  return `${d.input.body ?? ""}${fields.length === 0 ? "" : `\n\n\`\`\`switchyard\n${fields.join("\n")}\n\`\`\`\n`}`
}

const workflowFile = (
  agentKeys: string,
  workspaceRoot: string,
  confinement: "bwrap" | "none",
  readable: ReadonlyArray<string>,
  trackerKeys = ""
) => `---
# Demo workflow.
${trackerKeys}polling:
  interval_ms: 1000
workspace:
  root: ${JSON.stringify(workspaceRoot)}
sandbox:
  confinement: ${confinement}
  # The Switchyard checkout (the scripted agent, the Claude Code binary): readable even where it lies under /tmp.
  readable: ${JSON.stringify(readable)}
agent:
${agentKeys}
  max_concurrent_agents: 2
  max_attempts: 3
  retry_base_delay_ms: 1000
  timeout_ms: 60000
verify:
  validation:
    - node --test
  timeout_ms: 60000
---
You are fixing {{ issue.id }}: {{ issue.title }}.

{{ issue.body }}
{% if packet.reproduction %}
The reproduction \`{{ packet.reproduction }}\` fails now and must pass when you are done.
{% endif %}
Write your claim to $SWITCHYARD_RESULT_FILE.
`

// --- the model twin's playbook: per issue, what the scripted agent does, as Claude Code Bash tool calls ------

const claim = (value: Record<string, string>) =>
  `cat > "$SWITCHYARD_RESULT_FILE" <<'JSON'\n${JSON.stringify(value, null, 2)}\nJSON`

const fixAverage = [
  "cat > packages/math/src/average.js <<'JS'",
  "export const average = (xs) => {",
  "  const total = xs.reduce((a, b) => a + b, 0)",
  "  return xs.length === 0 ? 0 : total / xs.length",
  "}",
  "JS",
  "cat >> packages/math/test/average.test.js <<'JS'",
  "",
  "test(\"average of no numbers is 0\", () => {",
  "  assert.equal(average([]), 0)",
  "})",
  "JS"
].join("\n")

const fixSlugify = [
  "cat > packages/strings/src/slugify.js <<'JS'",
  "export const slugify = (s) => s.toLowerCase().replace(/[^a-z0-9]+/g, \"-\").replace(/^-+|-+$/g, \"\")",
  "JS",
  "cat >> packages/strings/test/slugify.test.js <<'JS'",
  "",
  "test(\"slugify trims trailing dashes\", () => {",
  "  assert.equal(slugify(\"Hello, world!\"), \"hello-world\")",
  "})",
  "JS"
].join("\n")

/** One playbook entry per demo issue, matched by its title in the prompt. */
export const demoPlaybook: Playbook.PlaybookInput = {
  entries: [
    {
      name: "fix-average",
      match: { contains: "average() returns NaN for an empty list" },
      turns: [
        { tool: "Bash", command: "cat packages/math/src/average.js", description: "read average()", text: "Let me look at average()." },
        { tool: "Bash", command: fixAverage, description: "guard the empty list and add a test" },
        { tool: "Bash", command: "node --test packages/math/test/average.test.js 2>&1 | tail -n 8", description: "run the tests" },
        {
          tool: "Bash",
          command: claim({
            claim: "PR_READY",
            summary: "average([]) now returns 0 instead of NaN; regression test added.",
            plan: "Guard the empty list before dividing; add a test for it.",
            residual_risk: "Callers that relied on NaN for empty input will now see 0."
          }),
          description: "write the claim"
        },
        { text: "average([]) returns 0 now, with a regression test. My claim is in the result file." }
      ]
    },
    {
      name: "escalate",
      match: { contains: "Make the strings package better" },
      turns: [
        {
          tool: "Bash",
          command: claim({
            claim: "ESCALATE",
            summary: "The issue is too vague to act on.",
            question: "Which behaviour of the strings package should change, and how will we know it is better?"
          }),
          description: "ask a question",
          text: "The issue does not say what 'better' means."
        },
        { text: "I asked a question instead of guessing." }
      ]
    },
    {
      name: "flaky (overloaded, then a fix)",
      match: { contains: "slugify() leaves trailing dashes" },
      turns: [
        // Claude Code retries a 529 at most 3 times, then gives up with an error: attempt 1 fails.
        { error: 529, times: 3 },
        { tool: "Bash", command: fixSlugify, description: "trim dashes at both ends and add a test" },
        {
          tool: "Bash",
          command: claim({ claim: "PR_READY", summary: "slugify trims trailing dashes; test added.", plan: "Trim dashes at both ends." }),
          description: "write the claim"
        },
        { text: "slugify trims dashes at both ends now." }
      ]
    },
    {
      name: "lie",
      match: { contains: "padLeft() ignores the width" },
      turns: [
        { tool: "Bash", command: "cat packages/strings/src/pad.js", description: "read padLeft()", text: "(pretending to work)" },
        { tool: "Bash", command: claim({ claim: "PR_READY", summary: "Fixed padLeft." }), description: "write the claim" },
        { text: "Fixed padLeft." }
      ]
    }
  ],
  default: [{ text: "Nothing to do here." }]
}

/** A Claude Code binary that runs here: its path and `--version` line. */
export interface ClaudeBinary {
  readonly path: string
  readonly version: string
}

/**
 * The Switchyard checkout this code runs from: the nearest directory above this module holding
 * `pnpm-workspace.yaml` (the module may be apps/cli/src/commands/demo/handler.ts or the bundle
 * apps/cli/dist/switchyard.cjs). None when the CLI runs outside a checkout.
 */
export const checkoutRoot: Effect.Effect<Option.Option<string>, never, FileSystem.FileSystem | Path.Path> = Effect.gen(
  function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    let dir = path.dirname(fileURLToPath(import.meta.url))
    for (;;) {
      if (yield* fs.exists(path.join(dir, "pnpm-workspace.yaml")).pipe(Effect.orElseSucceed(() => false))) {
        return Option.some(dir)
      }
      const parent = path.dirname(dir)
      if (parent === dir) return Option.none()
      dir = parent
    }
  }
)

/**
 * The first Claude Code binary that answers `--version` within 20 s: the devDependency of @switchyard/twin in
 * the checkout (`root`), then `claude` on PATH.
 */
export const findClaude = (
  root: Option.Option<string>
): Effect.Effect<Option.Option<ClaudeBinary>, never, CommandExecutor.CommandExecutor> =>
  Effect.gen(function*() {
    const candidates = [
      ...Option.toArray(Option.map(root, (r) => `${r}/packages/twin/node_modules/.bin/claude`)),
      "claude"
    ]
    for (const path of candidates) {
      const version = yield* Command.make(path, "--version").pipe(
        Command.feed(""),
        Command.string,
        Effect.timeout(Duration.seconds(20)),
        Effect.option
      )
      if (Option.isSome(version) && /\d+\.\d+/.test(version.value)) {
        return Option.some({ path, version: version.value.trim().split("\n")[0]! })
      }
    }
    return Option.none()
  })

export class ClaudeNotFound extends Schema.TaggedError<ClaudeNotFound>()("ClaudeNotFound", {}) {
  override get message() {
    return "--agent claude-code: no Claude Code binary runs here (looked for packages/twin/node_modules/.bin/claude and `claude` on PATH); run `pnpm install`, or use --agent command"
  }
}

/** What the GitHub twin holds now: each issue's labels and comments, and the pull requests with their bodies' first line. */
const showGitHub = (twin: GitHubTwin.GitHubTwinShape) =>
  Effect.gen(function*() {
    const s = yield* twin.state
    yield* rule(`GitHub (the twin): what Switchyard wrote back to ${twin.owner}/${twin.repo}`)
    for (const issue of [...s.issues.values()].filter((i) => !i.isPull)) {
      yield* Console.log(`  #${issue.number} ${issue.title}\n      labels: ${issue.labels.join(", ")}`)
      for (const c of s.comments.filter((c) => c.issue === issue.number)) {
        yield* Console.log(`      comment: ${c.body.split("\n").find((l) => l.trim() !== "") ?? ""}`)
      }
    }
    for (const p of s.pulls) {
      yield* Console.log(`  pull request #${p.number} ${p.head} → ${p.base}: ${p.title}\n      body: evidence.md (${p.body.length} characters), ${p.body.split("\n")[0]}`)
    }
  })

const rule = (title: string) => Console.log(`\n── ${title} ${"─".repeat(Math.max(3, 72 - title.length))}`)

/**
 * Runs the demo. `keep: false` deletes the example repo and its worktrees at the end. `agent` picks the station;
 * undefined means Claude Code when its binary runs here, else the command agent (with a line saying so).
 * Fails with `ClaudeNotFound` only when `agent` is `claude-code` and no binary runs.
 */
export const runDemo = (
  options: { readonly keep: boolean; readonly agent?: DemoAgent | undefined; readonly tracker?: DemoTracker | undefined }
) =>
  Effect.scoped(Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const base = yield* fs.makeTempDirectory({ prefix: "switchyard-demo-" })
    const repo = path.join(base, "example-shop")
    const worktrees = path.join(base, "worktrees")
    const root = yield* checkoutRoot
    const agentPath = path.join(Option.getOrElse(root, () => process.cwd()), "examples/agents/scripted-agent.mjs")
    for (const [name, text] of Object.entries(files)) {
      yield* fs.makeDirectory(path.dirname(path.join(repo, name)), { recursive: true })
      yield* fs.writeFileString(path.join(repo, name), text)
    }
    const claude = options.agent === "command" ? Option.none<ClaudeBinary>() : yield* findClaude(root)
    if (options.agent === "claude-code" && Option.isNone(claude)) return yield* new ClaudeNotFound()
    // The twin lives until the demo ends (this scope).
    const twin = Option.isSome(claude)
      ? Option.some(yield* Twin.make(yield* Playbook.decode(demoPlaybook).pipe(Effect.orDie)))
      : Option.none()
    const github = options.tracker === "github" ? Option.some(yield* GitHubTwin.make({ labels: ["ready"] })) : Option.none()
    const linear = options.tracker === "linear" ? Option.some(yield* LinearTwin.make({})) : Option.none()
    const agentHome = path.join(base, "agent-home")
    yield* fs.makeDirectory(agentHome)
    // Confine when bubblewrap works here, and say which it did (docs/security.md).
    const bwrap = yield* Config.string("SWITCHYARD_BWRAP").pipe(Config.withDefault("bwrap"))
    const unconfinedBecause = yield* BwrapConfinement.probe(bwrap).pipe(Effect.as(null), Effect.catchAll((e) => Effect.succeed(e.reason)))
    yield* fs.writeFileString(
      path.join(repo, "WORKFLOW.md"),
      workflowFile(
        Option.isSome(claude) && Option.isSome(twin)
          ? claudeAgentKeys(claude.value.path, twin.value.url)
          : commandAgentKeys(agentPath),
        worktrees,
        unconfinedBecause === null ? "bwrap" : "none",
        Option.toArray(root),
        Option.match(github, { onNone: () => Option.match(linear, { onNone: () => "", onSome: linearTrackerKeys }), onSome: githubTrackerKeys })
      )
    )
    const git = (...args: Array<string>) => ProcessRunner.runGit(args, repo)
    yield* git("init", "-q", "-b", "main")
    yield* git("config", "user.name", "Demo Human")
    yield* git("config", "user.email", "human@example.com")
    yield* git("add", "-A")
    yield* git("commit", "-q", "-m", "example-shop: two packages with node --test tests")
    yield* ensureStateDir(statePaths(repo).stateDir)

    const agentLine = Option.isSome(claude) && Option.isSome(twin)
      ? `Claude Code ${claude.value.version.replace(/ \(Claude Code\)$/, "")} (real binary: ${claude.value.path})
                driven by a scripted model twin at ${twin.value.url} — no real model. The twin replays a
                playbook per issue; Claude Code's Bash tool calls edit files and write the claim for real
                in each sandbox. Transcripts: .switchyard/runs/<id>/<n>/transcript.jsonl`
      : `the scripted command agent (examples/agents/scripted-agent.mjs): a real child process
                that edits files and writes a claim, scripted per issue. No model is involved.${
        options.agent === "command" ? "" : `
                (Claude Code is not installed here, so the command agent runs instead; \`pnpm install\`
                installs it as a devDependency of @switchyard/twin.)`
      }`
    yield* Console.log(`Switchyard demo: issues in, validated change out.

  example repo  ${repo}
                a git monorepo with packages/math and packages/strings and real \`node --test\` tests
  agent         ${agentLine}
  confinement   ${
      unconfinedBecause === null
        ? `bubblewrap: each agent sees only its own sandbox (the repo, .switchyard/ and the other
                sandboxes are not visible), its process tree dies with it, and its only network is ${
          Option.isSome(twin) ? "the twin" : "none"
        }`
        : `NONE — ${unconfinedBecause}. The demo runs UNCONFINED (sandbox.confinement: none);
                \`apt-get install bubblewrap\` to see it confined. Every evidence bundle says so.`
    }
  validation    \`node --test\`, run by Switchyard itself in a clean checkout of each candidate commit${
      unconfinedBecause === null ? `,
                confined too, with no secrets and no network` : ", with no secrets"
    }`)
    // Claude Code gets a dummy key (the twin checks none) and a private HOME: nothing from this machine's
    // ~/.claude is read, and no real key is sent anywhere, even to the local twin.
    // The GitHub demo's token is the twin's (never passed to an agent or a verification command).
    const runnerEnv = Option.isSome(claude) || Option.isSome(github) || Option.isSome(linear)
      ? {
        ...process.env,
        ...(Option.isSome(claude) ? { ANTHROPIC_API_KEY: "sk-test", HOME: agentHome } : {}),
        ...(Option.isSome(github) ? { GITHUB_TOKEN: github.value.token } : {}),
        ...(Option.isSome(linear) ? { LINEAR_API_KEY: linear.value.apiKey } : {})
      }
      : undefined
    // Linear: the five issues are created in the twin's project (labelled `ready`) before the line starts.
    if (Option.isSome(linear)) {
      yield* Console.log(`  tracker       Linear on a local Linear twin at ${linear.value.url} (project ${linear.value.projectSlug}):
                issues labelled \`ready\` in Todo come in; state changes and comments go out`)
      yield* rule("creating 5 issues in Linear (the twin)")
      for (const d of demoIssues) {
        const id = yield* linear.value.create({
          title: d.input.title,
          description: githubBody(d),
          labels: ["ready", ...(d.input.labels ?? [])],
          priority: linearPriority(d.input.priority)
        })
        yield* print(row(`  ${id}  `, cell(d.input.title, 42), ` expect ${d.expect}`))
      }
    }
    // GitHub: the five issues are opened on the twin (labelled `ready`) before the line starts and reads them.
    if (Option.isSome(github)) {
      yield* Console.log(`  tracker       GitHub Issues on a local GitHub twin at ${github.value.url} (repository ${github.value.owner}/${github.value.repo}):
                issues labelled \`ready\` come in; state labels, comments and pull requests go out`)
      yield* rule("opening 5 issues on GitHub (the twin)")
      for (const d of demoIssues) {
        const n = yield* github.value.open({
          title: d.input.title,
          body: githubBody(d),
          labels: ["ready", ...(d.input.labels ?? []), ...(d.input.priority ? [`priority:${d.input.priority}`] : [])]
        })
        yield* print(row(`  GH-${n}  `, cell(d.input.title, 42), ` expect ${d.expect}`))
      }
    }

    yield* Effect.gen(function*() {
      const tracker = yield* Tracker
      if (Option.isNone(github) && Option.isNone(linear)) {
        yield* rule("filing 5 issues")
        for (const d of demoIssues) {
          const issue = yield* tracker.create(new IssueInput(d.input))
          yield* print(row(`  ${issue.id}  `, cell(issue.title, 42), ` expect ${d.expect}`))
        }
      }
      yield* rule("switchyard run --once  (one line per stage change)")
      yield* printProgress(runLine({ once: true }))
      yield* rule("outcomes")
      const orchestrator = yield* Orchestrator
      const evidence = yield* EvidenceStore
      for (const issue of yield* tracker.list()) {
        const attempts = yield* orchestrator.attempts(issue.id)
        const trail = attempts.map((a) => a.terminal_state ?? "?").join(" → ")
        const latest = yield* evidence.latest(issue.id)
        yield* print(row(`  ${issue.id}  `, cell(trail, 34), ` issue is now ${issue.status}`))
        if (Option.isSome(latest)) yield* Console.log(`        ${latest.value.summary}`)
        const agent = Option.isSome(latest) ? latest.value.agent : null
        if (agent !== null && agent.usage !== null) {
          yield* Console.log(
            `        ${agent.kind}: ${agent.numTurns ?? "?"} turn(s), ${agent.usage.inputTokens} input + ${agent.usage.outputTokens} output tokens, $${
              agent.costUsd?.toFixed(4) ?? "?"
            } (as the twin reports them)`
          )
        }
      }
      yield* rule("switchyard status")
      yield* print(statusView(yield* statusSnapshot(repo)))
      const first = yield* evidence.latest((yield* tracker.list())[0]!.id)
      if (Option.isSome(first)) {
        yield* rule(`evidence bundle of ${first.value.issueId} (evidence.md)`)
        yield* Console.log(renderEvidenceMarkdown(first.value))
      }
    }).pipe(Effect.scoped, Effect.provide(lineLayer(repo, { runnerEnv })))
    // The line's layer is released (its outbox flushed): what GitHub now holds.
    if (Option.isSome(github)) yield* showGitHub(github.value)
    if (Option.isSome(linear)) yield* showLinear(linear.value)

    // The same five issues in the same order: GH-1..5 on GitHub, ENG-1..5 on Linear, SY-1..5 in the embedded tracker.
    const ids = (text: string) =>
      Option.isSome(github) ? text.replaceAll("SY-", "GH-") : Option.isSome(linear) ? text.replaceAll("SY-", `${linear.value.team.key}-`) : text
    yield* rule("what just happened")
    yield* Console.log(ids(`Every terminal state above was decided by Switchyard, not by the agent: it ran the reproduction
before and after, ran \`node --test\` in a clean checkout, and read the diff. SY-5's agent said
"PR_READY" but changed nothing, so it was escalated. PR_READY branches hold a commit with an
Evidence: trailer; \`git log switchyard/SY-1\` shows it.${
      Option.isSome(claude)
        ? `
SY-4's first attempt failed because the twin answered "529 Overloaded" until Claude Code gave up
(RETRYABLE_FAILURE); the retry went through. With a real ANTHROPIC_API_KEY, drop base_url from
WORKFLOW.md and the same workflow runs the real model (docs/agents.md).`
        : ""
    }`))
    if (options.keep) {
      yield* Console.log(ids(`
Explore it yourself:
  cd ${repo}
  switchyard status                 # the four layers
  switchyard evidence SY-5          # why the lie was caught
  switchyard issue show SY-4        # the retry trail
  git log --stat switchyard/SY-1    # the verified commit
(remove it with: rm -rf ${base})`))
    } else {
      yield* fs.remove(base, { recursive: true })
      yield* Console.log(`\n(removed the example repo; run \`switchyard demo --keep\` to explore it afterwards)`)
    }
  }))

/** `switchyard demo [--keep] [--agent command|claude-code]`: {@link runDemo} with the parsed options. */
export const demo = (o: DemoOptions) => runDemo({ keep: o.keep, agent: Option.getOrUndefined(o.agent), tracker: o.tracker })
