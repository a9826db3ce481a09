"""How an HTTP request reaches the Hikvision side's ``App`` (the driver's event-push listener, the
simulator's ISAPI) and how its ``Reply`` is written; the listener itself is drivers/httpd.py."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Mapping, Protocol

from sitegate.drivers import httpd
from sitegate.drivers.httpd import split_host_port

__all__ = ["App", "HttpListener", "Reply", "split_host_port"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


class App(Protocol):
    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes, peer: str) -> Reply:
        """``peer`` is the sender's IP address (the event push admits only its terminal's)."""


class _Handler(httpd.BoundedBodyHandler):
    server_version = "sitegate"

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_GET

    def _dispatch(self) -> None:
        body = self.read_body()
        if body is None:
            return
        try:
            reply = self.server.app.handle(self.command, self.path, self.headers, body,  # type: ignore[attr-defined]
                                           str(self.client_address[0]))
        except Exception:  # a bug must not take the listener down
            log.exception("HTTP %s %s failed", self.command, self.path.split("?")[0])
            reply = Reply(500, b"internal error", "text/plain")
        self.send_plain(reply.status, reply.body, reply.content_type, reply.headers)


class HttpListener(httpd.HttpListener):
    def __init__(self, host: str, port: int, app: App):
        super().__init__(host, port, app, _Handler)
