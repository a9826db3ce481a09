"""``wg-udp``: a WG ("微耕") access controller behind a turnstile, over UDP (reference/protocols.md §2).

Two modes (key ``mode``):

- ``controller``: the controller decides from the privileges the gateway puts on it (0x50/0x52,
  see ``privileges``): admitted active workers' cards, valid to their contract end (or a rolling
  ``valid_days``). Every swipe is recorded with the controller's own decision.
- ``online``: no privileges on the controller, so it refuses every card (reason 6, or 5 "under PC
  control") and the gateway decides: the swipe goes through ``ctx.emit`` and, once the event is
  on disk and admitted, the gateway opens the door (0x40). A swipe the gateway learns about too
  late to answer (downloaded after a restart) is recorded as the controller refused it.

Records reach the driver twice: pushed at once (0x20 packets to ``listen``, after 0x90) and in the
gap-free download (0xB4 → 0xB0 … → 0xB2) every ``poll_interval`` and at start (swipes made while
the gateway was off). ``source_key`` = ``serial:index:time`` makes both one event; the read index is
committed only after the records were emitted (durable). The controller clock is set (0x30) at
start and hourly, only from a synchronised gateway clock.

The loop owns the sockets; ``open()`` may come from another thread (calls are serialised) and
``push_roster()`` is queued to the loop. An unanswered controller raises DeviceUnavailable (the
supervisor reconnects with backoff).
"""
from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections import Counter, deque
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sitegate.config.schema import Key, between, host_port, positive, timezone_name
from sitegate.drivers.api import DeviceUnavailable, Driver, HealthState
from sitegate.errors import StoreError

from . import observe, privileges
from .catchup import CatchUp
from .client import WgClient, WgError, WgTimeout
from .clock import ControllerClock
from .codec import DEFAULT_PORT
from .messages import RECORD_ALARM, RECORD_SWIPE, Record
from .push import PushedRecord, PushListener
from .reasons import text as reason_text

log = logging.getLogger(__name__)


def _push_address(value: str) -> str | None:
    problem = host_port(value)
    if problem:
        return problem
    try:
        ip = ipaddress.IPv4Address(value.rpartition(":")[0])
    except ValueError:
        return "is not an IPv4 address and port the controller can send to (e.g. 192.168.1.10:60001)"
    return "names no address the controller can send to (0.0.0.0)" if ip.is_unspecified else None


class _SharedClient(WgClient):
    """Calls come from the loop and from ``open()`` in another thread: one at a time."""

    def __init__(self, *args: Any, **kw: Any):
        super().__init__(*args, **kw)
        self._call_lock = threading.Lock()

    def call(self, function, value=None):
        with self._call_lock:
            return super().call(function, value)


