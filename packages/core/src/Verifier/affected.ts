/**
 * What a change touches, for verification commands that only check the affected work (issue 12 item 5): the
 * environment `SWITCHYARD_BASE_SHA`, `SWITCHYARD_HEAD_SHA`, `SWITCHYARD_CHANGED_FILES` and
 * `SWITCHYARD_CHANGED_PACKAGES` (docs/workflow.md, "Affected work only"). Pure.
 */

/** The most bytes `SWITCHYARD_CHANGED_FILES` may hold (Linux refuses one variable over 128 KiB); past it, empty. */
export const MAX_CHANGED_FILES_ENV_BYTES = 64 * 1024

/**
 * The workspace packages a change touches: for each changed file, the package whose directory is the file's nearest
 * ancestor among `packages` (directory, relative to the repository root, without a trailing slash → package name;
 * the root package, directory `""`, counts only for files outside every other package). Sorted, without repeats.
 */
export const changedPackages = (
  files: ReadonlyArray<string>,
  packages: ReadonlyMap<string, string>
): ReadonlyArray<string> => {
  const dirs = [...packages.keys()].filter((d) => d !== "").sort((a, b) => b.length - a.length)
  const names = new Set<string>()
  for (const file of files) {
    const dir = dirs.find((d) => file.startsWith(`${d}/`))
    const name = dir === undefined ? packages.get("") : packages.get(dir)
    if (name !== undefined) names.add(name)
  }
  return [...names].sort()
}

/**
 * The environment a verification command of `head` gets about the change from `base` (commit ids, 40 hex) that
 * touches `files` and `packages` (names): newline-separated lists; the file list is left empty when it would pass
 * {@link MAX_CHANGED_FILES_ENV_BYTES} (then `git diff --name-only "$SWITCHYARD_BASE_SHA" HEAD` gives it).
 */
export const changeEnv = (
  base: string,
  head: string,
  files: ReadonlyArray<string>,
  packages: ReadonlyArray<string>
): Readonly<Record<string, string>> => {
  const list = files.join("\n")
  return {
    SWITCHYARD_BASE_SHA: base,
    SWITCHYARD_HEAD_SHA: head,
    SWITCHYARD_CHANGED_FILES: new TextEncoder().encode(list).length > MAX_CHANGED_FILES_ENV_BYTES ? "" : list,
    SWITCHYARD_CHANGED_PACKAGES: packages.join("\n")
  }
}
