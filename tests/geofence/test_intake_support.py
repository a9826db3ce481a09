"""Shared parts of the clock-in intake tests (no tests here): a real site -- store, roster, gate
policy and pipeline built as the daemon builds them --, a settable clock, a real loopback HTTP
server in front of ``handle_http``, and signed requests.

The HTTP server is the clerk web server (``sitegate.web.server.WebServer``) when that module is
installed, else a small ThreadingHTTPServer that calls ``handle_http`` the same way: either way
requests travel over HTTP on 127.0.0.1.
"""
from __future__ import annotations

import importlib.util
import json
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

from sitegate.buffer import Roster, Store, Worker
from sitegate.buffer.reviews import ReviewQueue
from sitegate.clock import Clock
from sitegate.config import loads
from sitegate.drivers.phone.walker import PhoneWalker, WalkSettings, path_through_fence, request_bodies
from sitegate.geofence.clockin import sign_request
from sitegate.geofence.intake import ClockInIntake
from sitegate.geofence.phones import PhoneRegistry
from sitegate.model import Method
from sitegate.pipeline import Pipeline
from sitegate.policy import GatePolicy
from sitegate.roster_cache import RosterCache
from tests.conftest import make_id

LNG0, LAT0 = 117.0, 36.65            # Jinan; the yard is a 100 m circle here (WGS-84)
T0 = 1_718_000_000.0                 # the simulated timeline starts here (epoch s)
ARRIVAL_DELAY_S = 1.5                # each fix reaches the gateway this long after it was made
WORKER_A, WORKER_B = make_id(11), make_id(12)

FENCES_TOML = f"""
[[geofences]]
id = "yard"
name = "Main yard"
crs = "wgs84"
center = [{LNG0}, {LAT0}]
radius_m = 100
lane = "geo-yard"
"""


class SettableClock(Clock):
    """The gateway's clocks, at a time the test sets (synchronised)."""

    def __init__(self, t: float = T0):
        self.t = t
        super().__init__(wall_ns=lambda: int(self.t * 1e9), mono_ns=lambda: int(self.t * 1e9),
                         boot=lambda: "test-boot", synced=lambda: True)


class RecordingMetrics:
    """Stands in for sitegate.metrics: records what the intake reports."""

    def __init__(self):
        self.rejected_calls: list[tuple[str, str]] = []

    def rejected(self, what: str, reason: str) -> None:
        self.rejected_calls.append((what, reason))

    def decision(self, *args, **kwargs) -> None:      # the pipeline's own report
        pass


@dataclass
class GeoSite:
    root: Path
    extra_toml: str = ""
    clock: SettableClock = field(default_factory=SettableClock)
    metrics: RecordingMetrics = field(default_factory=RecordingMetrics)

    def __post_init__(self):
        self.data_dir = self.root / "data"
        self.cfg = loads(f"""
[site]
project_code = "370102202300001"
gateway_id = "gw-test"
data_dir = "{self.data_dir}"

[uplink]
enabled = false

{self.extra_toml}
{FENCES_TOML}
""", "site.toml")
        self.store = Store.open(self.data_dir)
        Roster(self.store).upsert_many([Worker(WORKER_A, "张三", team_sys_no=7), Worker(WORKER_B, "李四")])
        self.roster = RosterCache(self.store)
        self.policy = GatePolicy(self.roster)
        self.pipeline = Pipeline(self.store, self.policy, devices={}, metrics=self.metrics)
        self.intake = self.new_intake()
        self.fences = self.intake.fences

    def new_intake(self) -> ClockInIntake:
        intake = ClockInIntake(self.cfg, self.store, self.pipeline, metrics=self.metrics, clock=self.clock)
        intake.start()
        return intake

    def restart_intake(self) -> None:
        self.intake.stop()
        self.intake = self.new_intake()

    def close(self) -> None:
        self.intake.stop()
        self.store.close()

    # -- phones and requests -------------------------------------------------------------------
    def add_phone(self, id_number: str = WORKER_A, phone_id: str = "P-1") -> bytes:
        _record, key = PhoneRegistry(self.store).issue(id_number, phone_id=phone_id, actor="test")
        return key

    def walker(self, key: bytes, phone_id: str = "P-1", **settings) -> PhoneWalker:
        yard = self.fences.by_id("yard")
        waypoints = path_through_fence(yard, self.fences, approach_m=150, dwell_s=120)
        return PhoneWalker(phone_id, key, waypoints, WalkSettings(**{"accuracy_m": 8.0, "seed": 5, **settings}))

    def geofence_events(self):
        return [e for e in self.store.events(limit=10_000) if e.method == Method.GEOFENCE]

    def reviews(self, status: str = "open"):
        return ReviewQueue(self.store).list(status=status)


