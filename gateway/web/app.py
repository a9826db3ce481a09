"""The clerk web as a function from Request to Response: routing, login, CSRF, errors, headers.

No sockets here (server.py does the I/O), so every rule is in one place:

- a route is public, a page (not logged in: 302 to /login) or API (not logged in: 401);
- every POST of a logged-in route carries the session's CSRF token (form field ``csrf`` or header
  ``X-CSRF-Token``), compared in constant time; a POST whose Origin is another site is refused;
- refusals are counted (``metrics.rejected("web", reason)``) and answered with what was wrong;
- as a last guard, an 18-digit ID number that a view let through unmasked is masked on the way
  out, logged as an error and counted (``unmasked_id``) so a test or an alert catches the view.
"""
from __future__ import annotations

import logging
import threading
import traceback
from collections import OrderedDict
from urllib.parse import quote, urlsplit

from sitegate.errors import StoreError, UsageError
from sitegate.idcard import mask_text
from sitegate.web.accounts import Accounts
from sitegate.web.context import WebContext
from sitegate.web.http import HttpError, Request, Response, html_response, json_response, redirect
from sitegate.web.layout import Frame, error_body, page
from sitegate.web.logins import Login
from sitegate.web.markup import Markup
from sitegate.web.router import API, PUBLIC
from sitegate.web.routes import build
from sitegate.web.sessions import COOKIE, Session, Sessions
from sitegate.web.views.manual import SubmittedForms

log = logging.getLogger(__name__)

_TEXT_TYPES = ("text/html", "application/json")


class Flashes:
    """One-shot messages shown on the next page a session sees (after a POST/redirect)."""

    def __init__(self, limit: int = 1000):
        self._by_session: OrderedDict[str, list[tuple[str, str]]] = OrderedDict()
        self._lock = threading.Lock()
        self._limit = limit

    def add(self, session_key: str, kind: str, text: str) -> None:
        with self._lock:
            self._by_session.setdefault(session_key, []).append((kind, text))
            self._by_session.move_to_end(session_key)
            while len(self._by_session) > self._limit:
                self._by_session.popitem(last=False)

    def pop(self, session_key: str) -> list[tuple[str, str]]:
        with self._lock:
            return self._by_session.pop(session_key, [])


