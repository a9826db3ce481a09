"""``Receiver``: the reference platform as a real HTTP server on loopback.

``POST /open.api`` speaks the national OpenAPI (see platform.py); ``GET /stats`` answers a small
JSON status for tests and demos. Tests and the demo drive it in-process::

    rx = Receiver("APPID", secret, db_path)
    port = rx.start()
    ...
    rx.stop()

``sitegate receiver`` (gateway/commands/receiver.py) runs the same class as its own process.
"""
from __future__ import annotations

import json
import logging
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sitegate.receiver.faults import HTTP_500, RATE_LIMITED, FaultDice, Faults
from sitegate.receiver.platform import ReferencePlatform, Rules, envelope, utc_now
from sitegate.receiver.roster import RosterWorker
from sitegate.receiver.store import ACCEPTED, REJECTED, Record, ReceiverStore
from sitegate.uplink.national.codes import ResultCode
from sitegate.uplink.national.crypto import check_secret

log = logging.getLogger(__name__)

API_PATH = "/open.api"
STATS_PATH = "/stats"
MAX_BODY = 8 * 1024 * 1024  # 20 records with 50 KB photos, Base64 and URL-encoded, fit easily


class _Server(ThreadingHTTPServer):
    # stop() waits for requests in flight, since they touch the store: socketserver only tracks
    # (and joins in server_close) handler threads that are NOT daemon threads
    daemon_threads = False
    block_on_close = True
    receiver: "Receiver"

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (BrokenPipeError, ConnectionResetError, TimeoutError)):
            # the client gave up (its timeout, a test's lost answer): not the receiver's fault
            log.debug("client %s went away: %s", client_address[0], exc)
        else:
            log.error("request from %s failed", client_address[0], exc_info=exc)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"  # one request per connection: a dropped answer is unambiguous
    timeout = 30  # a client that stops sending does not hold a thread for ever

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        log.debug("%s %s", self.address_string(), format % args)

    def _send(self, status: int, body: bytes, content_type: str = "application/json;charset=UTF-8") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 (stdlib name)
        if self.path.split("?", 1)[0] != STATS_PATH:
            self._send(404, b'{"error":"not found"}')
            return
        self._send(200, json.dumps(self.server.receiver.stats(), ensure_ascii=False).encode("utf-8"))

    def do_POST(self) -> None:  # noqa: N802
        rx = self.server.receiver
        if self.path.split("?", 1)[0] != API_PATH:
            self._send(404, b'{"error":"not found"}')
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._send(411, b'{"error":"Content-Length required"}')
            return
        if not 0 <= length <= MAX_BODY:
            self._send(413, b'{"error":"body too large"}')
            return
        body = self.rfile.read(length)
        rx._answer(self, body, self.headers.get("Content-Type", ""))


