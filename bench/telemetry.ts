/**
 * Benchmark 9: what OpenTelemetry costs when it is not configured (docs/observability.md: "nothing costs when
 * unset"), and what it costs when it is.
 *
 * - In process, the spans of one attempt as the line makes them (an attempt, six stages, an agent run, four
 *   verification commands, the settle, and a tick: 14 spans, with their attributes) around work that does nothing,
 *   as `switchyard run` has them with OTEL_* unset (the tracer off: every span a no-op), against the same program
 *   without any span, and with Effect's built-in tracer on (what unset would cost if the tracer were left on). The
 *   raw operation is one `sh -c true` spawn: the least a single verification command costs.
 * - As a whole process, `switchyard run --once` on a repo with nothing to do, with OTEL_* unset and with
 *   OTEL_EXPORTER_OTLP_ENDPOINT pointing at a loopback sink (the SDK loaded, spans and metrics exported at exit),
 *   against a bare `node -e ""`.
 */
import { annotate, traced } from "@switchyard/core"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { bin, makeRepo, median, ms, noopAgent, now, range, ratio, runProcess, settings, table } from "./lib.js"

export interface TelemetryResult {
  /** ms per attempt's worth of spans, per run. */
  readonly spans: ReadonlyArray<number>
  /** The same with Effect's built-in tracer recording them (the tracer left on). */
  readonly builtIn: ReadonlyArray<number>
  readonly noSpans: ReadonlyArray<number>
  readonly rawSpawn: ReadonlyArray<number>
  readonly runUnset: ReadonlyArray<number>
  readonly runExporting: ReadonlyArray<number>
  readonly rawNode: ReadonlyArray<number>
  /** OTLP requests the sink received per exporting run (checked > 0). */
  readonly exportedRequests: number
}

const ITERATIONS = 2_000

const attr = { "switchyard.issue_id": "SY-1", "switchyard.attempt": 1 }

/** One attempt's spans around no work (`spans`), or the same program without spans. */
const attemptShaped = (spans: boolean) => {
  const span = <A>(name: string, effect: Effect.Effect<A>, root = false) =>
    spans ? traced(name, { root, attributes: attr })(effect) : effect
  const work = Effect.sync(() => 1)
  const command = span(
    "switchyard.verify.command",
    work.pipe(Effect.tap(() => (spans ? annotate({ "switchyard.exit_code": 0 }) : Effect.void)))
  )
  return Effect.all([
    span("switchyard.tick", work, true),
    span(
      "switchyard.attempt",
      Effect.all([
        span("switchyard.stage.sandbox", work),
        span("switchyard.stage.reproduce", command),
        span("switchyard.stage.hooks", work),
        span("switchyard.stage.agent", span("switchyard.agent.run", work)),
        span("switchyard.stage.verify", Effect.all([command, command, command])),
        span("switchyard.stage.package", work),
        span("Line.settle", work)
      ]),
      true
    )
  ])
}

/**
 * ms per attempt, over `ITERATIONS` attempts, per timed run (after one warm-up). `tracer`: Effect's tracer on (its
 * built-in one records every span in memory) or off (what `switchyard run` sets when OTEL_* is unset: spans are
 * no-ops).
 */
const timeSpans = (spans: boolean, tracer: boolean): Array<number> => {
  const program = Effect.forEach(Array.from({ length: ITERATIONS }), () => attemptShaped(spans), { discard: true }).pipe(
    Effect.withTracerEnabled(tracer)
  )
  Effect.runSync(program)
  const out: Array<number> = []
  for (let i = 0; i < settings.runs; i++) {
    const t = now()
    Effect.runSync(program)
    out.push((now() - t) / ITERATIONS)
  }
  return out
}

const timeAsync = async (round: () => Promise<void>): Promise<Array<number>> => {
  await round()
  const out: Array<number> = []
  for (let i = 0; i < settings.runs; i++) {
    const t = now()
    await round()
    out.push(now() - t)
  }
  return out
}

