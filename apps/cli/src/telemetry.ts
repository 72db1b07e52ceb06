/**
 * OpenTelemetry export for `switchyard run` (docs/observability.md): the factory's spans and metrics
 * (@switchyard/core Telemetry) sent over OTLP/HTTP by the OpenTelemetry SDK through `@effect/opentelemetry`'s
 * NodeSdk, configured by the standard variables only:
 *
 * - on when `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or
 *   `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` is set (and `OTEL_SDK_DISABLED` is not `true`); the exporters read the
 *   rest themselves (`OTEL_EXPORTER_OTLP_HEADERS`, `…_TIMEOUT`, `…_COMPRESSION`, per-signal endpoints);
 * - `OTEL_SERVICE_NAME` (default `switchyard`), `OTEL_METRIC_EXPORT_INTERVAL` (ms, default 60000).
 *
 * Off (the default), the SDK is not even loaded (its modules are imported only when on) and Effect's tracer is
 * turned off, so the spans are no-ops. Spans are batched; the pending ones and the metrics are flushed when
 * the run ends, signals included.
 */
import { Config, Effect, Layer, Option } from "effect"
import { VERSION } from "./version.js"

const text = (name: string) =>
  Config.option(Config.string(name)).pipe(Effect.map((o) => Option.filter(o, (v) => v.trim() !== "")), Effect.orElseSucceed(() => Option.none()))

/** True when the OTEL_* variables ask for export (see the module comment). */
export const telemetryEnabled = Effect.gen(function*() {
  if (Option.getOrUndefined(yield* text("OTEL_SDK_DISABLED"))?.toLowerCase() === "true") return false
  for (const name of ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"]) {
    if (Option.isSome(yield* text(name))) return true
  }
  return false
})

/**
 * The tracer and meter that export, or, when the variables do not ask for it, Effect's tracer turned off: every span
 * is then a no-op (Effect's built-in tracer would record each in memory for nothing; bench/telemetry.ts measures
 * both).
 */
export const telemetryLayer = Layer.unwrapEffect(Effect.gen(function*() {
  if (!(yield* telemetryEnabled)) return Layer.setTracerEnabled(false)
  const serviceName = Option.getOrElse(yield* text("OTEL_SERVICE_NAME"), () => "switchyard")
  const interval = Number(Option.getOrElse(yield* text("OTEL_METRIC_EXPORT_INTERVAL"), () => "60000"))
  const [NodeSdk, traces, metrics, base, sdkMetrics] = yield* Effect.promise(() =>
    Promise.all([
      import("@effect/opentelemetry/NodeSdk"),
      import("@opentelemetry/exporter-trace-otlp-http"),
      import("@opentelemetry/exporter-metrics-otlp-http"),
      import("@opentelemetry/sdk-trace-base"),
      import("@opentelemetry/sdk-metrics")
    ])
  )
  return NodeSdk.layer(() => ({
    resource: { serviceName, serviceVersion: VERSION },
    spanProcessor: new base.BatchSpanProcessor(new traces.OTLPTraceExporter()),
    metricReader: new sdkMetrics.PeriodicExportingMetricReader({
      exporter: new metrics.OTLPMetricExporter(),
      exportIntervalMillis: Number.isFinite(interval) && interval > 0 ? interval : 60000
    }),
    shutdownTimeout: "5 seconds"
  }))
}))
