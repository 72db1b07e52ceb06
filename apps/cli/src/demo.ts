/**
 * `switchyard demo`: the main job on a real example. Builds a small git monorepo with real `node --test` tests
 * in a temp dir, files five issues designed to end in each terminal state (one through a retry), runs the line
 * with the scripted command agent from examples/agents/, and explains what happened.
 */
import { FileSystem, Path } from "@effect/platform"
import { EvidenceStore, Orchestrator, renderEvidenceMarkdown, runLine, Tracker } from "@switchyard/core"
import { IssueInput } from "@switchyard/domain"
import { ProcessRunner } from "@switchyard/node"
import { Console, Effect, Option } from "effect"
import { fileURLToPath } from "node:url"
import { printProgress } from "./Cli.js"
import { lineLayer, statePaths } from "./layers.js"
import { renderStatus, statusSnapshot } from "./status.js"

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
    expect: "RETRYABLE_FAILURE, then PR_READY: the agent crashes once, the retry fixes it"
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

const workflowFile = (agentPath: string, workspaceRoot: string) => `---
# Demo workflow: the scripted agent stands in for a real coding agent.
polling:
  interval_ms: 1000
workspace:
  root: ${JSON.stringify(workspaceRoot)}
agent:
  kind: command
  command: ${JSON.stringify(`node ${JSON.stringify(agentPath)}`)}
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

const rule = (title: string) => Console.log(`\n── ${title} ${"─".repeat(Math.max(3, 72 - title.length))}`)

/** Runs the demo. `keep: false` deletes the example repo and its worktrees at the end. */
export const runDemo = (options: { readonly keep: boolean }) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const base = yield* fs.makeTempDirectory({ prefix: "switchyard-demo-" })
    const repo = path.join(base, "example-shop")
    const worktrees = path.join(base, "worktrees")
    const agentPath = fileURLToPath(new URL("../../../examples/agents/scripted-agent.mjs", import.meta.url))
    for (const [name, text] of Object.entries(files)) {
      yield* fs.makeDirectory(path.dirname(path.join(repo, name)), { recursive: true })
      yield* fs.writeFileString(path.join(repo, name), text)
    }
    yield* fs.writeFileString(path.join(repo, "WORKFLOW.md"), workflowFile(agentPath, worktrees))
    const git = (...args: Array<string>) => ProcessRunner.runGit(args, repo)
    yield* git("init", "-q", "-b", "main")
    yield* git("config", "user.name", "Demo Human")
    yield* git("config", "user.email", "human@example.com")
    yield* git("add", "-A")
    yield* git("commit", "-q", "-m", "example-shop: two packages with node --test tests")
    const { stateDir } = statePaths(repo)
    yield* fs.makeDirectory(stateDir, { recursive: true })
    yield* fs.writeFileString(path.join(stateDir, ".gitignore"), "*\n")

    yield* Console.log(`Switchyard demo: issues in, validated change out.

  example repo  ${repo}
                a git monorepo with packages/math and packages/strings and real \`node --test\` tests
  agent         the scripted command agent (examples/agents/scripted-agent.mjs): a real child process
                that edits files and writes a claim, scripted per issue. No model is involved.
  validation    \`node --test\`, run by Switchyard itself in a clean checkout of each candidate commit`)

    yield* Effect.gen(function*() {
      const tracker = yield* Tracker
      yield* rule("filing 5 issues")
      for (const d of demoIssues) {
        const issue = yield* tracker.create(new IssueInput(d.input))
        yield* Console.log(`  ${issue.id}  ${issue.title.padEnd(42)} expect ${d.expect}`)
      }
      yield* rule("switchyard run --once  (one line per stage change)")
      yield* printProgress
      yield* runLine({ once: true })
      yield* rule("outcomes")
      const orchestrator = yield* Orchestrator
      const evidence = yield* EvidenceStore
      for (const issue of yield* tracker.list()) {
        const attempts = yield* orchestrator.attempts(issue.id)
        const trail = attempts.map((a) => a.terminal_state ?? "?").join(" → ")
        const latest = yield* evidence.latest(issue.id)
        yield* Console.log(`  ${issue.id}  ${trail.padEnd(34)} issue is now ${issue.status}`)
        if (Option.isSome(latest)) yield* Console.log(`        ${latest.value.summary}`)
      }
      yield* rule("switchyard status")
      yield* Console.log(renderStatus(yield* statusSnapshot(repo)))
      const first = yield* evidence.latest((yield* tracker.list())[0]!.id)
      if (Option.isSome(first)) {
        yield* rule(`evidence bundle of ${first.value.issueId} (evidence.md)`)
        yield* Console.log(renderEvidenceMarkdown(first.value))
      }
    }).pipe(Effect.scoped, Effect.provide(lineLayer(repo)))

    yield* rule("what just happened")
    yield* Console.log(`Every terminal state above was decided by Switchyard, not by the agent: it ran the reproduction
before and after, ran \`node --test\` in a clean checkout, and read the diff. SY-5's agent said
"PR_READY" but changed nothing, so it was escalated. PR_READY branches hold a commit with an
Evidence: trailer; \`git log switchyard/SY-1\` shows it.`)
    if (options.keep) {
      yield* Console.log(`
Explore it yourself:
  cd ${repo}
  switchyard status                 # the four layers
  switchyard evidence SY-5          # why the lie was caught
  switchyard issue show SY-4        # the retry trail
  git log --stat switchyard/SY-1    # the verified commit
(remove it with: rm -rf ${base})`)
    } else {
      yield* fs.remove(base, { recursive: true })
      yield* Console.log(`\n(removed the example repo; run \`switchyard demo --keep\` to explore it afterwards)`)
    }
  })
