/** Test helpers: run the real `claude` and `codex` binaries against a twin, temp git repos, SSE parsing. */
import { Command, FileSystem } from "@effect/platform"
import { Chunk, Effect, Stream } from "effect"
import { fileURLToPath } from "node:url"
import { AgentEvent, BwrapConfinement, ClaudeStream, CodexAgent } from "@switchyard/node"
import { WorkflowConfig } from "@switchyard/domain"
import { Schema } from "effect"
import * as Twin from "../src/Twin.js"

/** This Switchyard checkout. */
const projectRoot = fileURLToPath(new URL("../../../", import.meta.url)).replace(/\/$/, "")

/** The claude CLI installed as this package's devDependency. */
export const claudeBin = fileURLToPath(new URL("../node_modules/.bin/claude", import.meta.url))

/** Fixture directory. */
export const fixturePath = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))

/** A temp dir with an initialised git repo (one commit), removed when the scope closes. */
export const tempRepo = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const dir = yield* fs.makeTempDirectoryScoped({ prefix: "twin-repo-" })
  const git = (...args: Array<string>) =>
    Command.make("git", ...args).pipe(Command.workingDirectory(dir), Command.exitCode)
  yield* git("init", "-q")
  yield* fs.writeFileString(`${dir}/README.md`, "# demo\n")
  yield* git("-c", "user.email=t@t", "-c", "user.name=t", "add", ".")
  yield* git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "init")
  return dir
})

export interface ClaudeRun {
  readonly exitCode: number
  readonly stdout: string
  readonly stderr: string
  readonly events: ReadonlyArray<AgentEvent.AgentEvent>
}

/**
 * Run `claude -p <prompt> --bare --allowedTools Bash --output-format stream-json --verbose [...extraArgs]` in
 * `cwd` with a clean environment (PATH only, HOME = `home`) pointed at the twin. Killed after 25 s.
 */
export const runClaude = (options: {
  readonly twinUrl: string
  readonly cwd: string
  readonly home: string
  readonly prompt: string
  readonly extraArgs?: ReadonlyArray<string>
  readonly extraEnv?: Readonly<Record<string, string>>
}) =>
  Effect.gen(function*() {
    const command = Command.make(
      claudeBin,
      "-p",
      options.prompt,
      "--bare",
      "--allowedTools",
      "Bash",
      "--output-format",
      "stream-json",
      "--verbose",
      ...(options.extraArgs ?? [])
    ).pipe(
      Command.workingDirectory(options.cwd),
      Command.env({
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        HOME: options.home,
        ANTHROPIC_BASE_URL: options.twinUrl,
        ANTHROPIC_API_KEY: "sk-test",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
        ...options.extraEnv
      }, { extendEnv: false }),
      // An open stdin pipe makes `claude -p` wait ~3 s for piped input; close it at once.
      Command.feed("")
    )
    const proc = yield* Command.start(command)
    const [chunks, stderr, exitCode] = yield* Effect.all([
      Stream.runCollect(proc.stdout),
      proc.stderr.pipe(Stream.decodeText(), Stream.mkString),
      proc.exitCode
    ], { concurrency: "unbounded" })
    const stdout = Buffer.concat(Chunk.toReadonlyArray(chunks)).toString("utf8")
    // Decode the chunks exactly as the process wrote them.
    const events = yield* ClaudeStream.decodeStream(Stream.fromChunk(chunks)).pipe(
      Stream.runCollect,
      Effect.map(Chunk.toReadonlyArray)
    )
    return { exitCode, stdout, stderr, events } satisfies ClaudeRun
  }).pipe(Effect.scoped, Effect.timeoutFail({ duration: "25 seconds", onTimeout: () => "claude timed out" as const }))

