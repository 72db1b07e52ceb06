/**
 * BwrapConfinement: the `Confinement` of bubblewrap (`bwrap`), the sandbox Codex's and Claude Code's own Linux
 * sandboxes are built on. Every confined process gets (docs/security.md):
 * - the host file system read-only, a private `/tmp` and `/var/tmp`, a private `/dev` and `/proc`;
 * - write access to its `spec.writable` directories and its private HOME only;
 * - the main repository (work tree, `.git`, `.switchyard/`), the whole workspace root (other sandboxes, the
 *   verifier's checkouts) and the runner's credential files not visible at all; the repository's object store
 *   alone is bound back read-only, so git works in a sandbox whose objects borrow from it;
 * - its own PID, network, IPC, UTS and cgroup namespaces (`--unshare-all`: the runner's `/proc/<pid>/environ` is
 *   not there), `--die-with-parent`, `--new-session` and `--cap-drop ALL` (as root, bwrap keeps every capability
 *   otherwise: bubblewrap#561, and a root agent remounted the repo read-write);
 * - the environment the caller built from its allow-list, given to bwrap itself (not cleared inside it: bwrap's
 *   own pid 1 would still hold the runner's variables in its `/proc/1/environ`).
 * When the process (or the runner) ends, bwrap's PID namespace ends with it: every process it started, `setsid`
 * ones included, is killed by the kernel.
 */
import { Command, CommandExecutor } from "@effect/platform"
import {
  Confinement,
  type ConfinedSpec,
  type ConfinementShape,
  ConfinementError,
  ConfinementUnavailable
} from "@switchyard/core"
import { ConfinementRecord, type NetworkInForce, type SandboxConfig } from "@switchyard/domain"
import { Effect, Layer, Option, Stream } from "effect"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { BRIDGE_SCRIPT, egressFor, serveProxy, serveRelay } from "./egress.js"

export interface BwrapOptions {
  /** The repository's top level: hidden, but for its object store. */
  readonly repoRoot: string
  /** Where sandboxes and verification checkouts live: hidden, but for the spec's own directories. */
  readonly workspaceRoot: string
  /** WORKFLOW.md `sandbox:` (read when the runner starts). */
  readonly sandbox: SandboxConfig
  /** The bwrap binary (a path, or a name on PATH). Default `bwrap`. */
  readonly bwrap?: string | undefined
  /** The runner's HOME, whose credential files are hidden (`CREDENTIAL_PATHS`). Default `os.homedir()`. */
  readonly runnerHome?: string | undefined
  /**
   * More directories to hide, e.g. a state directory (SQLite, evidence, the signing key) kept outside the
   * repository by a custom composition. `<repo>/.switchyard/` is hidden with the repository.
   */
  readonly hide?: ReadonlyArray<string> | undefined
}

/**
 * Files and directories under the runner's HOME that hold credentials: hidden from every confined process (the
 * private HOME replaces HOME, but the real one is still on the read-only file system).
 */
export const CREDENTIAL_PATHS: ReadonlyArray<string> = [
  ".ssh",
  ".gnupg",
  ".aws",
  ".azure",
  ".kube",
  ".docker",
  ".netrc",
  ".npmrc",
  ".yarnrc",
  ".yarnrc.yml",
  ".pypirc",
  ".git-credentials",
  ".gitconfig",
  ".config/gh",
  ".config/gcloud",
  ".config/git",
  ".claude",
  ".claude.json",
  ".codex",
  ".switchyard"
]

/** What the profile hides and binds, computed once when the layer is built. */
export interface Profile {
  /** Directories replaced by an empty tmpfs (outermost first). */
  readonly hiddenDirs: ReadonlyArray<string>
  /** Files replaced by /dev/null. */
  readonly hiddenFiles: ReadonlyArray<string>
  /** Directories bound back read-only after the hiding (the repo's object stores, `sandbox.readable`). */
  readonly readable: ReadonlyArray<string>
  /** `sandbox.writable`. */
  readonly writable: ReadonlyArray<string>
  /** Directories replaced by an empty, private, writable tmpfs (inside a read-only area, e.g. a package store). */
  readonly scratch?: ReadonlyArray<string> | undefined
  /** Variables every confined process gets (e.g. `npm_config_store_dir`). */
  readonly env?: Readonly<Record<string, string>> | undefined
}