const rawSpawn = () =>
  new Promise<void>((resolve, reject) => {
    const child = spawn("sh", ["-c", "true"], { stdio: "ignore" })
    child.on("error", reject)
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`sh exited ${code}`))))
  })

/** Runs `switchyard run --once` in `cwd` with `env` over this process's (OTEL_* removed first). */
const runOnce = (cwd: string, env: Record<string, string>) =>
  new Promise<void>((resolve, reject) => {
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("OTEL_")))
    const child = spawn(process.execPath, [bin, "run", "--once"], { cwd, env: { ...base, ...env }, stdio: ["ignore", "ignore", "pipe"] })
    let stderr = ""
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")))
    child.on("error", reject)
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`switchyard run --once exited ${code}: ${stderr}`))))
  })

export const benchTelemetry = async (): Promise<TelemetryResult> => {
  const spans = timeSpans(true, false)
  const builtIn = timeSpans(true, true)
  const noSpans = timeSpans(false, false)
  const raw = await timeAsync(rawSpawn)

  const repo = makeRepo("sy-bench-otel-")
  repo.writeWorkflow(`agent:\n  command: ${JSON.stringify(repo.script("noop.sh", noopAgent))}\n`)
  let requests = 0
  const sink = createServer((req, res) => {
    requests += 1
    req.resume()
    req.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end("{}"))
  })
  await new Promise<void>((resolve) => sink.listen(0, "127.0.0.1", resolve))
  const endpoint = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`
  const runUnset = await timeAsync(() => runOnce(repo.root, {}))
  if (requests !== 0) throw new Error(`with OTEL_* unset the sink received ${requests} request(s)`)
  const runExporting = await timeAsync(() => runOnce(repo.root, { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint }))
  sink.close()
  if (requests === 0) throw new Error("with OTEL_EXPORTER_OTLP_ENDPOINT set the sink received nothing")
  const rawNode = await timeAsync(async () => {
    const r = await runProcess(process.execPath, ["-e", ""], repo.root)
    if (r.code !== 0) throw new Error(`node -e exited ${r.code}`)
  })
  return { spans, builtIn, noSpans, rawSpawn: raw, runUnset, runExporting, rawNode, exportedRequests: requests / (settings.runs + 1) }
}

export const telemetryTable = (r: TelemetryResult): string => {
  const spans = median(r.spans)
  const none = median(r.noSpans)
  const raw = median(r.rawSpawn)
  const unset = median(r.runUnset)
  const exporting = median(r.runExporting)
  const node = median(r.rawNode)
  const us = (x: number) => `${(x * 1000).toFixed(1)} µs`
  const pct = (x: number) => `${((x / raw) * 100).toFixed(2)}%`
  return table(["measure", "median", "range", "vs raw", "note"], [
    ["raw: spawn `sh -c true`", ms(raw), range(r.rawSpawn), "1.0×", "the least one verification command costs"],
    ["one attempt without spans", us(none), "", pct(none), "the work of the program: none"],
    ["one attempt's 14 spans, OTEL_* unset", us(spans), "", pct(spans), `${ratio(spans, none)} the program without spans`],
    [
      "the same, Effect's built-in tracer on",
      us(median(r.builtIn)),
      "",
      pct(median(r.builtIn)),
      "what unset would cost without turning the tracer off"
    ],
    ["raw: `node -e \"\"`", ms(node), range(r.rawNode), "1.0×", ""],
    ["`run --once`, nothing to do, OTEL_* unset", ms(unset), range(r.runUnset), ratio(unset, node), "the SDK is not loaded"],
    [
      "`run --once`, nothing to do, exporting",
      ms(exporting),
      range(r.runExporting),
      ratio(exporting, node),
      `${ratio(exporting, unset)} the unset run; ${r.exportedRequests.toFixed(1)} OTLP requests per run`
    ]
  ])
}
