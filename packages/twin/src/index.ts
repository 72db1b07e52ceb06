/** @switchyard/twin: a model twin for the real `claude` CLI, and typed decoding of its stream-json output. */
export * as Messages from "./Messages.js"
export * as Playbook from "./Playbook.js"
export * as StreamJson from "./StreamJson.js"
export * as Twin from "./Twin.js"
