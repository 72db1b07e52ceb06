import { Schema } from "effect"

/**
 * The confinement WORKFLOW.md asks for (`sandbox.confinement`) cannot be had here: bubblewrap is missing, cannot
 * create namespaces, or the OS has none. Nothing runs unconfined instead (fail closed, docs/security.md).
 */
export class ConfinementUnavailable extends Schema.TaggedError<ConfinementUnavailable>()("ConfinementUnavailable", {
  /** Why, in one clause, e.g. `bwrap is not installed`. */
  reason: Schema.String,
  /** How to fix it, e.g. `install it with \`apt-get install bubblewrap\``. */
  remedy: Schema.String
}) {
  override get message() {
    return `cannot confine the agent: ${this.reason}; ${this.remedy}, or opt out with \`sandbox.confinement: none\` in WORKFLOW.md (the agent then runs unconfined, and every bundle says so)`
  }
}

/** A confined process could not be set up (a path to bind is missing, the egress bridge could not listen). */
export class ConfinementError extends Schema.TaggedError<ConfinementError>()("ConfinementError", {
  operation: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `confinement ${this.operation} failed: ${this.reason}`
  }
}
