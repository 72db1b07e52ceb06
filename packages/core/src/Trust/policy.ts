/**
 * The trust ladder's pure rules (docs/trust.md): which change class a PR_READY change is in, which files pin a
 * change to human review whatever its class, which rung a class stands on given its measured history, and whether a
 * change may land. No I/O: the callers (`switchyard trust`, `switchyard land`) read the evidence, git and the event
 * log and pass the facts in.
 *
 * Prior art: Renovate's `packageRules` + `automerge` (a rule decides, never the author), Mergify's `-files=` conditions
 * (the policy file never auto-merges) — ../shared/reference/integrations.md §7.
 */
import type { TrustClass, TrustConfig, TrustRung } from "@switchyard/domain"
import picomatch from "picomatch"
import { PROTECTED_PATHS } from "../Verifier/guards.js"

/**
 * CI configuration of the common hosted and self-hosted CIs: a change to any of them never auto-lands (it could
 * weaken the very checks that vouch for it).
 */
export const CI_CONFIG_PATHS: ReadonlyArray<string> = [
  ".github/**",
  ".gitlab-ci.yml",
  ".gitlab/**",
  ".circleci/**",
  ".buildkite/**",
  ".travis.yml",
  "azure-pipelines.yml",
  ".azure-pipelines/**",
  "Jenkinsfile",
  "bitbucket-pipelines.yml",
  ".drone.yml",
  ".woodpecker.yml",
  ".woodpecker/**"
]

/** The facts about one change that classification reads (from its evidence bundle and issue). */
export interface ChangeFacts {
  /** Repo-relative paths the change touches (both sides of a rename). */
  readonly files: ReadonlyArray<string>
  /** Lines added + removed; null when unknown (a truncated patch): then no class with `max_lines` matches. */
  readonly linesChanged: number | null
  /** The issue's labels. */
  readonly labels: ReadonlyArray<string>
  /** The guards that ran on the candidate and their outcome. */
  readonly guards: ReadonlyArray<{ readonly rule: string; readonly passed: boolean }>
}

/** What the policy file and the protected paths are, as the caller's workflow says. */
export interface PinnedPaths {
  /** The workflow file, repo-relative (e.g. `WORKFLOW.md`): the policy itself. */
  readonly workflowPath: string
  /** `verify.protected_paths`. */
  readonly protectedPaths: ReadonlyArray<string>
}

/** The class of a change, and the files that keep it from ever auto-landing. */
export interface Classification {
  /** The first class whose every condition holds; null: no class (review). */
  readonly className: string | null
  /** Files of the change that never auto-land (the policy, CI config, protected paths, `trust.never_auto_land`). */
  readonly pinned: ReadonlyArray<string>
  /** Per class, in order, why it did not match (empty string when it matched). */
  readonly misses: ReadonlyArray<{ readonly className: string; readonly why: string }>
}

const norm = (label: string): string => label.trim().toLowerCase()

/** The globs whose change never auto-lands: the policy file, `.switchyard/**`, CI config, protected paths, extras. */
export const neverAutoLandGlobs = (trust: TrustConfig, pinned: PinnedPaths): ReadonlyArray<string> => [
  pinned.workflowPath,
  ...PROTECTED_PATHS,
  ...CI_CONFIG_PATHS,
  ...pinned.protectedPaths,
  ...trust.never_auto_land
]

/** Why `cls` does not hold for `facts` (one sentence), or null when it does. */
const missOf = (cls: TrustClass, facts: ChangeFacts): string | null => {
  if (facts.files.length === 0) return "the change touches no file"
  const inPaths = picomatch([...cls.paths], { dot: true })
  const outside = facts.files.filter((f) => !inPaths(f))
  if (outside.length > 0) return `${outside.slice(0, 3).join(", ")} outside ${cls.paths.join(", ")}`
  if (cls.labels.length > 0) {
    const wanted = new Set(cls.labels.map(norm))
    if (!facts.labels.some((l) => wanted.has(norm(l)))) return `the issue has none of the labels ${cls.labels.join(", ")}`
  }
  if (cls.max_files !== null && facts.files.length > cls.max_files) {
    return `${facts.files.length} files, over max_files ${cls.max_files}`
  }
  if (cls.max_lines !== null) {
    if (facts.linesChanged === null) return `the size of the change is unknown (its patch was cut), max_lines ${cls.max_lines}`
    if (facts.linesChanged > cls.max_lines) return `${facts.linesChanged} changed lines, over max_lines ${cls.max_lines}`
  }
  for (const rule of cls.guards) {
    const ran = facts.guards.find((g) => g.rule === rule)
    if (ran === undefined) return `guard ${rule} did not run`
    if (!ran.passed) return `guard ${rule} failed`
  }
  return null
}

/**
 * Classifies a change under `trust`: the first class of `trust.classes` whose paths, labels, size limits
 * (`max_files`, `max_lines`) and required guards all hold, plus the files that pin it to review whatever its class
 * ({@link neverAutoLandGlobs}). Pure.
 */
