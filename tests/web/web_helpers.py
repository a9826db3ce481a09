"""Shared pieces of the web tests: a hand-driven clock, roster rows, event factories, and a
logged-in requests session against the real server."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import requests

from sitegate.buffer import Worker
from sitegate.clock import Clock
from sitegate.config import loads
from sitegate.idcard import check_digit
from sitegate.ids import uuid7
from sitegate.model import (
    AttendanceEvent, DenyReason, Direction, EventTime, GateDecision, Method, Outcome, Source, WorkerRef,
)

PASSWORD = "correct horse battery"
XSS_NAME = "<script>alert(1)</script>"
ID_RE = re.compile(r"\d{17}[\dX]")          # an unmasked resident ID number anywhere in a response


def make_id(seed: int) -> str:
    first17 = f"37010219851120{seed % 1000:03d}"
    return first17 + check_digit(first17)


WORKERS = [  # (name, team no, team name, card no, blacklisted, status); PINs come out 1001.. in order
    ("张三", 100, "钢筋班", "5001", False, "active"),
    ("李四", 101, "木工班", "5002", False, "active"),
    (XSS_NAME, 100, "钢筋班", "5003", False, "active"),
    ("王五", 101, "木工班", "5004", True, "active"),
    ("赵六", 100, "钢筋班", "5005", False, "left"),
]
IDS = [make_id(i + 1) for i in range(len(WORKERS))]
PINS = [1001 + i for i in range(len(WORKERS))]


def roster_rows() -> list[Worker]:
    return [Worker(IDS[i], name, team_sys_no=team, team_name=tname, card_no=card, blacklisted=black, status=status,
                   work_type="钢筋工") for i, (name, team, tname, card, black, status) in enumerate(WORKERS)]


# 2025-06-10 14:00 in Jinan: mid-afternoon, so "today" and "the last 16 hours" do not depend on
# the hour the suite runs at
START = datetime(2025, 6, 10, 14, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()


class ManualClock(Clock):
    """Wall and monotonic time moved by the test, never by the real clock."""

    def __init__(self, t: float | None = None):
        self.t = START if t is None else t
        super().__init__(wall_ns=lambda: int(self.t * 1e9), mono_ns=lambda: int(self.t * 1e9),
                         boot=lambda: "boot-web-test", synced=lambda: True)

    def advance(self, seconds: float) -> None:
        self.t += seconds


def event(idn: str, name: str, *, ts: float, direction: str = "in", denied: bool = False,
          method: Method = Method.CARD, team: tuple[int, str] = (100, "钢筋班")) -> AttendanceEvent:
    return AttendanceEvent(
        event_id=str(uuid7()),
        worker=WorkerRef(id_card_number=idn, name=name, team_sys_no=team[0], team_name=team[1]),
        direction=Direction(direction), method=method,
        source=Source(device_id="east-gate", lane="east-1", driver="test"),
        time=EventTime(wall=datetime.fromtimestamp(ts, timezone.utc), mono_ns=1, boot_id="b", synced=True),
        decision=GateDecision(Outcome.DENIED, DenyReason.BLACKLISTED) if denied else GateDecision(Outcome.ADMITTED),
    )


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no CSRF field in the page"
    return m.group(1)


class Client(requests.Session):
    """A browser stand-in: keeps the cookie, knows the CSRF token of its session."""

    def __init__(self, base: str):
        super().__init__()
        self.base = base
        self.csrf = ""

    def request(self, method, url, *args, **kwargs):  # type: ignore[override]
        kwargs.setdefault("timeout", 20)
        kwargs.setdefault("allow_redirects", False)
        return super().request(method, self.base + url if url.startswith("/") else url, *args, **kwargs)

    def get(self, url, **kwargs):  # type: ignore[override]
        # requests.Session.get follows redirects by default; these tests look at each answer
        kwargs.setdefault("allow_redirects", False)
        return self.request("GET", url, **kwargs)

    def login(self, username: str = "clerk", password: str = PASSWORD) -> requests.Response:
        r = self.post("/login", data={"username": username, "password": password, "next": "/onsite"})
        if r.status_code == 303:
            self.csrf = csrf_of(self.get("/onsite").text)
        return r

    def form(self, path: str, data: dict) -> requests.Response:
        """POST a page form with this session's CSRF token."""
        return self.post(path, data={"csrf": self.csrf, **data})

    def api(self, path: str, body: dict | None = None) -> requests.Response:
        return self.post(path, json=body or {}, headers={"X-CSRF-Token": self.csrf})


def make_config(data_dir, session_minutes: int = 30):
    return loads(f"""
[site]
project_code = "370102202300001"
gateway_id = "gw-web"
data_dir = "{data_dir}"
name = "济南东站项目"

[uplink]
enabled = false

[http]
listen = "127.0.0.1:0"
session_minutes = {session_minutes}
""", "web-test.toml")
