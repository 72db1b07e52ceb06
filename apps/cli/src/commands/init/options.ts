/** `switchyard init`: no options. */
export const initConfig = {}

export const initDescription = "create .switchyard/ and a commented WORKFLOW.md (safe to run twice)"
