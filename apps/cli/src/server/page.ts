/** The web page (filled in by the dashboard work): routes added to the API router. */
import { HttpRouter, HttpServerResponse } from "@effect/platform"

/** The page's routes. */
export const pageRoutes = <E, R>(router: HttpRouter.HttpRouter<E, R>) =>
  router.pipe(HttpRouter.get("/", HttpServerResponse.html("<!doctype html><title>Switchyard</title>")))