/**
 * The pnpm store a confined process is shown for `sandbox.package_store` (`auto`, `none` or an absolute path), or
 * null: `auto` is the store pnpm itself uses by default (`npm_config_store_dir`, else `$XDG_DATA_HOME/pnpm/store`,
 * else `<home>/.local/share/pnpm/store`), when it exists. Reads the environment and the file system.
 */
export const packageStoreFor = (setting: string, env: NodeJS.ProcessEnv, home: string): string | null => {
  if (setting === "none") return null
  const dir = setting !== "auto"
    ? setting
    : env["npm_config_store_dir"] ?? NodePath.join(env["XDG_DATA_HOME"] ?? NodePath.join(home, ".local", "share"), "pnpm", "store")
  return NodePath.isAbsolute(dir) && isDirectory(dir) ? NodePath.resolve(dir) : null
}

/**
 * The profile additions for a pnpm store: readable (with pnpm's metadata cache), `npm_config_store_dir` (and
 * `npm_config_cache_dir`) pointing at them, and a private writable
 * `v<N>/projects` in each store version (pnpm 10 registers every project there with a symlink, and fails on a
 * read-only store without it). A confined install then copies from the store (a hard link cannot cross the
 * read-only mount), so nothing confined can write the runner's store.
 */
const storeProfile = (store: string, env: NodeJS.ProcessEnv, home: string) => {
  const versions = Option.getOrElse(Option.liftThrowable(() => NodeFs.readdirSync(store))(), () => [] as Array<string>)
    .filter((name) => /^v\d+$/.test(name))
  const scratch = versions.map((v) => NodePath.join(store, v, "projects"))
  for (const dir of scratch) Option.liftThrowable(() => NodeFs.mkdirSync(dir, { recursive: true }))()
  // pnpm's metadata cache, read-only too: without it an offline `--lockfile-only` drops the packages of other
  // platforms (optional dependencies it cannot see) from the lockfile.
  const cache = env["npm_config_cache_dir"] ?? NodePath.join(env["XDG_CACHE_HOME"] ?? NodePath.join(home, ".cache"), "pnpm")
  const hasCache = NodePath.isAbsolute(cache) && isDirectory(cache)
  return {
    readable: hasCache ? [store, NodePath.resolve(cache)] : [store],
    scratch: scratch.filter(isDirectory),
    env: hasCache ? { npm_config_store_dir: store, npm_config_cache_dir: NodePath.resolve(cache) } : { npm_config_store_dir: store }
  }
}

const isInside = (root: string, p: string): boolean => {
  const rel = NodePath.relative(root, p)
  return rel === "" || (!rel.startsWith("..") && !NodePath.isAbsolute(rel))
}

/** The first hidden directory that contains `p`, or null. */
export const hiddenBy = (profile: Profile, p: string): string | null =>
  profile.hiddenDirs.find((d) => isInside(d, p)) ?? profile.hiddenFiles.find((f) => f === p) ?? null

/**
 * The bwrap arguments (before `--` and the program) for one process. Pure. The order matters: the read-only
 * root, then the private /tmp, the hidden areas (outermost first), then what is bound back inside them.
 */
export const bwrapArgs = (
  profile: Profile,
  spec: ConfinedSpec,
  network: "none" | "host" | "bridge",
  extraRw: ReadonlyArray<string> = [],
  lowPort = false
): Array<string> => {
  const args = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--tmpfs", "/var/tmp"]
  if (network !== "host") args.push("--perms", "0555", "--tmpfs", "/run")
  // A hidden area is an empty tmpfs that not even root can write (mode 0555 and no CAP_DAC_OVERRIDE); so is every
  // directory made inside it on the way to a path bound back, so a write there fails instead of landing somewhere
  // the agent might mistake for the real thing.
  const hidden: Array<string> = []
  const made = new Set<string>()
  const readOnlyParents = (target: string) => {
    const container = [...hidden].reverse().find((h) => isInside(h, target) && h !== target)
    if (container === undefined) return
    const parents: Array<string> = []
    for (let dir = NodePath.dirname(target); dir !== container && isInside(container, dir); dir = NodePath.dirname(dir)) parents.unshift(dir)
    for (const dir of parents) {
      if (made.has(dir)) continue
      made.add(dir)
      args.push("--perms", "0555", "--dir", dir)
    }
  }
  for (const dir of profile.hiddenDirs) {
    readOnlyParents(dir)
    args.push("--perms", "0555", "--tmpfs", dir)
    hidden.push(dir)
  }
  for (const file of profile.hiddenFiles) args.push("--ro-bind", "/dev/null", file)
  for (const dir of profile.readable) {
    readOnlyParents(dir)
    args.push("--ro-bind", dir, dir)
  }
  for (const dir of [...profile.writable, ...spec.writable, spec.home, ...extraRw]) {
    readOnlyParents(dir)
    args.push("--bind", dir, dir)
  }
  for (const dir of profile.scratch ?? []) args.push("--tmpfs", dir)
  // Read-only directories inside a writable one (a reused install), each with its scratch tmpfs directories.
  for (const mount of spec.mounts ?? []) {
    args.push("--ro-bind", mount.source, mount.target)
    for (const dir of mount.scratch) args.push("--tmpfs", dir)
  }
  args.push("--unshare-all")
  if (network === "host") args.push("--share-net")
  args.push("--die-with-parent", "--new-session", "--cap-drop", "ALL")
  // A relayed endpoint on a port below 1024 must be listened on inside: only the sandbox's own loopback.
  if (lowPort) args.push("--cap-add", "CAP_NET_BIND_SERVICE")
  args.push("--chdir", spec.cwd)
  return args
}

