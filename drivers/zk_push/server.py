"""The HTTP plumbing a ZKTeco terminal calls: a stdlib ThreadingHTTPServer bound to one address,
handing each request to an ``App`` (the driver) and writing back its ``Reply``.

Kept apart from the protocol so the driver reads as protocol only. HTTP/1.0 (one request per
connection): terminals cope, and closing the server leaves no idle keep-alive connection behind.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol

from sitegate.drivers.api import DeviceUnavailable

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 8 * 1024 * 1024     # an ATTPHOTO upload is the largest body (one JPEG)


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b"OK"
    content_type: str = "text/plain"


class App(Protocol):
    def handle(self, method: str, path: str, query: str, body: bytes) -> Reply: ...
    def date_header(self) -> str | None: ...     # None: send no Date header at all


class _Handler(BaseHTTPRequestHandler):
    server_version = "sitegate-iclock"
    sys_version = ""
    timeout = 30          # a terminal that stops sending half-way does not hold a thread forever

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        app: App = self.server.app  # type: ignore[attr-defined]
        path, _, query = self.path.partition("?")
        body = b""
        length = self.headers.get("Content-Length")
        if length is not None:
            if not length.strip().isdigit():
                return self._reply(Reply(400, b"bad Content-Length"))
            if int(length) > MAX_BODY_BYTES:
                return self._reply(Reply(413, b"body too large"))
            body = self.rfile.read(int(length))
            if len(body) < int(length):
                return  # the terminal hung up half-way: nothing to answer, it will resend
        elif method == "POST":
            return self._reply(Reply(411, b"Content-Length required"))
        try:
            reply = app.handle(method, path, query, body)
        except Exception:  # a bug must not take the listener down; the terminal resends later
            log.exception("iclock request %s %s failed", method, path)
            reply = Reply(500, b"ERROR")
        self._reply(reply)

    def _reply(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def send_header(self, keyword: str, value: str) -> None:
        # Terminals set their clock from Date: send it only from a synchronised gateway clock.
        if keyword.lower() == "date":
            value = self.server.app.date_header()  # type: ignore[attr-defined]
            if value is None:
                return
        super().send_header(keyword, value)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - base class signature
        log.debug("%s " + format, self.address_string(), *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True


class HttpListener:
    """One bound server and its thread; ``close`` is idempotent and may come from any thread."""

    def __init__(self, host: str, port: int, app: App, handler: type[BaseHTTPRequestHandler] = _Handler):
        try:
            self._server = _Server((host, port), handler)
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