class WebApp:
    def __init__(self, ctx: WebContext):
        self.ctx = ctx
        self.accounts = Accounts(ctx.store)
        self.sessions = Sessions(ctx.store, idle_s=ctx.cfg["http"]["session_minutes"] * 60)
        self.login = Login(self.accounts, self.sessions)
        self.flashes = Flashes()
        self.manual_forms = SubmittedForms()
        self.router = build()

    # -- for the views -----------------------------------------------------------------------
    def metrics_rejected(self, reason: str) -> None:
        self.ctx.metrics.rejected("web", reason)

    def flash(self, req: Request, kind: str, text: str) -> None:
        if req.session is not None:
            self.flashes.add(req.session.token_hash, kind, text)

    def current_session(self, req: Request) -> Session | None:
        if req.session is None:
            req.session = self.sessions.lookup(req.cookie(COOKIE), self.ctx.now())
        return req.session

    def frame(self, req: Request) -> Frame:
        s = req.session
        if s is None:
            return Frame(self.ctx.site_name)
        badges = {}
        try:
            badges["reviews"] = self.ctx.store.query("SELECT count(*) FROM reviews WHERE status = 'open'")[0][0]
            badges["dead_letters"] = self.ctx.store.query(
                "SELECT count(*) FROM dead_letters WHERE resolved_ts IS NULL AND (? = '' OR uplink = ?)",
                (self.ctx.uplink_name, self.ctx.uplink_name))[0][0]
        except Exception as exc:  # noqa: BLE001 - badges are a courtesy; the page still renders
            log.warning("nav badges: %s", exc)
        return Frame(self.ctx.site_name, s.display_name or s.username, s.csrf, badges, self.flashes.pop(s.token_hash))

    def page(self, req: Request, title: str, body: Markup, *, active: str = "", status: int = 200) -> Response:
        return html_response(page(self.frame(req), title, body, active=active), status)

    # -- the one entry point -----------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        try:
            resp = self._dispatch(req)
        except HttpError as exc:
            resp = self._refusal(req, exc)
        except UsageError as exc:
            resp = self._refusal(req, HttpError(400, str(exc)))
        except StoreError as exc:
            log.error("%s %s: store error: %s", req.method, req.path, mask_text(str(exc)))
            resp = self.error(req, 503, "数据存储暂时不可用，请稍后重试")
        except Exception as exc:  # noqa: BLE001 - one bad request must not take the server down
            log.error("%s %s failed: %s\n%s", req.method, req.path, mask_text(repr(exc)),
                      mask_text("".join(traceback.format_exception(exc))))
            resp = self.error(req, 500, "服务器内部错误，已记录日志")
        return self._guard_personal_data(req, resp)

    def _dispatch(self, req: Request) -> Response:
        route, params, allowed = self.router.match(req.method, req.path)
        if route is None:
            if allowed:
                methods = ", ".join(sorted(set(allowed)))
                resp = self._refusal(req, HttpError(405, f"{req.method} is not allowed here (use {methods})"))
                resp.headers.append(("Allow", methods))
                return resp
            raise HttpError(404, f"no page at {req.path}")
        req.params = params
        if req.method == "POST" and route.csrf:
            self._check_origin(req)
        if route.access != PUBLIC:
            if self.current_session(req) is None:
                if route.access == API or req.is_api:
                    return json_response({"error": "login required"}, 401)
                target = req.path + (("?" + _query_string(req)) if req.query and req.method == "GET" else "")
                return redirect("/login?next=" + quote(target, safe="/"), 302)
            if req.method == "POST" and route.csrf:
                presented = req.header("X-CSRF-Token") if route.access == API else req.form().get("csrf")
                if not req.session.csrf_ok(presented):
                    raise HttpError(403, "CSRF token missing or wrong: reload the page and try again", reason="csrf")
        return route.handler(self, req)

    def _check_origin(self, req: Request) -> None:
        """Refuse a POST a browser says comes from another site (defence in depth beside
        SameSite=Strict and the CSRF token). Browsers send ``Sec-Fetch-Site``, and ``Origin`` unless
        the referrer policy (ours is no-referrer) makes it "null", which says nothing either way."""
        if req.header("Sec-Fetch-Site") == "cross-site":
            raise HttpError(403, "cross-site request refused", reason="origin")
        origin = req.header("Origin")
        if origin and origin != "null" and urlsplit(origin).netloc != req.header("Host"):
            raise HttpError(403, "cross-site request refused", reason="origin")

    # -- errors --------------------------------------------------------------------------------
    def refuse(self, req: Request, exc: HttpError) -> Response:
        """A refusal found before the request reached the router (server.py: size, encoding)."""
        return self._guard_personal_data(req, self._refusal(req, exc))

    def _refusal(self, req: Request, exc: HttpError) -> Response:
        if exc.status >= 400 and exc.status != 404:
            self.metrics_rejected(exc.reason)
        return self.error(req, exc.status, exc.message)

    def error(self, req: Request, status: int, message: str) -> Response:
        if req.is_api or req.path in ("/healthz", "/metrics"):
            return json_response({"error": message}, status)
        title = {400: "请求有误", 403: "拒绝访问", 404: "找不到页面", 405: "方法不允许", 409: "冲突",
                 413: "内容过大", 415: "格式不支持", 500: "服务器错误", 503: "暂时不可用"}.get(status, "错误")
        return html_response(page(self.frame(req), title, error_body(message)), status)

    # -- last guard ------------------------------------------------------------------------------
    def _guard_personal_data(self, req: Request, resp: Response) -> Response:
        if not resp.body or not resp.content_type.startswith(_TEXT_TYPES):
            return resp
        text = resp.body.decode("utf-8", "replace")
        masked = mask_text(text)
        if masked != text:
            log.error("%s %s: the response held an unmasked ID number; masked on the way out (fix the view)",
                      req.method, req.path)
            self.metrics_rejected("unmasked_id")
            resp.body = masked.encode("utf-8")
        return resp


def _query_string(req: Request) -> str:
    from urllib.parse import urlencode

    return urlencode(req.query)