/** Directories every confined process gets empty and private, whatever the profile. */
const PRIVATE_DIRS = ["/tmp", "/var/tmp", "/run"]

/**
 * Why `program` (an absolute path) would not be visible to a process confined by `profile` and `spec`: the hidden
 * or private directory it is in, or null when it is visible. Its real path (a `node_modules/.bin` link resolved)
 * must be visible too.
 */
export const unseenBy = (profile: Profile, spec: ConfinedSpec, program: string): string | null => {
  const shown = [...profile.readable, ...profile.writable, ...spec.writable, spec.home]
  const real = Option.getOrElse(Option.liftThrowable(() => NodeFs.realpathSync(program))(), () => program)
  for (const p of [program, real]) {
    if (shown.some((d) => isInside(d, p))) continue
    const hider = hiddenBy(profile, p) ?? PRIVATE_DIRS.find((d) => isInside(d, p))
    if (hider !== undefined && hider !== null) return hider
  }
  return null
}

/** The object directories of the repository (its own and the alternates it borrows from), absolute. */
const objectDirs = (repoRoot: string): ReadonlyArray<string> => {
  const dotGit = NodePath.join(repoRoot, ".git")
  const readText = (p: string) => Option.getOrUndefined(Option.liftThrowable(() => NodeFs.readFileSync(p, "utf8"))())
  const gitFile = readText(dotGit)
  const gitDir = gitFile?.startsWith("gitdir:") === true
    ? NodePath.resolve(repoRoot, gitFile.slice("gitdir:".length).trim())
    : dotGit
  const common = readText(NodePath.join(gitDir, "commondir"))
  const commonDir = common === undefined ? gitDir : NodePath.resolve(gitDir, common.trim())
  const own = NodePath.join(commonDir, "objects")
  const alternates = (readText(NodePath.join(own, "info", "alternates")) ?? "")
    .split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => NodePath.resolve(own, l))
  return [own, ...alternates]
}

const exists = (p: string): boolean => NodeFs.existsSync(p)
const isDirectory = (p: string): boolean => Option.getOrElse(Option.liftThrowable(() => NodeFs.statSync(p).isDirectory())(), () => false)

/**
 * The profile for `options`: hides the repo, the workspace root, `sandbox.hidden` and the runner's credential
 * paths; binds back the repo's object stores read-only. Fails `ConfinementError` when `sandbox.readable` or
 * `sandbox.writable` names a relative path, a missing one, or one inside the repository or the workspace root.
 */
