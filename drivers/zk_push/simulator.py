"""``sitegate sim zk-push``: a ZKTeco PUSH terminal that calls a server over real HTTP.

It handshakes, uploads ATTLOG (attendance dialect) or rtlog (access dialect) records with a
Stamp, polls ``getrequest``, runs the USERINFO commands into its own user table and posts the
results. While the server is down it keeps its records and uploads them once it is back.

Python API for tests and the demo::

    sim = ZkTerminalSim("http://127.0.0.1:8088", "CKJ1234567", poll_s=0.05).start()
    sim.punch("1001", verify="face", status=0)    # uploaded at once (Realtime=1)
    sim.users                                      # {"1001": SimUser(name=…, card=…)} after a roster push
    sim.reset_stamp(); sim.send_garbage("x\\ty")   # re-upload the history; a bad line in the next upload
    sim.stop()
"""
from __future__ import annotations

import argparse
import csv
import logging
import threading
import time
from collections import Counter
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import requests

from sitegate.drivers.simcli import replay_forever
from sitegate.errors import UsageError

from . import codec
from .terminal import Dialect, SimUser, ZkTerminal

log = logging.getLogger(__name__)

SIM_NAME = "zk-push"


class ZkTerminalSim:
    def __init__(self, server: str, serial: str, *, dialect: Dialect = "attendance", language: str = "83",
                 users: dict[str, SimUser] | None = None, poll_s: float | None = None, retry_s: float = 1.0,
                 timeout_s: float = 5.0, pushver: str = "2.4.1"):
        if dialect not in ("attendance", "access"):
            raise UsageError(f"dialect must be attendance or access, not {dialect!r}")
        self.server = server.rstrip("/")
        self.terminal = ZkTerminal(serial, dialect, language, users=dict(users or {}))
        self.poll_s = poll_s            # None: the server's Delay
        self.retry_s = retry_s          # wait after a failed request (the server's ErrorDelay is 30 s)
        self.timeout_s = timeout_s
        self.pushver = pushver
        self.counters: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()    # HTTP status codes received
        self.last_date: datetime | None = None     # the server's Date header, when it sent one
        self.date_headers = 0
        self.online = False
        self._session = requests.Session()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the people at the terminal --------------------------------------------------------------
    @property
    def serial(self) -> str:
        return self.terminal.sn

    @property
    def users(self) -> dict[str, SimUser]:
        with self.terminal.lock:
            return dict(self.terminal.users)

    def punch(self, pin: str, verify: str | int = "face", status: int = 0, at: datetime | None = None) -> int:
        seq = self.terminal.punch(str(pin), verify, status, at)
        self._wake.set()          # Realtime=1: upload now, not at the next poll
        return seq

    def reset_stamp(self) -> None:
        self.terminal.reset_stamp()
        self._wake.set()

    def send_garbage(self, *lines: str) -> None:
        with self.terminal.lock:
            self.terminal.garbage.extend(lines)
        self._wake.set()

    def fail_commands_for(self, pin: str, code: int = -1001) -> None:
        """USERINFO commands for this PIN answer ``code`` (a full user table, a bad name …)."""
        with self.terminal.lock:
            self.terminal.fail_codes[str(pin)] = code

    @property
    def unsent(self) -> int:
        return self.terminal.unsent

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> "ZkTerminalSim":
        if self._thread is not None:
            raise UsageError("simulator already started")
        self._thread = threading.Thread(target=self._loop, name=f"zk-sim-{self.serial}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self._session.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
                self.online = True
                wait = self.poll_s if self.poll_s is not None else float(self.terminal.options.get("Delay", 10))
            except (requests.RequestException, _Refused) as exc:
                if self.online:
                    log.info("zk-push sim %s: server unreachable: %s", self.serial, exc)
                self.online = False
                self.terminal.needs_handshake = True     # terminals start over with the handshake
                self.counters["failed_cycles"] += 1
                wait = self.retry_s
            self._wake.wait(wait)
            self._wake.clear()

    # -- one cycle (public so tests can step without the thread) ---------------------------------
    def step(self) -> None:
        t = self.terminal
        if t.needs_handshake:
            self.handshake()
        self.upload_records()
        self.upload_operlog()
        self.poll_commands()
        self.post_results()

    def handshake(self) -> None:
        t = self.terminal
        if t.dialect == "access":
            self._call("POST", "/iclock/registry", {}, b"DeviceType=acc")
            text = self._call("GET", "/iclock/push", {"pushver": self.pushver, "language": t.language})
        else:
            text = self._call("GET", "/iclock/cdata", {"options": "all", "pushver": self.pushver,
                                                        "language": t.language})
        t.apply_options(codec.parse_options_reply(text))
        self.counters["handshakes"] += 1

    def upload_records(self) -> None:
        t = self.terminal
        while (batch := t.next_batch()) is not None:
            body, stamp = batch
            reply = self._call("POST", "/iclock/cdata", {"table": t.table, "Stamp": str(stamp)},
                               codec.encode_text(body, t.chinese))
            if reply.strip() != "OK":
                raise _Refused(f"upload answered {reply[:40]!r}")
            t.acknowledged(stamp)
            self.counters["uploads"] += 1

    def upload_operlog(self) -> None:
        t = self.terminal
        lines = t.take_operlog()
        if not lines:
            return
        try:
            self._call("POST", "/iclock/cdata", {"table": "OPERLOG", "Stamp": str(int(time.time()))},
                       codec.encode_text("\n".join(lines) + "\n", t.chinese))
        except (requests.RequestException, _Refused):
            with t.lock:
                t.operlog[:0] = lines
            raise

    def poll_commands(self) -> None:
        t = self.terminal
        text = self._call("GET", "/iclock/getrequest", {"INFO": f"Ver 6.60,{len(t.users)},0,{len(t.records)}"})
        parsed = codec.parse_commands(text)
        self.counters["bad_command_lines"] += len(parsed.bad)
        for cmd in parsed.records:
            t.execute(cmd)
            self.counters["commands"] += 1

    def post_results(self) -> None:
        t = self.terminal
        lines = t.take_results()
        if not lines:
            return
        try:
            self._call("POST", "/iclock/devicecmd", {}, ("\n".join(lines) + "\n").encode("ascii"))
        except (requests.RequestException, _Refused):
            with t.lock:
                t.results[:0] = lines
            raise

    def _call(self, method: str, path: str, params: dict[str, str], body: bytes | None = None) -> str:
        # SN first and unencoded, as terminals send it
        query = "&".join([f"SN={self.serial}"] + [f"{k}={v}" for k, v in params.items()])
        resp = self._session.request(method, f"{self.server}{path}?{query}", data=body, timeout=self.timeout_s)
        self.statuses[resp.status_code] += 1
        date = resp.headers.get("Date")
        if date:
            self.date_headers += 1
            try:
                self.last_date = parsedate_to_datetime(date)
            except (TypeError, ValueError):
                pass
        if resp.status_code != 200:
            raise _Refused(f"{method} {path}: HTTP {resp.status_code}")
        return resp.content.decode("gb18030" if self.terminal.chinese else "utf-8", errors="replace")


class _Refused(Exception):
    """The server answered, but not with success: keep the data, try again later."""


# -- the command line --------------------------------------------------------------------------
def read_users(path: str | Path) -> dict[str, SimUser]:
    """A CSV file of ``pin,name,card`` rows (UTF-8; a header row starting with 'pin' is skipped)."""
    users: dict[str, SimUser] = {}
    with open(path, encoding="utf-8-sig", newline="") as fh:
        for row in csv.reader(fh):
            if not row or row[0].strip().lower() == "pin":
                continue
            users[row[0].strip()] = SimUser(row[1].strip() if len(row) > 1 else "", row[2].strip() if len(row) > 2 else "")
    return users


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = "A ZKTeco PUSH terminal that calls the gateway's iclock endpoint."
    p.add_argument("--server", default="http://127.0.0.1:8088", help="the gateway's URL (default %(default)s)")
    p.add_argument("--serial", required=True, help="the terminal's serial number (SN)")
    p.add_argument("--users", metavar="FILE", help="CSV of pin,name,card users already on the terminal")
    p.add_argument("--dialect", choices=("attendance", "access"), default="attendance",
                   help="ATTLOG (attendance PUSH) or rtlog (security PUSH) uploads")
    p.add_argument("--language", default="83", help="handshake language code (83 = Chinese, names in GB18030)")
    p.add_argument("--poll", type=float, metavar="S", help="poll period (default: the server's Delay)")
    p.add_argument("--punch", action="append", default=[], metavar="PIN", help="PIN that punches periodically")
    p.add_argument("--punch-every", type=float, default=10.0, metavar="S", help="seconds between punches")


def main(args: argparse.Namespace) -> int:
    if not args.server.startswith(("http://", "https://")):
        raise UsageError(f"--server {args.server!r} must be an http:// URL")
    users = read_users(args.users) if args.users else {}
    sim = ZkTerminalSim(args.server, args.serial, dialect=args.dialect, language=args.language, users=users,
                        poll_s=args.poll).start()
    print(f"zk-push simulator {args.serial} ({args.dialect}) calling {args.server}", flush=True)
    try:
        replay_forever(args.punch, args.punch_every, lambda pin, going_in: sim.punch(pin, status=0 if going_in else 1))
    finally:
        sim.stop()
