/**
 * The GitHub twin: a local HTTP server (127.0.0.1, ephemeral port) serving the subset of GitHub's REST API that
 * the GitHub Tracker uses, over one repository held in memory, so the tracker is tested with real HTTP offline
 * (docs/trackers.md). Issues, labels, comments and users conform to GitHub's published OpenAPI description
 * (`@octokit/openapi`, checked by test/GitHubTwin.schema.test.ts); the repository and pull request payloads carry
 * only the fields the tracker reads.
 *
 * Routes (all under `/repos/{owner}/{repo}`, Bearer or `token` authorization required):
 * - `GET ` → the repository (`default_branch`); `GET /labels/{name}` → a label or 404.
 * - `GET /issues?state=open|closed|all&per_page&page` → issues and pull requests (PRs carry `pull_request`), newest
 *   first, paged with a `Link` header; an `ETag` on every list; `If-None-Match` with the current one → 304, which
 *   does not count against the rate limit (as on GitHub).
 * - `GET /issues/{n}` → the issue, 404 unknown, 410 deleted.
 * - `POST /issues/{n}/labels` `{labels}` adds; `DELETE /issues/{n}/labels/{name}` removes (404 when absent).
 * - `GET /issues/{n}/comments?since` / `POST /issues/{n}/comments` `{body}`.
 * - `GET /pulls?head=owner:branch&state` / `POST /pulls` `{title, head, base, body}` (422 when one is open for head).
 * - `GET /issues/{n}/dependencies/blocked_by` → the issues blocking it; `GET /issues/{n}/sub_issues` → its
 *   sub-issues; every issue carries `issue_dependencies_summary` and `sub_issues_summary` (open blockers, sub-issues).
 * - With `git` (a bare repository standing for GitHub's storage; GitHubHosting.ts): `GET /pulls/{n}` (head and base
 *   sha, merged, merge_commit_sha, mergeable), `PUT /pulls/{n}/merge` `{sha, merge_method}` (409 head moved, 405 not
 *   mergeable or already merged; merges with real git), `GET /pulls/{n}/reviews`, `GET /pulls/{n}/comments`,
 *   `GET /commits?sha`, `GET /commits/{ref}/check-runs`, `GET /commits/{ref}/status`, `GET /commits/{sha}/pulls`,
 *   `GET /branches/{b}`, `GET /compare/{base}...{head}`; checks and reviews are set through the handle.
 * Every response carries `X-RateLimit-Remaining` and `X-RateLimit-Reset`.
 *
 * Failure modes, set through the handle: a bad token (401 `Bad credentials`), queued faults for the next requests
 * (a status: 403 rate-limited with reset, 429 with `Retry-After`, 5xx; or a delay), `down` (every request 503), and
 * raw records (a malformed issue served as given).
 */
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Context, Duration, Effect, Layer, Option, Ref, type Scope } from "effect"
import { createHash } from "node:crypto"
import * as Http from "node:http"
import * as Hosting from "./GitHubHosting.js"

/** One issue (or pull request) as the twin keeps it. */
export interface TwinIssue {
  readonly number: number
  readonly title: string
  readonly body: string | null
  readonly state: "open" | "closed"
  readonly state_reason: "completed" | "not_planned" | "reopened" | null
  readonly labels: ReadonlyArray<string>
  readonly created_at: string
  readonly updated_at: string
  readonly closed_at: string | null
  /** A pull request, listed by the Issues API with a `pull_request` key. */
  readonly isPull: boolean
  /** Deleted: `GET /issues/{n}` answers 410, lists omit it. */
  readonly deleted: boolean
  /** Served verbatim in lists instead of the record built from these fields (a malformed record). */
  readonly raw: unknown | null
  /** Numbers of the issues that block this one (GitHub's issue dependencies, `blocked_by`). */
  readonly blockedBy?: ReadonlyArray<number>
  /** The number of the issue this one is a sub-issue of. */
  readonly parent?: number | null
  /** The logins it is assigned to. */
  readonly assignees?: ReadonlyArray<string>
}

export interface TwinComment {
  readonly id: number
  readonly issue: number
  readonly body: string
  readonly created_at: string
}

export interface TwinPull {
  readonly number: number
  readonly title: string
  readonly head: string
  readonly base: string
  readonly body: string
  readonly state: "open" | "closed"
}

/** A fault the next request gets instead of its answer: a status (with headers), or a delay before answering. */
export type Fault =
  | { readonly _tag: "Status"; readonly status: number; readonly headers?: Readonly<Record<string, string>> }
  | { readonly _tag: "Delay"; readonly ms: number }

export interface GitHubTwinState {
  readonly issues: ReadonlyMap<number, TwinIssue>
  readonly comments: ReadonlyArray<TwinComment>
  readonly pulls: ReadonlyArray<TwinPull>
  readonly labels: ReadonlySet<string>
  readonly next: number
  readonly faults: ReadonlyArray<Fault>
  readonly down: boolean
  readonly rateRemaining: number
  /** Every request as `METHOD path?query`, in arrival order. */
  readonly requests: ReadonlyArray<string>
}

