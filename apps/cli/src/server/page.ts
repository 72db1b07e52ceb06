/**
 * The web page (docs/observability.md), served by the same process as the API: `/` (the four layers),
 * `/issues/<id>[/<attempt>]` (one issue and its evidence), and its assets under `/assets/`. The files are bundled
 * into the CLI as text at build time (build.mjs loads every `?raw` import as a string), so the user needs no build
 * step: page/app.js (plain browser JavaScript), page/style.css, and the libraries diff2html (the diff) and Chart.js
 * (the charts) from their published browser bundles.
 */
import { HttpRouter, HttpServerResponse } from "@effect/platform"
import chartJs from "chart.js/dist/chart.umd.min.js?raw"
import diff2htmlCss from "diff2html/bundles/css/diff2html.min.css?raw"
import diff2htmlJs from "diff2html/bundles/js/diff2html.min.js?raw"
import appJs from "./page/app.js?raw"
import indexHtml from "./page/index.html?raw"
import styleCss from "./page/style.css?raw"

/**
 * Scripts and styles come only from this server; styles may be inline (Chart.js and the timeline set element
 * styles); the page talks only to this server (the API and the event stream).
 */
const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

const page = HttpServerResponse.text(indexHtml, {
  contentType: "text/html; charset=utf-8",
  headers: { "content-security-policy": CSP, "x-content-type-options": "nosniff", "cache-control": "no-cache" }
})

const asset = (body: string, contentType: string) =>
  HttpServerResponse.text(body, {
    contentType,
    headers: { "x-content-type-options": "nosniff", "cache-control": "max-age=300" }
  })

/** The page's routes, added to the API router. */
export const pageRoutes = <E, R>(router: HttpRouter.HttpRouter<E, R>) =>
  router.pipe(
    HttpRouter.get("/", page),
    HttpRouter.get("/issues/:id", page),
    HttpRouter.get("/issues/:id/:attempt", page),
    HttpRouter.get("/assets/app.js", asset(appJs, "text/javascript; charset=utf-8")),
    HttpRouter.get("/assets/style.css", asset(styleCss, "text/css; charset=utf-8")),
    HttpRouter.get("/assets/diff2html.min.js", asset(diff2htmlJs, "text/javascript; charset=utf-8")),
    HttpRouter.get("/assets/diff2html.min.css", asset(diff2htmlCss, "text/css; charset=utf-8")),
    HttpRouter.get("/assets/chart.umd.min.js", asset(chartJs, "text/javascript; charset=utf-8"))
  )
