/** What the Verifier reports besides command results: anti-cheat guard outcomes and test counts. */
import { Schema } from "effect"

/** Stable anti-cheat guard rule ids, in the order the guards report them (docs/guards.md). */
export const GUARD_RULES = [
  "deleted_test_file",
  "removed_test_case",
  "skip_or_only_added",
  "validation_config_edited",
  "outside_scope",
  "protected_path",
  "added_file_too_large",
  "secret_in_diff",
  "symlink_outside_tree",
  "patch_incomplete"
] as const

/** One of {@link GUARD_RULES}. */
export type GuardRule = (typeof GUARD_RULES)[number]

/** The test-count guard's rule id (verification compares test counts with the base). */
export const TEST_COUNT_RULE = "test_count_dropped" as const

/** A guard rule id as evidence stores it: one of {@link GUARD_RULES}, or the test-count guard. */
export const GuardRuleId = Schema.Literal(...GUARD_RULES, TEST_COUNT_RULE)
export type GuardRuleId = typeof GuardRuleId.Type

/** A diff line that triggered a rule (already redacted and cut to at most 240 characters). */
export const GuardLine = Schema.Struct({ file: Schema.String, line: Schema.String })
export type GuardLine = typeof GuardLine.Type

/** The outcome of one guard rule on one candidate (rules: docs/guards.md). */
export class GuardResult extends Schema.Class<GuardResult>("GuardResult")({
  /** Stable rule id, e.g. `deleted_test_file`. */
  rule: GuardRuleId,
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