/** A running GitHub twin and the handle tests use to play the other side (a person editing issues). */
export interface GitHubTwinShape {
  /** Base URL for `tracker.api_url`, e.g. `http://127.0.0.1:41234`. */
  readonly url: string
  readonly owner: string
  readonly repo: string
  readonly token: string
  readonly state: Effect.Effect<GitHubTwinState>
  /** Opens an issue (or, with `isPull`, a pull request) and returns its number. */
  readonly open: (issue: {
    title: string
    body?: string
    labels?: ReadonlyArray<string>
    isPull?: boolean
    blockedBy?: ReadonlyArray<number>
    parent?: number
    assignees?: ReadonlyArray<string>
  }) => Effect.Effect<number>
  /** Edits an issue as a person would (close, relabel, retitle); bumps `updated_at`. */
  readonly edit: (number: number, patch: Partial<Omit<TwinIssue, "number">>) => Effect.Effect<void>
  /** Adds a raw record to the issue list, served verbatim (e.g. without a title). */
  readonly addRaw: (record: unknown) => Effect.Effect<void>
  readonly createLabel: (name: string) => Effect.Effect<void>
  /** Queues faults for the next requests, in order. */
  readonly fault: (...faults: ReadonlyArray<Fault>) => Effect.Effect<void>
  readonly setDown: (down: boolean) => Effect.Effect<void>
  /** Epoch seconds at which the rate limit resets (as in `X-RateLimit-Reset`). */
  readonly rateReset: number
  /** Merges, checks and reviews (the hosting half, `GitHubHosting.ts`). */
  readonly hosting: Effect.Effect<Hosting.TwinHostingState>
  /** Sets what CI says about commit `ref` (a sha, or a branch of the git repository). */
  readonly setChecks: (ref: string, checks: Hosting.TwinChecks) => Effect.Effect<void>
  /** Queues CI results for the next commits asked about that have none, in order. */
  readonly queueChecks: (...checks: ReadonlyArray<Hosting.TwinChecks>) => Effect.Effect<void>
  /** Submits a review of pull request `number` (on its current head), with review comments. */
  readonly review: (number: number, review: {
    readonly user?: string
    readonly state: Hosting.TwinReview["state"]
    readonly body: string
    readonly comments?: ReadonlyArray<{ readonly path: string; readonly line: number; readonly body: string }>
  }) => Effect.Effect<Hosting.TwinReview>
  /** A person merges pull request `number` on GitHub with `method`; the new base commit, or why it was refused. */
  readonly mergeByHand: (number: number, method: Hosting.TwinMerge["method"]) => Effect.Effect<Hosting.MergeOutcome>
}

export class GitHubTwin extends Context.Tag("switchyard/twin/GitHubTwin")<GitHubTwin, GitHubTwinShape>() {}

const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  HttpServerResponse.unsafeJson(body, { status, headers })

const ghError = (status: number, message: string, headers: Record<string, string> = {}) =>
  json({ message, documentation_url: "https://docs.github.com/rest" }, status, headers)

/**
 * Starts a twin for `owner/repo` (token `token`, default branch `main`) with `labels` defined. Stopped when the
 * scope closes.
 */
