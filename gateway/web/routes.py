"""Every URL of the clerk web, in one table: who may call it, and which view answers.

Each read-only page exists twice from one data function: ``/x`` renders it, ``/api/x`` returns the
same data as JSON. POSTs of pages carry the session's CSRF token in a form field, POSTs of the API
in the ``X-CSRF-Token`` header (checked by the app before any handler runs).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from sitegate.web.http import HttpError, Response, json_response, redirect
from sitegate.web.router import API, PAGE, PUBLIC, Router
from sitegate.web.views import (
    attendance, dead_letters, devices, health, manual, onsite, reviews, roster, session, static, uplink, worker,
)

if TYPE_CHECKING:
    from sitegate.web.app import WebApp

# pages that are one data function shown two ways
READ_VIEWS = (onsite, attendance, roster, worker, reviews, uplink, dead_letters, devices)


def _page_of(view):
    def handler(app: "WebApp", req) -> Response:
        return app.page(req, view.TITLE, view.render(app.ctx, req, view.data(app.ctx, req)),
                        active="/" + view.PATH.split("/")[1])
    return handler


def _api_of(view):
    def handler(app: "WebApp", req) -> Response:
        return json_response(view.data(app.ctx, req))
    return handler


def _clockin(app: "WebApp", req) -> Response:
    if app.ctx.clockin is None:
        raise HttpError(404, "phone clock-in is not enabled on this gateway")
    status, body = app.ctx.clockin(req.body, req.remote)
    return json_response(body, status)


def build(router: Router | None = None) -> Router:
    r = router or Router()
    r.add("GET", "/", lambda app, req: redirect("/onsite", 302), PAGE)
    r.add("GET", "/login", session.get_login, PUBLIC)
    r.add("POST", "/login", session.post_login, PUBLIC)
    r.add("POST", "/logout", session.post_logout, PAGE)
    r.add("GET", "/healthz", health.healthz, PUBLIC)
    r.add("GET", "/metrics", health.metrics, PUBLIC)
    r.add("GET", "/static/<name>", static.serve, PUBLIC)
    r.add("GET", "/favicon.ico", static.favicon, PUBLIC)

    for view in READ_VIEWS:
        r.add("GET", view.PATH, _page_of(view), PAGE)
        r.add("GET", "/api" + view.PATH, _api_of(view), API)

    r.add("GET", manual.PATH, manual.get_page, PAGE)
    r.add("POST", manual.PATH, manual.post_page, PAGE)
    r.add("POST", "/reviews/<int:id>", reviews.post_page, PAGE)
    r.add("POST", "/dead-letters/<event_id>", dead_letters.post_page, PAGE)

    r.add("POST", "/api/login", session.api_login, PUBLIC)
    r.add("POST", "/api/logout", session.api_logout, API)
    r.add("GET", "/api/me", session.api_me, API)
    r.add("POST", "/api/manual", manual.post_api, API)
    r.add("POST", "/api/reviews/<int:id>/<decision>", reviews.post_api, API)
    r.add("POST", "/api/dead-letters/<event_id>/retry", dead_letters.post_api, API)
    # phones sign their requests (sitegate.geofence.clockin); no session, no CSRF
    r.add("POST", "/api/clockin", _clockin, PUBLIC, csrf=False)
    return r
