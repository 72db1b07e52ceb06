#!/usr/bin/env node
// A scripted coding agent for the demo and the tests. It speaks Switchyard's command-agent contract for real:
// it reads the task packet from $SWITCHYARD_TASK_FILE, edits files in its cwd (the sandbox), prints what it does,
// and writes its claim to $SWITCHYARD_RESULT_FILE. What it does is chosen by the issue's `script:<name>` label,
// so no model is involved. Scripts:
//   fix-average   fix average([]) and add a regression test, claim PR_READY
//   fix-slugify   fix trailing dashes in slugify and add a test, claim PR_READY
//   flaky         crash on attempt 1 (as if the model API dropped), then behave like fix-slugify
//   escalate      change nothing and ask a question (claim ESCALATE)
//   lie           change nothing but claim PR_READY (the verifier must catch it)
//   no-op         change nothing and claim NO_OP
import { appendFileSync, readFileSync, writeFileSync } from "node:fs"

const task = JSON.parse(readFileSync(process.env.SWITCHYARD_TASK_FILE, "utf8"))
const attempt = Number(process.env.SWITCHYARD_ATTEMPT ?? "1")
const script = (task.source.labels.find((l) => l.startsWith("script:")) ?? "script:no-op").slice("script:".length)
const claim = (value) => writeFileSync(process.env.SWITCHYARD_RESULT_FILE, JSON.stringify(value, null, 2))
const say = (line) => process.stdout.write(`[scripted-agent] ${line}\n`)

say(`${task.issue_id} attempt ${attempt}: "${task.title}" (script ${script})`)

const replace = (file, from, to) => {
  const text = readFileSync(file, "utf8")
  if (!text.includes(from)) {
    say(`expected text not found in ${file}`)
    process.exit(3)
  }
  writeFileSync(file, text.replace(from, to))
  say(`edited ${file}`)
}

const fixAverage = () => {
  replace("packages/math/src/average.js", "return total / xs.length", "return xs.length === 0 ? 0 : total / xs.length")
  appendFileSync(
    "packages/math/test/average.test.js",
    `\ntest("average of no numbers is 0", () => {\n  assert.equal(average([]), 0)\n})\n`
  )
  say("added a regression test")
  claim({
    claim: "PR_READY",
    summary: "average([]) now returns 0 instead of NaN; regression test added.",
    plan: "Guard the empty list before dividing; add a test for it.",
    residual_risk: "Callers that relied on NaN for empty input will now see 0."
  })
}

const fixSlugify = () => {
  replace("packages/strings/src/slugify.js", `.replace(/^-+/, "")`, `.replace(/^-+|-+$/g, "")`)
  appendFileSync(
    "packages/strings/test/slugify.test.js",
    `\ntest("slugify trims trailing dashes", () => {\n  assert.equal(slugify("Hello, world!"), "hello-world")\n})\n`
  )
  claim({ claim: "PR_READY", summary: "slugify trims trailing dashes; test added.", plan: "Trim dashes at both ends." })
}

switch (script) {
  case "fix-average":
    fixAverage()
    break
  case "fix-slugify":
    fixSlugify()
    break
  case "flaky":
    if (attempt === 1) {
      process.stderr.write("[scripted-agent] error: connection reset while talking to the model API\n")
      process.exit(1)
    }
    fixSlugify()
    break
  case "escalate":
    say("the issue does not say what 'better' means")
    claim({
      claim: "ESCALATE",
      summary: "The issue is too vague to act on.",
      question: "Which behaviour of the strings package should change, and how will we know it is better?"
    })
    break
  case "lie":
    say("(pretending to work)")
    claim({ claim: "PR_READY", summary: "Fixed padLeft." })
    break
  default:
    claim({ claim: "NO_OP", summary: "Nothing to change." })
}
