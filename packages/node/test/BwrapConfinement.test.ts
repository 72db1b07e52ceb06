/**
 * BwrapConfinement with real bubblewrap and real processes: what a confined process can see, write and reach.
 * Every probe runs through `ProcessRunner.runShell` with `confine`, the way hooks and verification commands do.
 */
import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, expect, it } from "@effect/vitest"
import type { ConfinedSpec, ConfinementShape } from "@switchyard/core"
import { Effect, type Scope } from "effect"
import * as Net from "node:net"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { BwrapConfinement, Egress, ProcessRunner, Unconfined } from "../src/index.js"
import { config, gitSync, makeRepo } from "./helpers.js"

const test = (name: string, body: () => Effect.Effect<void, unknown, Scope.Scope | NodeContext.NodeContext>) =>
  it.live(name, () => body().pipe(Effect.scoped, Effect.provide(NodeContext.layer)), 30_000)

/** A repo, a workspace root, a sandbox dir and a private home, and the bubblewrap confinement over them. */
const setup = (sandbox: Record<string, unknown> = {}) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const fixture = yield* makeRepo
    const box = NodePath.join(fixture.workspace, "SY-1")
    const home = NodePath.join(fixture.workspace, ".attempts", "SY-1", "home")
    yield* fs.makeDirectory(box, { recursive: true })
    yield* fs.makeDirectory(home, { recursive: true })
    const confinement = yield* BwrapConfinement.make({
      repoRoot: fixture.repo,
      workspaceRoot: fixture.workspace,
      sandbox: config({ sandbox }).sandbox,
      runnerHome: fixture.root
    })
    const spec: ConfinedSpec = { cwd: box, writable: [box], home, network: "none" }
    return { ...fixture, box, home, confinement, spec }
  })

/** Runs `script` confined; its env is `env` only. */
const confined = (confinement: ConfinementShape, spec: ConfinedSpec, script: string, env: Record<string, string> = {}) =>
  ProcessRunner.runShell({
    command: script,
    cwd: spec.cwd,
    timeoutMs: 15_000,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
    confine: { confinement, spec }
  })

/** A loopback TCP listener that answers `hello` and counts connections. */
const listener = Effect.acquireRelease(
  Effect.async<{ readonly server: Net.Server; readonly port: number; readonly hits: () => number }>((resume) => {
    let hits = 0
    const server = Net.createServer((s) => {
      hits++
      s.end("hello\n")
    })
    server.listen(0, "127.0.0.1", () => {
      const address = server.address() as Net.AddressInfo
      resume(Effect.succeed({ server, port: address.port, hits: () => hits }))
    })
  }),
  ({ server }) => Effect.async<void>((resume) => {
    server.close(() => resume(Effect.void))
  })
)

/** A node one-liner that connects to 127.0.0.1:`port`, prints `connected` or the error code, and exits 0. */
const probeConnect = (port: number) =>
  `node -e 'const s=require("net").connect(${port},"127.0.0.1",()=>{console.log("connected");s.destroy()});s.on("error",e=>console.log(e.code))'`

describe("BwrapConfinement.bwrapArgs", () => {
  it("hides before it binds back, drops every capability, dies with its parent, and shares no network unless asked", () => {
    const profile = { hiddenDirs: ["/r", "/w"], hiddenFiles: ["/h/.npmrc"], readable: ["/r/.git/objects"], writable: [] }
    const spec = { cwd: "/w/SY-1", writable: ["/w/SY-1"], home: "/w/.attempts/SY-1/home", network: "none" as const }
    const args = BwrapConfinement.bwrapArgs(profile, spec, "none")
    const at = (flag: string, value: string) => args.findIndex((a, i) => a === flag && args[i + 1] === value)
    expect(args.slice(0, 3)).toEqual(["--ro-bind", "/", "/"])
    expect(at("--tmpfs", "/r")).toBeLessThan(at("--ro-bind", "/r/.git/objects"))
    expect(at("--tmpfs", "/w")).toBeLessThan(at("--bind", "/w/SY-1"))
    // Each hidden area, and each directory made inside it on the way to a bound path, is read-only.
    expect(args[at("--tmpfs", "/r") - 1]).toBe("0555")
    expect(at("--dir", "/r/.git")).toBeGreaterThan(-1)
    expect(at("--dir", "/w/.attempts/SY-1")).toBeGreaterThan(-1)
    expect(at("--ro-bind", "/dev/null")).toBeGreaterThan(-1)
    for (const flag of ["--unshare-all", "--die-with-parent", "--new-session"]) expect(args).toContain(flag)
    expect(args[args.indexOf("--cap-drop") + 1]).toBe("ALL")
    expect(args).not.toContain("--share-net")
    expect(BwrapConfinement.bwrapArgs(profile, spec, "host")).toContain("--share-net")
    expect(args.slice(-2)).toEqual(["--chdir", "/w/SY-1"])
  })
})