class WgDriver(Driver):
    NAME = "wg-udp"
    DESCRIPTION = "WG (微耕) access controller behind a turnstile: UDP, pushed swipes, gap-free download"
    TRANSPORT = "udp"
    MODE = "push+poll"
    REPORTS_DIRECTION = True
    KEEPS_ROSTER = True
    HEARTBEAT_S = 30.0
    CONFIG_KEYS = {
        "host": Key(str, "the controller's IP address", required=True),
        "port": Key(int, "the controller's UDP port", default=DEFAULT_PORT, check=between(1, 65535)),
        "serial": Key(int, "the controller's serial number (9 digits, on its label)", required=True,
                      check=between(1, 0xFFFFFFFF)),
        "door": Key(int, "this lane's door 1-4: granted in controller mode, opened in online mode", default=1,
                    check=between(1, 4)),
        "mode": Key(str, "controller: it decides from the privileges the gateway puts on it; online: the gateway "
                         "decides every swipe and opens the door", default="controller", choices=("controller", "online")),
        "listen": Key(str, "HOST:PORT the controller pushes swipes to: an address of this gateway it can reach",
                      default="127.0.0.1:0", check=_push_address),
        "push": Key(bool, "have the controller push every swipe at once (otherwise only the periodic download)",
                    default=True),
        "poll_interval": Key((int, float), "seconds between gap-free record downloads", default=2.0, check=positive),
        "timeout": Key((int, float), "seconds to wait for one reply", default=1.0, check=positive),
        "retries": Key(int, "more attempts after an unanswered request", default=3, check=between(0, 10)),
        "valid_days": Key(int, "privilege validity in days for workers without a contract end", default=365,
                          check=between(1, 3650)),
        "timezone": Key(str, "the zone of the controller's clock (record times carry none)", default="Asia/Shanghai",
                        check=timezone_name),
    }
    OPEN_WINDOW_S = 10.0       # a swipe older than this (controller clock) is not answered with an open
    SYNC_CALLS_PER_STEP = 50   # privilege calls between two looks at the push socket
    RECORDS_PER_STEP = 64      # downloaded records between two read-index commits
    PERSIST_EVERY = 1000       # privilege changes between two saves of the pushed table
    CLOCK_EVERY_S = 3600.0
    VERIFY_EVERY_S = 600.0     # privilege count check (hand edits, a cleared controller)
    LOOP_S = 0.2

    def __init__(self, ctx):
        super().__init__(ctx)
        o = {k: spec.default for k, spec in self.CONFIG_KEYS.items()} | dict(self.options)
        self.host, self.port, self.serial = str(o["host"]), int(o["port"]), int(o["serial"])
        self.door, self.mode, self.push = int(o["door"]), str(o["mode"]), bool(o["push"])
        self.listen = str(o["listen"])
        self.poll_interval, self.timeout = float(o["poll_interval"]), float(o["timeout"])
        self.retries, self.valid_days = int(o["retries"]), int(o["valid_days"])
        self.zone = ZoneInfo(str(o["timezone"]))
        self.counters: Counter[str] = Counter()
        self.open_latency_ns: deque[int] = deque(maxlen=100_000)   # push arrival -> 0x40 sent
        self.ready = threading.Event()        # set once the sockets exist (push_address is known)
        self._client: _SharedClient | None = None
        self._listener: PushListener | None = None
        self._closing = threading.Event()
        self._privileges = privileges.PrivilegeKeeper(
            self.serial, ctx.state, ctx.set_state, door=self.door, valid_days=self.valid_days, counters=self.counters,
            persist_every=self.PERSIST_EVERY, calls_per_step=self.SYNC_CALLS_PER_STEP)
        self._catch_up: CatchUp | None = None
        self._handled: deque[str] = deque(maxlen=8192)   # record keys handled in this run
        self._handled_set: set[str] = set()
        self._clock = ControllerClock(self.zone, ctx.clock.wall)
        self._said_unsynced = False
        self._last_alarm: tuple[str, float] | None = None
        self._error_samples: deque[tuple[float, int]] = deque(maxlen=120)

    # -- lifecycle -------------------------------------------------------------------------------
    @property
    def push_address(self) -> tuple[str, int] | None:
        return self._listener.address if self._listener is not None else None

    def run(self, stop: threading.Event) -> None:
        try:
            self._connect()
            self._start_up()
            self._loop(stop)
        except (WgError, OSError) as exc:
            if stop.is_set() or self._closing.is_set():
                return                       # close() cut the sockets: not a device failure
            what = "not answering" if isinstance(exc, WgTimeout) else "failed"
            self.set_health(HealthState.DOWN, f"controller {what}: {exc}")
            raise DeviceUnavailable(f"controller {self.serial} at {self.host}:{self.port} {what}: {exc}") from None
        finally:
            self._privileges.save()
            self.close()

    def close(self) -> None:
        self._closing.set()
        for part in (self._listener, self._client):
            if part is not None:
                part.close()

    def _connect(self) -> None:
        try:
            self._client = _SharedClient(self.host, self.port, self.serial, self.timeout, self.retries)
        except OSError as exc:
            self.set_health(HealthState.DOWN, f"cannot address {self.host}:{self.port}: {exc}")
            raise DeviceUnavailable(f"cannot address {self.host}:{self.port}: {exc}") from None
        self._catch_up = CatchUp(self._client, self.RECORDS_PER_STEP)
        if self.push:
            host, _, port = self.listen.rpartition(":")
            try:
                self._listener = PushListener(host, int(port), serials=[self.serial])
            except OSError as exc:
                self.set_health(HealthState.DOWN, f"cannot listen on {self.listen}: {exc.strerror}")
                raise DeviceUnavailable(f"cannot listen on {self.listen}: {exc.strerror}") from None
        self.ready.set()

    def _start_up(self) -> None:
        client = self._client
        assert client is not None
        self._clock.learn(client.status().clock)
        if self._listener is not None:
            host, port = self._listener.address
            if ipaddress.ip_address(host).is_loopback and not _loopback(self.host):
                log.warning("controller %d at %s cannot push to %s: set listen to this gateway's LAN address",
                            self.serial, self.host, host)
            if not client.set_push_target(host, port, 0):
                raise WgError(f"controller {self.serial} refused the push target {host}:{port}")
        self._set_clock()
        if self.mode == "online":
            self._privileges.clear_all(client)
        else:
            self._privileges.begin(client, self.ctx.roster(), self._today(), verify=True)
        self.set_health(HealthState.UP, self._up_reason())

    def _loop(self, stop: threading.Event) -> None:
        now = time.monotonic()
        next_poll = now                     # catch up at once: swipes made while the gateway was off
        next_clock, next_verify = now + self.CLOCK_EVERY_S, now + self.VERIFY_EVERY_S
        while not stop.is_set():
            self.ctx.beat()
            busy = self._privileges.step(self._client, self._today) if self.mode == "controller" else False
            now = time.monotonic()
            if (self._catch_up is not None and self._catch_up.running) or now >= next_poll:
                if self._catch_up_step():
                    next_poll = time.monotonic() + self.poll_interval
                else:
                    busy = True
            if now >= next_clock:
                next_clock = now + self.CLOCK_EVERY_S
                self._set_clock()
            if now >= next_verify and not self._privileges.syncing and self.mode == "controller":
                next_verify = now + self.VERIFY_EVERY_S
                self._privileges.begin(self._client, self.ctx.roster(), self._today())
            self._refresh_health()
            wait = 0.0 if busy else max(0.0, min(self.LOOP_S, next_poll - time.monotonic()))
            if self._listener is not None:
                self._drain_pushes(wait)
            elif wait:
                stop.wait(wait)

    # -- records ---------------------------------------------------------------------------------
    def _drain_pushes(self, wait: float = 0.0) -> None:
        listener = self._listener
        if listener is None:
            return
        pushed = listener.poll_once(wait)
        while pushed is not None:
            self._on_push(pushed)
            pushed = listener.poll_once(0.0)

    def _on_push(self, pushed: PushedRecord) -> None:
        clock = pushed.status.clock
        self._clock.learn(clock)
        try:
            self._handle(pushed.record, clock or self._clock.now(), pushed.received_ns, pushed=True)
        except StoreError as exc:
            self.counters["not_stored"] += 1
            log.error("controller %d record %d not stored (the download fetches it again): %s", self.serial,
                      pushed.record.index, exc)

    def _catch_up_step(self) -> bool:
        """Download a few records (answering pushes in between); True when the download is done."""
        assert self._catch_up is not None
        try:
            return self._catch_up.step(self._downloaded)
        except StoreError as exc:
            self.counters["not_stored"] += 1
            log.error("controller %d: download stopped, records not stored (tried again in %.0f s): %s",
                      self.serial, self.poll_interval, exc)
            return True

    def _downloaded(self, record: Record) -> None:
        self._handle(record, self._clock.now(), 0, pushed=False)
        self._drain_pushes()         # a swipe arriving meanwhile is answered now, not after the download

    def _handle(self, record: Record, controller_now: datetime | None, received_ns: int, *, pushed: bool) -> None:
        key = observe.record_key(self.serial, record)
        if key in self._handled_set:
            self.counters["records_seen_again"] += 1
            return
        if record.type != RECORD_SWIPE:
            self._door_event(record)
            self._remember(key)
            return
        decides = self.mode == "online" and observe.gateway_decides(record)
        live = decides and self._fresh(record, controller_now, pushed)
        decision = None if live else observe.controller_decision(record, late=decides)
        obs = observe.swipe_observation(self.observation, self.serial, record, self.zone,
                                        device_direction=self.ctx.direction == "device", decision=decision)
        outcome = self.ctx.emit(obs)        # returns once the event is durable
        self._remember(key)
        self.counters["swipes_seen_again" if outcome.duplicate else "swipes"] += 1
        if live and outcome.decision.admitted and not outcome.duplicate:
            door = record.door if 1 <= record.door <= 4 else self.door
            if received_ns:
                self.open_latency_ns.append(time.perf_counter_ns() - received_ns)
            if self._client is not None and self._client.open_door(door):
                self.counters["opens"] += 1
            else:
                self.counters["opens_refused"] += 1
                log.warning("controller %d refused to open door %d", self.serial, door)

    def _fresh(self, record: Record, controller_now: datetime | None, pushed: bool) -> bool:
        if record.time is None or controller_now is None:
            return pushed                  # no clock to judge by: a push comes within moments
        return abs((controller_now - record.time).total_seconds()) <= self.OPEN_WINDOW_S

    def _remember(self, key: str) -> None:
        if len(self._handled) == self._handled.maxlen:
            self._handled_set.discard(self._handled[0])
        self._handled.append(key)
        self._handled_set.add(key)

    def _door_event(self, record: Record) -> None:
        self.counters[f"records_{record.kind}"] += 1
        if record.type == RECORD_ALARM:
            text = f"{reason_text(record.reason)} at door {record.door}"
            self._last_alarm = (text, time.monotonic())
            log.warning("controller %d alarm: %s (%s)", self.serial, text, record.time)

    # -- clock -----------------------------------------------------------------------------------
    def _set_clock(self) -> None:
        if not self.ctx.clock_synced():
            self.counters["clock_not_set_unsynced"] += 1
            if not self._said_unsynced:
                self._said_unsynced = True
                log.info("controller %d clock left alone: the gateway clock is not synchronised", self.serial)
            return
        assert self._client is not None
        drift = self._clock.set(self._client)
        self.counters["clock_set"] += 1
        if drift is not None and abs(drift) > 2:
            log.info("controller %d clock was %+.0f s off; set", self.serial, drift)

    def _today(self):
        return self._clock.today(self.ctx.clock_synced())

    # -- roster (controller mode) ----------------------------------------------------------------
    def push_roster(self, workers) -> None:
        """Called by the daemon (another thread) whenever the roster changes: queued to the loop."""
        self._privileges.request(workers)

    # -- actions ---------------------------------------------------------------------------------
    def open(self, direction=None) -> None:
        """Remote open (0x40) of the configured door; ``direction`` is not used (one door per lane)."""
        client = self._client
        if client is None or self._closing.is_set():
            raise DeviceUnavailable(f"controller {self.serial} is not connected")
        try:
            ok = client.open_door(self.door)
        except (WgError, OSError) as exc:
            raise DeviceUnavailable(f"controller {self.serial}: open door {self.door} failed: {exc}") from None
        if not ok:
            raise WgError(f"controller {self.serial} refused to open door {self.door}")
        self.counters["opens"] += 1

    def deny(self, reason: str) -> None:
        """The controller refuses on its own (its reader beeps); it has no voice or display to drive."""

    @classmethod
    def probe(cls, options: dict[str, Any], timeout: float = 3.0) -> str | None:
        host, port = options.get("host"), int(options.get("port") or DEFAULT_PORT)
        serial = int(options.get("serial") or 0)
        try:
            with WgClient(str(host), port, serial, timeout=timeout / 2, retries=1) as client:
                client.status()
        except (WgError, OSError) as exc:
            return f"controller {serial} at {host}:{port} did not answer a status request (0x20): {exc}"
        return None

    # -- health ----------------------------------------------------------------------------------
    def _up_reason(self) -> str:
        via = f"pushes to {self.listen.rpartition(':')[0]}:{self.push_address[1]}" if self.push_address else "polling"
        return f"{self.mode} mode, {via}"

    def _refresh_health(self) -> None:
        client, listener = self._client, self._listener
        errors = (client.counters.bad_packets + client.counters.foreign_packets if client else 0) + \
                 (listener.counters.bad_packets + listener.counters.foreign if listener else 0)
        self.protocol_errors = errors
        now = time.monotonic()
        if not self._error_samples or now - self._error_samples[-1][0] >= 1.0:
            self._error_samples.append((now, errors))
        recent = errors - next((n for t, n in self._error_samples if now - t <= 60.0), errors)
        notes = []
        if self._privileges.syncing:
            notes.append("putting privileges on the controller")
        if client is not None and client.counters.records_lost:
            notes.append(f"{client.counters.records_lost} record(s) overwritten before download")
        if self._last_alarm and now - self._last_alarm[1] < 3600:
            notes.append(f"alarm: {self._last_alarm[0]}")
        state = HealthState.UP
        if self._privileges.refused:
            state = HealthState.DEGRADED
            notes.insert(0, f"controller refused {len(self._privileges.refused)} privilege(s) (memory full?)")
        if recent > 30:
            state = HealthState.DEGRADED
            notes.insert(0, f"noisy link: {recent} bad packets in the last minute")
        self.set_health(state, "; ".join([self._up_reason(), *notes]))


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
