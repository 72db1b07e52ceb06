/**
 * The factory's traces and metrics, as Effect spans and metrics (docs/observability.md). Nothing here exports: the
 * program's edge provides an OpenTelemetry tracer and meter (`@effect/opentelemetry`) only when the standard
 * `OTEL_EXPORTER_OTLP_ENDPOINT`/`OTEL_*` variables ask for it; otherwise the spans go to Effect's built-in tracer and
 * the metrics to its in-memory registry, and nothing leaves the process.
 *
 * Span names: `switchyard.tick` (root, one per loop tick), `switchyard.attempt` (root, one per attempt) with its
 * `switchyard.stage.<stage>` children, `switchyard.agent.run` under the agent stage, `switchyard.verify.command` under
 * the stage that verifies, and `Line.settle` (the ending: terminal state and cause). Attribute keys are below.
 */
import type { EvidenceBundle } from "@switchyard/domain"
import { Effect, FiberRef, Metric, MetricBoundaries, MetricLabel, type Tracer } from "effect"

/** Attribute keys of the factory's spans (OpenTelemetry attribute names). */
export const Attr = {
  issueId: "switchyard.issue_id",
  attempt: "switchyard.attempt",
  stage: "switchyard.stage",
  station: "switchyard.station",
  route: "switchyard.route",
  inputTokens: "switchyard.tokens.input",
  outputTokens: "switchyard.tokens.output",
  costUsd: "switchyard.cost_usd",
  terminalState: "switchyard.terminal_state",
  cause: "switchyard.cause",
  phase: "switchyard.verify.phase",
  command: "switchyard.verify.command",
  exitCode: "switchyard.exit_code",
  durationMs: "switchyard.duration_ms",
  started: "switchyard.tick.started",
  running: "switchyard.tick.running"
} as const

/**
 * `Effect.withSpan(self, name, options)` when the tracer is on, else `self` unchanged: no span object, no captured
 * stack. `switchyard run` turns the tracer off unless OTEL_* asks for export, so the factory's spans cost nothing
 * then (bench/telemetry.ts measures it against the same program without spans).
 */
export const traced = (name: string, options?: Tracer.SpanOptions) => <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.flatMap(FiberRef.get(FiberRef.currentTracerEnabled), (on) => (on ? Effect.withSpan(self, name, options) : self))

/**
 * `Effect.annotateCurrentSpan(values)` when the tracer is on, else nothing (without a span, annotating fails inside
 * and is ignored, which costs an error object each time).
 */
export const annotate = (values: Record<string, unknown>): Effect.Effect<void> =>
  Effect.flatMap(FiberRef.get(FiberRef.currentTracerEnabled), (on) => (on ? Effect.annotateCurrentSpan(values) : Effect.void))

/** Attempts that reached a terminal state, tagged `terminal_state`, `cause` and `station`. */
export const attemptsEnded = Metric.counter("switchyard.attempts.ended", {
  description: "attempts that reached a terminal state",
  incremental: true
})

/** Wall time of an ended attempt (ms), tagged `terminal_state`. */
export const attemptDuration = Metric.histogram(
  "switchyard.attempt.duration_ms",
  MetricBoundaries.exponential({ start: 250, factor: 2, count: 16 }),
  "wall time of an ended attempt (ms)"
)

/** Model tokens an ended attempt used, tagged `direction` (`input`/`output`) and `station`. */
export const tokensUsed = Metric.counter("switchyard.tokens", { description: "model tokens used", incremental: true })

/** Model cost an ended attempt reported (USD), tagged `station`. */
export const costUsd = Metric.counter("switchyard.cost_usd", { description: "model cost reported (USD)", incremental: true })

/** The span attributes of an ended attempt: its terminal state, cause, station, route, tokens and cost. */
export const endingAttributes = (bundle: EvidenceBundle): Record<string, string | number> => ({
  [Attr.issueId]: bundle.issueId,
  [Attr.attempt]: bundle.attempt,
  [Attr.terminalState]: bundle.outcome,
  [Attr.cause]: bundle.verdict.cause,
  [Attr.station]: bundle.agent?.kind ?? "none",
  [Attr.route]: bundle.agent?.route ?? "default",
  [Attr.inputTokens]: bundle.usage.inputTokens,
  [Attr.outputTokens]: bundle.usage.outputTokens,
  ...(bundle.usage.costUsd === null ? {} : { [Attr.costUsd]: bundle.usage.costUsd })
})

/**
 * Updates the metrics for an attempt that ended with `bundle`: the count by terminal state, cause and station, its
 * duration, and its tokens and cost. Never fails.
 */
export const recordEnding = (bundle: EvidenceBundle) =>
  Effect.gen(function*() {
    const station = bundle.agent?.kind ?? "none"
    const state = bundle.outcome
    yield* Metric.increment(
      Metric.taggedWithLabels(attemptsEnded, [
        MetricLabel.make("terminal_state", state),
        MetricLabel.make("cause", bundle.verdict.cause),
        MetricLabel.make("station", station)
      ])
    )
    yield* Metric.update(
      Metric.tagged(attemptDuration, "terminal_state", state),
      Math.max(0, bundle.timings.endedAt - bundle.timings.startedAt)
    )
    const tokens = (direction: string) =>
      Metric.taggedWithLabels(tokensUsed, [MetricLabel.make("direction", direction), MetricLabel.make("station", station)])
    yield* Metric.incrementBy(tokens("input"), bundle.usage.inputTokens)
    yield* Metric.incrementBy(tokens("output"), bundle.usage.outputTokens)
    if (bundle.usage.costUsd !== null) yield* Metric.incrementBy(Metric.tagged(costUsd, "station", station), bundle.usage.costUsd)
  })
