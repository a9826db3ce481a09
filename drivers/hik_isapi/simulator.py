"""``sitegate sim hik``: a Hikvision access-control terminal speaking ISAPI over real HTTP.

It serves ISAPI with digest authentication (MD5, qop=auth: what ``requests.auth.HTTPDigestAuth``
and the real terminals do), keeps a user table (UserInfo SetUp/Record/Delete/Search/Count) and a
face library (FDLib/FaceDataRecord), numbers its events (serialNo), answers AcsEvent searches page
by page, and pushes each event to an HTTP host as JSON or multipart with a JPEG. While the host
is down it keeps the events and resends them in order (``httpBroken=true`` semantics).

Python API for tests and the demo::

    sim = HikTerminalSim("admin", "secret", push_url="http://127.0.0.1:8089/hik").start()
    sim.base_url                                  # http://127.0.0.1:<port> for the driver's host key
    sim.pass_("1001", verify="face", status="checkIn")
    sim.lose_next_pushes(2)                       # the next 2 events are recorded but never pushed
    sim.users, sim.faces, sim.pushed              # what the gateway wrote / what was delivered
    sim.stop()
"""
from __future__ import annotations

import argparse
import csv
import json
import logging
import threading
import time
from collections import Counter, deque
from typing import Any, Mapping

import requests

from sitegate.drivers.simcli import replay_forever
from sitegate.errors import ProtocolError, UsageError
from sitegate.secrets import read_secret

from . import codec, multipart, search, users
from .digest import DigestAuthority
from .server import HttpListener, Reply, split_host_port
from .terminal import VERIFY, HikTerminal, LoggedEvent

log = logging.getLogger(__name__)

SIM_NAME = "hik"
TINY_JPEG = b"\xff\xd8\xff\xe0" + bytes(60) + b"\xff\xd9"


def _json(doc: Any, status: int = 200) -> Reply:
    return Reply(status, json.dumps(doc, ensure_ascii=False).encode("utf-8"))


def _status(code: int, string: str, sub: str, http: int) -> Reply:
    return _json(codec.status_document(code, string, sub), http)


