import { HookName } from "@switchyard/domain"
import { Schema } from "effect"

/** The directory switchyard was pointed at is not inside a git work tree. */
export class NotAGitRepo extends Schema.TaggedError<NotAGitRepo>()("NotAGitRepo", {
  path: Schema.String
}) {
  override get message() {
    return `${this.path} is not inside a git repository; run switchyard from your repo (or \`git init\` first)`
  }
}

/** Tracked files have uncommitted changes, so the base commit would not be what the human sees. */
export class DirtyBase extends Schema.TaggedError<DirtyBase>()("DirtyBase", {
  repo: Schema.String,
  files: Schema.Array(Schema.String)
}) {
  override get message() {
    const shown = this.files.slice(0, 5).join(", ")
    const more = this.files.length > 5 ? ` and ${this.files.length - 5} more` : ""
    return `the base is dirty: ${shown}${more} have uncommitted changes in ${this.repo}; commit or stash them first`
  }
}

/** A git operation on a worktree, branch or commit failed. */
export class SandboxError extends Schema.TaggedError<SandboxError>()("SandboxError", {
  operation: Schema.String,
  reason: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {
  override get message() {
    return `sandbox ${this.operation} failed: ${this.reason}`
  }
}

/** A workflow hook exited non-zero or timed out (Symphony SPEC §9.4 says which hooks are fatal). */
export class HookFailed extends Schema.TaggedError<HookFailed>()("HookFailed", {
  hook: HookName,
  exitCode: Schema.NullOr(Schema.Number),
  timedOut: Schema.Boolean,
  outputTail: Schema.String
}) {
  override get message() {
    const why = this.timedOut ? "timed out" : `exited ${this.exitCode}`
    return `hook ${this.hook} ${why}: ${this.outputTail.trim().split("\n").slice(-3).join(" | ")}`
  }
}
