/**
 * The web page in a real headless Chromium (Debian's `chromium`, driven by playwright-core: no browser download),
 * served by the built CLI (`switchyard run --port 0`) over a real run. Writes a screenshot of each page to
 * apps/cli/.screenshots/.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { existsSync, mkdirSync, statSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { type Browser, chromium } from "playwright-core"
import { averageRepro, exited, join, perTest, sy, writeFileSync } from "./harness.js"
import { serving } from "./serverHarness.js"

const { repo, track } = perTest()

/** Debian's chromium (`.ci/run` installs it); SWITCHYARD_CHROMIUM names another. */
const executablePath = process.env.SWITCHYARD_CHROMIUM ?? "/usr/bin/chromium"
const screenshots = fileURLToPath(new URL("../.screenshots/", import.meta.url))

// The flags the node machine doc lists: without the background-networking ones, Chromium keeps trying hosts this
// closed network refuses. Playwright adds --headless itself.
const args = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync"
]

const workflow = (agentPath: string) => `agent:
  command: ${JSON.stringify(agentPath)}
  max_attempts: 2
  timeout_ms: 60000
verify:
  validation:
    - node --test
polling:
  interval_ms: 200
`

/** Waits for `go` in the shared dir, then fixes average([]) with a test, and claims PR_READY. */
const waitingFixer = (go: string) => `i=0; while [ ! -f ${JSON.stringify(go)} ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
echo '{"type":"progress","text":"guarding the empty list"}'
set -e
cat > src/average.js <<'JS'
export const average = (xs) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length)
JS
printf '%s\\n' 'test("empty", () => assert.equal(average([]), 0))' >> test/average.test.js
echo '{"claim":"PR_READY","summary":"guard the empty list"}' > "$SWITCHYARD_RESULT_FILE"`

let browser: Browser

/** The time app.js finished loading (`window.__switchyardLoadedAt`), read in the page: it changes on a reload. */
const loadMark = "window.__switchyardLoadedAt"

beforeAll(async () => {
  mkdirSync(screenshots, { recursive: true })
  browser = await chromium.launch({ executablePath, args })
})

afterAll(async () => {
  await browser?.close()
})

describe("the live page (headless Chromium, built CLI, real run)", () => {
  it("shows a running issue, then its verdict without a reload; the issue page shows the diff, guards and tests", async () => {
    expect(existsSync(executablePath)).toBe(true)
    const r = repo()
    const go = join(r.shared, "go")
    r.writeWorkflow(workflow(r.agent("fixer.sh", waitingFixer(go))))
    expect((await sy(r.dir, "issue", "create", "--title", "average([]) is <b>NaN</b>", "--repro", averageRepro)).code).toBe(0)
    const { child, url } = await serving(r.dir, ["run", "--port", "0"], track)
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } })
    try {
      const page = await context.newPage()
      const problems: Array<string> = []
      page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`))
      page.on("console", (m) => {
        if (m.type() === "error") problems.push(`console: ${m.text()}`)
      })
      page.on("response", (res) => {
        if (res.status() >= 400) problems.push(`${res.status()} ${res.url()}`)
      })
      let navigations = 0
      page.on("framenavigated", (f) => {
        if (f === page.mainFrame()) navigations += 1
      })

      await page.goto(url)
      await page.getByTestId("live").filter({ hasText: "live" }).waitFor({ timeout: 30_000 })
      // The Workers layer shows SY-1 in its agent stage (pushed over SSE: the page is not reloaded).
      const worker = page.locator('[data-testid="worker"][data-issue="SY-1"]')
      await worker.getByTestId("stage").filter({ hasText: "agent" }).waitFor({ timeout: 60_000 })
      expect(await page.getByTestId("count-running").locator("b").textContent()).toBe("1")
      const loadedAt = await page.evaluate(loadMark)
      await page.screenshot({ path: join(screenshots, "overview-running.png"), fullPage: true })

      writeFileSync(go, "")
      const outcome = page.locator('[data-testid="outcome"][data-issue="SY-1"]')
      await outcome.getByTestId("badge").filter({ hasText: "PR_READY" }).waitFor({ timeout: 60_000 })
      await worker.waitFor({ state: "detached", timeout: 30_000 })
      expect(await page.getByTestId("count-running").locator("b").textContent()).toBe("0")
      expect(await outcome.textContent()).toContain("verified in a clean checkout")
      // Same document: no navigation since the first load, and the script's load mark is unchanged.
      expect(navigations).toBe(1)
      expect(await page.evaluate(loadMark)).toBe(loadedAt)
      expect(await page.getByTestId("event").filter({ hasText: "terminal.PR_READY" }).count()).toBeGreaterThan(0)
      // The charts were drawn (Chart.js on canvases).
      expect(await page.locator("canvas#outcomes-time").count()).toBe(1)
      await page.screenshot({ path: join(screenshots, "overview-done.png"), fullPage: true })

      // The issue page, from the outcome's link.
      await outcome.getByRole("link", { name: "SY-1" }).click()
      await page.waitForURL(/\/issues\/SY-1\/1$/)
      await page.getByTestId("cause").filter({ hasText: "verified" }).waitFor({ timeout: 30_000 })
      // The title is text, not markup.
      expect(await page.locator("h1").textContent()).toBe("SY-1 · average([]) is <b>NaN</b>")
      expect(await page.locator("h1 b").count()).toBe(0)
      // The diff, rendered by diff2html: its file wrapper, the changed line.
      const diff = page.getByTestId("diff")
      await diff.locator(".d2h-file-wrapper").first().waitFor()
      expect(await diff.locator(".d2h-file-wrapper").count()).toBe(2)
      expect(await diff.locator(".d2h-ins").filter({ hasText: "xs.length === 0" }).count()).toBeGreaterThan(0)
      // Guards: every rule that ran, passed.
      const guards = page.getByTestId("guard")
      expect(await guards.count()).toBeGreaterThan(2)
      expect(await page.getByTestId("guards").locator("td.fail").count()).toBe(0)
      // Test counts before and after: the candidate ran one more test than the base.
      const rows = page.getByTestId("tests").locator("table").first().locator("tbody tr")
      expect(await rows.nth(0).locator("td").allTextContents()).toEqual(["validation on the base", "1", "0", "0", "1", "node-test"])
      expect(await rows.nth(1).locator("td").allTextContents()).toEqual(["validation on the candidate", "2", "0", "0", "2", "node-test"])
      expect(await page.getByTestId("stage-row").count()).toBeGreaterThan(3)
      expect(await page.getByTestId("transcript-card").textContent()).toBeTruthy()
      await page.screenshot({ path: join(screenshots, "issue.png"), fullPage: true })
      expect(problems.join("\n")).toBe("")
    } finally {
      await context.close()
    }
    for (const f of ["overview-running.png", "overview-done.png", "issue.png"]) {
      expect(statSync(join(screenshots, f)).size).toBeGreaterThan(10_000)
    }
    child.kill("SIGTERM")
    expect((await exited(child)).code).toBe(143)
  })
})