/** Parse an SSE body into `{event, data}` frames. */
export const parseSse = (body: string): ReadonlyArray<{ readonly event: string; readonly data: any }> =>
  body
    .split("\n\n")
    .filter((frame) => frame.trim() !== "")
    .map((frame) => {
      const lines = frame.split("\n")
      const event = lines.find((l) => l.startsWith("event: "))?.slice("event: ".length) ?? ""
      const data = lines.find((l) => l.startsWith("data: "))?.slice("data: ".length) ?? "null"
      return { event, data: JSON.parse(data) }
    })

/** POST JSON with fetch; returns status, headers and body text. */
export const post = (url: string, body: unknown) =>
  Effect.tryPromise(async (signal) => {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: typeof body === "string" ? body : JSON.stringify(body),
      signal
    })
    return { status: response.status, contentType: response.headers.get("content-type"), text: await response.text() }
  })

/** The codex CLI: `@openai/codex` 0.169.0 as this package's devDependency. */
export const codexBin = fileURLToPath(new URL("../node_modules/.bin/codex", import.meta.url))

export interface CodexRun {
  readonly exitCode: number
  readonly stdout: string
  readonly stderr: string
  /** stdout parsed line by line (`codex exec --json` prints one JSON event per line). */
  readonly events: ReadonlyArray<{ readonly type: string; readonly [key: string]: any }>
}

/**
 * Run `codex exec --json --sandbox danger-full-access --skip-git-repo-check <twin provider> [...extraArgs] -` in
 * `cwd` the way the codex station does: inside Switchyard's bubblewrap confinement (Codex's own sandbox off, since
 * ours replaces it; docs/agents.md), with only the twin reachable, the prompt on stdin and a clean environment
 * (PATH, HOME = `home`, OPENAI_API_KEY=sk-test). Killed after 25 s.
 */
export const runCodex = (options: {
  readonly twinUrl: string
  readonly cwd: string
  readonly home: string
  readonly prompt: string
  readonly extraArgs?: ReadonlyArray<string>
}) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const hiddenRepo = yield* fs.makeTempDirectoryScoped({ prefix: "twin-hidden-repo-" })
    const hiddenWorkspace = yield* fs.makeTempDirectoryScoped({ prefix: "twin-hidden-ws-" })
    const confinement = yield* BwrapConfinement.make({
      repoRoot: hiddenRepo,
      workspaceRoot: hiddenWorkspace,
      // This checkout (the codex binary) stays readable even where it lies under the private /tmp.
      sandbox: Schema.decodeUnknownSync(WorkflowConfig)({ sandbox: { readable: [projectRoot] } }).sandbox
    })
    const confined = yield* confinement.wrap(
      [
        codexBin,
        "exec",
        "--json",
        "--sandbox",
        CodexAgent.sandboxMode(confinement.kind),
        "--skip-git-repo-check",
        ...Twin.codexConfigArgs({ url: options.twinUrl }),
        ...(options.extraArgs ?? []),
        "-"
      ],
      { PATH: process.env.PATH ?? "/usr/bin:/bin", OPENAI_API_KEY: "sk-test" },
      { cwd: options.cwd, writable: [options.cwd], home: options.home, network: { modelEndpoint: options.twinUrl } }
    )
    const command = Command.make(confined.argv[0]!, ...confined.argv.slice(1)).pipe(
      Command.workingDirectory(options.cwd),
      Command.env(confined.env, { extendEnv: false }),
      Command.feed(options.prompt)
    )
    const proc = yield* Command.start(command)
    const [stdout, stderr, exitCode] = yield* Effect.all([
      proc.stdout.pipe(Stream.decodeText(), Stream.mkString),
      proc.stderr.pipe(Stream.decodeText(), Stream.mkString),
      proc.exitCode
    ], { concurrency: "unbounded" })
    const events = stdout.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l))
    return { exitCode, stdout, stderr, events } satisfies CodexRun
  }).pipe(Effect.scoped, Effect.timeoutFail({ duration: "25 seconds", onTimeout: () => "codex timed out" as const }))