export const classify = (trust: TrustConfig, facts: ChangeFacts, pinned: PinnedPaths): Classification => {
  const isPinned = picomatch([...neverAutoLandGlobs(trust, pinned)], { dot: true })
  const misses: Array<{ className: string; why: string }> = []
  let className: string | null = null
  for (const cls of trust.classes) {
    const why = missOf(cls, facts)
    misses.push({ className: cls.name, why: why ?? "" })
    if (why === null) {
      className = cls.name
      break
    }
  }
  return { className, pinned: facts.files.filter((f) => isPinned(f)), misses }
}

/**
 * Lines added + removed in a unified git patch (`+`/`-` lines, not the `+++`/`---` headers); null when the patch
 * was cut (`truncated`), since the size is then unknown. Pure.
 */
export const linesChangedOf = (patch: string, truncated: boolean): number | null => {
  if (truncated) return null
  let n = 0
  let inHunk = false
  for (const line of patch.split("\n")) {
    if (line.startsWith("diff --git ")) inHunk = false
    else if (line.startsWith("@@")) inHunk = true
    else if (inHunk && (line.startsWith("+") || line.startsWith("-"))) n++
  }
  return n
}

/** One entry of a class's measured history (from the event log: `trust.merged`, `trust.landed`, `trust.reverted`). */
export interface TrustRecord {
  /** `merged`: a human merged a PR_READY change of the class; `landed`: Switchyard landed it; `reverted`: a landed or merged change of the class was reverted. */
  readonly kind: "merged" | "landed" | "reverted"
  readonly className: string
  readonly issueId: string
  /** Epoch ms. */
  readonly at: number
  /** For `reverted`: what showed the revert (the revert commit, a reopened issue). */
  readonly reason: string
}

/** Where a class stands on the ladder. */
export interface RungState {
  readonly className: string
  /** What the policy allows at most. */
  readonly policyRung: TrustRung
  /** What applies now. */
  readonly rung: TrustRung
  /** Consecutive human merges since the last revert. */
  readonly streak: number
  /** Human merges needed for `auto_land` (`promote_after`). */
  readonly needed: number
  /** The last revert of the class, when there was one: it demoted the class. */
  readonly demotedBy: TrustRecord | null
  readonly merged: number
  readonly landed: number
  readonly reverted: number
  /** One sentence: why this rung, and what the next promotion needs. */
  readonly reason: string
}

/**
 * The rung of class `cls` given its `history` (oldest first; other classes' records are ignored). A class on policy
 * rung `review` stays there. On `auto_land`, it lands only once it has `promote_after` (else `trust.promote_after`)
 * consecutive human merges since its last revert: a revert resets the streak to 0 (demotion to `review`), and
 * changes Switchyard landed itself neither count towards the streak nor break it, so the class never promotes itself.
 * Pure; the source of the rule is issue 15 ("earns auto_land only by policy and measured history").
 */
export const rungOf = (cls: TrustClass, defaultPromoteAfter: number, history: ReadonlyArray<TrustRecord>): RungState => {
  const needed = cls.promote_after ?? defaultPromoteAfter
  const own = history.filter((r) => r.className === cls.name)
  let streak = 0
  let demotedBy: TrustRecord | null = null
  for (const r of own) {
    if (r.kind === "merged") streak++
    else if (r.kind === "reverted") {
      streak = 0
      demotedBy = r
    }
  }
  const count = (kind: TrustRecord["kind"]) => own.filter((r) => r.kind === kind).length
  const base = { className: cls.name, policyRung: cls.rung, streak, needed, demotedBy, merged: count("merged"), landed: count("landed"), reverted: count("reverted") }
  if (cls.rung === "review") return { ...base, rung: "review", reason: "the policy keeps this class at review" }
  if (streak >= needed) {
    return { ...base, rung: "auto_land", reason: `${streak} consecutive human merges without a revert (needs ${needed})` }
  }
  const left = needed - streak
  const since = demotedBy === null ? "" : ` since it was demoted (${demotedBy.issueId}: ${demotedBy.reason})`
  return {
    ...base,
    rung: "review",
    reason: `${left} more human ${left === 1 ? "merge" : "merges"} without a revert${since} before it auto-lands (${streak}/${needed})`
  }
}

/** Whether a change may land now, and under which rule. */
export type LandingDecision =
  | { readonly _tag: "Land"; readonly className: string; readonly rule: string }
  | { readonly _tag: "Review"; readonly reason: string }
  | { readonly _tag: "Stale"; readonly reason: string }

/**
 * Decides landing for a PR_READY change: pinned files → review (never auto-lands); no class → review; a class not on
 * `auto_land` now → review (its rung's reason); evidence not fresh against the current base (`freshness` non-null:
 * why) → stale, which blocks landing until it is re-verified; otherwise land, under the rule named. Pure.
 */
export const decideLanding = (
  classification: Classification,
  rung: RungState | null,
  freshness: string | null
): LandingDecision => {
  if (classification.pinned.length > 0) {
    return { _tag: "Review", reason: `${classification.pinned.slice(0, 3).join(", ")} never auto-land (policy, CI config or protected path)` }
  }
  if (classification.className === null || rung === null) return { _tag: "Review", reason: "no trust class matches the change" }
  if (rung.rung !== "auto_land") return { _tag: "Review", reason: `class ${rung.className}: ${rung.reason}` }
  if (freshness !== null) return { _tag: "Stale", reason: freshness }
  return { _tag: "Land", className: rung.className, rule: `trust.classes.${rung.className}: ${rung.reason}` }
}
