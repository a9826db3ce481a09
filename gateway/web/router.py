"""Method + path pattern -> handler. Patterns are literal paths with ``<name>`` or ``<int:name>``
segments, e.g. ``/workers/<int:pin>``; ``<name>`` matches one segment of [A-Za-z0-9_.-]."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

Handler = Callable[..., Any]

# who may call a route: anyone, a logged-in clerk on a page (redirect to /login), or a
# logged-in client of the JSON API (401)
PUBLIC, PAGE, API = "public", "page", "api"

_SEGMENT = re.compile(r"<(?:(int):)?([a-z_]+)>")


@dataclass(frozen=True)
class Route:
    method: str
    pattern: str
    regex: re.Pattern[str]
    handler: Handler
    access: str
    csrf: bool                 # POSTs must carry the session's CSRF token


def _compile(pattern: str) -> re.Pattern[str]:
    out, pos = [], 0
    for m in _SEGMENT.finditer(pattern):
        out.append(re.escape(pattern[pos:m.start()]))
        kind, name = m.group(1), m.group(2)
        out.append(f"(?P<{name}>[0-9]{{1,12}})" if kind == "int" else f"(?P<{name}>[A-Za-z0-9_.-]{{1,100}})")
        pos = m.end()
    out.append(re.escape(pattern[pos:]))
    return re.compile("".join(out) + r"\Z")


class Router:
    def __init__(self):
        self.routes: list[Route] = []

    def add(self, method: str, pattern: str, handler: Handler, access: str, *, csrf: bool = True) -> None:
        if access not in (PUBLIC, PAGE, API):
            raise ValueError(f"access {access!r} must be public, page or api")
        self.routes.append(Route(method, pattern, _compile(pattern), handler, access, csrf))

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, Any], list[str]]:
        """(route, path parameters, methods allowed for this path). HEAD is served by GET routes."""
        allowed = []
        for route in self.routes:
            m = route.regex.match(path)
            if not m:
                continue
            allowed.append(route.method)
            if route.method == method or (method == "HEAD" and route.method == "GET"):
                params = {k: int(v) if f"<int:{k}>" in route.pattern else v for k, v in m.groupdict().items()}
                return route, params, allowed
        return None, {}, allowed
