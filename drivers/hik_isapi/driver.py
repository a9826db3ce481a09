"""``hik-isapi``: a Hikvision access-control (face) terminal over ISAPI.

Events: the terminal pushes each event to ``listen`` (its HTTP listening host, any path). The
push is answered 200 only after ``ctx.emit`` returned (durable); a store failure answers 503 and
the terminal, with ``httpBroken`` on, keeps the event and resends it. Events are de-duplicated by
``serialNo`` (``source_key`` hik:<host>:<serialNo>). A push whose serialNo skips numbers starts a
search of the terminal's event log (``AcsEvent``, digest auth) from the last event recorded in
sequence; what the search finds is recorded, and numbers it shows to be no access event are
settled. At start the same search catches up on what happened while the gateway was down, from
the last recorded time kept in the device state (minus ``CATCHUP_SLACK`` for clock drift; the
repeats are recognised as duplicates). On the very first start there is nothing to catch up:
the search starts from then on. Events found by a search carry no photo.

Users: at start and on ``push_roster`` the terminal's user list (UserInfo/Search) is compared with
the admitted workers; missing or changed ones are set up (UserInfo/SetUp), the others deleted.
``push_faces`` uploads face photos. Health: UP while the terminal pushes, heartbeats or answers;
DOWN when it refuses the credentials, or is silent and unreachable for ``offline_after_s``;
DEGRADED while a gap cannot be filled or users cannot be written.
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from typing import Mapping
from urllib.parse import urlsplit

from sitegate.config.schema import Key, between, host_port, positive
from sitegate.drivers.api import DeviceUnavailable, Driver, HealthState
from sitegate.errors import ProtocolError, SitegateError
from sitegate.idcard import mask_text
from sitegate.secrets import read_secret

from . import codec, observe
from .client import AuthRefused, IsapiClient, base_url, terminal_address_problem
from .sender import TerminalSender
from .serials import SerialTracker
from .server import HttpListener, Reply, split_host_port
from .user_sync import UserSyncer

OK = Reply(200, b'{"statusCode":1,"statusString":"OK"}')
MAX_WRITE_ATTEMPTS = 3
TICK_S = 0.2                   # how soon the loop notices ``stop`` without a wake-up
PROBE_EVERY_S = 30.0


class HikIsapiDriver(Driver):
    NAME = "hik-isapi"
    DESCRIPTION = "Hikvision ISAPI access-control face terminals: pushed events, AcsEvent catch-up, user push"
    TRANSPORT = "http"
    MODE = "push"
    REPORTS_DIRECTION = True
    KEEPS_ROSTER = True
    CONFIG_KEYS = {
        "host": Key(str, "the terminal's address: host, host:port or http(s)://host:port", required=True,
                    check=terminal_address_problem),
        "username": Key(str, "ISAPI user (digest authentication)", default="admin"),
        "password_file": Key(str, "file holding the ISAPI password (mode 0600)", required=True, secret_file=True),
        "listen": Key(str, "HOST:PORT the terminal pushes events to (its HTTP listening host)",
                      default="127.0.0.1:8089", check=host_port),
        "verify_tls": Key(bool, "verify the terminal's certificate when host is https://", default=True),
        "page_size": Key(int, "events and users per search page", default=30, check=between(1, 1000)),
        "offline_after_s": Key((int, float), "health DOWN after this long without hearing from the terminal",
                               default=120, check=positive),
    }
    CATCHUP_SLACK = timedelta(minutes=10)
    RETRY_S = 15.0                 # after a failed search or sync

    def __init__(self, ctx):
        super().__init__(ctx)
        self.host = str(self.options["host"])
        self.host_key = urlsplit(base_url(self.host)).netloc.lower()
        self.sender = TerminalSender(self.host)   # pushes are taken from this host's IP only
        self.page_size = int(self.options.get("page_size", 30))
        self.offline_after_s = float(self.options.get("offline_after_s", 120))
        self.counters: Counter[str] = Counter()
        self.ready = threading.Event()
        self.client: IsapiClient | None = None
        self.users = UserSyncer(self.page_size)
        self._lock = threading.Lock()         # tracker, counters, health facts, pending tasks
        self._wake = threading.Event()
        self._pending: set[str] = set()
        self._running_task = False
        self._retry_at: dict[str, float] = {}
        self._listener: HttpListener | None = None
        self._last_heard: float | None = None
        self._last_probe = 0.0
        self._down_reason = ""                 # unreachable (from the last call)
        self._auth_refused = ""                # the terminal refused our credentials
        self._attempts: Counter[str] = Counter()   # failed user/face syncs since the last plan
        self._problems: dict[str, str] = {}    # DEGRADED reasons by facet
        self._stop = threading.Event()
        self.tracker = SerialTracker(*self._load_position())

    # -- lifecycle -------------------------------------------------------------------------------
    @property
    def address(self) -> tuple[str, int]:
        if self._listener is None:
            raise SitegateError("hik-isapi driver is not listening")
        return self._listener.address

    def run(self, stop: threading.Event) -> None:
        try:
            password = read_secret(self.options["password_file"])
            problem = self.sender.resolve()
            if problem:      # not fatal: the terminal may be renamed in DNS later; pushes wait
                self.log.warning("hik-isapi %s: %s; pushes refused until it does", self.ctx.device_id, problem)
            host, port = split_host_port(str(self.options.get("listen", "127.0.0.1:8089")))
            self._listener = HttpListener(host, port, self)
        except SitegateError as exc:
            self.set_health(HealthState.DOWN, str(exc))
            raise
        self._stop = stop
        self.client = IsapiClient(self.host, str(self.options.get("username", "admin")), password,
                                  verify_tls=bool(self.options.get("verify_tls", True)))
        self.ready.set()
        try:
            self.users.plan(self.ctx.roster())
            self._submit("catch_up", "sync_users")
            self._queue_enrolled_faces()
            self._refresh_health()
            while not stop.is_set():
                self._wake.wait(TICK_S)
                self._wake.clear()
                self.ctx.beat()
                for task in self._due_tasks():
                    if stop.is_set():
                        break
                    self._run_task(task)
                self._maybe_probe()
                self._refresh_health()
        finally:
            self.close()
            self.client.close()

    @property
    def busy(self) -> bool:
        """Searches, user or face writes waiting (tests and ``status`` use it)."""
        with self._lock:
            return bool(self._pending) or self._running_task

    def close(self) -> None:
        listener = self._listener
        if listener is not None:
            listener.close()

    # -- actions ---------------------------------------------------------------------------------
    def push_roster(self, workers) -> None:
        self.users.plan(workers)
        with self._lock:
            self._attempts["sync_users"] = 0
        self._submit("sync_users")
        self._queue_enrolled_faces()

    def _queue_enrolled_faces(self) -> None:
        """The enrolment photos of admitted workers (``ctx.faces``, the site's face store) for the
        terminal's face library; only workers with a PIN (the terminal's employeeNo)."""
        faces = getattr(self.ctx, "faces", None)
        if faces is None:
            return
        try:
            photos = {pin: jpeg for pin, jpeg in faces.photos().items() if isinstance(pin, int)}
        except SitegateError as exc:
            self.log.warning("hik-isapi %s: enrolled faces not read: %s", self.ctx.device_id, exc)
            return
        if photos:
            self.push_faces(photos)

    def push_faces(self, faces: dict[int, bytes]) -> None:
        """Upload face photos (PIN -> JPEG ≤ 200 KB) to the terminal's face library."""
        rejected = self.users.queue_faces(faces)
        for pin, why in rejected.items():
            self._count("faces_rejected")
            self.log.warning("hik-isapi %s: face for PIN %s not sent: %s", self.ctx.device_id, pin, why)
        with self._lock:
            self._attempts["faces"] = 0
        self._submit("faces")

    # -- tasks (run in the driver's own thread) --------------------------------------------------
    def _submit(self, *tasks: str) -> None:
        with self._lock:
            self._pending.update(tasks)
        self._wake.set()

    def _due_tasks(self) -> list[str]:
        now = time.monotonic()
        with self._lock:
            due = [t for t in ("catch_up", "fill_gap", "sync_users", "faces")
                   if t in self._pending and self._retry_at.get(t, 0.0) <= now]
            self._pending.difference_update(due)
        return due

    def _run_task(self, task: str) -> None:
        with self._lock:
            self._running_task = True
        try:
            {"catch_up": self._catch_up, "fill_gap": self._fill_gap, "sync_users": self._sync_users,
             "faces": self._upload_faces}[task]()
            self._heard(problem_cleared=task)
        except AuthRefused as exc:
            with self._lock:
                self._auth_refused = str(exc)
                self._note_gap(task, str(exc))
            self._failed(task, str(exc), terminal_refused=False)
        except DeviceUnavailable as exc:
            with self._lock:
                self._down_reason = str(exc)
                self._note_gap(task, str(exc))
            self._failed(task, str(exc), terminal_refused=False)
        except SitegateError as exc:     # IsapiError, store errors
            with self._lock:
                self._problems[task] = f"{task.replace('_', ' ')}: {exc}"
            self._failed(task, str(exc), terminal_refused=True)
        except _Interrupted:
            with self._lock:
                self._pending.add(task)
        finally:
            with self._lock:
                self._running_task = False

    def _note_gap(self, task: str, reason: str) -> None:
        """A gap that cannot be filled is DEGRADED even while pushes keep the terminal UP."""
        if task == "fill_gap":
            self._problems[task] = f"{len(self.tracker.missing())} event(s) missing, not found yet: {reason}"

    def _failed(self, task: str, reason: str, *, terminal_refused: bool) -> None:
        """Retry later: while the terminal cannot be reached, and catch-up and gap filling until
        they succeed (events are at stake); user and face writes the terminal refused are tried
        ``MAX_WRITE_ATTEMPTS`` times, then not before the next push."""
        self._count(f"{task}_failures")
        with self._lock:
            if terminal_refused:
                self._attempts[task] += 1
            retry = task in ("catch_up", "fill_gap") or self._attempts[task] < MAX_WRITE_ATTEMPTS
            if retry:
                self._pending.add(task)
                self._retry_at[task] = time.monotonic() + self.RETRY_S
        self.log.warning("hik-isapi %s: %s failed%s: %s", self.ctx.device_id, task,
                         f", retrying in {self.RETRY_S:.0f} s" if retry else "; not retried before the next push", reason)

    def _catch_up(self) -> None:
        assert self.client is not None
        self.client.user_count()          # the probe: credentials and reachability first
        with self._lock:
            since = self.tracker.last_time
        now = self._terminal_now()
        if since is None:
            # first start: nothing recorded before, so nothing to catch up; from now on
            with self._lock:
                self.tracker.last_time = now
            self.ctx.set_state("last_time", now.isoformat())
            return
        top = self._search_and_record(since - self.CATCHUP_SLACK, now + timedelta(days=1))
        self._settle(top)

    def _fill_gap(self) -> None:
        with self._lock:
            missing = self.tracker.missing()
            since = self.tracker.last_time
            top = max(self.tracker.ahead) if self.tracker.ahead else None
        if not missing or top is None:
            return
        self._count("gaps", 1)
        now = self._terminal_now()
        start = (since or now - timedelta(days=1)) - self.CATCHUP_SLACK
        self._search_and_record(start, now + timedelta(days=1))
        # every number up to ``top`` existed before the search began, so it was covered
        self._settle(top)

    def _search_and_record(self, start: datetime, end: datetime) -> int | None:
        assert self.client is not None
        top: int | None = None
        for page in self.client.search_events(start, end, self.page_size):
            for why in page.bad:
                self._count("bad_search_items")
                self.log.warning("hik-isapi %s: search item skipped: %s", self.ctx.device_id, mask_text(why))
            for ev in sorted(page.events, key=lambda e: (e.serial_no or 0)):
                self._record(ev, None, via="search")
                if ev.serial_no is not None:
                    top = ev.serial_no if top is None else max(top, ev.serial_no)
            self.ctx.beat()
            if self._stop.is_set():
                raise _Interrupted   # an incomplete search must not settle anything
        return top

    def _settle(self, top: int | None) -> None:
        if top is None:
            return
        with self._lock:
            given_up = self.tracker.settle(top)
            self._problems.pop("fill_gap", None)
        if given_up:
            self._count("serials_not_access_events", len(given_up))
            self.log.info("hik-isapi %s: serialNo %s not in the access event log (door or alarm events)",
                          self.ctx.device_id, _ranges(given_up))
        self._save_position()

    def _sync_users(self) -> None:
        assert self.client is not None
        failures = self.users.sync(self.client)
        self._count("user_writes", self.users.last_writes)
        if failures:
            raise ProtocolError(failures)

    def _upload_faces(self) -> None:
        assert self.client is not None
        failures = self.users.upload_faces(self.client)
        if failures:
            raise ProtocolError(failures)

    def _terminal_now(self) -> datetime:
        return self.ctx.clock.wall().astimezone(codec.BEIJING)

    # -- pushed events ---------------------------------------------------------------------------
    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes, peer: str) -> Reply:
        if not self.sender.allows(peer):
            return self._refuse_foreign(peer)
        if method != "POST":
            return Reply(405, b"POST events here", "text/plain")
        self._count("pushes")
        try:
            event = codec.parse_push(body, headers.get("Content-Type", ""))
        except ProtocolError as exc:
            self._count("bad_pushes")
            self.log.warning("hik-isapi %s: push refused: %s", self.ctx.device_id, mask_text(str(exc)))
            return Reply(400, str(exc).encode(), "text/plain")
        self._heard()
        if event.heartbeat:
            self._count("heartbeats")
            return OK
        if event.access is None:
            self._count(f"other_events.{event.event_type[:32]}")
            return OK
        try:
            self._record(event.access, event.picture, via="push")
        except SitegateError as exc:
            self._count("store_failures")
            self.log.error("hik-isapi %s: event not stored, the terminal will resend it: %s", self.ctx.device_id, exc)
            return Reply(503, b'{"statusCode":6,"statusString":"Store unavailable"}')
        return OK

    def _refuse_foreign(self, peer: str) -> Reply:
        """Anything not from the terminal's address is refused before it is parsed: the push has
        no credential, so any LAN host could otherwise post access events for roster workers."""
        self._count("foreign_pushes")
        with self._lock:
            self.protocol_errors += 1
        if self.sender.first_refusal(peer):
            self.log.warning("hik-isapi %s: refused a push from %s, which is not the terminal %s (%s)",
                             self.ctx.device_id, peer, self.sender.hostname,
                             ", ".join(sorted(self.sender.addresses)) or "not resolved")
        return Reply(403, b"not the terminal", "text/plain")

    def _record(self, ev: codec.AccessEvent, picture: bytes | None, *, via: str) -> None:
        serial = ev.serial_no
        with self._lock:
            repeat = serial is not None and self.tracker.is_recorded(serial)
        if repeat:
            self._count(f"duplicates_{via}")
            return
        obs = observe.observation(self.observation, self.host_key, ev, picture)
        if obs is None:
            self._count(f"not_passages_{via}")
        else:
            outcome = self.ctx.emit(obs)              # durable when it returns
            self._count(f"duplicates_{via}" if outcome.duplicate else f"events_{via}")
        if serial is None:
            return
        with self._lock:
            self.tracker.record(serial, ev.time)
            gap = bool(self.tracker.missing())
        self._save_position()
        if gap and via == "push":
            self._submit("fill_gap")

    def _load_position(self) -> tuple[int | None, datetime | None]:
        last, last_time = self.ctx.state("last_serial"), self.ctx.state("last_time")
        try:
            when = datetime.fromisoformat(last_time) if last_time else None
        except ValueError:
            self.log.warning("hik-isapi %s: stored last_time %r unreadable; no catch-up this time",
                             self.ctx.device_id, last_time)
            when = None
        return (int(last) if last and last.isdigit() else None), when

    def _save_position(self) -> None:
        with self._lock:
            last, last_time = self.tracker.last, self.tracker.last_time
        if last is not None:
            self.ctx.set_state("last_serial", str(last))
        if last_time is not None:
            self.ctx.set_state("last_time", last_time.isoformat())

    # -- health ----------------------------------------------------------------------------------
    def _heard(self, problem_cleared: str | None = None) -> None:
        with self._lock:
            self._last_heard = time.monotonic()
            if problem_cleared is not None:       # a successful authenticated call
                self._down_reason = ""
                self._auth_refused = ""
                self._problems.pop(problem_cleared, None)
                self._attempts[problem_cleared] = 0

    def _maybe_probe(self) -> None:
        now = time.monotonic()
        with self._lock:
            quiet = self._last_heard is None or now - self._last_heard > self.offline_after_s / 2
            every = min(PROBE_EVERY_S, self.offline_after_s / 2)
            due = (quiet or self._down_reason or self._auth_refused) and now - self._last_probe > every
        if not due or self.client is None:
            return
        self._last_probe = now
        try:
            self.client.user_count()
            self._heard(problem_cleared="probe")
        except AuthRefused as exc:
            with self._lock:
                self._auth_refused = str(exc)
        except DeviceUnavailable as exc:
            with self._lock:
                self._down_reason = str(exc)
        except SitegateError as exc:
            with self._lock:
                self._problems["probe"] = f"probe: {exc}"

    def _refresh_health(self) -> None:
        with self._lock:
            down, heard, problems = self._down_reason, self._last_heard, list(self._problems.values())
            refused = self._auth_refused
        if refused:       # events may still be pushed, but nothing can be searched or written
            self.set_health(HealthState.DOWN, refused)
        elif heard is None:
            self.set_health(HealthState.DOWN, down or "waiting for the terminal")
        elif time.monotonic() - heard > self.offline_after_s:
            if not self.health.reason.startswith("silent for"):
                silent = int(time.monotonic() - heard)
                self.set_health(HealthState.DOWN, f"silent for {silent} s" + (f"; {down}" if down else ""))
        elif problems:
            self.set_health(HealthState.DEGRADED, "; ".join(problems))
        else:
            self.set_health(HealthState.UP)

    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.counters[name] += n


class _Interrupted(Exception):
    """The driver is stopping in the middle of a search."""


def _ranges(numbers: list[int]) -> str:
    out, start = [], None
    for i, n in enumerate(numbers):
        if start is None:
            start = n
        if i + 1 == len(numbers) or numbers[i + 1] != n + 1:
            out.append(str(start) if start == n else f"{start}-{n}")
            start = None
    return ", ".join(out[:10]) + (" …" if len(out) > 10 else "")
