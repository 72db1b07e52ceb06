/**
 * The redaction rules, as pure tables and functions (the `Redactor` service applies them; docs/security.md,
 * "Redaction"):
 * - secret values: the values of the runner's variables whose names look secret (`secretEnvNames`), at least 8
 *   characters long, become `[REDACTED]` (`redact`), and so do their JSON-escaped forms (`withJsonEscaped`: a
 *   value inside a JSON string has its quotes and backslashes escaped);
 * - token formats: AWS access key ids, GitHub, Slack, Anthropic and OpenAI keys and credential assignments are
 *   masked to their first 4 characters and `…` (`maskTokens`), wherever they come from.
 * `scrub` applies both, values first. The guard `secret_in_diff` (Verifier/guards.ts) detects with the same tables.
 */

const SECRET_NAME = /(TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|APIKEY|PRIVATE_KEY|CREDENTIALS?)/i

/**
 * Names of environment variables that look secret (name matches
 * /(TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|APIKEY|PRIVATE_KEY|CREDENTIALS?)/i) and have a non-empty value, sorted.
 * Their values are what `EnvRedactor` (@switchyard/node) redacts and `GuardInput.secretValues` looks for. Pure.
 */
export const secretEnvNames = (env: Record<string, string | undefined>): Array<string> =>
  Object.entries(env)
    .filter(([name, value]) => SECRET_NAME.test(name) && value !== undefined && value !== "")
    .map(([name]) => name)
    .sort()

/** Secret values that are long enough to match safely (>= 8 characters), deduplicated, longest first. Pure. */
export const usableSecrets = (secretValues: ReadonlyArray<string>): Array<string> =>
  [...new Set(secretValues.filter((v) => v.length >= 8))].sort((a, b) => b.length - a.length)

/**
 * Replaces every occurrence of each secret value (length >= 8; shorter ones are ignored because they match too
 * much ordinary text) in `text` with `[REDACTED]`. Longer values are replaced first.
 */
export const redact = (text: string, secretValues: ReadonlyArray<string>): string =>
  usableSecrets(secretValues).reduce((acc, value) => acc.split(value).join("[REDACTED]"), text)

const hasLetterAndDigit = (s: string): boolean => /[A-Za-z]/.test(s) && /\d/.test(s)

interface SecretPattern {
  readonly name: string
  readonly re: RegExp
  /** Index of the capture group holding the secret (0 = whole match); null = show the match (not secret). */
  readonly group: number | null
  readonly accept?: (secret: string) => boolean
}

/** Token formats: masked in everything stored (`maskTokens`), searched on added lines (rule `secret_in_diff`). */
const SECRET_PATTERNS: ReadonlyArray<SecretPattern> = [
  { name: "an AWS access key id", re: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g, group: 0 },
  { name: "a GitHub token", re: /\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b/g, group: 0 },
  { name: "a Slack token", re: /\bxox[baprs]-[A-Za-z0-9-]{10,}/g, group: 0 },
  { name: "an Anthropic API key", re: /\bsk-ant-[A-Za-z0-9_-]{20,}/g, group: 0, accept: hasLetterAndDigit },
  {
    name: "an OpenAI API key",
    re: /\bsk-(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}/g,
    group: 0,
    accept: hasLetterAndDigit
  },
  { name: "a private key", re: /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----/g, group: null },
  {
    name: "a credential assignment",
    re:
      /(?:api[_-]?key|apikey|secret|token|passw(?:or)?d|access[_-]?key|client[_-]?secret|private[_-]?key)["']?\s*[:=]\s*["']([A-Za-z0-9+/=_\-.~]{16,})["']/gi,
    group: 1,
    accept: hasLetterAndDigit
  }
]

const mask = (secret: string): string => `${secret.slice(0, 4)}…`

/** Kinds of known token formats found in `text` (empty when none), e.g. `a GitHub token`. Pure. */
export const secretKindsIn = (text: string): Array<string> =>
  SECRET_PATTERNS.filter((p) =>
    [...text.matchAll(p.re)].some((m) => {
      const secret = m[p.group ?? 0] ?? ""
      return p.accept === undefined || p.accept(secret)
    })
  ).map((p) => p.name)

/** Masks known token formats in `text` to their first 4 characters + "…". */
export const maskTokens = (text: string): string =>
  SECRET_PATTERNS.reduce((acc, p) => {
    if (p.group === null) return acc
    const group = p.group
    return acc.replace(p.re, (...args: Array<unknown>) => {
      const whole = args[0] as string
      const secret = (group === 0 ? whole : (args[group] as string | undefined)) ?? ""
      if (p.accept !== undefined && !p.accept(secret)) return whole
      return group === 0 ? mask(secret) : whole.replace(secret, mask(secret))
    })
  }, text)

/**
 * `text` safe to store: every value in `secrets` (length ≥ 8) replaced by `[REDACTED]`, then every known token
 * format (AWS, GitHub, Slack, OpenAI, Anthropic keys, private-key blocks) masked to its first 4 characters.
 */
export const scrub = (text: string, secrets: ReadonlyArray<string>): string => maskTokens(redact(text, secrets))

/**
 * `secrets` plus the JSON-escaped form of each (what a value looks like inside a JSON string: a transcript line, a
 * stored bundle), deduplicated. Pure.
 */
export const withJsonEscaped = (secrets: ReadonlyArray<string>): ReadonlyArray<string> => [
  ...new Set([...secrets, ...secrets.map((s) => JSON.stringify(s).slice(1, -1))])
]
