/**
 * OpenTelemetry export (docs/observability.md): an OTLP/HTTP receiver on loopback in this process gets the span tree
 * of one attempt, with its attributes, and the metrics, from the built CLI (`switchyard run --once` with
 * OTEL_EXPORTER_OTLP_ENDPOINT pointing at it).
 */
import { afterEach, describe, expect, it } from "@effect/vitest"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { averageRepro, fixerScript, perTest, sy, syAsync } from "./harness.js"

const { repo } = perTest()

interface OtlpValue {
  readonly stringValue?: string
  readonly intValue?: string | number
  readonly doubleValue?: number
  readonly boolValue?: boolean
}
interface OtlpSpan {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId?: string
  readonly name: string
  readonly attributes: ReadonlyArray<{ readonly key: string; readonly value: OtlpValue }>
}

const valueOf = (v: OtlpValue): string | number | boolean | undefined =>
  v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : undefined) ?? v.doubleValue ?? v.boolValue

const attrs = (span: { readonly attributes: OtlpSpan["attributes"] }) =>
  Object.fromEntries(span.attributes.map((a) => [a.key, valueOf(a.value)]))

/** A loopback OTLP/HTTP (JSON) receiver: every body POSTed, by path. */
const receiver = async () => {
  const bodies: Array<{ path: string; contentType: string; body: any }> = []
  const server: Server = createServer((req, res) => {
    let text = ""
    req.setEncoding("utf8")
    req.on("data", (c: string) => (text += c))
    req.on("end", () => {
      bodies.push({ path: req.url ?? "", contentType: req.headers["content-type"] ?? "", body: JSON.parse(text) })
      res.writeHead(200, { "content-type": "application/json" }).end("{}")
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return { bodies, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() }
}

let close: (() => void) | undefined
afterEach(() => close?.())

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

describe("OpenTelemetry (OTEL_EXPORTER_OTLP_ENDPOINT, built CLI, real run)", () => {
  it("an OTLP receiver on loopback gets the span tree of one attempt with its attributes, and the outcome metrics", async () => {
    const otlp = await receiver()
    close = otlp.close
    const r = repo()
    r.writeWorkflow(workflow(r.agent("fixer.sh", fixerScript)))
    expect((await sy(r.dir, "issue", "create", "--title", "average([]) is NaN", "--repro", averageRepro)).code).toBe(0)
    const run = await syAsync(r.dir, ["run", "--once"], {
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
      OTEL_SERVICE_NAME: "switchyard-test"
    })
    expect(run.code, run.stderr).toBe(0)
    expect(run.stdout).toContain("terminal.PR_READY")

    const traces = otlp.bodies.filter((b) => b.path === "/v1/traces")
    expect(traces.length).toBeGreaterThan(0)
    expect(traces.every((t) => t.contentType.startsWith("application/json"))).toBe(true)
    const resourceSpans = traces.flatMap((t) => t.body.resourceSpans as Array<any>)
    expect(attrs(resourceSpans[0].resource)["service.name"]).toBe("switchyard-test")
    const spans: Array<OtlpSpan> = resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss: any) => ss.spans))
    const byId = new Map(spans.map((s) => [s.spanId, s]))
    const ancestors = (s: OtlpSpan): Array<string> => {
      const names: Array<string> = []
      for (let p = s.parentSpanId ? byId.get(s.parentSpanId) : undefined; p; p = p.parentSpanId ? byId.get(p.parentSpanId) : undefined) {
        names.push(p.name)
      }
      return names
    }

    // The attempt: a root span with the issue and attempt number.
    const attempts = spans.filter((s) => s.name === "switchyard.attempt")
    expect(attempts).toHaveLength(1)
    const attempt = attempts[0]!
    expect(attempt.parentSpanId ?? "").toBe("")
    expect(attrs(attempt)).toMatchObject({ "switchyard.issue_id": "SY-1", "switchyard.attempt": 1 })
    const inAttempt = spans.filter((s) => s.traceId === attempt.traceId && s !== attempt)
    // Its stages are its children.
    const stages = inAttempt.filter((s) => s.name.startsWith("switchyard.stage."))
    expect(stages.every((s) => s.parentSpanId === attempt.spanId)).toBe(true)
    for (const name of ["switchyard.stage.reproduce", "switchyard.stage.agent", "switchyard.stage.verify"]) {
      expect(stages.map((s) => s.name)).toContain(name)
    }
    // The agent run, under the agent stage, with its station, route and usage.
    const agent = inAttempt.filter((s) => s.name === "switchyard.agent.run")
    expect(agent).toHaveLength(1)
    expect(ancestors(agent[0]!)).toEqual(expect.arrayContaining(["switchyard.stage.agent", "switchyard.attempt"]))
    expect(attrs(agent[0]!)).toMatchObject({
      "switchyard.issue_id": "SY-1",
      "switchyard.attempt": 1,
      "switchyard.station": "command",
      "switchyard.route": "default (command)",
      "switchyard.tokens.input": 0,
      "switchyard.tokens.output": 0,
      "switchyard.exit_code": 0
    })
    // Each verification command: the reproduction on the base and on the candidate, validation on both.
    const commands = inAttempt.filter((s) => s.name === "switchyard.verify.command")
    expect(commands.map((s) => attrs(s)["switchyard.verify.phase"]).sort()).toEqual(
      ["reproduction_base", "reproduction_candidate", "validation", "validation_base"]
    )
    for (const c of commands) {
      expect(ancestors(c)).toContain("switchyard.attempt")
      expect(typeof attrs(c)["switchyard.exit_code"]).toBe("number")
    }
    expect(commands.find((c) => attrs(c)["switchyard.verify.phase"] === "validation")).toSatisfy((c: OtlpSpan) =>
      attrs(c)["switchyard.verify.command"] === "node --test" && attrs(c)["switchyard.exit_code"] === 0
    )
    // The ending: terminal state and cause, within the attempt.
    const settle = inAttempt.filter((s) => s.name === "Line.settle")
    expect(settle).toHaveLength(1)
    expect(ancestors(settle[0]!)).toContain("switchyard.attempt")
    expect(attrs(settle[0]!)).toMatchObject({
      "switchyard.issue_id": "SY-1",
      "switchyard.terminal_state": "PR_READY",
      "switchyard.cause": "verified",
      "switchyard.station": "command"
    })
    // Ticks are their own roots.
    const ticks = spans.filter((s) => s.name === "switchyard.tick")
    expect(ticks.length).toBeGreaterThan(0)
    expect(ticks.every((t) => (t.parentSpanId ?? "") === "" && t.traceId !== attempt.traceId)).toBe(true)

    // Metrics, flushed when the run ended: one PR_READY attempt.
    const metrics = otlp.bodies.filter((b) => b.path === "/v1/metrics").flatMap((b) =>
      b.body.resourceMetrics.flatMap((rm: any) => rm.scopeMetrics.flatMap((sm: any) => sm.metrics as Array<any>))
    )
    const ended = metrics.filter((m) => m.name === "switchyard.attempts.ended")
    expect(ended.length).toBeGreaterThan(0)
    const points = ended.flatMap((m) => m.sum.dataPoints as Array<any>)
    const prReady = points.filter((p) => attrs(p).terminal_state === "PR_READY")
    expect(prReady.length).toBeGreaterThan(0)
    expect(Math.max(...prReady.map((p) => Number(p.asDouble ?? p.asInt)))).toBe(1)
    expect(attrs(prReady[0]!)).toMatchObject({ cause: "verified", station: "command" })
    expect(metrics.map((m) => m.name)).toEqual(expect.arrayContaining(["switchyard.attempt.duration_ms", "switchyard.tokens"]))
  })

  it("without OTEL_* variables nothing is exported: the receiver hears nothing even when it listens on the default port", async () => {
    // The OTLP/HTTP default endpoint is localhost:4318; listen there if it is free, so an export would land here.
    const bodies: Array<string> = []
    const server = createServer((req, res) => {
      bodies.push(req.url ?? "")
      res.end("{}")
    })
    const listening = await new Promise<boolean>((resolve) => {
      server.once("error", () => resolve(false))
      server.listen(4318, "127.0.0.1", () => resolve(true))
    })
    close = () => server.close()
    const r = repo()
    r.writeWorkflow(workflow(r.agent("fixer.sh", fixerScript)))
    expect((await sy(r.dir, "issue", "create", "--title", "average([]) is NaN", "--repro", averageRepro)).code).toBe(0)
    const env = Object.fromEntries(Object.keys(process.env).filter((k) => k.startsWith("OTEL_")).map((k) => [k, ""]))
    const run = await syAsync(r.dir, ["run", "--once"], env)
    expect(run.code, run.stderr).toBe(0)
    expect(run.stdout).toContain("terminal.PR_READY")
    if (listening) expect(bodies).toEqual([])
  })
})
