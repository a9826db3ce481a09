"""Every WG controller operation: its request and reply, both directions, in one table.

Field offsets are absolute packet offsets, as in reference/protocols.md §2 (and uhppote-core's
``messages/*.go``). ``OPERATIONS`` maps a function code to its request and reply shapes;
``REPLY_DECODERS`` is the "function code -> decoder" table the client and push listener use.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

from . import reasons
from .bcd import (
    BcdError, decode_date, decode_datetime, decode_short_date, decode_time, decode_version, encode_date,
    encode_datetime, encode_short_date, encode_time, encode_version,
)
from .codec import MAGIC, TYPE, Function, Packet, PacketError, decode_packet, encode_packet, u16, u32

RECORD_NONE, RECORD_SWIPE, RECORD_DOOR, RECORD_ALARM, RECORD_OVERWRITTEN = 0, 1, 2, 3, 0xFF
RECORD_KINDS = {0: "none", 1: "swipe", 2: "door", 3: "alarm", 0xFF: "overwritten"}
DIRECTIONS = {1: "in", 2: "out"}
NEWEST = 0xFFFFFFFF  # 0xB0 index meaning "the newest record"; 0 means "the oldest"


def _door(value: int) -> int:
    if not 1 <= value <= 4:
        raise PacketError("value", f"door {value} is not 1-4")
    return value


def _ipv4(raw: bytes) -> str:
    return str(ipaddress.IPv4Address(raw))


def _ipv4_bytes(host: str) -> bytes:
    try:
        return ipaddress.IPv4Address(host).packed
    except ValueError:
        raise PacketError("value", f"{host!r} is not an IPv4 address") from None


@dataclass(frozen=True)
class Record:
    """One stored event (0x20 and 0xB0 replies, bytes 8-27)."""

    index: int
    type: int = RECORD_NONE
    granted: bool = False
    door: int = 0
    direction: int = 0
    card: int = 0
    time: datetime | None = None
    reason: int = 0
    bad_time: str = ""  # hex of a timestamp that is not a real date-time (time is then None)

    @property
    def kind(self) -> str:
        return RECORD_KINDS.get(self.type, f"type 0x{self.type:02X}")

    @property
    def direction_name(self) -> str:
        return DIRECTIONS.get(self.direction, f"?{self.direction}")

    @property
    def reason_text(self) -> str:
        return reasons.text(self.reason)

    @property
    def category(self) -> str:
        return reasons.category(self.reason)

    @property
    def exists(self) -> bool:
        return self.type not in (RECORD_NONE, RECORD_OVERWRITTEN)

    def fields(self) -> dict[int, bytes]:
        return {8: u32(self.index), 12: bytes((self.type, 1 if self.granted else 0, self.door, self.direction)),
                16: u32(self.card), 20: encode_datetime(self.time), 27: bytes((self.reason,))}

    @classmethod
    def from_packet(cls, p: Packet) -> Record:
        raw_time = p.at(20, 7)
        try:
            when, bad = decode_datetime(raw_time), ""
        except BcdError:
            # Keep the record (it may be someone's pass); the time is flagged, not invented.
            when, bad = None, raw_time.hex()
        return cls(p.u32(8), p.raw[12], p.raw[13] == 1, p.raw[14], p.raw[15], p.u32(16), when, p.raw[27], bad)


@dataclass(frozen=True)
class Status:
    """0x20 reply, also what the controller pushes: the newest record plus the controller state."""

    record: Record
    doors_open: tuple[bool, bool, bool, bool] = (False,) * 4
    buttons: tuple[bool, bool, bool, bool] = (False,) * 4
    fault: int = 0
    clock: datetime | None = None
    relays: int = 0

    def fields(self) -> dict[int, bytes]:
        f = self.record.fields()
        f[28] = bytes(int(b) for b in self.doors_open)
        f[32] = bytes(int(b) for b in self.buttons)
        f[36] = bytes((self.fault,))
        if self.clock is not None and 2000 <= self.clock.year <= 2099:  # two-digit BCD year on the wire
            f[37] = encode_time(self.clock.time())
            f[51] = encode_short_date(self.clock.date())
        f[49] = bytes((self.relays,))
        return f

    @classmethod
    def from_packet(cls, p: Packet) -> Status:
        try:
            day, hms = decode_short_date(p.at(51, 3)), decode_time(p.at(37, 3))
            clock = datetime.combine(day, hms) if day else None
        except BcdError:
            clock = None  # informational only; the record carries its own time
        return cls(Record.from_packet(p), tuple(b == 1 for b in p.at(28, 4)), tuple(b == 1 for b in p.at(32, 4)),
                   p.raw[36], clock, p.raw[49])


@dataclass(frozen=True)
class Privilege:
    """A card's right to pass: 0x50 request, 0x5A reply."""

    card: int
    valid_from: date | None = None
    valid_to: date | None = None
    doors: tuple[bool, bool, bool, bool] = (True, False, False, False)

    def allows(self, door: int, day: date) -> bool:
        return self.doors[door - 1] and self.valid_on(day)

    def valid_on(self, day: date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (self.valid_to is None or day <= self.valid_to)

    def fields(self) -> dict[int, bytes]:
        if len(self.doors) != 4:
            raise PacketError("value", f"a privilege names 4 doors, got {len(self.doors)}")
        return {8: u32(self.card), 12: encode_date(self.valid_from), 16: encode_date(self.valid_to),
                20: bytes(int(bool(d)) for d in self.doors)}

    @classmethod
    def from_packet(cls, p: Packet) -> Privilege:
        return cls(p.u32(8), decode_date(p.at(12, 4)), decode_date(p.at(16, 4)), tuple(b == 1 for b in p.at(20, 4)))


@dataclass(frozen=True)
class DoorControl:
    door: int
    mode: int = 3  # 1 normally open, 2 normally closed, 3 controlled
    delay: int = 3  # seconds the lock stays open

    def fields(self) -> dict[int, bytes]:
        if self.mode not in (1, 2, 3) or not 0 <= self.delay <= 255:
            raise PacketError("value", f"door mode {self.mode} / delay {self.delay} out of range")
        return {8: bytes((_door(self.door), self.mode, self.delay))}

    @classmethod
    def from_packet(cls, p: Packet) -> DoorControl:
        return cls(_door(p.raw[8]), p.raw[9], p.raw[10])


@dataclass(frozen=True)
class PushTarget:
    """Where the controller pushes its 0x20 packets; 0.0.0.0:0 means nowhere."""

    host: str
    port: int
    interval: int = 0  # seconds between status pushes, 0 = only on events

    def fields(self) -> dict[int, bytes]:
        if not 0 <= self.interval <= 255:
            raise PacketError("value", f"push interval {self.interval} is not 0-255 s")
        return {8: _ipv4_bytes(self.host), 12: u16(self.port), 14: bytes((self.interval,))}

    @classmethod
    def from_packet(cls, p: Packet) -> PushTarget:
        return cls(_ipv4(p.at(8, 4)), p.u16(12), p.raw[14])


@dataclass(frozen=True)
class DeviceInfo:
    """0x94 (discover) reply."""

    serial: int
    ip: str
    netmask: str
    gateway: str
    mac: str
    version: str

    def fields(self) -> dict[int, bytes]:
        try:
            mac = bytes.fromhex(self.mac.replace(":", ""))
        except ValueError:
            mac = b""
        if len(mac) != 6:
            raise PacketError("value", f"MAC {self.mac!r} is not six hex bytes")
        return {8: _ipv4_bytes(self.ip), 12: _ipv4_bytes(self.netmask), 16: _ipv4_bytes(self.gateway), 20: mac,
                26: encode_version(self.version)}

    @classmethod
    def from_packet(cls, p: Packet) -> DeviceInfo:
        return cls(p.serial, _ipv4(p.at(8, 4)), _ipv4(p.at(12, 4)), _ipv4(p.at(16, 4)), p.at(20, 6).hex(":"),
                   decode_version(p.at(26, 2)))


# -- shapes: how one value sits in a packet -------------------------------------------------------
class Shape(NamedTuple):
    encode: Callable[[Any], dict[int, bytes]]
    decode: Callable[[Packet], Any]


def _magic(p: Packet, offset: int) -> None:
    if p.at(offset, 4) != MAGIC:
        raise PacketError("magic", f"destructive call 0x{p.function:02X} without the 55 AA AA 55 guard")


def _guarded_clear(p: Packet) -> None:
    _magic(p, 8)


def _guarded_index(p: Packet) -> int:
    _magic(p, 12)
    return p.u32(8)


def _privilege_or_none(p: Packet) -> Privilege | None:
    return None if p.u32(8) == 0 else Privilege.from_packet(p)


def _datetime(p: Packet) -> datetime:
    value = decode_datetime(p.at(8, 7))
    if value is None:
        raise PacketError("value", "the clock field is empty")
    return value


NONE = Shape(lambda _v: {}, lambda _p: None)
OK = Shape(lambda ok: {8: b"\x01" if ok else b"\x00"}, lambda p: p.raw[8] == 1)
U32 = Shape(lambda v: {8: u32(v)}, lambda p: p.u32(8))
DOOR = Shape(lambda d: {8: bytes((_door(d),))}, lambda p: _door(p.raw[8]))
DATETIME = Shape(lambda dt: {8: encode_datetime(dt)}, _datetime)
CLEAR = Shape(lambda _v: {8: MAGIC}, _guarded_clear)
READ_INDEX = Shape(lambda i: {8: u32(i), 12: MAGIC}, _guarded_index)
PRIVILEGE = Shape(lambda v: v.fields(), Privilege.from_packet)
PRIVILEGE_OR_NONE = Shape(lambda v: v.fields() if v is not None else {}, _privilege_or_none)
RECORD = Shape(lambda v: v.fields(), Record.from_packet)
STATUS = Shape(lambda v: v.fields(), Status.from_packet)
DOOR_CONTROL = Shape(lambda v: v.fields(), DoorControl.from_packet)
PUSH_TARGET = Shape(lambda v: v.fields(), PushTarget.from_packet)
DEVICE_INFO = Shape(lambda v: v.fields(), DeviceInfo.from_packet)


class Operation(NamedTuple):
    request: Shape
    reply: Shape


OPERATIONS: dict[int, Operation] = {
    Function.STATUS: Operation(NONE, STATUS),
    Function.SET_TIME: Operation(DATETIME, DATETIME),
    Function.GET_TIME: Operation(NONE, DATETIME),
    Function.OPEN_DOOR: Operation(DOOR, OK),
    Function.PUT_PRIVILEGE: Operation(PRIVILEGE, OK),
    Function.DELETE_PRIVILEGE: Operation(U32, OK),
    Function.CLEAR_PRIVILEGES: Operation(CLEAR, OK),
    Function.PRIVILEGE_COUNT: Operation(NONE, U32),
    Function.GET_PRIVILEGE: Operation(U32, PRIVILEGE_OR_NONE),
    Function.SET_DOOR_CONTROL: Operation(DOOR_CONTROL, DOOR_CONTROL),
    Function.GET_DOOR_CONTROL: Operation(DOOR, DOOR_CONTROL),
    Function.SET_PUSH_TARGET: Operation(PUSH_TARGET, OK),
    Function.GET_PUSH_TARGET: Operation(NONE, PUSH_TARGET),
    Function.DISCOVER: Operation(NONE, DEVICE_INFO),
    Function.GET_RECORD: Operation(U32, RECORD),
    Function.SET_READ_INDEX: Operation(READ_INDEX, OK),
    Function.GET_READ_INDEX: Operation(NONE, U32),
}
REPLY_DECODERS: dict[int, Callable[[Packet], Any]] = {f: op.reply.decode for f, op in OPERATIONS.items()}
REQUEST_DECODERS: dict[int, Callable[[Packet], Any]] = {f: op.request.decode for f, op in OPERATIONS.items()}


def encode_request(function: int, serial: int, value: Any = None, *, sequence: int = 0,
                   packet_type: int = TYPE) -> bytes:
    return encode_packet(function, serial, OPERATIONS[function].request.encode(value), sequence=sequence,
                         packet_type=packet_type)


def encode_reply(function: int, serial: int, value: Any = None, *, sequence: int = 0, packet_type: int = TYPE) -> bytes:
    return encode_packet(function, serial, OPERATIONS[function].reply.encode(value), sequence=sequence,
                         packet_type=packet_type)


def decode_request(raw: bytes, *, serial: int | None = None) -> tuple[Packet, Any]:
    packet = decode_packet(raw, serial=serial)
    return packet, REQUEST_DECODERS[packet.function](packet)


def decode_reply(raw: bytes, *, function: int | None = None, serial: int | None = None) -> tuple[Packet, Any]:
    packet = decode_packet(raw, serial=serial, function=function)
    return packet, REPLY_DECODERS[packet.function](packet)


__all__ = [
    "Record", "Status", "Privilege", "DoorControl", "PushTarget", "DeviceInfo", "OPERATIONS", "REPLY_DECODERS",
    "encode_request", "encode_reply", "decode_request", "decode_reply", "NEWEST",
]