export const make = (options: {
  readonly owner?: string
  readonly repo?: string
  readonly token?: string
  readonly labels?: ReadonlyArray<string>
  /** Clock for `created_at`/`updated_at` (epoch ms); default `Date.now`. */
  readonly now?: () => number
  /**
   * A bare git repository standing for GitHub's storage (the test's `origin`): pull request heads and bases are
   * its branches, merges are made in it. Without it the hosting routes answer 404.
   */
  readonly git?: string
}): Effect.Effect<GitHubTwinShape, never, Scope.Scope> =>
  Effect.gen(function*() {
    const owner = options.owner ?? "acme"
    const repo = options.repo ?? "widgets"
    const token = options.token ?? "ghp_twin_token_0123456789"
    const now = options.now ?? (() => Date.now())
    const rateReset = Math.floor(now() / 1000) + 3600
    const state = yield* Ref.make<GitHubTwinState>({
      issues: new Map(),
      comments: [],
      pulls: [],
      labels: new Set(options.labels ?? []),
      next: 1,
      faults: [],
      down: false,
      rateRemaining: 5000,
      requests: []
    })
    const iso = () => new Date(now()).toISOString().replace(/\.\d{3}Z$/, "Z")

    const nodeServer = Http.createServer()
    const server = yield* NodeHttpServer.make(() => nodeServer, { port: 0, host: "127.0.0.1" }).pipe(Effect.orDie)
    yield* Effect.addFinalizer(() => Effect.sync(() => nodeServer.closeAllConnections()))
    const port = server.address._tag === "TcpAddress" ? server.address.port : 0
    const url = `http://127.0.0.1:${port}`
    const apiBase = `${url}/repos/${owner}/${repo}`

    const labelJson = (name: string) => ({
      id: Number.parseInt(createHash("sha256").update(name).digest("hex").slice(0, 8), 16),
      node_id: `LA_${name}`,
      url: `${apiBase}/labels/${encodeURIComponent(name)}`,
      name,
      description: null,
      color: "ededed",
      default: false
    })
    const userUrl = `${url}/users/octocat`
    const user = {
      login: "octocat",
      id: 1,
      node_id: "U_1",
      avatar_url: `${url}/avatars/octocat`,
      gravatar_id: "",
      url: userUrl,
      html_url: `${url}/octocat`,
      followers_url: `${userUrl}/followers`,
      following_url: `${userUrl}/following{/other_user}`,
      gists_url: `${userUrl}/gists{/gist_id}`,
      starred_url: `${userUrl}/starred{/owner}{/repo}`,
      subscriptions_url: `${userUrl}/subscriptions`,
      organizations_url: `${userUrl}/orgs`,
      repos_url: `${userUrl}/repos`,
      events_url: `${userUrl}/events{/privacy}`,
      received_events_url: `${userUrl}/received_events`,
      type: "User",
      site_admin: false
    }
    /** A simple user as GitHub embeds it (`assignee`, `assignees`), for `login`. */
    const userOf = (login: string) => ({
      ...user,
      login,
      id: 1_000 + [...login].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 1_000_000, 7),
      node_id: `U_${login}`,
      html_url: `${url}/${login}`
    })
    const issueJson = (i: TwinIssue, all: ReadonlyMap<number, TwinIssue> = new Map()) => {
      const blockers = (i.blockedBy ?? []).flatMap((n) => {
        const b = all.get(n)
        return b === undefined || b.deleted ? [] : [b]
      })
      const children = [...all.values()].filter((c) => !c.deleted && c.parent === i.number)
      const done = children.filter((c) => c.state === "closed").length
      return {
        ...issueFields(i),
        issue_dependencies_summary: {
          blocked_by: blockers.filter((b) => b.state === "open").length,
          blocking: [...all.values()].filter((o) => !o.deleted && o.state === "open" && (o.blockedBy ?? []).includes(i.number)).length,
          total_blocked_by: blockers.length,
          total_blocking: [...all.values()].filter((o) => !o.deleted && (o.blockedBy ?? []).includes(i.number)).length
        },
        sub_issues_summary: {
          total: children.length,
          completed: done,
          percent_completed: children.length === 0 ? 0 : Math.floor((done * 100) / children.length)
        }
      }
    }
    const issueFields = (i: TwinIssue) => ({
      id: 1000 + i.number,
      node_id: `I_${i.number}`,
      url: `${apiBase}/issues/${i.number}`,
      repository_url: apiBase,
      labels_url: `${apiBase}/issues/${i.number}/labels{/name}`,
      comments_url: `${apiBase}/issues/${i.number}/comments`,
      events_url: `${apiBase}/issues/${i.number}/events`,
      milestone: null,
      html_url: `${url}/${owner}/${repo}/${i.isPull ? "pull" : "issues"}/${i.number}`,
      number: i.number,
      state: i.state,
      state_reason: i.state_reason,
      title: i.title,
      body: i.body,
      user,
      labels: i.labels.map(labelJson),
      assignee: (i.assignees ?? []).length === 0 ? null : userOf(i.assignees![0]!),
      assignees: (i.assignees ?? []).map(userOf),
      locked: false,
      comments: 0,
      created_at: i.created_at,
      updated_at: i.updated_at,
      closed_at: i.closed_at,
      author_association: "OWNER",
      ...(i.isPull ? { pull_request: { url: `${apiBase}/pulls/${i.number}`, html_url: null, diff_url: null, patch_url: null } } : {})
    })
    const commentJson = (c: TwinComment) => ({
      id: c.id,
      node_id: `IC_${c.id}`,
      url: `${apiBase}/issues/comments/${c.id}`,
      html_url: `${url}/${owner}/${repo}/issues/${c.issue}#issuecomment-${c.id}`,
      body: c.body,
      user,
      created_at: c.created_at,
      updated_at: c.created_at,
      issue_url: `${apiBase}/issues/${c.issue}`,
      author_association: "OWNER"
    })
    const pullJson = (p: TwinPull) => ({
      id: 5000 + p.number,
      number: p.number,
      state: p.state,
      title: p.title,
      body: p.body,
      url: `${apiBase}/pulls/${p.number}`,
      html_url: `${url}/${owner}/${repo}/pull/${p.number}`,
      head: { ref: p.head, label: `${owner}:${p.head}` },
      base: { ref: p.base, label: `${owner}:${p.base}` }
    })

    const rateHeaders = (remaining: number) => ({
      "x-ratelimit-limit": "5000",
      "x-ratelimit-remaining": String(remaining),
      "x-ratelimit-reset": String(rateReset)
    })

    /** Auth, faults, rate limit; then `answer`. `counts`: whether a 200 spends the rate limit. */
    const guarded = (
      answer: (
        request: HttpServerRequest.HttpServerRequest,
        url: URL
      ) => Effect.Effect<HttpServerResponse.HttpServerResponse, never, HttpRouter.RouteContext | HttpServerRequest.HttpServerRequest>
    ) =>
      Effect.gen(function*() {
        const request = yield* HttpServerRequest.HttpServerRequest
        const parsed = new URL(request.url, url)
        yield* Ref.update(state, (s) => ({ ...s, requests: [...s.requests, `${request.method} ${parsed.pathname}${parsed.search}`] }))
        const s = yield* Ref.get(state)
        if (s.down) return ghError(503, "Service Unavailable")
        const fault = s.faults[0]
        if (fault !== undefined) {
          yield* Ref.update(state, (st) => ({ ...st, faults: st.faults.slice(1) }))
          if (fault._tag === "Delay") yield* Effect.sleep(Duration.millis(fault.ms))
          else {
            return ghError(
              fault.status,
              fault.status === 403 || fault.status === 429 ? "API rate limit exceeded" : "Server Error",
              { ...rateHeaders(fault.status === 403 ? 0 : s.rateRemaining), ...fault.headers }
            )
          }
        }
        const auth = request.headers["authorization"] ?? ""
        if (auth !== `Bearer ${token}` && auth !== `token ${token}`) return ghError(401, "Bad credentials")
        const response = yield* answer(request, parsed)
        if (response.status === 304) return HttpServerResponse.setHeaders(response, rateHeaders(s.rateRemaining))
        const remaining = Math.max(0, (yield* Ref.updateAndGet(state, (st) => ({ ...st, rateRemaining: st.rateRemaining - 1 }))).rateRemaining)
        return HttpServerResponse.setHeaders(response, rateHeaders(remaining))
      })

    const ownRepo = Effect.gen(function*() {
      const params = yield* HttpRouter.params
      return params["owner"] === owner && params["repo"] === repo
    })
    const numberParam = Effect.map(HttpRouter.params, (p) => Number(p["number"]))
    const body = Effect.flatMap(HttpServerRequest.HttpServerRequest, (r) => r.json).pipe(
      Effect.map((b) => (typeof b === "object" && b !== null ? b : {}) as Record<string, unknown>),
      Effect.orElseSucceed(() => ({} as Record<string, unknown>))
    )

    const notFound = ghError(404, "Not Found")

    const getRepo = guarded(() =>
      Effect.map(ownRepo, (ok) =>
        ok ? json({ id: 1, name: repo, full_name: `${owner}/${repo}`, default_branch: "main", private: false, owner: user }) : notFound)
    )

    const getLabel = guarded(() =>
      Effect.gen(function*() {
        if (!(yield* ownRepo)) return notFound
        const name = decodeURIComponent((yield* HttpRouter.params)["name"] ?? "")
        const s = yield* Ref.get(state)
        const found = [...s.labels].find((l) => l.toLowerCase() === name.toLowerCase())
        return found === undefined ? notFound : json(labelJson(found))
      })
    )

    const listIssues = guarded((request, parsed) =>
      Effect.gen(function*() {
        if (!(yield* ownRepo)) return notFound
        const want = parsed.searchParams.get("state") ?? "open"
        const perPage = Math.min(100, Math.max(1, Number(parsed.searchParams.get("per_page") ?? "30")))
        const page = Math.max(1, Number(parsed.searchParams.get("page") ?? "1"))
        const s = yield* Ref.get(state)
        const all = [...s.issues.values()]
          .filter((i) => !i.deleted && (want === "all" || i.state === want))
          .sort((a, b) => b.number - a.number)
          .map((i) => i.raw ?? issueJson(i, s.issues))
        const items = all.slice((page - 1) * perPage, page * perPage)
        const etag = `"${createHash("sha256").update(JSON.stringify(items)).digest("hex").slice(0, 32)}"`
        const links: Array<string> = []
        const last = Math.max(1, Math.ceil(all.length / perPage))
        const link = (p: number, rel: string) => {
          const next = new URL(parsed.href)
          next.searchParams.set("page", String(p))
          return `<${next.href}>; rel="${rel}"`
        }
        if (page < last) links.push(link(page + 1, "next"), link(last, "last"))
        if (page > 1) links.push(link(1, "first"), link(page - 1, "prev"))
        const headers: Record<string, string> = { etag }
        if (links.length > 0) headers["link"] = links.join(", ")
        if (request.headers["if-none-match"] === etag) return HttpServerResponse.empty({ status: 304, headers })
        return json(items, 200, headers)
      })
    )

    const getIssue = guarded(() =>
      Effect.gen(function*() {
        if (!(yield* ownRepo)) return notFound
        const n = yield* numberParam
        const issue = (yield* Ref.get(state)).issues.get(n)
        if (issue === undefined) return notFound
        if (issue.deleted) return ghError(410, "This issue was deleted")
        return json(issue.raw ?? issueJson(issue, (yield* Ref.get(state)).issues))
      })
    )

    const touch = (n: number, f: (i: TwinIssue) => TwinIssue) =>
      Ref.modify(state, (s) => {
        const issue = s.issues.get(n)
        if (issue === undefined || issue.deleted) return [Option.none<TwinIssue>(), s] as const
        const next = { ...f(issue), updated_at: iso() }
        return [Option.some(next), { ...s, issues: new Map(s.issues).set(n, next) }] as const
      })

    const addLabels = guarded(() =>
      Effect.gen(function*() {
        if (!(yield* ownRepo)) return notFound
        const n = yield* numberParam
        const b = yield* body
        const names = Array.isArray(b["labels"]) ? b["labels"].filter((l): l is string => typeof l === "string") : []
        yield* Ref.update(state, (s) => ({ ...s, labels: new Set([...s.labels, ...names]) }))
        const moved = yield* touch(n, (i) => ({ ...i, labels: [...new Set([...i.labels, ...names])] }))
        return Option.match(moved, { onNone: () => notFound, onSome: (i) => json(i.labels.map(labelJson)) })
      })
    )

    const removeLabel = guarded(() =>
      Effect.gen(function*() {
        if (!(yield* ownRepo)) return notFound
        const n = yield* numberParam
        const name = decodeURIComponent((yield* HttpRouter.params)["name"] ?? "")
        const issue = (yield* Ref.get(state)).issues.get(n)
        if (issue === undefined || !issue.labels.includes(name)) return ghError(404, "Label does not exist")
        const moved = yield* touch(n, (i) => ({ ...i, labels: i.labels.filter((l) => l !== name) }))
        return Option.match(moved, { onNone: () => notFound, onSome: (i) => json(i.labels.map(labelJson)) })
      })
    )

    const listComments = guarded((_request, parsed) =>
      Effect.gen(function*() {
        if (!(yield* ownRepo)) return notFound
        const n = yield* numberParam
        const since = parsed.searchParams.get("since")
        const s = yield* Ref.get(state)
        if (!s.issues.has(n)) return notFound
        return json(s.comments.filter((c) => c.issue === n && (since === null || c.created_at >= since)).map(commentJson))
      })
    )

    const addComment = guarded(() =>
      Effect.gen(function*() {
        if (!(yield* ownRepo)) return notFound
        const n = yield* numberParam
        const b = yield* body
        if (typeof b["body"] !== "string") return ghError(422, "Validation Failed")
        const s = yield* Ref.get(state)
        if (!s.issues.has(n)) return notFound
        const comment: TwinComment = { id: 9000 + s.comments.length, issue: n, body: b["body"], created_at: iso() }
        yield* Ref.update(state, (st) => ({ ...st, comments: [...st.comments, comment] }))
        yield* touch(n, (i) => i)
        return json(commentJson(comment), 201)
      })
    )

    const listPulls = guarded((_request, parsed) =>
      Effect.gen(function*() {
        if (!(yield* ownRepo)) return notFound
        const head = parsed.searchParams.get("head")
        const want = parsed.searchParams.get("state") ?? "open"
        const s = yield* Ref.get(state)
        return json(
          s.pulls.filter((p) => (head === null || `${owner}:${p.head}` === head) && (want === "all" || p.state === want)).map(pullJson)
        )
      })
    )

    const addPull = guarded(() =>
      Effect.gen(function*() {
        if (!(yield* ownRepo)) return notFound
        const b = yield* body
        const fields = ["title", "head", "base"] as const
        if (fields.some((f) => typeof b[f] !== "string")) return ghError(422, "Validation Failed")
        const s = yield* Ref.get(state)
        if (s.pulls.some((p) => p.head === b["head"] && p.state === "open")) {
          return ghError(422, `A pull request already exists for ${owner}:${String(b["head"])}.`)
        }
        const pull: TwinPull = {
          number: s.next,
          title: String(b["title"]),
          head: String(b["head"]),
          base: String(b["base"]),
          body: typeof b["body"] === "string" ? b["body"] : "",
          state: "open"
        }
        const at = iso()
        yield* Ref.update(state, (st) => ({
          ...st,
          next: st.next + 1,
          pulls: [...st.pulls, pull],
          issues: new Map(st.issues).set(pull.number, {
            number: pull.number,
            title: pull.title,
            body: pull.body,
            state: "open",
            state_reason: null,
            labels: [],
            created_at: at,
            updated_at: at,
            closed_at: null,
            isPull: true,
            deleted: false,
            raw: null
          })
        }))
        return json(pullJson(pull), 201)
      })
    )

    /** `GET /issues/{n}/dependencies/blocked_by` and `GET /issues/{n}/sub_issues`: lists of issues. */
    const related = (pick: (s: GitHubTwinState, issue: TwinIssue) => ReadonlyArray<TwinIssue>) =>
      guarded(() =>
        Effect.gen(function*() {
          if (!(yield* ownRepo)) return notFound
          const n = yield* numberParam
          const s = yield* Ref.get(state)
          const issue = s.issues.get(n)
          if (issue === undefined || issue.deleted) return notFound
          return json(pick(s, issue).map((i) => issueJson(i, s.issues)))
        })
      )
    const blockedBy = related((s, issue) =>
      (issue.blockedBy ?? []).flatMap((n) => {
        const b = s.issues.get(n)
        return b === undefined || b.deleted ? [] : [b]
      })
    )
    const subIssues = related((s, issue) => [...s.issues.values()].filter((c) => !c.deleted && c.parent === issue.number))

    // --- The hosting half: merges, checks, statuses, reviews (GitHubHosting.ts) ---
    const hosting = yield* Ref.make(Hosting.emptyHosting())
    const gitDir = options.git ?? null
    const headOf = (p: TwinPull, h: Hosting.TwinHostingState): string | null =>
      h.merges.get(p.number)?.headSha ?? (gitDir === null ? null : Hosting.resolve(gitDir, p.head))
    const fullPullJson = (p: TwinPull, h: Hosting.TwinHostingState) => {
      const merged = h.merges.get(p.number)
      const head = headOf(p, h)
      const baseSha = gitDir === null ? null : Hosting.resolve(gitDir, p.base)
      const mergeable = merged !== undefined || p.state === "closed" || head === null || baseSha === null
        ? null
        : Hosting.gitIn(gitDir!, ["merge-tree", "--write-tree", baseSha, head]).code === 0
      return {
        ...pullJson(p),
        head: { ref: p.head, label: `${owner}:${p.head}`, sha: head },
        base: { ref: p.base, label: `${owner}:${p.base}`, sha: baseSha },
        merged: merged !== undefined,
        merged_at: merged?.at ?? null,
        merged_by: merged === undefined ? null : { login: merged.by },
        merge_commit_sha: merged?.sha ?? null,
        mergeable,
        mergeable_state: mergeable === false ? "dirty" : mergeable === true ? "clean" : "unknown"
      }
    }
    const pullParam = Effect.gen(function*() {
      const n = yield* numberParam
      return (yield* Ref.get(state)).pulls.find((p) => p.number === n)
    })
    /** Merges pull `p` (the API's and a person's merge): 405 refused, 409 head moved, 200 merged. */
    const doMerge = (p: TwinPull, method: Hosting.TwinMerge["method"], sha: string | null, by: string, title: string | null) =>
      Effect.gen(function*() {
        const h = yield* Ref.get(hosting)
        const head = headOf(p, h)
        const refuse = (status: number, message: string) =>
          Effect.as(
            Ref.update(hosting, (st) => ({ ...st, mergeRequests: [...st.mergeRequests, { number: p.number, sha, method, status }] })),
            { status, message, sha: null as string | null }
          )
        if (gitDir === null || head === null) return yield* refuse(404, "Not Found")
        if (p.state !== "open" || h.merges.has(p.number)) return yield* refuse(405, "Pull Request is not mergeable")
        if (sha !== null && sha !== head) return yield* refuse(409, "Head branch was modified. Review and try the merge again.")
        const message = method === "squash"
          ? `${title ?? p.title} (#${p.number})`
          : `Merge pull request #${p.number} from ${owner}/${p.head}\n\n${title ?? p.title}`
        const out = Hosting.merge(gitDir, p.base, head, method, message)
        if (out._tag === "Refused") return yield* refuse(405, out.reason)
        const at = iso()
        yield* Ref.update(hosting, (st) => ({
          ...st,
          merges: new Map(st.merges).set(p.number, { sha: out.sha, headSha: head, method, at, by }),
          mergeRequests: [...st.mergeRequests, { number: p.number, sha, method, status: 200 }]
        }))
        yield* Ref.update(state, (st) => ({
          ...st,
          pulls: st.pulls.map((q) => (q.number === p.number ? { ...q, state: "closed" as const } : q))
        }))
        yield* touch(p.number, (i) => ({ ...i, state: "closed", closed_at: at, state_reason: null }))
        // As on GitHub: a merge into the default branch closes the issues the body says it closes.
        if (p.base === "main") {
          for (const m of p.body.matchAll(/\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?) #(\d+)/gi)) {
            yield* touch(Number(m[1]), (i) => (i.state === "open" ? { ...i, state: "closed", closed_at: at, state_reason: "completed" } : i))
          }
        }
        return { status: 200, message: "Pull Request successfully merged", sha: out.sha as string | null }
      })

    const getPull = guarded(() =>
      Effect.gen(function*() {
        if (!(yield* ownRepo)) return notFound
        const p = yield* pullParam
        return p === undefined ? notFound : json(fullPullJson(p, yield* Ref.get(hosting)))
      })
    )

    const mergePull = guarded(() =>
      Effect.gen(function*() {
        if (!(yield* ownRepo)) return notFound
        const p = yield* pullParam
        if (p === undefined) return notFound
        const b = yield* body
        const method = b["merge_method"] === undefined ? "merge" : b["merge_method"]
        if (method !== "merge" && method !== "squash" && method !== "rebase") return ghError(422, "Validation Failed")
        const sha = typeof b["sha"] === "string" ? b["sha"] : null
        const title = typeof b["commit_title"] === "string" ? b["commit_title"] : null
        const out = yield* doMerge(p, method, sha, "switchyard-bot", title)
        return out.status === 200 ? json({ sha: out.sha, merged: true, message: out.message }) : ghError(out.status, out.message)
      })
    )

    const reviewJson = (r: Hosting.TwinReview, n: number) => ({
      id: r.id,
      user: { ...user, login: r.user },
      body: r.body,
      state: r.state,
      html_url: `${url}/${owner}/${repo}/pull/${n}#pullrequestreview-${r.id}`,
      submitted_at: r.submitted_at,
      commit_id: r.commit_id
    })
    const listReviews = guarded(() =>
      Effect.gen(function*() {
        if (!(yield* ownRepo)) return notFound
        const p = yield* pullParam
        if (p === undefined) return notFound
        return json(((yield* Ref.get(hosting)).reviews.get(p.number) ?? []).map((r) => reviewJson(r, p.number)))
      })
    )
    const listReviewComments = guarded(() =>
      Effect.gen(function*() {
        if (!(yield* ownRepo)) return notFound
        const p = yield* pullParam
        if (p === undefined) return notFound
        return json(((yield* Ref.get(hosting)).reviewComments.get(p.number) ?? []).map((c) => ({
          id: c.id,
          pull_request_review_id: c.review_id,
          user: { ...user, login: c.user },
          path: c.path,
          line: c.line,
          body: c.body,
          created_at: c.created_at,
          html_url: `${url}/${owner}/${repo}/pull/${p.number}#discussion_r${c.id}`
        })))
      })
    )

    /** The checks of `ref`: set ones, else the next queued result (kept for that commit), else none. */
    const checksOf = (ref: string) =>
      Effect.gen(function*() {
        const sha = gitDir === null ? ref : Hosting.resolve(gitDir, ref) ?? ref
        return yield* Ref.modify(hosting, (h): readonly [{ sha: string; checks: Hosting.TwinChecks }, Hosting.TwinHostingState] => {
          const set = h.checks.get(sha)
          if (set !== undefined) return [{ sha, checks: set }, h]
          const next = h.checkQueue[0]
          if (next === undefined) return [{ sha, checks: { checkRuns: [], statuses: [] } }, h]
          return [{ sha, checks: next }, { ...h, checkQueue: h.checkQueue.slice(1), checks: new Map(h.checks).set(sha, next) }]
        })
      })
    const refParam = Effect.map(HttpRouter.params, (p) => decodeURIComponent(p["ref"] ?? ""))
    const listCheckRuns = guarded(() =>
      Effect.gen(function*() {
        if (!(yield* ownRepo)) return notFound
        const { checks, sha } = yield* checksOf(yield* refParam)
        return json({
          total_count: checks.checkRuns.length,
          check_runs: checks.checkRuns.map((c, i) => ({
            id: 70_000 + i,
            head_sha: sha,
            name: c.name,
            status: c.status,
            conclusion: c.conclusion,
            html_url: `${url}/${owner}/${repo}/runs/${70_000 + i}`,
            details_url: `${url}/${owner}/${repo}/actions/runs/${80_000 + i}/job/${70_000 + i}`,
            started_at: iso(),
            completed_at: c.status === "completed" ? iso() : null,
            output: { title: c.name, summary: c.summary ?? null, text: c.text ?? null, annotations_count: 0 }
          }))
        })
      })
    )
    const combinedStatus = guarded(() =>
      Effect.gen(function*() {
        if (!(yield* ownRepo)) return notFound
        const { checks, sha } = yield* checksOf(yield* refParam)
        const st = checks.statuses
        const combined = st.length === 0
          ? "pending"
          : st.some((x) => x.state === "failure" || x.state === "error")
          ? "failure"
          : st.some((x) => x.state === "pending")
          ? "pending"
          : "success"
        return json({
          state: combined,
          sha,
          total_count: st.length,
          statuses: st.map((x, i) => ({
            id: 60_000 + i,
            context: x.context,
            state: x.state,
            description: x.description ?? null,
            target_url: `${url}/${owner}/${repo}/ci/${60_000 + i}`,
            created_at: iso(),
            updated_at: iso()
          }))
        })
      })
    )
    const pullsOfCommit = guarded(() =>
      Effect.gen(function*() {
        if (!(yield* ownRepo)) return notFound
        const ref = yield* refParam
        const h = yield* Ref.get(hosting)
        const s = yield* Ref.get(state)
        return json(s.pulls.filter((p) => headOf(p, h) === ref).map((p) => fullPullJson(p, h)))
      })
    )
    const listCommits = guarded((_request, parsed) =>
      Effect.gen(function*() {
        if (!(yield* ownRepo) || gitDir === null) return notFound
        const ref = parsed.searchParams.get("sha") ?? "main"
        const perPage = Math.min(100, Math.max(1, Number(parsed.searchParams.get("per_page") ?? "30")))
        const sha = Hosting.resolve(gitDir, ref)
        if (sha === null) return notFound
        return json(Hosting.log(gitDir, sha, perPage).map((c) => ({ sha: c.sha, commit: { message: c.message } })))
      })
    )
    const getBranch = guarded(() =>
      Effect.gen(function*() {
        if (!(yield* ownRepo) || gitDir === null) return notFound
        const name = decodeURIComponent((yield* HttpRouter.params)["branch"] ?? "")
        const sha = Hosting.gitIn(gitDir, ["rev-parse", "--verify", "-q", `refs/heads/${name}`])
        return sha.code === 0 ? json({ name, commit: { sha: sha.stdout } }) : ghError(404, "Branch not found")
      })
    )
    const compare = guarded(() =>
      Effect.gen(function*() {
        if (!(yield* ownRepo) || gitDir === null) return notFound
        const [baseRef, headRef] = decodeURIComponent((yield* HttpRouter.params)["basehead"] ?? "").split("...")
        const b = baseRef === undefined ? null : Hosting.resolve(gitDir, baseRef)
        const hd = headRef === undefined ? null : Hosting.resolve(gitDir, headRef)
        if (b === null || hd === null) return notFound
        const status = b === hd
          ? "identical"
          : Hosting.isAncestor(gitDir, hd, b)
          ? "behind"
          : Hosting.isAncestor(gitDir, b, hd)
          ? "ahead"
          : "diverged"
        return json({ status, base_commit: { sha: b }, merge_base_commit: { sha: Hosting.gitIn(gitDir, ["merge-base", b, hd]).stdout } })
      })
    )

    const router = HttpRouter.empty.pipe(
      HttpRouter.get("/repos/:owner/:repo/issues/:number/dependencies/blocked_by", blockedBy),
      HttpRouter.get("/repos/:owner/:repo/issues/:number/sub_issues", subIssues),
      HttpRouter.get("/repos/:owner/:repo/pulls/:number", getPull),
      HttpRouter.put("/repos/:owner/:repo/pulls/:number/merge", mergePull),
      HttpRouter.get("/repos/:owner/:repo/pulls/:number/reviews", listReviews),
      HttpRouter.get("/repos/:owner/:repo/pulls/:number/comments", listReviewComments),
      HttpRouter.get("/repos/:owner/:repo/commits", listCommits),
      HttpRouter.get("/repos/:owner/:repo/commits/:ref/check-runs", listCheckRuns),
      HttpRouter.get("/repos/:owner/:repo/commits/:ref/status", combinedStatus),
      HttpRouter.get("/repos/:owner/:repo/commits/:ref/pulls", pullsOfCommit),
      HttpRouter.get("/repos/:owner/:repo/branches/:branch", getBranch),
      HttpRouter.get("/repos/:owner/:repo/compare/:basehead", compare)
    ).pipe(
      HttpRouter.get("/repos/:owner/:repo", getRepo),
      HttpRouter.get("/repos/:owner/:repo/labels/:name", getLabel),
      HttpRouter.get("/repos/:owner/:repo/issues", listIssues),
      HttpRouter.get("/repos/:owner/:repo/issues/:number", getIssue),
      HttpRouter.post("/repos/:owner/:repo/issues/:number/labels", addLabels),
      HttpRouter.del("/repos/:owner/:repo/issues/:number/labels/:name", removeLabel),
      HttpRouter.get("/repos/:owner/:repo/issues/:number/comments", listComments),
      HttpRouter.post("/repos/:owner/:repo/issues/:number/comments", addComment),
      HttpRouter.get("/repos/:owner/:repo/pulls", listPulls),
      HttpRouter.post("/repos/:owner/:repo/pulls", addPull),
      HttpRouter.all("*", guarded(() => Effect.succeed(notFound)))
    )
    yield* server.serve(router)

    return {
      url,
      owner,
      repo,
      token,
      rateReset,
      state: Ref.get(state),
      open: (issue) =>
        Ref.modify(state, (s) => {
          const at = iso()
          const number = s.next
          const record: TwinIssue = {
            number,
            title: issue.title,
            body: issue.body ?? null,
            state: "open",
            state_reason: null,
            labels: [...(issue.labels ?? [])],
            created_at: at,
            updated_at: at,
            closed_at: null,
            isPull: issue.isPull ?? false,
            deleted: false,
            raw: null,
            blockedBy: [...(issue.blockedBy ?? [])],
            parent: issue.parent ?? null,
            assignees: [...(issue.assignees ?? [])]
          }
          return [number, {
            ...s,
            next: number + 1,
            labels: new Set([...s.labels, ...(issue.labels ?? [])]),
            issues: new Map(s.issues).set(number, record)
          }] as const
        }),
      edit: (number, patch) =>
        Ref.update(state, (s) => {
          const issue = s.issues.get(number)
          if (issue === undefined) return s
          const closing = patch.state === "closed" && issue.state === "open"
          return {
            ...s,
            issues: new Map(s.issues).set(number, {
              ...issue,
              ...patch,
              ...(closing ? { closed_at: iso(), state_reason: patch.state_reason ?? "completed" } : {}),
              updated_at: iso()
            })
          }
        }),
      addRaw: (record) =>
        Ref.update(state, (s) => {
          const number = s.next
          const at = iso()
          return {
            ...s,
            next: number + 1,
            issues: new Map(s.issues).set(number, {
              number,
              title: "",
              body: null,
              state: "open",
              state_reason: null,
              labels: [],
              created_at: at,
              updated_at: at,
              closed_at: null,
              isPull: false,
              deleted: false,
              raw: record
            })
          }
        }),
      createLabel: (name) => Ref.update(state, (s) => ({ ...s, labels: new Set([...s.labels, name]) })),
      fault: (...faults) => Ref.update(state, (s) => ({ ...s, faults: [...s.faults, ...faults] })),
      setDown: (down) => Ref.update(state, (s) => ({ ...s, down })),
      hosting: Ref.get(hosting),
      setChecks: (ref, checks) =>
        Ref.update(hosting, (h) => ({ ...h, checks: new Map(h.checks).set(gitDir === null ? ref : Hosting.resolve(gitDir, ref) ?? ref, checks) })),
      queueChecks: (...checks) => Ref.update(hosting, (h) => ({ ...h, checkQueue: [...h.checkQueue, ...checks] })),
      review: (number, r) =>
        Effect.gen(function*() {
          const h = yield* Ref.get(hosting)
          const p = (yield* Ref.get(state)).pulls.find((q) => q.number === number)
          const id = 40_000 + [...h.reviews.values()].reduce((n, rs) => n + rs.length, 0)
          const at = iso()
          const review: Hosting.TwinReview = {
            id,
            user: r.user ?? "reviewer",
            state: r.state,
            body: r.body,
            submitted_at: at,
            commit_id: (p === undefined ? null : headOf(p, h)) ?? ""
          }
          const comments = (r.comments ?? []).map((c, i) => ({ id: id * 10 + i, review_id: id, user: review.user, created_at: at, ...c }))
          yield* Ref.update(hosting, (st) => ({
            ...st,
            reviews: new Map(st.reviews).set(number, [...(st.reviews.get(number) ?? []), review]),
            reviewComments: new Map(st.reviewComments).set(number, [...(st.reviewComments.get(number) ?? []), ...comments])
          }))
          return review
        }),
      mergeByHand: (number, method) =>
        Effect.gen(function*() {
          const p = (yield* Ref.get(state)).pulls.find((q) => q.number === number)
          if (p === undefined) return { _tag: "Refused", reason: "Not Found" } as const
          const out = yield* doMerge(p, method, null, "octocat", null)
          return out.sha === null ? { _tag: "Refused", reason: out.message } as const : { _tag: "Merged", sha: out.sha } as const
        })
    } satisfies GitHubTwinShape
  })

/** The twin as a scoped layer. */
export const layer = (options: Parameters<typeof make>[0] = {}): Layer.Layer<GitHubTwin> =>
  Layer.scoped(GitHubTwin, make(options))
