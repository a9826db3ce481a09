"""Shared parts for the geofence tests: a real loopback HTTP server that verifies clock-ins."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sitegate.geofence.clockin import MAX_BODY_BYTES, ClockInRejected, parse_and_verify
from sitegate.geofence.guards import NonceCache

STATUS = {"replayed": 409, "rate_limited": 429, "unknown_phone": 403, "bad_signature": 403, "too_large": 413}


class ClockInServer(ThreadingHTTPServer):
    """POST /api/clockin -> parse_and_verify with the real clock; 200 or 4xx {"reason": ...}."""

    daemon_threads = True

    def __init__(self, keys: dict[str, bytes]):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.keys = keys
        self.nonces = NonceCache()
        self.accepted: list = []
        self.rejected: list[str] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/api/clockin"


class _Handler(BaseHTTPRequestHandler):
    server: ClockInServer

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(length, MAX_BODY_BYTES + 1))
        with self.server.lock:
            try:
                clockin = parse_and_verify(body, self.server.keys.get, self.server.nonces, time.time())
            except ClockInRejected as exc:
                self.server.rejected.append(exc.reason)
                self._reply(STATUS.get(exc.reason, 400), {"ok": False, "reason": exc.reason, "message": exc.message})
                return
            self.server.accepted.append(clockin)
        self._reply(200, {"ok": True})

    def _reply(self, status: int, obj: dict) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args) -> None:  # keep test output quiet
        pass


@pytest.fixture
def clockin_server():
    """Start a ClockInServer on an ephemeral loopback port; stopped by its own object."""
    servers = []

    def start(keys: dict[str, bytes]) -> ClockInServer:
        srv = ClockInServer(keys)
        thread = threading.Thread(target=srv.serve_forever, name="test-clockin-server", daemon=True)
        thread.start()
        servers.append((srv, thread))
        return srv

    yield start
    for srv, thread in servers:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)
