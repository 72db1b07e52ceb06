/**
 * The GitHub REST calls the GitHub Tracker makes, through `@effect/platform`'s `HttpClient` (not `gh`: Symphony
 * upstream chose REST, issue #103). Polite: list pages followed by `Link`, every GET conditional (`If-None-Match`
 * with the ETag of the last 200, so an unchanged poll is a 304 that costs no rate limit), throttling (`Retry-After`,
 * `X-RateLimit-Remaining: 0` until `X-RateLimit-Reset`) and 5xx retried with `Schedule` for at most
 * `MAX_INLINE_WAIT_MS`; longer waits fail `GitHubError` with `retryAfterMs` so the caller backs off.
 * The token travels as `Redacted` and only in the `Authorization` header: no error, log or record holds it.
 */
import { HttpClient, HttpClientRequest, type HttpClientResponse } from "@effect/platform"
import { Clock, Duration, Effect, Option, Redacted, Ref, Schedule, Schema } from "effect"
import * as Hosting from "./hosting.js"
import { nextLink, throttleDelayMs } from "./mapping.js"

/** What went wrong talking to GitHub, by Symphony SPEC §11.4's categories. */
export const GitHubErrorCategory = Schema.Literal(
  "unauthorized",
  "forbidden",
  "not_found",
  "rate_limited",
  "status",
  "request",
  "response"
)

export class GitHubError extends Schema.TaggedError<GitHubError>()("GitHubError", {
  operation: Schema.String,
  category: GitHubErrorCategory,
  status: Schema.NullOr(Schema.Number),
  reason: Schema.String,
  /** For `rate_limited` (and 5xx with `Retry-After`): how long (ms) GitHub asked us to wait. */
  retryAfterMs: Schema.NullOr(Schema.Number)
}) {
  override get message() {
    return `GitHub ${this.operation} failed${this.status === null ? "" : ` (HTTP ${this.status})`}: ${this.reason}`
  }
}

/** Throttled or failing calls are retried in place only while the wait is at most this long (ms). */
export const MAX_INLINE_WAIT_MS = 5_000

/** The rate limit as GitHub last reported it. */
export interface RateLimit {
  readonly remaining: number
  /** Epoch ms. */
  readonly resetAt: number
}

export interface GitHubApiOptions {
  /** e.g. `https://api.github.com` or a twin's `http://127.0.0.1:PORT`; no trailing slash needed. */
  readonly apiUrl: string
  /** `owner/name`. */
  readonly repo: string
  readonly token: Redacted.Redacted<string>
}

/** Pages of a list are fetched at this size (GitHub's maximum). */
export const PER_PAGE = 100

const headersOf = (response: HttpClientResponse.HttpClientResponse): Record<string, string | undefined> =>
  response.headers as Record<string, string | undefined>