describe("BwrapConfinement.profileFor", () => {
  test("refuses sandbox.readable / writable entries that are relative, missing, or inside the repo or workspace", () =>
    Effect.gen(function*() {
      const { repo, root, workspace } = yield* makeRepo
      const refused = (sandbox: Record<string, unknown>) =>
        Effect.flip(BwrapConfinement.profileFor({ repoRoot: repo, workspaceRoot: workspace, sandbox: config({ sandbox }).sandbox }))
      expect((yield* refused({ writable: ["relative/dir"] })).message).toContain("is not an absolute path")
      expect((yield* refused({ readable: [NodePath.join(root, "gone")] })).message).toContain("does not exist")
      expect((yield* refused({ writable: [NodePath.join(repo, "src")] })).message).toContain("inside the repository")
      const ok = yield* BwrapConfinement.profileFor({
        repoRoot: repo,
        workspaceRoot: workspace,
        sandbox: config({ sandbox: { package_store: "none" } }).sandbox
      })
      expect(ok.hiddenDirs).toContain(repo)
      expect(ok.hiddenDirs).toContain(workspace)
      expect(ok.readable).toEqual([NodePath.join(repo, ".git", "objects")])
    }))

  test("sandbox.package_store: the pnpm store read-only with a private projects dir, and the variables pointing at it", () =>
    Effect.gen(function*() {
      const { repo, root, workspace } = yield* makeRepo
      const store = NodePath.join(root, "pnpm-store")
      NodeFs.mkdirSync(NodePath.join(store, "v10", "files"), { recursive: true })
      const profile = yield* BwrapConfinement.profileFor({
        repoRoot: repo,
        workspaceRoot: workspace,
        sandbox: config({ sandbox: { package_store: store } }).sandbox
      })
      expect(profile.readable).toContain(store)
      expect(profile.scratch).toEqual([NodePath.join(store, "v10", "projects")])
      expect(profile.env?.["npm_config_store_dir"]).toBe(store)
      const args = BwrapConfinement.bwrapArgs(profile, { cwd: workspace, writable: [], home: workspace, network: "none" }, "none")
      const roAt = args.findIndex((a, i) => a === "--ro-bind" && args[i + 1] === store)
      const tmpfsAt = args.findIndex((a, i) => a === "--tmpfs" && args[i + 1] === NodePath.join(store, "v10", "projects"))
      expect(roAt).toBeGreaterThan(-1)
      expect(tmpfsAt).toBeGreaterThan(roAt) // the private projects dir is mounted over the read-only store
      expect(BwrapConfinement.packageStoreFor("none", {}, root)).toBeNull()
      expect(BwrapConfinement.packageStoreFor("auto", { npm_config_store_dir: store }, root)).toBe(store)
      expect(BwrapConfinement.packageStoreFor("auto", { XDG_DATA_HOME: NodePath.join(root, "none-here") }, root)).toBeNull()
    }))
})

