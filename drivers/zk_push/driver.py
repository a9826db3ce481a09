"""``zk-push``: a ZKTeco PUSH (ADMS / iclock) face or attendance terminal that calls the gateway.

One HTTP listener per terminal (its "cloud server" setting points at ``listen``). Requests from
any other serial number are refused with 403. What the terminal uploads becomes observations;
it gets ``OK`` only after ``ctx.emit`` returned, i.e. after the records are durable, and the
upload's Stamp is stored only then, so a crash between the two makes it resend, never lose.
A store failure answers 503: the terminal keeps the records and resends them.

Roster: at start and on ``push_roster`` the terminal's user list is aimed at the admitted
workers through ``DATA UPDATE/DELETE USERINFO`` commands (see ``sync``). The queue itself is not
persisted: it is rebuilt at start from the roster and the users the terminal confirmed before
(kept as digests in the device state), and the terminal is asked once to report its users.

Clock: replies carry a ``Date:`` header (terminals set their clock from it) only while the
gateway clock is synchronised.

Known limits: security-PUSH controllers keep users in a ``user`` / ``userauthorize`` table this
driver does not write (the USERINFO commands are the attendance-PUSH ones); ATTPHOTO uploads are
acknowledged and counted, not kept.
"""
from __future__ import annotations

import json
import threading
import time
from collections import Counter
from datetime import datetime
from email.utils import format_datetime
from zoneinfo import ZoneInfo

from sitegate.config.schema import Key, host_port, matches, positive, timezone_name
from sitegate.drivers.api import Driver, HealthState
from sitegate.errors import ProtocolError, SitegateError
from sitegate.idcard import mask_text

from . import codec, codes, observe
from .server import HttpListener, Reply, split_host_port
from .sync import UserSync, admitted_users

OK = Reply(200, b"OK")


