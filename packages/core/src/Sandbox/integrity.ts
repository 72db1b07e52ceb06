/**
 * The integrity check: what an agent could tamper with in the main repository, recorded before and after each
 * agent run and compared (docs/security.md, "Integrity is checked, not assumed"). Under bubblewrap the agent cannot
 * reach any of it; the check is the backstop, and the only defence under `sandbox.confinement: none`.
 */
import type { ConfinementKind, EscapeTarget } from "@switchyard/domain"

/** The main repository's tamperable state at one moment. Contents are kept for what can be restored. */
export interface IntegritySnapshot {
  /** Every ref (`refs/...`) → object id. */
  readonly refs: ReadonlyMap<string, string>
  /** `.git/hooks/<name>` → content (bytes as latin1 text), for every regular file there. */
  readonly hooks: ReadonlyMap<string, string>
  /** `.git/config`'s content, or null when missing. */
  readonly config: string | null
  /** `.git/info/attributes`' content, or null when missing. */
  readonly attributes: string | null
  /** What HEAD is (`ref: refs/heads/main` or a commit id) and the commit it resolves to. */
  readonly head: { readonly symbolic: string | null; readonly commit: string | null }
  /** `git status --porcelain -z` of the main work tree (tracked and untracked). */
  readonly status: string
}

/** One difference between two snapshots. */
export interface Escape {
  readonly target: EscapeTarget
  /** What changed, e.g. `refs/heads/main moved from 1a2b3c4d to 5e6f7a8b`. */
  readonly detail: string
}

/** What the comparison found: the escapes (the verdict's `sandbox_escape:<what>`), and what is only named. */
export interface IntegrityReport {
  readonly escapes: ReadonlyArray<Escape>
  /**
   * Changes outside the agent's reach under bubblewrap (the base branch moving forward, the main work tree edited):
   * a human's doing, named in the verdict's reasons and the evidence, not held against the agent.
   */
  readonly noted: ReadonlyArray<string>
}

const short = (sha: string | undefined) => (sha === undefined ? "(none)" : sha.slice(0, 10))

const mapDiff = (before: ReadonlyMap<string, string>, after: ReadonlyMap<string, string>): Array<string> => {
  const changed: Array<string> = []
  for (const [key, value] of after) if (before.get(key) !== value) changed.push(key)
  for (const key of before.keys()) if (!after.has(key)) changed.push(key)
  return changed.sort()
}

/** Branches the runners themselves write while agents run (every attempt's `switchyard/<id>`). */
const isRunnerBranch = (ref: string) => ref.startsWith("refs/heads/switchyard/")

/**
 * Compares `before` and `after` an agent run. Rules:
 * - `.git/hooks`, `.git/config` and `.git/info/attributes` (the ways to get code run by git, threat model A3/A4)
 *   changing is an escape whatever the confinement;
 * - any other ref, what HEAD names, and the main work tree changing is an escape under `none` (the agent could
 *   have done it), and only noted under `bwrap` (it could not see them: a human's fetch, commit or edit);
 * - the `refs/heads/switchyard/*` branches are written by the runners for every attempt and are never held
 *   against the agent; a rewritten PR_READY branch is caught by `switchyard status --check` against its evidence.
 * Pure.
 */
export const compareIntegrity = (
  before: IntegritySnapshot,
  after: IntegritySnapshot,
  confinement: ConfinementKind
): IntegrityReport => {
  const escapes: Array<Escape> = []
  const noted: Array<string> = []
  const outOfReach = (escape: Escape) => {
    if (confinement === "bwrap") noted.push(`${escape.detail} during the attempt (outside the agent's reach)`)
    else escapes.push(escape)
  }
  for (const ref of mapDiff(before.refs, after.refs)) {
    if (isRunnerBranch(ref)) continue
    const was = before.refs.get(ref)
    const now = after.refs.get(ref)
    outOfReach({
      target: "refs",
      detail: was === undefined
        ? `${ref} was created at ${short(now)}`
        : now === undefined
        ? `${ref} was deleted (it was at ${short(was)})`
        : `${ref} moved from ${short(was)} to ${short(now)}`
    })
  }
  const hooks = mapDiff(before.hooks, after.hooks)
  if (hooks.length > 0) escapes.push({ target: "hooks", detail: `.git/hooks changed: ${hooks.join(", ")}` })
  if (before.config !== after.config) escapes.push({ target: "config", detail: ".git/config changed" })
  if (before.attributes !== after.attributes) escapes.push({ target: "attributes", detail: ".git/info/attributes changed" })
  if (before.head.symbolic !== after.head.symbolic) {
    outOfReach({
      target: "head",
      detail: `the main work tree's HEAD changed from ${before.head.symbolic ?? short(before.head.commit ?? undefined)} to ${
        after.head.symbolic ?? short(after.head.commit ?? undefined)
      }`
    })
  }
  if (before.status !== after.status) outOfReach({ target: "worktree", detail: "the main work tree changed (files edited or added)" })
  return { escapes, noted }
}
