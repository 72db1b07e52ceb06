// The Switchyard page (docs/observability.md): the four layers at a glance at `/`, one issue at `/issues/<id>[/<n>]`.
// Plain browser JavaScript, served as is by `switchyard serve` / `run --port` (no build step for the user). It reads
// only the JSON API (docs/api.md) and follows `GET /api/v1/events` (Server-Sent Events): each event re-reads what it
// touches, so the page stays current without reloads. Every text from the server is put in the page as text
// (textContent), never as HTML: issue titles, agent output and reasons are untrusted. The one HTML the page inserts
// is diff2html's rendering of the diff, which escapes the diff's text itself.
"use strict";
(() => {
  const token = new URLSearchParams(location.search).get("token");
  const withToken = (u) => (token ? `${u}${u.includes("?") ? "&" : "?"}token=${encodeURIComponent(token)}` : u);

  const api = async (path) => {
    const response = await fetch(withToken(path), { headers: { accept: "application/json" } });
    const body = await response.json();
    if (!response.ok) {
      const error = new Error(body?.error?.message ?? response.statusText);
      error.status = response.status;
      throw error;
    }
    return body;
  };

  /** An element with attributes and children (strings become text nodes). */
  const h = (tag, attrs, ...children) => {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs ?? {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") el.className = v;
      else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : String(c));
    }
    return el;
  };

  const fmtMs = (ms) => {
    if (ms === null || ms === undefined) return "–";
    const s = Math.round(ms / 1000);
    if (s < 60) return `${s}s`;
    const m = Math.floor(s / 60);
    return m < 60 ? `${m}m ${s % 60}s` : `${Math.floor(m / 60)}h ${m % 60}m`;
  };
  const fmtTime = (iso) => (iso ? new Date(iso).toLocaleString() : "–");
  const fmtCost = (c) => (c === null || c === undefined ? "–" : `$${c.toFixed(4)}`);
  const fmtTokens = (u) => (u ? `${u.input_tokens ?? u.inputTokens} in / ${u.output_tokens ?? u.outputTokens} out` : "–");
  const badge = (state) => h("span", { class: `badge ${state ?? "running"}`, "data-testid": "badge" }, state ?? "running");
  const issueHref = (id, attempt) => withToken(`/issues/${encodeURIComponent(id)}${attempt ? `/${attempt}` : ""}`);
  const issueLink = (id, attempt) => h("a", { href: issueHref(id, attempt) }, id);
  const table = (headers, rows, empty = "none") =>
    rows.length === 0
      ? h("p", { class: "muted" }, empty)
      : h("table", {}, h("thead", {}, h("tr", {}, headers.map((x) => h("th", {}, x)))), h("tbody", {}, rows));
  const card = (title, question, testid, ...body) =>
    h("section", { class: "card", "data-testid": testid }, h("h2", {}, title), question ? h("p", { class: "q" }, question) : null, body);

  // ---- live updates -------------------------------------------------------------------------------------------
  const events = [];
  let onEvent = () => {};
  const live = document.getElementById("live");
  const setLive = (on) => {
    live.className = `live ${on ? "on" : "off"}`;
    live.textContent = on ? "live" : "reconnecting…";
  };
  const source = new EventSource(withToken("/api/v1/events"));
  source.addEventListener("open", () => setLive(true));
  source.addEventListener("error", () => setLive(false));
  source.addEventListener("factory", (message) => {
    const e = JSON.parse(message.data);
    events.unshift(e);
    if (events.length > 200) events.pop();
    onEvent(e);
  });

  /** Runs `f` at most once per `ms`, and once more after a burst. */
  const throttle = (f, ms) => {
    let timer = null;
    let again = false;
    const run = () => {
      if (timer !== null) {
        again = true;
        return;
      }
      Promise.resolve(f()).catch(showError);
      timer = setTimeout(() => {
        timer = null;
        if (again) {
          again = false;
          run();
        }
      }, ms);
    };
    return run;
  };

  const main = document.getElementById("main");
  const showError = (error) => main.prepend(h("p", { class: "error", "data-testid": "error" }, String(error.message ?? error)));

  // ---- the four layers ----------------------------------------------------------------------------------------
  const charts = new Map();
  const STATES = ["PR_READY", "NO_OP", "ESCALATE", "RETRYABLE_FAILURE"];
  const COLORS = { PR_READY: "#1f8a4c", NO_OP: "#2b6cb0", ESCALATE: "#b7791f", RETRYABLE_FAILURE: "#c53030" };

  const chart = (id, config) => {
    const old = charts.get(id);
    if (old) old.destroy();
    const canvas = h("canvas", { id, "data-testid": id });
    if (typeof Chart === "function") charts.set(id, new Chart(canvas, { ...config, options: { animation: false, responsive: false, ...config.options } }));
    return canvas;
  };

  const bucketOf = (outcomes) => {
    const times = outcomes.map((o) => Date.parse(o.ended_at));
    const span = times.length ? Math.max(...times) - Math.min(...times) : 0;
    const step = span > 3 * 86400e3 ? 86400e3 : span > 3 * 3600e3 ? 3600e3 : 60e3;
    const label = (t) => {
      const d = new Date(Math.floor(t / step) * step);
      return step === 86400e3 ? d.toLocaleDateString() : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    };
    return { step, label };
  };

  const chartsOf = (outcomes) => {
    const sorted = [...outcomes].sort((a, b) => Date.parse(a.ended_at) - Date.parse(b.ended_at));
    const { step, label } = bucketOf(sorted);
    const keys = [...new Set(sorted.map((o) => Math.floor(Date.parse(o.ended_at) / step)))];
    const labels = keys.map((k) => label(k * step));
    const byTime = STATES.map((s) => ({
      label: s,
      backgroundColor: COLORS[s],
      data: keys.map((k) => sorted.filter((o) => o.outcome === s && Math.floor(Date.parse(o.ended_at) / step) === k).length)
    }));
    let total = 0;
    const cost = sorted.map((o) => (total += o.cost_usd ?? 0));
    const stations = [...new Set(sorted.map((o) => o.route ?? o.station ?? "(no agent)"))];
    const byStation = STATES.map((s) => ({
      label: s,
      backgroundColor: COLORS[s],
      data: stations.map((st) => sorted.filter((o) => o.outcome === s && (o.route ?? o.station ?? "(no agent)") === st).length)
    }));
    const labelSet = [...new Set(sorted.flatMap((o) => (o.labels.length ? o.labels : ["(no label)"])))];
    const costByLabel = labelSet.map((l) =>
      sorted.filter((o) => (o.labels.length ? o.labels.includes(l) : l === "(no label)")).reduce((a, o) => a + (o.cost_usd ?? 0), 0)
    );
    const stacked = { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } };
    return h(
      "div",
      { class: "charts" },
      card("Outcomes over time", null, "chart-outcomes", chart("outcomes-time", { type: "bar", data: { labels, datasets: byTime }, options: stacked })),
      card(
        "Cost over time (cumulative, USD)",
        null,
        "chart-cost",
        chart("cost-time", {
          type: "line",
          data: { labels: sorted.map((o) => new Date(o.ended_at).toLocaleTimeString()), datasets: [{ label: "cost", data: cost, borderColor: "#2b6cb0" }] },
          options: { scales: { y: { beginAtZero: true } } }
        })
      ),
      card("Outcomes by station", null, "chart-station", chart("outcomes-station", { type: "bar", data: { labels: stations, datasets: byStation }, options: stacked })),
      card(
        "Cost by label (USD)",
        null,
        "chart-label",
        chart("cost-label", { type: "bar", data: { labels: labelSet, datasets: [{ label: "cost", data: costByLabel, backgroundColor: "#4a86c5" }] } })
      )
    );
  };

  const eventList = (filter) =>
    h(
      "ul",
      {},
      events.filter(filter).slice(0, 60).map((e) =>
        h("li", { "data-testid": "event" }, `${new Date(e.at).toLocaleTimeString()} ${e.type}${e.issue_id ? ` ${e.issue_id}` : ""}: ${e.message}`)
      )
    );

  // The outcomes behind the charts change only when an attempt ends: read them again only then.
  let outcomes = null;
  const overview = async () => {
    const [state, fresh] = await Promise.all([api("/api/v1/state"), outcomes === null ? api("/api/v1/outcomes?limit=500") : null]);
    if (fresh !== null) outcomes = fresh.outcomes;
    document.title = `Switchyard: ${state.counts.running} running`;
    const c = state.counts;
    const count = (n, what, testid) => h("div", { class: "count", "data-testid": testid }, h("b", {}, n), h("span", {}, what));
    const tracker = card(
      "Tracker",
      "what work is eligible?",
      "layer-tracker",
      table(["status", "issues"], Object.entries(state.tracker.statuses).map(([k, v]) => h("tr", {}, h("td", {}, k), h("td", {}, v)))),
      h("h3", {}, `next (${state.tracker.eligible} eligible)`),
      state.tracker.next.length ? h("p", {}, state.tracker.next.map((id, i) => [i ? ", " : "", issueLink(id)])) : h("p", { class: "muted" }, "nothing eligible"),
      state.tracker.invalid.length
        ? [h("h3", {}, "unreadable"), table(["issue", "reason"], state.tracker.invalid.map((x) => h("tr", {}, h("td", {}, x.id), h("td", {}, x.reason))))]
        : null
    );
    const orchestrator = card(
      "Orchestrator",
      "what work was picked up?",
      "layer-orchestrator",
      table(
        ["lease", "attempt", "runner", "heartbeat", "expires in"],
        state.orchestrator.leases.map((l) =>
          h("tr", {}, h("td", {}, issueLink(l.issue_id)), h("td", {}, l.attempt), h("td", {}, l.runner), h("td", {}, `${fmtMs(l.heartbeat_age_ms)} ago`), h("td", {}, fmtMs(l.expires_in_ms)))
        ),
        "no lease"
      ),
      h("h3", {}, "retries"),
      table(
        ["issue", "attempt", "due in", "error"],
        state.retrying.map((r) => h("tr", {}, h("td", {}, issueLink(r.issue_id)), h("td", {}, r.attempt), h("td", {}, fmtMs(r.due_in_ms)), h("td", {}, r.error))),
        "no retry waiting"
      ),
      state.orchestrator.workflow_invalid.map((w) => h("p", { class: "error" }, `workflow invalid (pid ${w.pid}): ${w.error}`))
    );
    const workers = card(
      "Workers",
      "what is happening now?",
      "layer-workers",
      table(
        ["issue", "stage", "attempt", "pid", "running for", "last output", "tokens", "cost"],
        state.running.map((w) =>
          h(
            "tr",
            { "data-testid": "worker", "data-issue": w.issue_id },
            h("td", {}, issueLink(w.issue_id)),
            h("td", { "data-testid": "stage" }, w.stage),
            h("td", {}, w.attempt),
            h("td", {}, w.pid ?? "–"),
            h("td", {}, fmtMs(w.elapsed_ms)),
            h("td", {}, fmtTime(w.last_output_at)),
            h("td", {}, fmtTokens(w.tokens)),
            h("td", {}, fmtCost(w.tokens?.cost_usd))
          )
        ),
        "no worker running"
      )
    );
    const human = card(
      "Human",
      "what can be trusted?",
      "layer-human",
      table(
        ["issue", "outcome", "cause", "why to believe it", "tokens", "cost"],
        state.recent.map((o) =>
          h(
            "tr",
            { "data-testid": "outcome", "data-issue": o.issue_id },
            h("td", {}, issueLink(o.issue_id, o.attempt), ` #${o.attempt}`),
            h("td", {}, badge(o.outcome)),
            h("td", {}, o.cause ?? "–"),
            h("td", {}, o.trust),
            h("td", {}, fmtTokens(o.usage)),
            h("td", {}, fmtCost(o.usage?.cost_usd))
          )
        ),
        "no outcome yet"
      ),
      h("h3", {}, "violations"),
      table(
        ["kind", "issue", "detail"],
        state.violations.map((v) => h("tr", {}, h("td", {}, v.kind), h("td", {}, issueLink(v.issueId, v.attempt)), h("td", {}, v.detail))),
        "none: the four layers agree"
      ),
      h("p", { class: "muted" }, `${state.usage.bundles} bundles · ${fmtTokens(state.usage)} · ${fmtCost(state.usage.cost_usd)}`)
    );
    main.replaceChildren(
      h(
        "div",
        { class: "counts" },
        count(c.running, "running", "count-running"),
        count(c.retrying, "retrying", "count-retrying"),
        count(c.eligible, "eligible", "count-eligible"),
        count(c.waiting, "waiting", "count-waiting"),
        count(c.blocked, "blocked", "count-blocked"),
        count(c.violations, "violations", "count-violations")
      ),
      h("div", { class: "layers" }, tracker, orchestrator, workers, human),
      chartsOf(outcomes),
      card("Events", "as they happen", "events", h("div", { class: "events" }, eventList(() => true)))
    );
  };

  // ---- one issue ----------------------------------------------------------------------------------------------
  const timeline = (stages, endIso, current) => {
    if (stages.length === 0) return h("p", { class: "muted" }, "no stage stored yet");
    const end = endIso ? Date.parse(endIso) : Date.now();
    const times = stages.map((s) => Date.parse(s.at));
    const start = times[0];
    const spans = stages.map((s, i) => ({ name: s.stage, ms: Math.max(0, (times[i + 1] ?? end) - times[i]) }));
    const total = Math.max(1, end - start);
    return [
      h(
        "div",
        { class: "timeline", "data-testid": "timeline" },
        spans.map((s, i) =>
          h("div", { class: i === spans.length - 1 && current ? "current" : "", style: `flex: ${Math.max(s.ms / total, 0.04)}`, title: `${s.name}: ${fmtMs(s.ms)}` }, s.name)
        )
      ),
      table(["stage", "at", "took"], stages.map((s, i) => h("tr", { "data-testid": "stage-row" }, h("td", {}, s.stage), h("td", {}, fmtTime(s.at)), h("td", {}, fmtMs(spans[i].ms)))))
    ];
  };

  const countsRow = (label, c) =>
    h("tr", {}, h("td", {}, label), ...(c ? [c.passed, c.failed, c.skipped, c.total, c.runner] : ["–", "–", "–", "–", "–"]).map((x) => h("td", {}, x)));

  const diffView = (patch) => {
    if (!patch) return h("p", { class: "muted" }, "no diff");
    const box = h("div", { "data-testid": "diff" });
    if (typeof Diff2Html === "object") {
      // diff2html escapes the diff's text; its output is the only HTML this page inserts.
      box.innerHTML = Diff2Html.html(patch, { drawFileList: true, matching: "lines", outputFormat: "line-by-line" });
    } else {
      box.append(h("pre", {}, patch));
    }
    return box;
  };

  const transcriptView = (text) => {
    if (!text) return h("p", { class: "muted" }, "no transcript");
    const lines = text.split("\n").filter((l) => l.trim() !== "");
    return h(
      "pre",
      { "data-testid": "transcript" },
      lines.slice(-400).map((l) => {
        try {
          return `${JSON.stringify(JSON.parse(l))}\n`;
        } catch {
          return `${l}\n`;
        }
      })
    );
  };

  const issuePage = async (id, attemptParam) => {
    const issue = await api(`/api/v1/issues/${encodeURIComponent(id)}`);
    const n = attemptParam ?? issue.attempts.at(-1)?.attempt ?? null;
    let ev = null;
    if (n !== null) {
      try {
        ev = await api(`/api/v1/issues/${encodeURIComponent(id)}/evidence/${n}`);
      } catch (error) {
        if (error.status !== 404) throw error;
      }
    }
    document.title = `${issue.issue_id}: ${issue.title}`;
    const b = ev?.bundle ?? null;
    const head = [
      h("h1", {}, `${issue.issue_id} · `, issue.title),
      h("p", {}, "status ", h("b", { "data-testid": "issue-status" }, issue.status), issue.labels.length ? ` · labels: ${issue.labels.join(", ")}` : "", ` · priority ${issue.priority}`)
    ];
    const running = issue.running
      ? card(
        "Running now",
        null,
        "running",
        h("p", {}, "stage ", h("b", { "data-testid": "running-stage" }, issue.running.stage), ` · attempt ${issue.running.attempt} · pid ${issue.running.pid ?? "–"} · for ${fmtMs(issue.running.elapsed_ms)} · ${fmtTokens(issue.running.tokens)}`)
      )
      : null;
    const attempts = card(
      "Attempts",
      null,
      "attempts",
      table(
        ["attempt", "outcome", "cause", "started", "ended", "counted", "branch"],
        issue.attempts.map((a) =>
          h(
            "tr",
            { class: "attempts" },
            h("td", {}, h("a", { href: issueHref(id, a.attempt), class: a.attempt === n ? "current" : "" }, `#${a.attempt}`)),
            h("td", {}, badge(a.terminal_state)),
            h("td", {}, a.cause ?? "–"),
            h("td", {}, fmtTime(a.started_at)),
            h("td", {}, fmtTime(a.ended_at)),
            h("td", {}, a.counted ? "yes" : "no"),
            h("td", {}, a.branch ?? "–")
          )
        ),
        "no attempt yet"
      )
    );
    const verdict = card(
      "Verdict",
      b ? null : "the attempt has not ended",
      "verdict",
      b
        ? [
          h("p", {}, badge(b.outcome), " ", h("b", { "data-testid": "cause" }, b.verdict.cause), ev.signature ? h("span", { class: "muted" }, ` · signature: ${ev.signature}`) : null),
          h("p", {}, b.summary),
          h("ul", {}, b.verdict.reasons.map((r) => h("li", { "data-testid": "reason" }, r))),
          b.question ? h("p", {}, h("b", {}, "question: "), b.question) : null
        ]
        : h("p", {}, badge(null), issue.running ? ` ${issue.running.stage}` : "")
    );
    const usage = card(
      "Tokens and cost",
      null,
      "usage",
      b
        ? [
          h("p", {}, `${fmtTokens(b.usage)} · ${fmtCost(b.usage.costUsd)}`),
          b.agent ? h("p", { class: "muted" }, `agent ${b.agent.kind}${b.agent.route ? ` (route ${b.agent.route})` : ""} · ${fmtMs(b.agent.durationMs)} · exit ${b.agent.exitCode ?? b.agent.signal ?? "–"}${b.agent.numTurns ? ` · ${b.agent.numTurns} turns` : ""}`) : h("p", { class: "muted" }, "no agent ran")
        ]
        : h("p", {}, fmtTokens(issue.running?.tokens))
    );
    const guards = card(
      "Guards",
      "the anti-cheat rules on the diff (docs/guards.md)",
      "guards",
      b
        ? table(
          ["rule", "result", "detail"],
          b.guards.map((g) => h("tr", { "data-testid": "guard" }, h("td", {}, g.rule), h("td", { class: g.passed ? "pass" : "fail" }, g.passed ? "pass" : "FAIL"), h("td", {}, g.detail))),
          "no guard ran"
        )
        : h("p", { class: "muted" }, "after verification")
    );
    const tests = card(
      "Tests before and after",
      null,
      "tests",
      b
        ? [
          table(["run", "passed", "failed", "skipped", "total", "runner"], [
            countsRow("validation on the base", b.testCounts.base),
            countsRow("validation on the candidate", b.testCounts.candidate),
            countsRow("reproduction before", b.reproductionTestCounts.before),
            countsRow("reproduction after", b.reproductionTestCounts.after)
          ]),
          h("h3", {}, "commands"),
          table(
            ["command", "exit", "took"],
            [
              ...(b.reproduction.before ? [["reproduction on the base", b.reproduction.before]] : []),
              ...(b.reproduction.after ? [["reproduction on the candidate", b.reproduction.after]] : []),
              ...b.validation.map((v) => [v.command, v])
            ].map(([label, r]) =>
              h("tr", {}, h("td", {}, label), h("td", { class: r.exitCode === 0 ? "pass" : "fail" }, r.exitCode ?? r.signal ?? "–"), h("td", {}, fmtMs(r.durationMs)))
            )
          )
        ]
        : h("p", { class: "muted" }, "after verification")
    );
    const stages = card("Stage timeline", null, "stages", timeline(ev?.stages ?? [], b ? new Date(b.timings.endedAt).toISOString() : null, !b));
    main.replaceChildren(
      ...head,
      h("div", { class: "grid2" }, verdict, usage),
      running ?? "",
      attempts,
      stages,
      h("div", { class: "grid2" }, guards, tests),
      card("Diff", b?.diff ? `${b.diff.files.length} file(s) · base ${b.diff.baseCommit.slice(0, 10)}${b.diff.patchTruncated ? " · truncated" : ""}` : null, "diff-card", diffView(b?.diff?.patch)),
      card("Transcript", "the agent's events, redacted (the last 256 KiB)", "transcript-card", transcriptView(ev?.transcript)),
      card(
        "Events",
        null,
        "issue-events",
        table(["at", "event", "message"], issue.recent_events.slice().reverse().map((e) => h("tr", {}, h("td", {}, fmtTime(e.at)), h("td", {}, e.event), h("td", {}, e.message))))
      )
    );
  };

  // ---- routing ------------------------------------------------------------------------------------------------
  const route = /^\/issues\/([^/]+)(?:\/(\d+))?\/?$/.exec(location.pathname);
  if (route) {
    const id = decodeURIComponent(route[1]);
    const attempt = route[2] ? Number(route[2]) : null;
    const render = throttle(() => issuePage(id, attempt), 300);
    onEvent = (e) => {
      if (e.issue_id === id) render();
    };
    render();
  } else {
    const render = throttle(overview, 500);
    onEvent = (e) => {
      if (e.type.startsWith("terminal.")) outcomes = null;
      render();
    };
    render();
  }
  window.__switchyardLoadedAt = Date.now();
})();
