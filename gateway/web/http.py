"""Requests and responses as plain values, apart from the socket code (server.py).

Handlers take a ``Request`` and return a ``Response``; they raise ``HttpError`` for a clear refusal
(400 with what was wrong, 403, 404, 409 …), which the app renders as a page or as JSON.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from email.message import Message
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, quote

from sitegate.web.markup import Markup

MAX_BODY = 64 * 1024
MAX_FIELDS = 100


class HttpError(Exception):
    """A refusal with its status and a message meant for the person (or program) asking."""

    def __init__(self, status: int, message: str, *, reason: str = ""):
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason or {400: "bad_request", 403: "forbidden", 404: "not_found", 405: "method",
                                 409: "conflict", 413: "too_large", 415: "media_type"}.get(status, str(status))


def parse_pairs(text: str) -> dict[str, str]:
    """``a=1&b=2`` (a query string or a form body) -> {name: first value}. 400 when malformed."""
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=False, encoding="utf-8",
                          errors="strict", max_num_fields=MAX_FIELDS)
    except (ValueError, UnicodeDecodeError) as exc:
        raise HttpError(400, f"malformed form or query string: {exc}") from None
    out: dict[str, str] = {}
    for k, v in pairs:
        if "\x00" in k or "\x00" in v:
            raise HttpError(400, "form or query string contains a NUL character")
        out.setdefault(k, v)
    return out


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: Message
    body: bytes = b""
    remote: str = ""
    tls: bool = False
    params: dict[str, Any] = field(default_factory=dict)    # from the route pattern
    session: Any = None                                     # sitegate.web.sessions.Session once logged in
    _form: dict[str, str] | None = None

    @property
    def is_api(self) -> bool:
        return self.path == "/api" or self.path.startswith("/api/")

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name, default) if self.headers is not None else default

    def cookie(self, name: str) -> str | None:
        raw = self.header("Cookie")
        if not raw:
            return None
        jar = SimpleCookie()
        try:
            jar.load(raw)
        except CookieError:
            return None     # a malformed cookie header is as good as none
        morsel = jar.get(name)
        return morsel.value if morsel is not None else None

    def form(self) -> dict[str, str]:
        """The urlencoded form body (the only kind the pages send)."""
        if self._form is None:
            ctype = self.header("Content-Type").split(";")[0].strip().lower()
            if self.body and ctype != "application/x-www-form-urlencoded":
                raise HttpError(415, "form posts must be application/x-www-form-urlencoded")
            try:
                text = self.body.decode("utf-8")
            except UnicodeDecodeError:
                raise HttpError(400, "the form is not UTF-8") from None
            self._form = parse_pairs(text)
        return self._form

    def json(self) -> dict[str, Any]:
        """The JSON object in the body; 400 naming what is wrong otherwise."""
        if not self.body:
            return {}
        ctype = self.header("Content-Type").split(";")[0].strip().lower()
        if ctype not in ("application/json", ""):
            raise HttpError(415, "the body must be application/json")
        try:
            value = json.loads(self.body.decode("utf-8"))
        except UnicodeDecodeError:
            raise HttpError(400, "the body is not UTF-8") from None
        except ValueError as exc:
            raise HttpError(400, f"the body is not valid JSON: {exc}") from None
        if not isinstance(value, dict):
            raise HttpError(400, f"the body must be a JSON object, got {type(value).__name__}")
        return value


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)
    cacheable: bool = False      # static files only; everything else is Cache-Control: no-store


def html_response(markup: Markup, status: int = 200) -> Response:
    if not isinstance(markup, Markup):
        raise TypeError("html_response takes Markup (see sitegate.web.markup), not a plain str")
    return Response(status, markup.encode("utf-8"), "text/html; charset=utf-8")


def json_response(value: Any, status: int = 200) -> Response:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    # "<" and ">" as \u escapes: the same JSON, but never markup, even to a browser that sniffs
    body = text.replace("<", "\\u003c").replace(">", "\\u003e").encode("utf-8")
    return Response(status, body, "application/json; charset=utf-8")


def redirect(location: str, status: int = 303) -> Response:
    # header values are Latin-1 on the wire: non-ASCII (a Chinese search) goes percent-encoded;
    # what is already encoded or reserved in a URL stays as it is
    return Response(status, b"", "text/plain; charset=utf-8",
                    [("Location", quote(location, safe="/?#[]@!$&'()*+,;=:%-._~"))])


def safe_next(target: str | None, default: str = "/onsite") -> str:
    """Where to go after login: only a path on this site (no //host, no scheme, no backslash)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    if any(ord(c) < 0x20 for c in target) or len(target) > 1000:
        return default
    return target
