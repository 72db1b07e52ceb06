import { CommandResult, Issue, IssueId } from "@switchyard/domain"
import { DateTime } from "effect"

let n = 0
/** A valid Issue with overridable fields; ids count up from SY-1 unless given. */
export const issue = (fields: Partial<ConstructorParameters<typeof Issue>[0]> = {}): Issue => {
  n += 1
  const at = DateTime.unsafeMake(Date.UTC(2026, 0, 1, 0, 0, n))
  return new Issue({
    id: IssueId.make(`SY-${n}`),
    title: `issue ${n}`,
    body: "",
    status: "todo",
    priority: "medium",
    labels: [],
    parent: null,
    blocked_by: [],
    reproduction: null,
    validation: [],
    scope: [],
    non_goals: [],
    comments: [],
    created_at: at,
    updated_at: at,
    ...fields
  })
}

export const result = (command: string, exitCode: number | null, extra: Partial<ConstructorParameters<typeof CommandResult>[0]> = {}) =>
  new CommandResult({
    command,
    exitCode,
    signal: null,
    timedOut: false,
    environmentFailure: exitCode === 127 || exitCode === 126 || exitCode === null,
    durationMs: 5,
    outputHead: "",
    outputTail: "",
    ...extra
  })
