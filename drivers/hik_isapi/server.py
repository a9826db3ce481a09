"""HTTP plumbing for the Hikvision side: a stdlib ThreadingHTTPServer bound to one address that
hands each request (method, target, headers, body) to an ``App`` and writes back its ``Reply``.
Used by the driver (event push listener) and by the simulator (the terminal's ISAPI).
HTTP/1.0, one request per connection: closing leaves no idle keep-alive connection behind.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Mapping, Protocol

from sitegate.drivers.api import DeviceUnavailable

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


class App(Protocol):
    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Reply: ...


class _Handler(BaseHTTPRequestHandler):
    server_version = "sitegate"
    sys_version = ""
    timeout = 30

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._dispatch()

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch()

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch()

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch()

    def _dispatch(self) -> None:
        length = self.headers.get("Content-Length")
        body = b""
        if length is not None:
            if not length.strip().isdigit():
                return self._reply(Reply(400, b"bad Content-Length", "text/plain"))
            if int(length) > MAX_BODY_BYTES:
                return self._reply(Reply(413, b"body too large", "text/plain"))
            body = self.rfile.read(int(length))
            if len(body) < int(length):
                return      # the peer hung up half-way; it resends
        elif self.command in ("POST", "PUT"):
            return self._reply(Reply(411, b"Content-Length required", "text/plain"))
        try:
            reply = self.server.app.handle(self.command, self.path, self.headers, body)  # type: ignore[attr-defined]
        except Exception:  # a bug must not take the listener down
            log.exception("HTTP %s %s failed", self.command, self.path.split("?")[0])
            reply = Reply(500, b"internal error", "text/plain")
        self._reply(reply)

    def _reply(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - base class signature
        log.debug("%s " + format, self.address_string(), *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True


class HttpListener:
    """One bound server and its thread; ``close`` is idempotent and may come from any thread."""

    def __init__(self, host: str, port: int, app: App):
        try:
            self._server = _Server((host, port), _Handler)
        except OSError as exc:
            raise DeviceUnavailable(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        self._server.app = app  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                         name=f"http-{host}:{port}", daemon=True)
        self._thread.start()
        self._closed = False
        self._lock = threading.Lock()

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def split_host_port(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)