class ZkPushDriver(Driver):
    NAME = "zk-push"
    DESCRIPTION = "ZKTeco PUSH (ADMS/iclock) face and attendance terminals; the terminal calls the gateway over HTTP"
    TRANSPORT = "http"
    MODE = "push"
    REPORTS_DIRECTION = True
    KEEPS_ROSTER = True
    CONFIG_KEYS = {
        "listen": Key(str, "HOST:PORT the terminal calls (its server address and port setting)",
                      default="127.0.0.1:8088", check=host_port),
        "serial": Key(str, "the terminal's serial number (SN); requests with any other SN are refused",
                      required=True, check=matches(r"[0-9A-Za-z_-]{1,64}", "a serial number")),
        "timezone": Key(str, "the terminal's local zone (its record times carry none)", default="Asia/Shanghai",
                        check=timezone_name),
        "offline_after_s": Key((int, float), "health DOWN after this long without a request from the terminal",
                               default=120, check=positive),
    }
    MAX_ATTEMPTS = 3           # a failing user command is sent this many times, then reported

    def __init__(self, ctx):
        super().__init__(ctx)
        self.serial = str(self.options["serial"])
        self.zone = ZoneInfo(self.options.get("timezone", "Asia/Shanghai"))
        self.offline_after_s = float(self.options.get("offline_after_s", 120))
        self.counters: Counter[str] = Counter()
        self.device_info: dict[str, str] = {}
        self.ready = threading.Event()             # set once the listener is bound
        self._lock = threading.Lock()              # guards sync, counters, timestamps
        self._listener: HttpListener | None = None
        self._last_request: float | None = None
        self._refused_sns: set[str] = set()
        self._language = ctx.state("language", "") or ""
        known = {} if ctx.state("users_sn") not in (None, self.serial) else json.loads(ctx.state("users") or "{}")
        self.sync = UserSync(known, int(ctx.state("next_cmd_id") or 1), max_attempts=self.MAX_ATTEMPTS,
                             resend_after_s=max(60.0, self.offline_after_s))

    # -- lifecycle -------------------------------------------------------------------------------
    @property
    def address(self) -> tuple[str, int]:
        if self._listener is None:
            raise SitegateError("zk-push driver is not listening")
        return self._listener.address

    def run(self, stop: threading.Event) -> None:
        host, port = split_host_port(str(self.options.get("listen", "127.0.0.1:8088")))
        try:
            self._listener = HttpListener(host, port, self)
        except SitegateError as exc:
            self.set_health(HealthState.DOWN, str(exc))
            raise
        self.ready.set()
        try:
            self.push_roster(self.ctx.roster())
            with self._lock:
                self.sync.query_users()
            self._refresh_health()
            while not stop.wait(0.5):
                self.ctx.beat()
                with self._lock:
                    # only while the terminal calls: an unanswered command of a switched-off
                    # terminal has not failed, it waits
                    calling = self._last_request is not None and \
                        time.monotonic() - self._last_request < self.offline_after_s
                    expired = self.sync.expire(time.monotonic()) if calling else 0
                if expired:
                    self._count("commands_unanswered", expired)
                self._refresh_health()
        finally:
            self.close()

    def close(self) -> None:
        listener = self._listener
        if listener is not None:
            listener.close()

    # -- roster ----------------------------------------------------------------------------------
    def push_roster(self, workers) -> None:
        today = datetime.now(self.zone).date()
        desired = admitted_users(workers, today)
        with self._lock:
            queued = self.sync.plan(desired)
        self.log.info("zk-push %s: %d admitted users, %d user commands queued", self.ctx.device_id, len(desired), queued)
        self._refresh_health()

    # -- the HTTP app ----------------------------------------------------------------------------
    def date_header(self) -> str | None:
        return format_datetime(self.ctx.clock.wall(), usegmt=True) if self.ctx.clock_synced() else None

    def handle(self, method: str, path: str, query: str, body: bytes) -> Reply:
        self._count("requests")
        try:
            req = codec.parse_request(query)
        except ProtocolError as exc:
            self._count("bad_requests")
            return Reply(400, str(exc).encode())
        if req.sn != self.serial:
            return self._refuse(req.sn)
        with self._lock:
            self._last_request = time.monotonic()
        self._refresh_health()
        route = path.rstrip("/").lower().removesuffix(".aspx")   # older firmware calls cdata.aspx …
        try:
            if route == "/iclock/cdata":
                return self._handshake(req) if method == "GET" else self._upload(req, body)
            if route == "/iclock/getrequest":
                return self._getrequest(req)
            if route == "/iclock/devicecmd":
                return self._devicecmd(body)
            if route == "/iclock/registry":        # security PUSH
                return Reply(200, codec.registry_reply(self.serial).encode())
            if route == "/iclock/push":
                return self._handshake(req)
            if route in ("/iclock/ping", "/iclock/fdata"):
                return OK
        except SitegateError as exc:
            # the store could not take the records: no OK, so the terminal keeps and resends them
            self._count("store_failures")
            self.log.error("zk-push %s: records not stored, terminal will resend: %s", self.ctx.device_id, exc)
            return Reply(503, b"ERROR")
        self._count("unknown_paths")
        return Reply(404, b"unknown endpoint")

    def _refuse(self, sn: str) -> Reply:
        self._count("refused_sn")
        with self._lock:
            first = sn not in self._refused_sns and len(self._refused_sns) < 100
            self._refused_sns.add(sn)
        if first:
            self.log.warning("zk-push %s: refused a terminal with SN %r (configured serial is %r)",
                             self.ctx.device_id, sn, self.serial)
        return Reply(403, b"unknown SN")

    def _handshake(self, req: codec.Request) -> Reply:
        language = req.get("language")
        if language and language != self._language:
            self._language = language
            self.ctx.set_state("language", language)
        for key in ("pushver", "DeviceType"):
            if req.get(key):
                self.device_info[key] = req.get(key)
        stamps = {t: self.ctx.state(f"stamp.{t}") or "0" for t in codec.STAMP_TABLES}
        offset = datetime.now(self.zone).utcoffset()
        opts = codec.ServerOptions(self.serial, stamps,
                                   timezone_hours=round(offset.total_seconds() / 3600) if offset else 0)
        self._count("handshakes")
        return Reply(200, codec.options_reply(opts).encode("ascii"))

    # -- uploads ---------------------------------------------------------------------------------
    def _upload(self, req: codec.Request, body: bytes) -> Reply:
        table = req.table.upper()
        if table == "ATTPHOTO":      # binary: a header and a JPEG
            self._count("attphotos")
            self._save_stamp(table, req.get("Stamp"))
            return OK
        text = codec.decode_body(body)
        if table == "ATTLOG":
            self._emit_all(codec.parse_attlog(text), table,
                           lambda rec: observe.from_attlog(self.observation, self.serial, rec, self.zone))
        elif table == "RTLOG":
            self._emit_all(codec.parse_rtlog(text), table,
                           lambda rec: observe.from_rtlog(self.observation, self.serial, rec, self.zone))
        elif table == "OPERLOG":
            self._operlog(codec.parse_operlog(text))
        elif table == "TABLEDATA":
            count = req.get("count", "0")
            self._count("tabledata_lines", max(0, len([ln for ln in text.split("\n") if ln.strip()])))
            n = int(count) if count.isascii() and count.isdigit() else 0      # not "²": int() refuses it
            return Reply(200, codec.tabledata_reply(req.get("tablename"), n).encode())
        else:
            self._count(f"table_ignored.{table[:24] or '-'}")
        self._save_stamp(table, req.get("Stamp"))
        return OK

    def _emit_all(self, parsed: codec.Parsed, table: str, make) -> None:
        self._count_bad(table, parsed.bad)
        for rec in parsed.records:
            obs = make(rec)
            if obs is None:
                self._count(f"{table.lower()}_skipped")
                continue
            outcome = self.ctx.emit(obs)       # durable (or a known repeat) when it returns
            self._count(f"{table.lower()}_duplicates" if outcome.duplicate else f"{table.lower()}_records")

    def _operlog(self, parsed: codec.Parsed) -> None:
        self._count_bad("OPERLOG", parsed.bad, show=False)
        for rec in parsed.records:
            self._count(f"operlog.{rec.kind}")
            if rec.kind == "USER":
                with self._lock:
                    self.sync.learn(rec.fields["PIN"].strip(), rec.fields.get("Name", ""), rec.fields.get("Card", ""),
                                    admin=rec.fields.get("Pri", "0").strip() not in ("", "0"))
        self._save_users()

    def _count_bad(self, table: str, bad: list[codec.BadLine], *, show: bool = True) -> None:
        """Count and log each bad line; its start is shown (ID numbers masked) unless the table
        carries names (OPERLOG user lines), which stay out of the log."""
        for b in bad:
            self._count(f"bad_lines.{table}")
            self.log.warning("zk-push %s: %s line %d skipped: %s%s", self.ctx.device_id, table, b.line_no,
                             mask_text(b.reason), f" ({mask_text(b.excerpt)})" if show else "")

    def _save_stamp(self, table: str, value: str) -> None:
        stamp = codec.parse_stamp(value)
        if stamp is not None and table in codec.STAMP_TABLES:
            self.ctx.set_state(f"stamp.{table}", stamp)

    # -- commands --------------------------------------------------------------------------------
    def _getrequest(self, req: codec.Request) -> Reply:
        if req.get("INFO"):
            self.device_info["INFO"] = req.get("INFO")[:200]
        with self._lock:
            commands = self.sync.take(time.monotonic())
            next_id = self.sync.next_id
        if not commands:
            return OK
        self.ctx.set_state("next_cmd_id", str(next_id))
        self._count("commands_sent", len(commands))
        chinese = self._language == codes.LANGUAGE_CHINESE
        return Reply(200, codec.encode_text(codec.command_lines(commands), chinese),
                     "text/plain; charset=" + ("GB18030" if chinese else "UTF-8"))

    def _devicecmd(self, body: bytes) -> Reply:
        parsed = codec.parse_results(codec.decode_body(body))
        self._count_bad("devicecmd", parsed.bad)
        for res in parsed.records:
            with self._lock:
                pending = self.sync.inflight.get(res.id)
                outcome = self.sync.result(res)
            self._count(f"commands_{outcome}")
            if outcome == "gave_up" and pending is not None:
                self.log.warning("zk-push %s: %s failed %d times (Return=%d); giving up until the next roster push",
                                 self.ctx.device_id, pending.summary, self.MAX_ATTEMPTS, res.code)
        self._save_users()
        self._refresh_health()
        return OK

    def _save_users(self) -> None:
        with self._lock:
            if not self.sync.changed:
                return
            self.sync.changed = False
            known = json.dumps(self.sync.known, separators=(",", ":"), sort_keys=True)
        self.ctx.set_state("users_sn", self.serial)
        self.ctx.set_state("users", known)

    # -- health and counters ---------------------------------------------------------------------
    def _refresh_health(self) -> None:
        with self._lock:
            last = self._last_request
            failure = self.sync.failure_reason()
        if last is None:
            self.set_health(HealthState.DOWN, "waiting for the terminal's first call")
            return
        silent = time.monotonic() - last
        if silent > self.offline_after_s:
            if not self.health.reason.startswith("silent for"):   # keep the first figure and its time
                self.set_health(HealthState.DOWN, f"silent for {int(silent)} s")
        elif failure:
            self.set_health(HealthState.DEGRADED, failure)
        else:
            self.set_health(HealthState.UP)

    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.counters[name] += n