/** Builds the client over the `HttpClient` in context. */
export const make = (options: GitHubApiOptions) =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const base = options.apiUrl.replace(/\/+$/, "")
    const repoUrl = `${base}/repos/${options.repo}`
    const rate = yield* Ref.make<RateLimit | null>(null)
    /** Per URL: the ETag and body of its last 200 (the conditional-request cache). */
    const cache = yield* Ref.make<ReadonlyMap<string, { readonly etag: string; readonly body: unknown; readonly link: string | undefined }>>(new Map())

    const fail = (operation: string, category: typeof GitHubErrorCategory.Type, status: number | null, reason: string, retryAfterMs: number | null = null) =>
      new GitHubError({ operation, category, status, reason, retryAfterMs })

    /** One request, no retry: the response's status, headers and JSON body (null for 204/304). */
    const once = (operation: string, request: HttpClientRequest.HttpClientRequest) =>
      Effect.gen(function*() {
        const response = yield* client.execute(
          request.pipe(
            HttpClientRequest.bearerToken(Redacted.value(options.token)),
            HttpClientRequest.setHeader("accept", "application/vnd.github+json"),
            HttpClientRequest.setHeader("x-github-api-version", "2022-11-28"),
            HttpClientRequest.setHeader("user-agent", "switchyard")
          )
        ).pipe(Effect.mapError((e) => fail(operation, "request", null, e.message.replace(/Bearer \S+/g, "Bearer ***"))))
        const headers = headersOf(response)
        const now = yield* Clock.currentTimeMillis
        const remaining = headers["x-ratelimit-remaining"]
        const reset = headers["x-ratelimit-reset"]
        if (remaining !== undefined && reset !== undefined && /^\d+$/.test(remaining) && /^\d+$/.test(reset)) {
          yield* Ref.set(rate, { remaining: Number(remaining), resetAt: Number(reset) * 1000 })
        }
        const status = response.status
        const body = status === 204 || status === 304
          ? null
          : yield* response.json.pipe(Effect.orElseSucceed(() => null))
        const said = typeof body === "object" && body !== null && "message" in body ? String((body as { message: unknown }).message) : ""
        if (status === 401) return yield* fail(operation, "unauthorized", status, `the token was refused (${said || "Bad credentials"})`)
        if (status === 403 || status === 429) {
          const wait = throttleDelayMs(headers, now)
          if (wait !== null || status === 429 || /rate limit/i.test(said)) {
            return yield* fail(operation, "rate_limited", status, said || "rate limited", wait ?? 60_000)
          }
          return yield* fail(operation, "forbidden", status, said || "forbidden: the token lacks a permission")
        }
        if (status === 404 || status === 410) return yield* fail(operation, "not_found", status, said || "not found")
        if (status >= 400 && status !== 304) {
          return yield* fail(operation, "status", status, said || `unexpected status`, status >= 500 ? throttleDelayMs(headers, now) : null)
        }
        return { status, headers, body }
      })

    const retryable = (e: GitHubError) =>
      (e.category === "request" || e.category === "rate_limited" || (e.category === "status" && (e.status ?? 0) >= 500)) &&
      (e.retryAfterMs ?? 0) <= MAX_INLINE_WAIT_MS

    /** `once`, retried while retryable: waits `Retry-After`/reset when given, else 200 ms doubling; 3 retries. */
    const call = (operation: string, request: HttpClientRequest.HttpClientRequest) =>
      once(operation, request).pipe(
        Effect.retry({
          schedule: Schedule.identity<GitHubError>().pipe(
            Schedule.addDelay((e) => Duration.millis(e.retryAfterMs ?? 0)),
            Schedule.intersect(Schedule.exponential("200 millis")),
            Schedule.intersect(Schedule.recurs(3))
          ),
          while: retryable
        })
      )

    /** A conditional GET: a 304 answers from the cache (`fresh: false`). */
    const conditional = (operation: string, url: string) =>
      Effect.gen(function*() {
        const cached = (yield* Ref.get(cache)).get(url)
        const request = cached === undefined
          ? HttpClientRequest.get(url)
          : HttpClientRequest.get(url).pipe(HttpClientRequest.setHeader("if-none-match", cached.etag))
        const response = yield* call(operation, request)
        if (response.status === 304 && cached !== undefined) {
          return { body: cached.body, link: cached.link, fresh: false }
        }
        const etag = response.headers["etag"]
        if (etag !== undefined) {
          yield* Ref.update(cache, (m) => new Map(m).set(url, { etag, body: response.body, link: response.headers["link"] }))
        }
        return { body: response.body, link: response.headers["link"], fresh: true }
      })

    /**
     * Every open issue and pull request, raw, following `Link: rel="next"`; `changed` is false when every page was a
     * 304 (nothing changed since the last call). Fails on any page's failure (the read is atomic, SPEC §11.1).
     */
    const listOpen = Effect.gen(function*() {
      const items: Array<unknown> = []
      let changed = false
      let url: string | null = `${repoUrl}/issues?state=open&per_page=${PER_PAGE}&page=1`
      let pages = 0
      while (url !== null) {
        pages += 1
        if (pages > 1000) return yield* fail("list issues", "response", null, "more than 1000 pages: the Link header loops")
        const page: { body: unknown; link: string | undefined; fresh: boolean } = yield* conditional("list issues", url)
        if (!Array.isArray(page.body)) return yield* fail("list issues", "response", null, "the issue list is not a JSON array")
        items.push(...page.body)
        changed = changed || page.fresh
        url = nextLink(page.link)
      }
      return { items, changed }
    })

    /** One issue, raw, or None when GitHub says 404/410 (deleted, transferred, or never there). */
    const getIssue = (number: number) =>
      conditional(`get issue #${number}`, `${repoUrl}/issues/${number}`).pipe(
        Effect.map((r) => Option.some(r.body)),
        Effect.catchIf((e) => e.category === "not_found", () => Effect.succeed(Option.none()))
      )

    /**
     * A related list of issue `number` (`dependencies/blocked_by` or `sub_issues`), raw, the first 100 (a
     * conditional GET: an unchanged list costs no rate limit).
     */
    const relatedOf = (what: "dependencies/blocked_by" | "sub_issues", number: number) =>
      conditional(`read ${what} of #${number}`, `${repoUrl}/issues/${number}/${what}?per_page=${PER_PAGE}`).pipe(
        Effect.flatMap((r) =>
          Array.isArray(r.body)
            ? Effect.succeed(r.body as ReadonlyArray<unknown>)
            : Effect.fail(fail(`read ${what} of #${number}`, "response", null, "the answer is not a JSON array"))
        )
      )

    const json = (method: "post", url: string, body: unknown) =>
      HttpClientRequest.post(url).pipe(HttpClientRequest.bodyUnsafeJson(body))

    /** Decodes a response body with `schema`; a mismatch is a `response` error naming the operation. */
    const decoded = <A, I>(operation: string, schema: Schema.Schema<A, I>) => (r: { readonly body: unknown }) =>
      Schema.decodeUnknown(schema)(r.body).pipe(Effect.mapError((e) => fail(operation, "response", null, `GitHub's answer cannot be read: ${e.message.split("\n").slice(-2).join(" ").trim()}`)))
    /**
     * A conditional GET (an unchanged answer is a 304 that costs no rate limit: reviews and checks are read every poll
     * interval), decoded with `schema`.
     */
    const getDecoded = <A, I>(operation: string, url: string, schema: Schema.Schema<A, I>, params?: Record<string, string>) =>
      Effect.suspend(() => {
        const full = new URL(url)
        for (const [k, v] of Object.entries(params ?? {})) full.searchParams.set(k, v)
        return conditional(operation, full.href)
      }).pipe(Effect.flatMap(decoded(operation, schema)))

    /** The hosting calls (docs/trust.md, "The GitHub half"): merges, CI, reviews, the base branch's history. */
    /** Pull request `n` (head and base sha, merged, merge commit, mergeable). */
    const getPull = (n: number) => getDecoded(`read pull request #${n}`, `${repoUrl}/pulls/${n}`, Hosting.PullRequest)

    const hosting = {
      getPull,
      /** The pull requests whose head is (or was, when merged) commit `sha`. */
      pullsOfCommit: (sha: string) =>
        getDecoded(`find the pull requests of ${sha.slice(0, 10)}`, `${repoUrl}/commits/${sha}/pulls`, Schema.Array(Hosting.PullRequest)),
      /** The pull request from `branch` (any state), decoded, if one exists. */
      pullOfBranch: (owner: string, branch: string) =>
        getDecoded(`find the pull request of ${branch}`, `${repoUrl}/pulls`, Schema.Array(Schema.Struct({ number: Schema.Number })), {
          head: `${owner}:${branch}`,
          state: "all"
        }).pipe(
          // The list's records are abridged (no mergeability): the pull request itself is read.
          Effect.flatMap((ps) => ps[0] === undefined ? Effect.succeed(Option.none()) : Effect.map(getPull(ps[0].number), Option.some))
        ),
      /**
       * `PUT /pulls/{n}/merge` with the head `sha` it must still have (409 otherwise) and `merge_method`; 405 when
       * GitHub refuses (not mergeable, a branch protection). The new base commit.
       */
      mergePull: (n: number, input: { readonly sha: string; readonly method: "merge" | "squash" | "rebase"; readonly title: string; readonly message: string }) =>
        call(
          `merge pull request #${n}`,
          HttpClientRequest.put(`${repoUrl}/pulls/${n}/merge`).pipe(
            HttpClientRequest.bodyUnsafeJson({ sha: input.sha, merge_method: input.method, commit_title: input.title, commit_message: input.message })
          )
        ).pipe(Effect.flatMap(decoded(`merge pull request #${n}`, Hosting.MergeResult))),
      /** The check runs of commit `ref` (first page of 100). */
      checkRuns: (ref: string) =>
        getDecoded(`read the check runs of ${ref.slice(0, 10)}`, `${repoUrl}/commits/${ref}/check-runs`, Hosting.CheckRuns, { per_page: String(PER_PAGE) }),
      /** The combined status of commit `ref`. */
      combinedStatus: (ref: string) =>
        getDecoded(`read the status of ${ref.slice(0, 10)}`, `${repoUrl}/commits/${ref}/status`, Hosting.CombinedStatus, { per_page: String(PER_PAGE) }),
      /** The reviews of pull request `n`, oldest first. */
      reviews: (n: number) => getDecoded(`read the reviews of #${n}`, `${repoUrl}/pulls/${n}/reviews`, Schema.Array(Hosting.Review), { per_page: String(PER_PAGE) }),
      /** The review comments of pull request `n`. */
      reviewComments: (n: number) =>
        getDecoded(`read the review comments of #${n}`, `${repoUrl}/pulls/${n}/comments`, Schema.Array(Hosting.ReviewComment), { per_page: String(PER_PAGE) }),
      /** The newest `limit` (≤ 100) commits of `branch`, newest first. */
      commits: (branch: string, limit: number) =>
        getDecoded(`read the history of ${branch}`, `${repoUrl}/commits`, Schema.Array(Hosting.Commit), { sha: branch, per_page: String(Math.min(limit, PER_PAGE)) }),
      /** Branch `name` and its head commit. */
      branch: (name: string) => getDecoded(`read branch ${name}`, `${repoUrl}/branches/${encodeURIComponent(name)}`, Hosting.Branch),
      /** How `head` relates to `base` (`behind`/`identical`: head is part of base). */
      compare: (base: string, head: string) => getDecoded(`compare ${head.slice(0, 10)} with ${base.slice(0, 10)}`, `${repoUrl}/compare/${base}...${head}`, Hosting.Comparison)
    }

    return {
      ...hosting,
      repoUrl,
      rate: Ref.get(rate),
      /** The repository (`default_branch`, ...); not_found when it does not exist or the token cannot see it. */
      getRepo: call("read the repository", HttpClientRequest.get(repoUrl)).pipe(Effect.map((r) => r.body)),
      /** Whether label `name` exists in the repository. */
      hasLabel: (name: string) =>
        call(`read label ${JSON.stringify(name)}`, HttpClientRequest.get(`${repoUrl}/labels/${encodeURIComponent(name)}`)).pipe(
          Effect.as(true),
          Effect.catchIf((e) => e.category === "not_found", () => Effect.succeed(false))
        ),
      listOpen,
      getIssue,
      /** The issues blocking issue `number` (GitHub's issue dependencies), raw. */
      blockedBy: (number: number) => relatedOf("dependencies/blocked_by", number),
      /** The sub-issues of issue `number`, raw. */
      subIssues: (number: number) => relatedOf("sub_issues", number),
      addLabels: (number: number, labels: ReadonlyArray<string>) =>
        call(`label issue #${number}`, json("post", `${repoUrl}/issues/${number}/labels`, { labels })).pipe(Effect.asVoid),
      /** Removes a label; one the issue does not have is not an error. */
      removeLabel: (number: number, label: string) =>
        call(`unlabel issue #${number}`, HttpClientRequest.del(`${repoUrl}/issues/${number}/labels/${encodeURIComponent(label)}`)).pipe(
          Effect.asVoid,
          Effect.catchIf((e) => e.category === "not_found", () => Effect.void)
        ),
      /** The bodies of the comments of issue `number` created at or after `since` (ISO-8601). */
      commentsSince: (number: number, since: string) =>
        call(`read comments of #${number}`, HttpClientRequest.get(`${repoUrl}/issues/${number}/comments`).pipe(
          HttpClientRequest.setUrlParams({ since, per_page: String(PER_PAGE) })
        )).pipe(
          Effect.map((r) =>
            Array.isArray(r.body)
              ? r.body.flatMap((c) => (typeof c === "object" && c !== null && typeof c.body === "string" ? [c.body as string] : []))
              : []
          )
        ),
      addComment: (number: number, body: string) =>
        call(`comment on #${number}`, json("post", `${repoUrl}/issues/${number}/comments`, { body })).pipe(Effect.asVoid),
      /** The URL of a pull request from `branch` (any state), if one exists. */
      findPull: (owner: string, branch: string) =>
        call(`find the pull request of ${branch}`, HttpClientRequest.get(`${repoUrl}/pulls`).pipe(
          HttpClientRequest.setUrlParams({ head: `${owner}:${branch}`, state: "all" })
        )).pipe(
          Effect.map((r) =>
            Array.isArray(r.body) && r.body.length > 0 && typeof r.body[0]?.html_url === "string"
              ? Option.some(r.body[0].html_url as string)
              : Option.none()
          )
        ),
      /** Opens a pull request; its URL. */
      createPull: (pull: { title: string; head: string; base: string; body: string }) =>
        call(`open a pull request from ${pull.head}`, json("post", `${repoUrl}/pulls`, pull)).pipe(
          Effect.map((r) =>
            typeof r.body === "object" && r.body !== null && "html_url" in r.body ? String((r.body as { html_url: unknown }).html_url) : ""
          )
        )
    }
  })

export type GitHubApi = Effect.Effect.Success<ReturnType<typeof make>>
