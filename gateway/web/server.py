"""``WebServer``: the clerk pages, JSON API, /metrics and /healthz on the stdlib HTTP server.

    server = WebServer(ctx, "127.0.0.1:8080")
    port = server.start()        # bound and serving in a thread
    ...
    server.stop()                # socket closed, threads joined

Requests run on a fixed pool of worker threads rather than a thread per request: the store gives
each thread its own SQLite read connection, so a bounded pool means a bounded number of
connections, and a burst of requests waits instead of spawning threads without end. Each
connection carries one request (HTTP/1.0): stop() never waits on an idle keep-alive socket.
"""
from __future__ import annotations

import ipaddress
import logging
import socket
import ssl
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from sitegate.errors import UsageError
from sitegate.idcard import mask_text
from sitegate.web.app import WebApp
from sitegate.web.context import WebContext
from sitegate.web.http import MAX_BODY, HttpError, Request, Response, parse_pairs

log = logging.getLogger(__name__)

MAX_URL = 4096
_DRAIN_LIMIT = 1024 * 1024      # read and drop this much of an oversized body so the 413 arrives
SECURITY_HEADERS = (
    ("Content-Security-Policy", "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
)


def parse_listen(listen: str) -> tuple[str, int, socket.AddressFamily]:
    """"HOST:PORT" (or "[v6]:PORT") -> (host, port, family)."""
    host, sep, port = listen.rpartition(":")
    if not sep or not (port.isascii() and port.isdigit()) or not 0 <= int(port) < 65536 or not host:
        raise UsageError(f"listen address {listen!r} must be HOST:PORT, e.g. 127.0.0.1:8080")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    except ValueError:
        family = socket.AF_INET     # a host name: IPv4
    return host, int(port), family


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], family: socket.AddressFamily, app: WebApp, workers: int,
                 ssl_context: ssl.SSLContext | None):
        self.address_family = family
        super().__init__(address, _Handler)
        self.app = app
        self.tls = ssl_context is not None
        if ssl_context is not None:
            # the handshake happens in the worker thread (setup()), not in the accept loop
            self.socket = ssl_context.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sitegate-web")

    def process_request(self, request: Any, client_address: Any) -> None:
        try:
            self._pool.submit(self.process_request_thread, request, client_address)
        except RuntimeError:            # the pool is shutting down
            self.shutdown_request(request)

    def server_close(self) -> None:
        super().server_close()
        self._pool.shutdown(wait=True)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (BrokenPipeError, ConnectionResetError, TimeoutError, ssl.SSLError)):
            log.debug("client %s went away: %s", client_address[0], exc)
        else:
            log.error("request from %s failed: %s", client_address[0], mask_text(repr(exc)))


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"
    timeout = 15                      # a client that stops sending does not hold a worker for long
    server_version = "sitegate"
    sys_version = ""
    error_content_type = "text/plain; charset=utf-8"
    error_message_format = "%(code)d %(message)s\n"
    _cacheable = False

    def setup(self) -> None:
        super().setup()
        if isinstance(self.request, ssl.SSLSocket):
            self.request.do_handshake()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        # the request line can hold a search for an ID number: masked like every other log line
        log.debug("%s %s", self.address_string(), mask_text(format % args))

    def end_headers(self) -> None:
        for name, value in SECURITY_HEADERS:
            self.send_header(name, value)
        self.send_header("Cache-Control", "max-age=86400" if self._cacheable else "no-store")
        super().end_headers()

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    def _serve(self) -> None:
        app = self.server.app
        req = Request(self.command, "/", {}, self.headers, remote=self.client_address[0], tls=self.server.tls)
        try:
            if len(self.path) > MAX_URL:
                raise HttpError(414, f"the address is longer than {MAX_URL} characters", reason="url_too_long")
            parts = urlsplit(self.path)
            req.path = unquote(parts.path, errors="strict") or "/"
            req.query = parse_pairs(parts.query)
            req.body = self._read_body()
        except UnicodeDecodeError:
            resp = app.refuse(req, HttpError(400, "the address is not UTF-8"))
        except HttpError as exc:
            resp = app.refuse(req, exc)
        except (TimeoutError, OSError) as exc:
            log.debug("client %s: body not received: %s", req.remote, exc)
            self.close_connection = True
            return
        else:
            resp = app.handle(req)
        self._send(resp)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding"):
            raise HttpError(411, "chunked bodies are not supported: send Content-Length", reason="chunked")
        raw = self.headers.get("Content-Length")
        if raw is None:
            return b""
        if not (raw.strip().isascii() and raw.strip().isdigit()):  # '²' is a digit to isdigit(), not to int()
            raise HttpError(400, "Content-Length must be a number")
        n = int(raw)
        if n > MAX_BODY:
            self.close_connection = True
            if n <= _DRAIN_LIMIT:
                self.rfile.read(n)      # so the client is reading when our answer comes
            raise HttpError(413, f"the body is larger than {MAX_BODY // 1024} KiB")
        data = self.rfile.read(n)
        if len(data) != n:
            raise HttpError(400, f"the body ended after {len(data)} of {n} bytes")
        return data

    def _send(self, resp: Response) -> None:
        self._cacheable = resp.cacheable
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(len(resp.body)))
        for name, value in resp.headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD" and resp.body and resp.status not in (204, 304):
            self.wfile.write(resp.body)


class WebServer:
    def __init__(self, ctx: WebContext, listen: str, *, ssl_context: ssl.SSLContext | None = None,
                 workers: int = 16):
        self.ctx = ctx
        self.listen = listen
        self.app = WebApp(ctx)
        self._ssl_context = ssl_context
        self._workers = workers
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self.port: int | None = None

    def start(self) -> int:
        """Bind, serve in a thread, and return the bound port (port 0 in ``listen``: ephemeral)."""
        if self._httpd is not None:
            raise RuntimeError("the web server is already running")
        host, port, family = parse_listen(self.listen)
        if host in ("0.0.0.0", "::"):
            log.warning("clerk pages listen on every interface (%s): make sure the firewall keeps them on the "
                        "site LAN", self.listen)
        self._httpd = _Server((host, port), family, self.app, self._workers, self._ssl_context)
        self.port = self._httpd.server_address[1]
        # the accept loop notices stop() at its next poll. Each poll wakes the process: at 50 ms that
        # was ~0.2 % CPU of an idle x86 core (more on a Pi, whose idle budget is 1 %; measured by
        # `sitegate bench daemon`); 0.5 s costs at most half a second at stop.
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.5},
                                        name="sitegate-web-accept", daemon=True)
        self._thread.start()
        log.info("clerk pages at %s://%s:%d/", "https" if self._ssl_context else "http", host, self.port)
        return self.port

    def stop(self) -> None:
        """Close the socket and join the threads (requests in flight finish first)."""
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if thread is not None:
            thread.join()
        self._httpd = self._thread = None