def signed_body(key: bytes, *, phone_id: str = "P-1", lng: float = LNG0, lat: float = LAT0, t: float = T0,
                accuracy_m: float | None = 6.5, is_mock: bool = False, crs: str = "wgs84", nonce: str | None = None,
                **extra) -> bytes:
    payload = {"phone_id": phone_id, "lng": lng, "lat": lat, "crs": crs, "accuracy_m": accuracy_m,
               "fix_time": int(round(t * 1000)), "provider": "gps", "is_mock": is_mock,
               "nonce": nonce or secrets.token_hex(16), **extra}
    return json.dumps(sign_request(payload, key)).encode()


def fix_time_of(body: bytes) -> float:
    return json.loads(body)["fix_time"] / 1000.0


# -- a real HTTP server in front of handle_http ------------------------------------------------

class _ClockInHandler(BaseHTTPRequestHandler):
    server: "ClockInHttp"

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        if self.path != "/api/clockin":
            self.send_error(404)
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(length, 1 << 16))
        status, answer = self.server.handle(body, self.client_address[0])
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args) -> None:  # quiet
        pass


class ClockInHttp(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, handle):
        super().__init__(("127.0.0.1", 0), _ClockInHandler)
        self.handle = handle
        self._thread = threading.Thread(target=self.serve_forever, name="test-clockin-http", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/api/clockin"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(5)


def web_server_available() -> bool:
    return importlib.util.find_spec("sitegate.web.server") is not None \
        and importlib.util.find_spec("sitegate.metrics") is not None


class HttpFront:
    """POSTs clock-ins over loopback HTTP to whatever serves ``handle_http`` for the site."""

    def __init__(self, site: GeoSite):
        self.site = site
        self.session = requests.Session()
        self._web = None
        self._plain = None
        if web_server_available():
            from sitegate.metrics import Metrics
            from sitegate.web.context import WebContext
            from sitegate.web.server import WebServer

            ctx = WebContext(cfg=site.cfg, store=site.store, roster=site.roster, metrics=Metrics(store=site.store),
                             clockin=lambda body, ip: site.intake.handle_http(body, ip), clock=site.clock)
            self._web = WebServer(ctx, "127.0.0.1:0")
            port = self._web.start()
            self.url = f"http://127.0.0.1:{port}/api/clockin"
        else:
            self._plain = ClockInHttp(lambda body, ip: site.intake.handle_http(body, ip))
            self.url = self._plain.url

    def post(self, body: bytes) -> tuple[int, dict]:
        resp = self.session.post(self.url, data=body, headers={"Content-Type": "application/json"}, timeout=30)
        return resp.status_code, resp.json()

    def walk(self, walker: PhoneWalker, start: float = T0) -> list[tuple[int, dict]]:
        """Send every fix of the walk, the gateway clock set to each fix's arrival time."""
        answers = []
        for body, _ in request_bodies(walker.payloads(start_time=start)):
            self.site.clock.t = fix_time_of(body) + ARRIVAL_DELAY_S
            answers.append(self.post(body))
        return answers

    def close(self) -> None:
        self.session.close()
        if self._web is not None:
            self._web.stop()
        if self._plain is not None:
            self._plain.stop()
