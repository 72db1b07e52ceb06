/**
 * Helpers for the tests of `switchyard serve` / `run --port`: start the built CLI serving on a free port and read
 * its URL from the first stdout line, a plain Server-Sent Events client (fetch + the text/event-stream framing), and
 * a JSON fetch that decodes with the API's Schemas.
 */
import { Ajv } from "ajv"
import { Schema } from "effect"
import { spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { bin, lines } from "./harness.js"

/** Starts `switchyard <args>` in `cwd` with `env` over the test's, and waits for `listening on http://…`. */
export const serving = async (
  cwd: string,
  args: ReadonlyArray<string>,
  track: <C extends import("node:child_process").ChildProcess>(c: C) => C,
  env: Readonly<Record<string, string>> = {}
) => {
  const child = track(spawn(process.execPath, [bin, ...args], { cwd, env: { ...process.env, SWITCHYARD_LOG: "warning", ...env } }))
  const out = lines(child)
  const first = await out.waitFor(/./, 30_000)
  const match = /^listening on (http:\/\/127\.0\.0\.1:\d+)$/.exec(first)
  if (match === null) throw new Error(`first stdout line is not "listening on …": ${first}\n${out.stderr()}`)
  return { child, out, url: match[1]!, first }
}

export interface SseEvent {
  readonly event: string
  readonly id: string | null
  readonly data: string
}

/** An SSE client: collects every event; `waitFor` resolves on the first event matching. */
export const sse = async (url: string, headers: Record<string, string> = {}) => {
  const controller = new AbortController()
  const response = await fetch(url, { headers, signal: controller.signal })
  const events: Array<SseEvent> = []
  const waiters: Array<{ test: (e: SseEvent) => boolean; resolve: (e: SseEvent) => void }> = []
  let ended = false
  const done = (async () => {
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
    let buffer = ""
    try {
      while (true) {
        const { done, value } = await reader.read()
        if (done) break
        buffer += value
        let cut: number
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut)
          buffer = buffer.slice(cut + 2)
          let event = "message"
          let id: string | null = null
          const data: Array<string> = []
          for (const line of block.split("\n")) {
            if (line.startsWith("event: ")) event = line.slice(7)
            else if (line.startsWith("id: ")) id = line.slice(4)
            else if (line.startsWith("data: ")) data.push(line.slice(6))
          }
          if (data.length === 0) continue
          const e = { event, id, data: data.join("\n") }
          events.push(e)
          for (const w of [...waiters]) {
            if (w.test(e)) {
              waiters.splice(waiters.indexOf(w), 1)
              w.resolve(e)
            }
          }
        }
      }
    } catch {
      // aborted by the test
    }
    ended = true
  })()
  return {
    response,
    events,
    /** Resolves when the server ended the stream. */
    done,
    ended: () => ended,
    close: () => controller.abort(),
    waitFor: (test: (e: SseEvent) => boolean, timeoutMs = 60_000) =>
      new Promise<SseEvent>((resolve, reject) => {
        const hit = events.find(test)
        if (hit) return resolve(hit)
        const timer = setTimeout(
          () => reject(new Error(`no matching event within ${timeoutMs} ms; got ${events.map((e) => e.data).join("\n")}`)),
          timeoutMs
        )
        waiters.push({ test, resolve: (e) => (clearTimeout(timer), resolve(e)) })
      })
  }
}

/** GETs (or sends) `url` and returns the status, headers and parsed JSON body. */
export const call = async (
  url: string,
  init: RequestInit = {}
): Promise<{ readonly status: number; readonly headers: { get: (name: string) => string | null }; readonly body: unknown }> => {
  const response = await fetch(url, init)
  const text = await response.text()
  return { status: response.status, headers: response.headers, body: text === "" ? null : JSON.parse(text) as unknown }
}

/** Decodes `body` with `schema` (the API's own Schemas: what docs/api.schema.json is generated from). */
export const decode = <A, I>(schema: Schema.Schema<A, I>, body: unknown): A => Schema.decodeUnknownSync(schema)(body)

/** The published JSON Schema of the API (docs/api.schema.json), compiled once. */
const published = JSON.parse(readFileSync(fileURLToPath(new URL("../../../docs/api.schema.json", import.meta.url)), "utf8"))
const ajv = new Ajv({ strict: false, allErrors: true })
ajv.addSchema(published)

/**
 * Checks `body` against the definition `name` of docs/api.schema.json (the document clients are given) and then
 * decodes it with the Schema it was generated from. Throws with ajv's errors when it does not validate.
 */
export const conforms = <A, I>(name: string, schema: Schema.Schema<A, I>, body: unknown): A => {
  const validate = ajv.getSchema(`${published.$id}#/$defs/${name}`)
  if (validate === undefined) throw new Error(`docs/api.schema.json has no definition ${name}`)
  if (!validate(body)) throw new Error(`${name} does not validate: ${ajv.errorsText(validate.errors)}`)
  return decode(schema, body)
}
