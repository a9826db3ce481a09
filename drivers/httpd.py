"""HTTP plumbing shared by the drivers whose devices call the gateway (ZKTeco iclock, Hikvision event
push) and by their simulators: a stdlib ThreadingHTTPServer bound to one address on its own thread,
and a request handler that reads a bounded body before the protocol sees it.

HTTP/1.0, one request per connection: terminals cope, and closing the listener leaves no idle
keep-alive connection behind. The protocol modules (``zk_push/server.py``, ``hik_isapi/server.py``)
only say how a request reaches their ``App`` and how its reply is written.
"""
from __future__ import annotations

import logging
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sitegate.drivers.api import DeviceUnavailable

log = logging.getLogger(__name__)


class BoundedBodyHandler(BaseHTTPRequestHandler):
    """Reads ``Content-Length`` bytes, at most ``max_body``; the subclass answers the request."""

    sys_version = ""
    timeout = 30            # a peer that stops sending half-way does not hold a thread forever
    max_body = 4 * 1024 * 1024

    def read_body(self) -> bytes | None:
        """The request body, or None when the request was already answered (bad or too large) or
        the peer hung up half-way (nothing to answer: devices resend)."""
        length = self.headers.get("Content-Length")
        if length is None:
            if self.command in ("POST", "PUT"):
                self.send_plain(411, b"Content-Length required")
                return None
            return b""
        if not (length.strip().isascii() and length.strip().isdigit()):  # not '²': int() refuses it
            self.send_plain(400, b"bad Content-Length")
            return None
        if int(length) > self.max_body:
            self.send_plain(413, b"body too large")
            return None
        body = self.rfile.read(int(length))
        return body if len(body) == int(length) else None

    def send_plain(self, status: int, body: bytes, content_type: str = "text/plain",
                   headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - base class signature
        log.debug("%s " + format, self.address_string(), *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        # a terminal that hangs up before its answer resends; a traceback would only be noise
        exc = sys.exc_info()[1]
        if isinstance(exc, (BrokenPipeError, ConnectionResetError, TimeoutError)):
            log.debug("%s went away before its answer: %s", client_address[0], exc)
        else:
            log.error("request from %s failed", client_address[0], exc_info=exc)


class HttpListener:
    """One bound server and its thread; ``close`` is idempotent and may come from any thread.
    ``app`` is reachable from the handler as ``self.server.app``."""

    def __init__(self, host: str, port: int, app: object, handler: type[BaseHTTPRequestHandler]):
        try:
            self._server = _Server((host, port), handler)
        except OSError as exc:
            raise DeviceUnavailable(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        self._server.app = app  # type: ignore[attr-defined]
        # the poll only notices close(); a daemon has several listeners, and each wake-up costs idle
        # CPU (a Pi's budget is 1 %, `sitegate bench daemon`): 0.5 s, at most half a second at close
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.5},
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
