"""The driver API: what every device driver implements and what it may call.

A driver turns device bytes into ``Observation``s and obeys actions (open, deny, roster push). It
knows nothing of the platform, the store or the roster's storage. The supervisor runs each device
in its own thread; the driver's ``run`` loop hands every observation to ``ctx.emit`` and gets the
gate's decision back only after the event is durable, so what it then tells the device (OK, open,
deny) never gets ahead of the disk.

    class MyReader(Driver):
        NAME = "my-reader"
        DESCRIPTION = "Wiegand-to-serial card reader, one card number per line"
        TRANSPORT = "serial"
        MODE = "push"
        CONFIG_KEYS = {"port": Key(str, "serial device", required=True)}

        def run(self, stop):
            with serial.Serial(self.options["port"], timeout=0.5) as port:
                self.set_health(UP)
                while not stop.is_set():
                    line = port.readline()
                    ...
                    decision = self.ctx.emit(self.observation(credential=Credential(CARD, number)))

Drivers raise only sitegate's own errors (``ProtocolError`` for bad bytes, ``DeviceUnavailable``
when the device is gone) and close what they opened in ``finally``. Third-party drivers register a
``Driver`` subclass under the entry-point group ``sitegate.drivers``.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Callable, ClassVar

from sitegate.clock import Clock, Stamp
from sitegate.config.schema import Key
from sitegate.errors import SitegateError
from sitegate.model import Direction, GateDecision, Location, Method

if TYPE_CHECKING:
    from sitegate.buffer.faces import FaceStore
    from sitegate.buffer.roster import Worker


class DeviceUnavailable(SitegateError):
    """The device is unplugged, unreachable or not answering: the supervisor retries with backoff."""


class CredentialKind(StrEnum):
    CARD = "card"              # access / real-name card number (decimal, as the controller reports it)
    ID_NUMBER = "id_number"    # resident ID number read from the card itself
    PIN = "pin"                # the device's user number (face terminals keep their own user list)
    WORKER = "worker"          # already resolved to a worker's ID number (face engine, phone key)
    FACE = "face"              # a face nobody on the roster matched (value: the track, for the log)


@dataclass(frozen=True)
class Credential:
    kind: CredentialKind
    value: str


@dataclass(frozen=True)
class IdentityDoc:
    """What an ID card itself says (resident ID, HK/Macau/Taiwan or foreigner's permit)."""

    id_number: str
    name: str
    id_card_type: str = "01"
    valid_to: str | None = None        # YYYY-MM-DD, None = long-term (长期)
    expired: bool = False


@dataclass(frozen=True)
class Observation:
    """One thing a device saw: who, where, when, and how sure."""

    device_id: str
    credential: Credential
    method: Method
    received: Stamp                              # gateway clocks when it arrived
    lane: str = ""
    direction: Direction | None = None           # None: take the device's configured direction
    device_time: datetime | None = None          # the device's own clock, if it reported one
    device_decision: GateDecision | None = None  # set when the device already decided (controller mode)
    identity: IdentityDoc | None = None          # from an ID-card read
    photo: bytes | None = None                   # JPEG
    location: Location | None = None
    source_key: str | None = None                # the device's own record key (serialNo, index, stamp)
    extra: dict[str, Any] = field(default_factory=dict)


class HealthState(StrEnum):
    UP = "up"
    DEGRADED = "degraded"
    DOWN = "down"


@dataclass(frozen=True)
class Health:
    state: HealthState
    reason: str = ""
    since: float = field(default_factory=time.time)


@dataclass(frozen=True)
class Outcome:
    """What ``ctx.emit`` returns: the decision, and whether it made a new event."""

    decision: GateDecision
    event_id: str | None          # None when nothing new was recorded (a repeat or a resend)
    worker: "Worker | None" = None
    duplicate: bool = False       # the device resent something already recorded


class DriverContext:
    """What the gateway gives a driver. Tests make one with their own ``emit``."""

    def __init__(self, *, device_id: str, lane: str, direction: str, options: dict[str, Any],
                 emit: Callable[[Observation], Outcome], clock: Clock | None = None,
                 state_get: Callable[[str], str | None] | None = None,
                 state_set: Callable[[str, str], None] | None = None,
                 roster: Callable[[], list["Worker"]] | None = None,
                 clock_synced: Callable[[], bool] | None = None, faces: "FaceStore | None" = None):
        self.device_id = device_id
        self.lane = lane
        self.direction = direction
        self.options = options
        self.clock = clock or Clock()
        self._emit = emit
        self._state: dict[str, str] = {}
        self._state_get = state_get or self._state.get
        self._state_set = state_set or self._state.__setitem__
        self._roster = roster or (lambda: [])
        self._clock_synced = clock_synced or (lambda: self.clock.now().synced)
        # enrolled faces (encrypted store): the camera's gallery, photos for face terminals; None: none kept
        self.faces = faces
        self.log = logging.getLogger(f"sitegate.device.{device_id}")
        self.last_beat = time.monotonic()

    def emit(self, obs: Observation) -> Outcome:
        """Record an observation; returns once the event is durable (or known to be a repeat)."""
        self.beat()
        return self._emit(obs)

    def beat(self) -> None:
        """The driver's loop is alive (the supervisor restarts a driver that stops beating)."""
        self.last_beat = time.monotonic()

    # small persistent state per device: stamps, read indexes (kept in the store's kv table)
    def state(self, key: str, default: str | None = None) -> str | None:
        value = self._state_get(f"device.{self.device_id}.{key}")
        return default if value is None else value

    def set_state(self, key: str, value: str) -> None:
        self._state_set(f"device.{self.device_id}.{key}", value)

    def roster(self) -> list["Worker"]:
        """Active workers, for devices that keep their own user list."""
        return self._roster()

    def clock_synced(self) -> bool:
        """Device clocks are set only from a synchronised gateway clock."""
        return self._clock_synced()


class Driver:
    """Base class. Subclasses set the class attributes and implement ``run``."""

    NAME: ClassVar[str] = ""
    DESCRIPTION: ClassVar[str] = ""
    TRANSPORT: ClassVar[str] = ""              # serial | udp | tcp | http | camera | …
    MODE: ClassVar[str] = "poll"               # poll | push
    CONFIG_KEYS: ClassVar[dict[str, Key]] = {}
    REPORTS_DIRECTION: ClassVar[bool] = False  # may be configured with direction = "device"
    KEEPS_ROSTER: ClassVar[bool] = False       # wants push_roster()
    HEARTBEAT_S: ClassVar[float] = 60.0        # run() must beat at least this often

    def __init__(self, ctx: DriverContext):
        self.ctx = ctx
        self.options = ctx.options
        self.log = ctx.log
        self._health = Health(HealthState.DOWN, "not started")
        self._health_lock = threading.Lock()
        self.protocol_errors = 0   # bad frames/lines/bodies seen (counted, skipped); the kit checks it

    # -- lifecycle: the supervisor calls these ------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """The device loop. Return when ``stop`` is set; raise to be restarted with backoff."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what ``run`` opened, from another thread (unblocks a hung read). Idempotent."""

    # -- actions: the gateway calls these ------------------------------------------------------
    def open(self, direction: Direction | None = None) -> None:
        """Open the lane (online mode). Drivers of devices that cannot be opened remotely ignore it."""

    def deny(self, reason: str) -> None:
        """Tell the person at the gate no (voice, LED) where the device can."""

    def push_roster(self, workers: list["Worker"]) -> None:
        """Make the device's own user list match ``workers`` (admitted, active workers)."""

    @classmethod
    def probe(cls, options: dict[str, Any], timeout: float = 3.0) -> str | None:
        """For ``sitegate doctor``: is the device there? Returns what is wrong, or None when it
        answered (or the driver cannot tell without running; then say so in ``PROBE_NOTE``)."""
        return None

    PROBE_NOTE: ClassVar[str] = "this driver has no reachability check"

    # -- health -------------------------------------------------------------------------------
    @property
    def health(self) -> Health:
        return self._health

    def set_health(self, state: HealthState, reason: str = "") -> None:
        """Log a change of state once ("lost" / "back"), not every retry."""
        with self._health_lock:
            old = self._health
            if old.state == state and old.reason == reason:
                return
            self._health = Health(state, reason)
        if state == HealthState.UP and old.state != HealthState.UP:
            self.log.info("device %s is up%s", self.ctx.device_id, f" ({reason})" if reason else "")
        elif state != HealthState.UP and old.state == HealthState.UP:
            self.log.warning("device %s is %s: %s", self.ctx.device_id, state.value, reason)

    # -- helpers for subclasses ---------------------------------------------------------------
    def observation(self, credential: Credential, method: Method, **kw) -> Observation:
        """An Observation stamped now, with this device's id and lane."""
        kw.setdefault("lane", self.ctx.lane)
        return Observation(device_id=self.ctx.device_id, credential=credential, method=method,
                           received=self.ctx.clock.now(), **kw)

    @classmethod
    def describe(cls) -> dict[str, Any]:
        return {
            "name": cls.NAME, "description": cls.DESCRIPTION, "transport": cls.TRANSPORT, "mode": cls.MODE,
            "reports_direction": cls.REPORTS_DIRECTION, "keeps_roster": cls.KEEPS_ROSTER,
            "keys": {k: {"type": _tname(v.type), "required": v.required, "default": v.default, "help": v.help,
                         **({"choices": list(v.choices)} if v.choices else {})}
                     for k, v in cls.CONFIG_KEYS.items()},
        }


def _tname(t) -> str:
    return "|".join(x.__name__ for x in t) if isinstance(t, tuple) else t.__name__