class HikTerminalSim:
    def __init__(self, username: str = "admin", password: str = "", *, host: str = "127.0.0.1", port: int = 0,
                 push_url: str | None = None, push_format: str = "json", retry_s: float = 1.0,
                 heartbeat_s: float | None = None, realm: str = "DS-K1T671"):
        if push_format not in ("json", "multipart"):
            raise UsageError(f"push format must be json or multipart, not {push_format!r}")
        self.auth = DigestAuthority(username, password, realm)
        self.terminal = HikTerminal()
        self.push_url = push_url
        self.push_format = push_format
        self.retry_s = retry_s
        self.heartbeat_s = heartbeat_s
        self.counters: Counter[str] = Counter()
        self.pushed: list[int] = []              # serial numbers the push host accepted
        self.refuse_users: set[str] = set()      # employee numbers SetUp refuses (a full table, a bad name …)
        self.searches_broken = False             # AcsEvent answers 503 (a busy or failing terminal)
        self._host, self._port = host, port
        self._outbox: deque[LoggedEvent] = deque()
        self._lose = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._listener: HttpListener | None = None
        self._pusher: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> "HikTerminalSim":
        if self._listener is not None:
            raise UsageError("simulator already started")
        self._listener = HttpListener(self._host, self._port, self)
        self._pusher = threading.Thread(target=self._push_loop, name="hik-sim-push", daemon=True)
        self._pusher.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._pusher is not None:
            self._pusher.join(timeout=10)
        if self._listener is not None:
            self._listener.close()

    @property
    def address(self) -> tuple[str, int]:
        assert self._listener is not None, "not started"
        return self._listener.address

    @property
    def base_url(self) -> str:
        host, port = self.address
        return f"http://{host}:{port}"

    # -- people and faults -----------------------------------------------------------------------
    def pass_(self, employee_no: str, verify: str = "face", status: str = "checkIn", *, door: int = 1,
              picture: bytes | None = None) -> int:
        """Someone presents themselves; returns the event's serialNo. Multipart pushes carry
        ``picture`` (default: a tiny JPEG)."""
        if verify not in VERIFY:
            raise UsageError(f"verify must be one of {', '.join(VERIFY)}")
        if picture is None and self.push_format == "multipart":
            picture = TINY_JPEG
        event = self.terminal.pass_(str(employee_no), verify, status, door=door, picture=picture)
        self._enqueue(event)
        return event.serial_no

    def door_event(self) -> int:
        event = self.terminal.door_event()
        self._enqueue(event)
        return event.serial_no

    def lose_next_pushes(self, n: int) -> None:
        """The next ``n`` events are logged but never pushed (lost on the way): a gap."""
        with self._lock:
            self._lose += n

    def _enqueue(self, event: LoggedEvent) -> None:
        with self._lock:
            if self._lose > 0:
                self._lose -= 1
                self.counters["lost_pushes"] += 1
                return
            self._outbox.append(event)
        self._wake.set()

    @property
    def users(self) -> dict[str, users.TerminalUser]:
        with self.terminal.lock:
            return dict(self.terminal.users)

    @property
    def faces(self) -> dict[str, bytes]:
        with self.terminal.lock:
            return dict(self.terminal.faces)

    @property
    def waiting(self) -> int:
        with self._lock:
            return len(self._outbox)

    # -- pushing ---------------------------------------------------------------------------------
    def _push_loop(self) -> None:
        session = requests.Session()
        last_beat = time.monotonic()
        try:
            while not self._stop.is_set():
                with self._lock:
                    event = self._outbox[0] if self._outbox else None
                if event is not None and self.push_url:
                    if self._push(session, event):
                        with self._lock:
                            self._outbox.popleft()
                        self.pushed.append(event.serial_no)
                        continue
                    self._wake.wait(self.retry_s)     # host down: keep it, resend later
                    self._wake.clear()
                    continue
                if self.heartbeat_s and self.push_url and time.monotonic() - last_beat >= self.heartbeat_s:
                    last_beat = time.monotonic()
                    self._post(session, codec.event_document({}, date_time=codec.isapi_time(self.terminal.clock()),
                                                             event_type="heartBeat"), None)
                self._wake.wait(0.5 if not self.heartbeat_s else min(0.5, self.heartbeat_s))
                self._wake.clear()
        finally:
            session.close()

    def _push(self, session: requests.Session, event: LoggedEvent) -> bool:
        item = dict(event.item)
        acs = {"deviceName": self.terminal.device_name, "majorEventType": item.pop("major"),
               "subEventType": item.pop("minor"), **{k: v for k, v in item.items() if k != "time"}}
        doc = codec.event_document(acs, date_time=item["time"])
        return self._post(session, doc, event.picture)

    def _post(self, session: requests.Session, doc: dict[str, Any], picture: bytes | None) -> bool:
        data = json.dumps(doc, ensure_ascii=False).encode("utf-8")
        if self.push_format == "multipart":
            parts = [multipart.Part("event_log", "application/json", data)]
            if picture:
                parts.append(multipart.Part("Picture", "image/jpeg", picture, "Picture.jpg"))
            data, content_type = multipart.build(parts)
        else:
            content_type = "application/json"
        try:
            resp = session.post(self.push_url, data=data, headers={"Content-Type": content_type}, timeout=5)
        except requests.RequestException:
            self.counters["push_failures"] += 1
            return False
        self.counters[f"push_http_{resp.status_code}"] += 1
        return resp.status_code == 200

    # -- ISAPI (the HTTP app) --------------------------------------------------------------------
    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes, peer: str = "") -> Reply:
        verdict = self.auth.verify(method, target, headers.get("Authorization"))
        if not verdict.ok:
            self.counters["auth_challenges" if not headers.get("Authorization") else "auth_refused"] += 1
            return Reply(401, b'{"statusCode":4,"statusString":"Invalid Operation","subStatusCode":"notAuthorized"}',
                         headers={"WWW-Authenticate": self.auth.challenge(stale=verdict.stale)})
        path = target.split("?")[0]
        self.counters[f"{method} {path}"] += 1
        try:
            return self._route(method, path, headers, body)
        except ProtocolError as exc:
            return _json({**codec.status_document(6, "Invalid Content", "badJsonContent"), "errorMsg": str(exc)}, 400)

    def _route(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Reply:
        t = self.terminal
        if (method, path) == ("GET", users.COUNT_PATH.split("?")[0]):
            return _json({"UserInfoCount": {"userNumber": len(self.users)}})
        if (method, path) == ("POST", search.PATH.split("?")[0]):
            if self.searches_broken:
                return _status(5, "Device Busy", "deviceBusy", 503)
            return _json(t.search_events(search.parse_request(codec.parse_json(body))))
        if (method, path) == ("POST", users.SEARCH_PATH.split("?")[0]):
            doc = codec.parse_json(body)
            cond = doc.get("UserInfoSearchCond") if isinstance(doc, dict) else None
            if not isinstance(cond, dict):
                raise ProtocolError("search without UserInfoSearchCond")
            return _json(t.search_users(codec.str_field(cond, "searchID", 64),
                                        codec.int_field(cond, "searchResultPosition") or 0,
                                        codec.int_field(cond, "maxResults") or 30))
        if (method, path) in (("PUT", users.SETUP_PATH.split("?")[0]), ("PUT", "/ISAPI/AccessControl/UserInfo/Modify")):
            user = users.parse_setup(codec.parse_json(body))
            if user.employee_no in self.refuse_users:
                return _status(6, "Invalid Content", "userNumReachedLimit", 200)
            t.set_up(user)
            return _json(codec.status_document())
        if (method, path) == ("POST", users.RECORD_PATH.split("?")[0]):
            if not t.record(users.parse_setup(codec.parse_json(body))):
                return _status(6, "Invalid Content", "employeeNoAlreadyExist", 200)
            return _json(codec.status_document())
        if (method, path) == ("PUT", users.DELETE_PATH.split("?")[0]):
            t.delete(users.parse_delete(codec.parse_json(body)))
            return _json(codec.status_document())
        if method == "POST" and path in (users.FACE_PATH.split("?")[0], users.FACE_PATH_ALT):
            record, jpeg = users.parse_face_upload(body, headers.get("Content-Type", ""))
            if len(jpeg) > codec.MAX_FACE_BYTES:
                return _status(6, "Invalid Content", "faceSizeTooLarge", 200)
            with t.lock:
                t.faces[str(record["FPID"])] = jpeg
            return _json(codec.status_document())
        return _status(4, "Invalid Operation", "notSupport", 404)


# -- the command line --------------------------------------------------------------------------
def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = "A Hikvision access-control terminal serving ISAPI (digest auth) and pushing events."
    p.add_argument("--listen", default="127.0.0.1:8000", metavar="HOST:PORT", help="ISAPI address (%(default)s)")
    p.add_argument("--push", metavar="URL", help="HTTP host to push events to, e.g. http://127.0.0.1:8089/hik")
    p.add_argument("--username", default="admin", help="ISAPI user (%(default)s)")
    p.add_argument("--password-file", required=True, metavar="FILE", help="file holding the password (mode 0600)")
    p.add_argument("--format", choices=("json", "multipart"), default="json", help="push bodies (%(default)s)")
    p.add_argument("--heartbeat", type=float, metavar="S", help="push a heartBeat every S seconds")
    p.add_argument("--users", metavar="FILE", help="CSV of employeeNo,name users already on the terminal")
    p.add_argument("--pass", dest="passes", action="append", default=[], metavar="EMPLOYEE_NO",
                   help="employee number that passes periodically (repeatable)")
    p.add_argument("--pass-every", type=float, default=10.0, metavar="S", help="seconds between passes")


def read_users(path: str) -> list[users.TerminalUser]:
    """A CSV file of ``employeeNo,name`` rows (UTF-8; a header row starting with 'employee' is skipped)."""
    out = []
    with open(path, encoding="utf-8-sig", newline="") as fh:
        for row in csv.reader(fh):
            if row and row[0].strip() and not row[0].strip().lower().startswith("employee"):
                out.append(users.terminal_user(row[0].strip(), row[1].strip() if len(row) > 1 else ""))
    return out


def main(args: argparse.Namespace) -> int:
    try:
        host, port = split_host_port(args.listen)
    except ValueError:
        raise UsageError(f"--listen {args.listen!r} is not HOST:PORT") from None
    if args.push and not args.push.startswith(("http://", "https://")):
        raise UsageError(f"--push {args.push!r} must be an http:// URL")
    sim = HikTerminalSim(args.username, read_secret(args.password_file), host=host, port=port, push_url=args.push,
                         push_format=args.format, heartbeat_s=args.heartbeat)
    if args.users:
        for user in read_users(args.users):
            sim.terminal.set_up(user)
    sim.start()
    print(f"hik simulator on {sim.base_url}" + (f", pushing to {args.push}" if args.push else ""), flush=True)
    try:
        replay_forever(args.passes, args.pass_every,
                       lambda pin, going_in: sim.pass_(pin, status="checkIn" if going_in else "checkOut"))
    finally:
        sim.stop()
