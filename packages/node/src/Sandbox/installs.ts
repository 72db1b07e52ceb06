/**
 * Installed bases (issue 12 item 4): `hooks.after_create` (the install) runs once per install key in a clean
 * checkout under `<workspace.root>/.installs/<key>/tree`, and every verification checkout whose commit has the
 * same key gets that install's `node_modules` directories bound in read-only (bubblewrap), instead of installing
 * again. The agent never runs there and no confined process can write there, so nothing the agent wrote reaches a
 * verification checkout through it. Pure parts; the I/O is in `GitSandbox.checkout`.
 */
import { createHash } from "node:crypto"

/** The directory under the workspace root that holds the installed bases. */
export const INSTALLS_DIR = ".installs"

/** The file, next to an installed base's `tree`, that lists what its install produced (written last). */
export const INSTALLED_FILE = "installed.json"

/** Written instead, when the install also produced something besides `node_modules` (then it is not reused). */
export const NOT_REUSABLE_FILE = "not-reusable.json"

/**
 * Cache directories inside a reused `node_modules` that tools write to while testing (vite's bundled config and
 * dep cache, `.cache` of babel and friends): each gets a private, empty tmpfs in the checkout, so the read-only
 * install still lets them work. Every other write into a reused `node_modules` fails (EROFS).
 */
export const SCRATCH_DIRS = [".vite", ".vite-temp", ".cache"] as const

/**
 * Whether a tracked path is one the install's result depends on: every `package.json` (not under node_modules),
 * the lockfiles, and the package managers' config files. Pure.
 */
export const isInstallInput = (file: string): boolean => {
  if (file.split("/").includes("node_modules")) return false
  const name = file.slice(file.lastIndexOf("/") + 1)
  return INSTALL_INPUTS.has(name)
}

const INSTALL_INPUTS = new Set([
  "package.json",
  "pnpm-lock.yaml",
  "pnpm-workspace.yaml",
  ".pnpmfile.cjs",
  "package-lock.json",
  "npm-shrinkwrap.json",
  "yarn.lock",
  ".yarnrc.yml",
  ".yarnrc",
  "bun.lock",
  "bun.lockb",
  "bunfig.toml",
  ".npmrc",
  ".nvmrc",
  ".node-version"
])

/**
 * The install key of a commit: hex SHA-256 over the hook's text, the environment it runs with (names and values)
 * and the `git ls-tree` lines (mode, blob id, path) of the commit's install inputs ({@link isInstallInput}), so a
 * changed manifest, lockfile or hook is a different install. Pure.
 */
export const installKey = (input: {
  readonly afterCreate: string
  readonly env: Readonly<Record<string, string>>
  readonly inputs: ReadonlyArray<string>
}): string =>
  createHash("sha256").update(JSON.stringify({
    v: 1,
    afterCreate: input.afterCreate,
    env: Object.entries(input.env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    inputs: [...input.inputs].sort()
  })).digest("hex")

/**
 * What an install produced, from `git ls-files --others --directory` of its checkout (`untracked`, `/`-ended for
 * directories): reusable when every entry is a `node_modules` directory, else the other entries (the install
 * also built or wrote something, which may depend on more than the manifests). Pure.
 */
export const installOutputs = (untracked: ReadonlyArray<string>):
  | { readonly reusable: true; readonly dirs: ReadonlyArray<string> }
  | { readonly reusable: false; readonly others: ReadonlyArray<string> } =>
{
  const isModules = (entry: string) => /(^|\/)node_modules\/$/.test(entry)
  const others = untracked.filter((e) => !isModules(e))
  return others.length === 0
    ? { reusable: true, dirs: untracked.map((e) => e.slice(0, -1)).sort() }
    : { reusable: false, others }
}

/** How many installed bases are kept whatever their age: the most recently used ones. */
export const KEEP_INSTALLS = 4

/**
 * How long (ms) an installed base beyond the {@link KEEP_INSTALLS} most recently used must have gone unused before
 * it is removed (1 day): far longer than any verification that may have it bound in.
 */
export const INSTALL_IDLE_MS = 24 * 60 * 60 * 1000

/**
 * The installed bases to remove once `keep` (the key just built) exists: every finished one (`lastUsedMs`, epoch ms,
 * of its marker file) past the {@link KEEP_INSTALLS} most recently used (`keep` first) that has not been used for
 * {@link INSTALL_IDLE_MS} at `now`. Bases still being built are not listed by the caller. Pure.
 */
export const installsToPrune = (
  installs: ReadonlyArray<{ readonly key: string; readonly lastUsedMs: number }>,
  keep: string,
  now: number
): ReadonlyArray<string> =>
  installs
    .filter((i) => i.key !== keep)
    .sort((a, b) => b.lastUsedMs - a.lastUsedMs || (a.key < b.key ? -1 : 1))
    .slice(KEEP_INSTALLS - 1)
    .filter((i) => now - i.lastUsedMs > INSTALL_IDLE_MS)
    .map((i) => i.key)