describe("BwrapConfinement: a confined process", () => {
  test("sees neither the repository nor other sandboxes, writes only its own directories, and gets a private HOME", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const { box, confinement, home, repo, spec, workspace } = yield* setup()
      yield* fs.makeDirectory(NodePath.join(workspace, "SY-2"), { recursive: true })
      yield* fs.writeFileString(NodePath.join(workspace, "SY-2", "sibling.txt"), "sibling\n")
      const result = yield* confined(confinement, spec, [
        `ls -A ${repo} > seen-repo.txt`,
        `ls -A ${workspace} > seen-ws.txt`,
        `cat ${workspace}/SY-2/sibling.txt > sibling.txt 2>&1 || true`,
        `touch ${repo}/x 2>/dev/null && echo wrote-repo >> writes.txt`,
        `touch ${workspace}/x 2>/dev/null && echo wrote-ws >> writes.txt`,
        `touch /etc/switchyard-probe 2>/dev/null && echo wrote-etc >> writes.txt`,
        `echo "$HOME" > home.txt; touch "$HOME/ok"`,
        `git -C ${repo} log --oneline > git-log.txt 2>&1 || true`,
        "touch writes.txt"
      ].join("\n"))
      assert.strictEqual(result.exitCode, 0, result.outputTail)
      const read = (name: string) => fs.readFileString(NodePath.join(box, name))
      // Only what is bound back: the object store (so git works in a sandbox) and the sandbox's own tree.
      expect((yield* read("seen-repo.txt")).trim().split("\n")).toEqual([".git"])
      expect((yield* read("seen-ws.txt")).trim().split("\n")).toEqual([".attempts", "SY-1"])
      expect(yield* read("sibling.txt")).toContain("No such file")
      expect(yield* read("writes.txt")).toBe("")
      expect((yield* read("home.txt")).trim()).toBe(home)
      expect(yield* fs.exists(NodePath.join(home, "ok"))).toBe(true)
      expect(yield* read("git-log.txt")).not.toContain("initial")
      expect(yield* fs.exists(NodePath.join(repo, "x"))).toBe(false)
    }))

  test("runs in its own PID namespace with only the environment it was given (not the runner's, not in /proc/1)", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const { box, confinement, spec } = yield* setup()
      const previous = process.env.SWITCHYARD_PROBE_TOKEN
      process.env.SWITCHYARD_PROBE_TOKEN = "runner-secret-value-123"
      yield* Effect.addFinalizer(() => Effect.sync(() => {
        if (previous === undefined) delete process.env.SWITCHYARD_PROBE_TOKEN
        else process.env.SWITCHYARD_PROBE_TOKEN = previous
      }))
      yield* confined(confinement, spec, "ls /proc | grep -c '^[0-9]' > pids.txt; cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n' > environ.txt", { GIVEN: "yes" })
      expect(Number(yield* fs.readFileString(NodePath.join(box, "pids.txt")))).toBeLessThan(8)
      const environ = yield* fs.readFileString(NodePath.join(box, "environ.txt"))
      expect(environ).toContain("GIVEN=yes")
      expect(environ).not.toContain("runner-secret-value-123")
      expect(environ).not.toContain("SWITCHYARD_PROBE_TOKEN")
    }))

  test("a setsid'd background process is gone when the command ends", () =>
    Effect.gen(function*() {
      const { confinement, spec } = yield* setup()
      const result = yield* confined(confinement, spec, "setsid sh -c 'sleep 77.5' & sleep 0.2; echo started")
      expect(result.outputTail).toContain("started")
      const survivors = (yield* ProcessRunner.runShell({ command: "pgrep -f 'sleep 77[.]5' || true", cwd: "/", timeoutMs: 5_000 })).outputTail.trim()
      expect(survivors).toBe("")
    }))

  test("with network none, cannot connect even to the host's loopback", () =>
    Effect.gen(function*() {
      const { confinement, spec } = yield* setup()
      const target = yield* listener
      const result = yield* confined(confinement, spec, probeConnect(target.port))
      expect(result.outputTail.trim()).toBe("ECONNREFUSED")
      expect(target.hits()).toBe(0)
    }))

  test("an agent CLI reaches its model endpoint and nothing else; the proxy tunnels only to the endpoint", () =>
    Effect.gen(function*() {
      const { confinement, spec } = yield* setup()
      const model = yield* listener
      const other = yield* listener
      const agent = { ...spec, network: { modelEndpoint: `http://127.0.0.1:${model.port}/v1` } }
      const script = [
        probeConnect(model.port),
        probeConnect(other.port),
        // Through the in-sandbox proxy: CONNECT to the other port is refused, to the model endpoint allowed.
        `node -e 'const s=require("net").connect(${Egress.PROXY_PORT},"127.0.0.1",()=>s.write("CONNECT 127.0.0.1:${other.port} HTTP/1.1\\r\\n\\r\\n"));s.on("data",d=>{console.log(String(d).split("\\r\\n")[0]);s.destroy()})'`,
        `node -e 'const s=require("net").connect(${Egress.PROXY_PORT},"127.0.0.1",()=>s.write("CONNECT 127.0.0.1:${model.port} HTTP/1.1\\r\\n\\r\\n"));s.on("data",d=>{console.log(String(d).split("\\r\\n")[0]);s.destroy()})'`,
        "echo \"proxy=$HTTPS_PROXY no_proxy=$NO_PROXY\""
      ].join("\n")
      const result = yield* Effect.scoped(Effect.gen(function*() {
        const wrapped = yield* confinement.wrap(["sh", "-c", script], { PATH: process.env.PATH ?? "/usr/bin:/bin" }, agent)
        expect(wrapped.network).toBe("model_endpoint")
        expect(wrapped.egress).toBe(`127.0.0.1:${model.port}`)
        const run = yield* ProcessRunner.runShell({
          command: wrapped.argv.map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" "),
          cwd: spec.cwd,
          timeoutMs: 15_000,
          env: wrapped.env,
          inheritEnv: false
        })
        return run
      }))
      const lines = result.outputTail.trim().split("\n")
      expect(lines).toEqual([
        "connected",
        "ECONNREFUSED",
        "HTTP/1.1 403 Forbidden",
        "HTTP/1.1 200 Connection Established",
        `proxy=http://127.0.0.1:${Egress.PROXY_PORT} no_proxy=127.0.0.1,localhost,::1`
      ])
      expect(other.hits()).toBe(0)
      expect(model.hits()).toBe(2)
    }))

  test("git works in a sandbox whose objects borrow from the hidden repository's", () =>
    Effect.gen(function*() {
      const { base, box, confinement, repo, spec } = yield* setup()
      gitSync(box, "init", "-q")
      gitSync(box, "config", "user.name", "a")
      gitSync(box, "config", "user.email", "a@b")
      const fs = yield* FileSystem.FileSystem
      yield* fs.writeFileString(NodePath.join(box, ".git", "objects", "info", "alternates"), `${repo}/.git/objects\n`)
      gitSync(box, "update-ref", "HEAD", base)
      gitSync(box, "reset", "-q", "--hard")
      const result = yield* confined(confinement, spec, "echo changed >> README.md; git diff --stat; git commit -qam mine && git log --oneline | wc -l")
      expect(result.exitCode, result.outputTail).toBe(0)
      expect(result.outputTail).toContain("README.md")
      expect(result.outputTail.trim().split("\n").at(-1)).toBe("2")
    }))
})

