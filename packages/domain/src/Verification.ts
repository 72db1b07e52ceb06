/** What the Verifier reports besides command results: anti-cheat guard outcomes and test counts. */
import { Schema } from "effect"

/** A diff line that triggered a rule (already redacted and cut to at most 240 characters). */
export const GuardLine = Schema.Struct({ file: Schema.String, line: Schema.String })
export type GuardLine = typeof GuardLine.Type

/** The outcome of one guard rule on one candidate (rules: docs/guards.md). */
export class GuardResult extends Schema.Class<GuardResult>("GuardResult")({
  /** Stable rule id, e.g. `deleted_test_file`. */
  rule: Schema.String,
  passed: Schema.Boolean,
  /** One sentence a person can act on. */
  detail: Schema.String,
  /**
   * The diff lines that triggered the rule (at most 20). Empty when it passed, except when an allowed exception
   * applied (e.g. an allowed validation-config edit): then they show what was allowed.
   */
  lines: Schema.Array(GuardLine)
}) {}

/** Which output format the counts came from. `tap` = a TAP producer other than `node --test` (e.g. tape). */
export const TestRunner = Schema.Literal("node-test", "vitest", "tap")
export type TestRunner = typeof TestRunner.Type

/** Test counts of one validation run. `skipped` includes todo tests; `failed` includes cancelled ones. */
export class TestCounts extends Schema.Class<TestCounts>("TestCounts")({
  passed: Schema.NonNegativeInt,
  failed: Schema.NonNegativeInt,
  skipped: Schema.NonNegativeInt,
  total: Schema.NonNegativeInt,
  runner: TestRunner
}) {}