class Receiver:
    """The reference platform. ``roster`` is a list of RosterWorker (see roster.load_roster);
    ``clock`` returns an aware datetime and drives the timestamp window, the "not in the future"
    check and the async delay (tests advance it instead of sleeping)."""

    def __init__(
        self,
        appid: str,
        appsecret: str,
        db_path: str = ":memory:",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        roster: Iterable[RosterWorker] = (),
        faults: Faults | None = None,
        seed: int | None = None,
        reject_id_cards: Iterable[str] = (),
        reject_not_on_roster: bool = False,
        async_delay_s: float = 0.0,
        timestamp_window_s: float = 600.0,
        clock: Callable[[], datetime] = utc_now,
    ):
        check_secret(appsecret)
        self.host, self._port = host, port
        self.db_path = db_path
        self._appid, self._appsecret = appid, appsecret
        self._roster = list(roster)
        self._rules = Rules(frozenset(n.strip().upper() for n in reject_id_cards), reject_not_on_roster,
                            float(async_delay_s), float(timestamp_window_s))
        self._clock = clock
        self.dice = FaultDice(faults, seed)
        self.faults_seen: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.platform: ReferencePlatform | None = None

    # -- life cycle (start and stop mirror each other) ----------------------------------------
    def start(self) -> int:
        """Open the store, bind, serve in a thread; the bound port."""
        if self._server is not None:
            raise RuntimeError("receiver already started")
        store = ReceiverStore(self.db_path)
        self.platform = ReferencePlatform(self._appid, self._appsecret, store, self._roster, self._rules,
                                          self._clock)
        try:
            self._server = _Server((self.host, self._port), _Handler)
        except OSError:
            store.close()
            self.platform = None
            raise
        self._server.receiver = self
        self._stopping.clear()
        self._thread = threading.Thread(target=self._server.serve_forever, name="sitegate-receiver",
                                        kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()
        log.info("reference platform listening on %s", self.url)
        return self.port

    def stop(self) -> None:
        """Stop serving, wait for requests in flight, close the store. Safe to call twice."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()  # cuts injected latency short
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        platform, self.platform = self.platform, None
        if platform is not None:
            self._rules = platform.rules  # run-time changes survive a restart
            platform.store.close()

    def __enter__(self) -> "Receiver":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("receiver not started")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{API_PATH}"

    # -- run-time knobs --------------------------------------------------------------------
    def set_faults(self, **changes: Any) -> Faults:
        """Change fault knobs (error_rate, latency_ms, drop_rate, garbage_rate) while serving."""
        return self.dice.update(**changes)

    def set_rules(self, **changes: Any) -> None:
        """Change reject_id_cards, reject_not_on_roster, async_delay_s, timestamp_window_s,
        denied_methods (answered -3), failure_text (one string per failed batch) (before start or
        while serving)."""
        if self.platform is None:
            if "reject_id_cards" in changes:
                changes["reject_id_cards"] = frozenset(n.strip().upper() for n in changes["reject_id_cards"])
            if "denied_methods" in changes:
                changes["denied_methods"] = frozenset(changes["denied_methods"])
            self._rules = replace(self._rules, **changes)
        else:
            self.platform.set_rules(**changes)

    # -- what it holds ---------------------------------------------------------------------
    def records(self, status: str | None = None) -> list[Record]:
        return self._live().store.records(status)

    def duplicates(self) -> dict[tuple[str, str, str], int]:
        return self._live().store.duplicates()

    def stats(self) -> dict[str, Any]:
        platform = self._live()
        counts = platform.store.counts()
        with self._lock:
            faults = dict(self.faults_seen)
        return {
            "records": counts["records"],
            "duplicates": counts["duplicates"],
            "by_status": {ACCEPTED: counts[ACCEPTED], REJECTED: counts[REJECTED]},
            "batches": platform.batch_statuses(),
            "codes": dict(platform.codes),
            "faults": faults,
        }

    def _live(self) -> ReferencePlatform:
        if self.platform is None:
            raise RuntimeError("receiver not started")
        return self.platform

    # -- one request -----------------------------------------------------------------------
    def _count(self, what: str) -> None:
        with self._lock:
            self.faults_seen[what] += 1

    def _answer(self, handler: _Handler, body: bytes, content_type: str) -> None:
        plan = self.dice.roll()
        if plan.latency_s:
            self._count("delayed")
            self._stopping.wait(plan.latency_s)
        if plan.error == HTTP_500:
            self._count(HTTP_500)
            handler._send(500, b"<html><body>500 Internal Server Error</body></html>", "text/html")
            return
        if plan.error == RATE_LIMITED:
            self._count(RATE_LIMITED)
            answer = envelope(ResultCode.RATE_LIMITED)
        else:
            try:
                answer = self._live().handle_body(body, content_type)
            except Exception:  # a bug here must still answer like a server would, and be seen
                log.exception("reference platform failed on a request")
                self._count("internal_error")
                handler._send(500, b"<html><body>500 Internal Server Error</body></html>", "text/html")
                return
        raw = json.dumps(answer, ensure_ascii=False).encode("utf-8")
        if plan.drop:
            self._count("dropped")
            handler.close_connection = True  # processed and stored; the answer is never sent
            return
        if plan.garbage:
            self._count("garbage")
            raw = self.dice.garbage(raw)
        handler._send(200, raw)