export const profileFor = (options: BwrapOptions): Effect.Effect<Profile, ConfinementError> =>
  Effect.gen(function*() {
    const repoRoot = NodePath.resolve(options.repoRoot)
    const workspaceRoot = NodePath.resolve(options.workspaceRoot)
    const home = options.runnerHome ?? NodeOs.homedir()
    const checkExtra = (key: string, p: string) => {
      const why = !NodePath.isAbsolute(p)
        ? "is not an absolute path"
        : !exists(p)
        ? "does not exist"
        : isInside(repoRoot, p)
        ? `is inside the repository ${repoRoot}, which confined processes must not see`
        : isInside(workspaceRoot, p)
        ? `is inside the workspace root ${workspaceRoot}, which confined processes must not see`
        : null
      return why === null
        ? Effect.succeed(NodePath.resolve(p))
        : Effect.fail(new ConfinementError({ operation: "profile", reason: `sandbox.${key} entry ${JSON.stringify(p)} ${why}` }))
    }
    const readable = yield* Effect.forEach(options.sandbox.readable, (p) => checkExtra("readable", p))
    const writable = yield* Effect.forEach(options.sandbox.writable, (p) => checkExtra("writable", p))
    const credentials = CREDENTIAL_PATHS.map((p) => NodePath.join(home, p)).filter(exists)
    const extraHidden = options.sandbox.hidden.map((p) => NodePath.resolve(p)).filter(exists)
    // The workspace root (and `hide`) are hidden as directories even before anything is in them.
    const alwaysHidden = [workspaceRoot, ...(options.hide ?? []).map((p) => NodePath.resolve(p))]
    for (const dir of alwaysHidden) {
      yield* Effect.try({
        try: () => NodeFs.mkdirSync(dir, { recursive: true }),
        catch: (cause) => new ConfinementError({ operation: "profile", reason: `cannot create ${dir} to hide it: ${String(cause)}` })
      })
    }
    const others = [...credentials, ...extraHidden]
    const hiddenDirs = [...new Set([repoRoot, ...alwaysHidden, ...others.filter(isDirectory)])].sort((a, b) => a.length - b.length)
    const hiddenFiles = [...new Set(others.filter((p) => !isDirectory(p)))]
    const objects = objectDirs(repoRoot).filter(isDirectory)
    const storeDir = packageStoreFor(options.sandbox.package_store, process.env, home)
    const store = storeDir === null || hiddenDirs.some((d) => isInside(d, storeDir)) && !readable.some((r) => isInside(r, storeDir))
      ? null
      : storeProfile(storeDir, process.env, home)
    return {
      hiddenDirs,
      hiddenFiles,
      readable: [...objects, ...readable, ...(store?.readable ?? [])],
      writable,
      scratch: store?.scratch ?? [],
      env: store?.env ?? {}
    }
  })

/** The first line bwrap printed, e.g. `bwrap: Creating new namespace failed: Operation not permitted`. */
const firstLine = (text: string) => text.trim().split("\n")[0] ?? ""

/**
 * Whether bubblewrap can confine a process here: starts one `bwrap … true` with the namespaces Switchyard uses.
 * Fails `ConfinementUnavailable` (not Linux, `bwrap` missing, namespaces refused) with what to do about it.
 */
export const probe = (bwrap = "bwrap"): Effect.Effect<void, ConfinementUnavailable, CommandExecutor.CommandExecutor> =>
  probeWith(bwrap, { hiddenDirs: [], hiddenFiles: [], readable: [], writable: [] })

const probeWith = (bwrap: string, profile: Profile): Effect.Effect<void, ConfinementUnavailable, CommandExecutor.CommandExecutor> =>
  Effect.gen(function*() {
      if (process.platform !== "linux") {
        return yield* new ConfinementUnavailable({
          reason: `bubblewrap needs Linux namespaces and this is ${process.platform}`,
          remedy: "on this OS `sandbox.confinement: none` is the only choice"
        })
      }
      const run = yield* Command.make(bwrap, ...bwrapArgs(profile, { cwd: "/", writable: [], home: "/tmp", network: "none" }, "none"), "true").pipe(
        Command.env({ PATH: process.env["PATH"] ?? "/usr/bin:/bin" }),
        Command.start,
        Effect.flatMap((proc) =>
          Effect.all([proc.exitCode, proc.stderr.pipe(Stream.decodeText(), Stream.mkString)], { concurrency: "unbounded" })
        ),
        Effect.scoped,
        Effect.either
      )
      if (run._tag === "Left") {
        return yield* new ConfinementUnavailable({
          reason: `${bwrap} cannot be started (${run.left.message.includes("ENOENT") ? "it is not installed" : run.left.message})`,
          remedy: "install bubblewrap (`apt-get install bubblewrap`, `dnf install bubblewrap`)"
        })
      }
      const [code, stderr] = run.right
      if (code !== 0) {
        return yield* new ConfinementUnavailable({
          reason: `bubblewrap cannot create namespaces here (${firstLine(stderr) || `exit ${code}`})`,
          remedy:
            "allow unprivileged user namespaces (`sysctl kernel.unprivileged_userns_clone=1`, or on Ubuntu `kernel.apparmor_restrict_unprivileged_userns=0`), or run where they are allowed"
        })
      }
    })

