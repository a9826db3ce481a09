"""A WG access controller's behaviour without I/O: request packet in, reply packet out.

What the simulator (and so the tests and the demo) run against. Modelled on
reference/protocols.md §2 and on uhppoted's simulator: a privilege table, a clock, a ring of
records whose overwritten entries read back as type 0xFF, a read index, a push target, and the
controller-mode decision on a card swipe (pass 1, no privilege 6, expired/time zone 15).
"""
from __future__ import annotations

import logging
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sitegate.errors import ProtocolError

from .codec import Function, PacketError, decode_packet
from .messages import (
    NEWEST, RECORD_DOOR, RECORD_OVERWRITTEN, RECORD_SWIPE, REQUEST_DECODERS, DeviceInfo, DoorControl, Privilege,
    PushTarget, Record, Status, encode_reply,
)

log = logging.getLogger(__name__)

DEFAULT_CAPACITY = 200_000  # records a real controller keeps
DIRECTION_CODES = {"in": 1, "out": 2}


class RecordRing:
    """Records numbered from 1; only the newest ``capacity`` survive."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY):
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._records: deque[Record] = deque(maxlen=capacity)
        self.newest = 0

    def __len__(self) -> int:
        return len(self._records)

    @property
    def oldest(self) -> int:
        return self._records[0].index if self._records else 0

    def append(self, record: Record) -> Record:
        self.newest += 1
        stored = Record(self.newest, record.type, record.granted, record.door, record.direction, record.card,
                        record.time, record.reason)
        self._records.append(stored)
        return stored

    def get(self, index: int) -> Record:
        """0 = oldest, 0xFFFFFFFF = newest; an overwritten index reads as type 0xFF, a future one as empty."""
        if not self._records:
            return Record(0)
        if index == 0:
            return self._records[0]
        if index == NEWEST:
            return self._records[-1]
        if index < self.oldest:
            return Record(index, RECORD_OVERWRITTEN)
        if index > self.newest:
            return Record(0)
        return self._records[index - self.oldest]


@dataclass(frozen=True)
class RemoteOpen:
    door: int
    time: datetime


class WgController:
    def __init__(self, serial: int, *, capacity: int = DEFAULT_CAPACITY,
                 clock: Callable[[], datetime] = datetime.now, ip: str = "127.0.0.1",
                 mac: str = "00:66:19:00:00:01", version: str = "6.62"):
        self.serial = serial
        self.records = RecordRing(capacity)
        self.privileges: dict[int, Privilege] = {}
        self.door_controls: dict[int, DoorControl] = {}
        self.read_index = 0
        self.push_target: PushTarget | None = None
        self.opens: list[RemoteOpen] = []
        # Called with each RemoteOpen as the 0x40 request is handled (tests check what was on disk
        # at that moment); runs in the serve thread, so it must be quick and must not raise.
        self.on_open: Callable[[RemoteOpen], None] | None = None
        self.counters: Counter = Counter()
        self.info = DeviceInfo(serial, ip, "255.255.255.0", "0.0.0.0", mac, version)
        self._clock = clock
        self._offset = timedelta(0)

    def now(self) -> datetime:
        return (self._clock() + self._offset).replace(microsecond=0, tzinfo=None)

    # -- the wire -----------------------------------------------------------------------------------
    def handle(self, raw: bytes) -> bytes | None:
        """The reply to one request packet; None when there is none (counted in ``counters``)."""
        try:
            packet = decode_packet(raw)
        except PacketError as exc:
            self.counters[f"bad_{exc.kind}"] += 1
            return None
        if packet.serial != self.serial and not (packet.serial == 0 and packet.function == Function.DISCOVER):
            self.counters["not_for_us"] += 1
            return None
        try:
            value = REQUEST_DECODERS[packet.function](packet)
            result = self._operate(packet.function, value)
        except PacketError as exc:
            self.counters[f"bad_{exc.kind}"] += 1
            if exc.kind != "magic":
                return None
            result = False  # a destructive call without its guard is refused, not done
        except ProtocolError as exc:
            self.counters["bad_value"] += 1
            log.debug("controller %d: bad request 0x%02X: %s", self.serial, packet.function, exc)
            return None
        try:
            reply = encode_reply(packet.function, self.serial, result, sequence=packet.sequence, packet_type=packet.type)
        except ProtocolError as exc:  # e.g. a clock set beyond what the reply can carry
            self.counters["unencodable_reply"] += 1
            log.warning("controller %d: cannot answer 0x%02X: %s", self.serial, packet.function, exc)
            return None
        self.counters[f"0x{packet.function:02X}"] += 1
        return reply

    def _operate(self, function: int, value: Any) -> Any:
        f = Function
        if function == f.STATUS:
            return self.status()
        if function == f.SET_TIME:
            self._offset = value - self._clock().replace(microsecond=0, tzinfo=None)
            return self.now()
        if function == f.GET_TIME:
            return self.now()
        if function == f.OPEN_DOOR:
            return self.open_door(value)
        if function == f.PUT_PRIVILEGE:
            if value.card == 0:
                return False
            self.privileges[value.card] = value
            return True
        if function == f.DELETE_PRIVILEGE:
            return self.privileges.pop(value, None) is not None
        if function == f.CLEAR_PRIVILEGES:
            self.privileges.clear()
            return True
        if function == f.PRIVILEGE_COUNT:
            return len(self.privileges)
        if function == f.GET_PRIVILEGE:
            return self.privileges.get(value)
        if function == f.SET_DOOR_CONTROL:
            value.fields()  # refuses a mode or delay the controller does not know, before storing it
            self.door_controls[value.door] = value
            return value
        if function == f.GET_DOOR_CONTROL:
            return self.door_controls.get(value, DoorControl(value))
        if function == f.SET_PUSH_TARGET:
            self.push_target = None if value.host == "0.0.0.0" or value.port == 0 else value
            return True
        if function == f.GET_PUSH_TARGET:
            return self.push_target or PushTarget("0.0.0.0", 0, 0)
        if function == f.DISCOVER:
            return self.info
        if function == f.GET_RECORD:
            return self.records.get(value)
        if function == f.SET_READ_INDEX:
            self.read_index = value
            return True
        if function == f.GET_READ_INDEX:
            return self.read_index
        raise PacketError("function", f"function 0x{function:02X} not simulated")  # pragma: no cover

    # -- what happens at the door -------------------------------------------------------------------
    def status(self) -> Status:
        record = self.records.get(NEWEST) if len(self.records) else Record(0)
        return Status(record, clock=self.now())

    def status_packet(self) -> bytes:
        """What the controller pushes (sequence number 0)."""
        return encode_reply(Function.STATUS, self.serial, self.status())

    def open_door(self, door: int) -> bool:
        when = self.now()
        opened = RemoteOpen(door, when)
        self.opens.append(opened)
        self.records.append(Record(0, RECORD_DOOR, True, door, 1, 0, when, 44))
        if self.on_open is not None:
            self.on_open(opened)
        return True

    def swipe(self, card: int, door: int = 1, direction: str = "in") -> Record:
        """A card at a reader of ``door``: decided like a controller in controller mode."""
        if direction not in DIRECTION_CODES:
            raise ValueError(f"direction must be 'in' or 'out', got {direction!r}")
        if not 1 <= door <= 4:
            raise ValueError(f"door must be 1-4, got {door}")
        when = self.now()
        control = self.door_controls.get(door)
        privilege = self.privileges.get(card)
        if control is not None and control.mode == 2:
            granted, reason = False, 11  # normally closed
        elif control is not None and control.mode == 1:
            granted, reason = True, 1  # normally open
        elif privilege is None or not privilege.doors[door - 1]:
            granted, reason = False, 6
        elif not privilege.valid_on(when.date()):
            granted, reason = False, 15
        else:
            granted, reason = True, 1
        return self.records.append(Record(0, RECORD_SWIPE, granted, door, DIRECTION_CODES[direction], card, when, reason))
