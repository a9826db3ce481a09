"""How a ZKTeco terminal's iclock request reaches the driver (``App``) and how its ``Reply`` is
written; the listener itself is drivers/httpd.py. Kept apart so the driver reads as protocol only."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from sitegate.drivers import httpd
from sitegate.drivers.httpd import split_host_port

__all__ = ["App", "HttpListener", "Reply", "split_host_port"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b"OK"
    content_type: str = "text/plain"


class App(Protocol):
    def handle(self, method: str, path: str, query: str, body: bytes) -> Reply: ...
    def date_header(self) -> str | None: ...     # None: send no Date header at all


class _Handler(httpd.BoundedBodyHandler):
    server_version = "sitegate-iclock"
    max_body = 8 * 1024 * 1024     # an ATTPHOTO upload is the largest body (one JPEG)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._dispatch()

    do_POST = do_GET

    def _dispatch(self) -> None:
        app: App = self.server.app  # type: ignore[attr-defined]
        path, _, query = self.path.partition("?")
        body = self.read_body()
        if body is None:
            return
        try:
            reply = app.handle(self.command, path, query, body)
        except Exception:  # a bug must not take the listener down; the terminal resends later
            log.exception("iclock request %s %s failed", self.command, path)
            reply = Reply(500, b"ERROR")
        self.send_plain(reply.status, reply.body, reply.content_type)

    def send_header(self, keyword: str, value: str) -> None:
        # Terminals set their clock from Date: send it only from a synchronised gateway clock.
        if keyword.lower() == "date":
            value = self.server.app.date_header()  # type: ignore[attr-defined]
            if value is None:
                return
        super().send_header(keyword, value)


class HttpListener(httpd.HttpListener):
    def __init__(self, host: str, port: int, app: App):
        super().__init__(host, port, app, _Handler)