/**
 * Builds the confinement. `check` starts one confined `true` (cached once it passes); `wrap` runs `check` first,
 * so nothing is ever started unconfined because bubblewrap failed.
 */
export const make = (
  options: BwrapOptions
): Effect.Effect<ConfinementShape, ConfinementError, CommandExecutor.CommandExecutor> =>
  Effect.gen(function*() {
    const executor = yield* CommandExecutor.CommandExecutor
    const bwrap = options.bwrap ?? "bwrap"
    const profile = yield* profileFor(options)
    const network = options.sandbox.network

    const probe = probeWith(bwrap, profile).pipe(Effect.provideService(CommandExecutor.CommandExecutor, executor))
    const check = yield* Effect.cachedFunction((_: void) => probe).pipe(
      Effect.map((cached) => cached(undefined))
    )
    const version = yield* Command.make(bwrap, "--version").pipe(
      Command.string,
      Effect.map((out) => out.trim()),
      Effect.provideService(CommandExecutor.CommandExecutor, executor),
      Effect.orElseSucceed(() => "bubblewrap")
    )

    const detail = (net: NetworkInForce, egress: string | null) =>
      `${version}: own PID, network, IPC and UTS namespaces, all capabilities dropped, dies with the runner; writable: the sandbox, a private /tmp and HOME; not visible: the main repository, .switchyard/, other sandboxes and the verifier's checkouts; network: ${
        net === "none" ? "none" : net === "host" ? "the host's (sandbox.network: host)" : `only the model endpoint ${egress}`
      }`
    const record = (net: NetworkInForce, egress: string | null) =>
      ConfinementRecord.make({ kind: "bwrap", network: net, egress, detail: detail(net, egress) })

    const wrap: ConfinementShape["wrap"] = (argv, env, spec) =>
      Effect.gen(function*() {
        yield* check
        const program = argv[0] ?? ""
        for (const p of [spec.cwd, spec.home, ...spec.writable]) {
          if (!NodePath.isAbsolute(p) || !exists(p)) {
            return yield* new ConfinementError({ operation: "wrap", reason: `${p} must be an existing absolute path` })
          }
        }
        const hider = NodePath.isAbsolute(program) ? unseenBy(profile, spec, program) : null
        if (hider !== null) {
          return yield* new ConfinementError({
            operation: "wrap",
            reason: `${program} is inside ${hider}, which confined processes cannot see; install it elsewhere, or list its directory in sandbox.readable`
          })
        }
        const base = { ...profile.env, ...env, HOME: spec.home, TMPDIR: "/tmp" }
        if (spec.network === "none" || network === "host") {
          const net = network === "host" ? "host" as const : "none" as const
          return {
            argv: [bwrap, ...bwrapArgs(profile, spec, net), "--", ...argv],
            env: base,
            network: net,
            egress: null
          }
        }
        const egress = yield* egressFor(spec.network.modelEndpoint)
        const socketDir = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "sy-egress-"))
        yield* Effect.addFinalizer(() => Effect.sync(() => NodeFs.rmSync(socketDir, { recursive: true, force: true })))
        const proxySocket = NodePath.join(socketDir, "proxy.sock")
        const relaySocket = NodePath.join(socketDir, "relay.sock")
        yield* serveProxy(proxySocket, egress)
        if (egress.relayPort !== null) yield* serveRelay(relaySocket, egress)
        const pairs = [proxySocket, String(egress.proxyPort), ...(egress.relayPort === null ? [] : [relaySocket, String(egress.relayPort)])]
        return {
          argv: [
            bwrap,
            ...bwrapArgs(profile, spec, "bridge", [socketDir], egress.relayPort !== null && egress.relayPort < 1024),
            "--",
            process.execPath,
            "-e",
            BRIDGE_SCRIPT,
            "--",
            ...pairs,
            "--",
            ...argv
          ],
          env: { ...base, ...egress.env },
          network: "model_endpoint" as const,
          egress: `${egress.host}:${egress.port}`
        }
      })

    const summary = `${version}; network: ${network === "host" ? "the host's (sandbox.network: host)" : "none, but the agent CLIs' model endpoint"}`
    return Confinement.of({ kind: "bwrap", summary, check, wrap, record })
  })

/** The bubblewrap `Confinement` layer. Fails `ConfinementError` when `sandbox.readable`/`writable` is invalid. */
export const layer = (options: BwrapOptions): Layer.Layer<Confinement, ConfinementError, CommandExecutor.CommandExecutor> =>
  Layer.effect(Confinement, make(options))