describe("BwrapConfinement.unseenBy", () => {
  test("a program under the private /tmp or a hidden directory is named before anything starts; sandbox.readable shows it", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const { confinement, repo, root, spec } = yield* setup()
      // The fixture lives under the system temp directory, like a checkout cloned into /tmp.
      const tool = NodePath.join(root, "tools", "agent")
      yield* fs.makeDirectory(NodePath.dirname(tool), { recursive: true })
      yield* fs.writeFileString(tool, "#!/bin/sh\necho ran\n")
      yield* fs.chmod(tool, 0o755)
      const refused = yield* Effect.flip(Effect.scoped(confinement.wrap([tool], {}, spec)))
      expect(refused.message).toContain("sandbox.readable")
      expect(refused.message).toContain(root.startsWith("/tmp/") ? "/tmp" : root)
      const inRepo = yield* Effect.flip(Effect.scoped(confinement.wrap([NodePath.join(repo, "README.md")], {}, spec)))
      expect(inRepo.message).toContain(repo)
      const shown = yield* BwrapConfinement.make({
        repoRoot: repo,
        workspaceRoot: NodePath.join(root, "workspaces"),
        sandbox: config({ sandbox: { readable: [NodePath.dirname(tool)] } }).sandbox,
        runnerHome: root
      })
      const run = yield* ProcessRunner.runShell({ command: tool, cwd: spec.cwd, timeoutMs: 10_000, env: { PATH: "/usr/bin:/bin" }, confine: { confinement: shown, spec } })
      expect(run.outputTail.trim()).toBe("ran")
    }))
})

describe("BwrapConfinement.probe", () => {
  test("fails closed with what to install, or how to opt out, when bwrap cannot run", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(BwrapConfinement.probe("/nonexistent/bwrap"))
      expect(error._tag).toBe("ConfinementUnavailable")
      expect(error.message).toContain("it is not installed")
      expect(error.message).toContain("apt-get install bubblewrap")
      expect(error.message).toContain("sandbox.confinement: none")
      yield* BwrapConfinement.probe()
    }))

  test("wrap runs the check first: nothing starts unconfined because bubblewrap failed", () =>
    Effect.gen(function*() {
      const { repo, workspace, box, home } = yield* makeRepo.pipe(Effect.flatMap((f) =>
        Effect.gen(function*() {
          const fs = yield* FileSystem.FileSystem
          const b = NodePath.join(f.workspace, "SY-1")
          const h = NodePath.join(f.workspace, "home")
          yield* fs.makeDirectory(b, { recursive: true })
          yield* fs.makeDirectory(h, { recursive: true })
          return { ...f, box: b, home: h }
        })
      ))
      const broken = yield* BwrapConfinement.make({ repoRoot: repo, workspaceRoot: workspace, sandbox: config({}).sandbox, bwrap: "/nonexistent/bwrap" })
      const error = yield* Effect.flip(Effect.scoped(broken.wrap(["true"], {}, { cwd: box, writable: [box], home, network: "none" })))
      expect(error._tag).toBe("ConfinementUnavailable")
    }))
})

describe("Unconfined", () => {
  test("runs the program as given, with the private HOME, and says it is unconfined", () =>
    Effect.gen(function*() {
      const wrapped = yield* Effect.scoped(Unconfined.make.wrap(["sh", "-c", "true"], { PATH: "/bin" }, { cwd: "/", writable: [], home: "/h", network: "none" }))
      expect(wrapped.argv).toEqual(["sh", "-c", "true"])
      expect(wrapped.env).toMatchObject({ PATH: "/bin", HOME: "/h" })
      expect(wrapped.network).toBe("host")
      expect(Unconfined.make.record("host", null).detail).toContain("UNCONFINED")
    }))
})
