/** Building the task packet: the issue plus the workflow's verification defaults and the rules of the game. */
import type { Issue, WorkflowConfig } from "@switchyard/domain"
import { boundIssue, TaskPacket } from "@switchyard/domain"

/** When the agent should change nothing (ours; Symphony has no NO_OP outcome). */
export const NO_OP_RULES: ReadonlyArray<string> = [
  "If the reproduction already passes before you change anything, change nothing and claim NO_OP.",
  "If the issue is already fixed or asks for nothing that needs a code change, change nothing and claim NO_OP.",
  "If the issue is too vague or contradictory to act on, change nothing and claim ESCALATE with a question."
]

/** What the evidence bundle records for every attempt (ours). Switchyard collects it; the agent does not. */
export const EVIDENCE_REQUIRED: ReadonlyArray<string> = [
  "the reproduction command's result before the change",
  "the reproduction command's result after the change",
  "the result of every validation command on the candidate",
  "the diff of the candidate against the base commit",
  "the agent's claim from the result file"
]

/** The shape of the JSON the agent writes to the result file (matches `AgentClaim` in @switchyard/domain). */
export const RESULT_FORMAT =
  "JSON {\"claim\": \"PR_READY\"|\"NO_OP\"|\"ESCALATE\", \"summary\": string, \"plan\"?: string, \"question\"?: string, \"residual_risk\"?: string}"

const dedupe = (items: ReadonlyArray<string>): Array<string> => [...new Set(items)]

/**
 * The task packet for one attempt (pure):
 * - `reproduction`: the issue's own, else `verify.reproduction` from WORKFLOW.md, else null;
 * - `validation`: `verify.validation` then the issue's commands, duplicates dropped, first occurrence kept;
 * - `attempt`: 1-based; `resultFile`: the absolute path the agent writes its claim to ($SWITCHYARD_RESULT_FILE);
 * - `no_op_rules`, `evidence_required`, `output_contract.format`: {@link NO_OP_RULES}, {@link EVIDENCE_REQUIRED},
 *   {@link RESULT_FORMAT}; `source.tracker` is `switchyard`;
 * - `title` and `intent` are cut to `MAX_TITLE_BYTES` / `MAX_BODY_BYTES` with a marker when a stored row is over
 *   them (`boundIssue`), so a hand-edited 10 MB body does not reach the agent or the bundle whole.
 */
export const buildTaskPacket = (
  stored: Issue,
  config: WorkflowConfig,
  attempt: number,
  resultFile: string
): TaskPacket => {
  const issue = boundIssue(stored)
  return TaskPacket.make({
    issue_id: issue.id,
    title: issue.title,
    intent: issue.body,
    source: { tracker: "switchyard", issue_id: issue.id, labels: [...issue.labels] },
    attempt,
    scope: [...issue.scope],
    non_goals: [...issue.non_goals],
    reproduction: issue.reproduction ?? config.verify.reproduction,
    validation: dedupe([...config.verify.validation, ...issue.validation]),
    no_op_rules: [...NO_OP_RULES],
    evidence_required: [...EVIDENCE_REQUIRED],
    output_contract: { result_file: resultFile, format: RESULT_FORMAT }
  })
}
