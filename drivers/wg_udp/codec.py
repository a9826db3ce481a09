"""The WG ("微耕") access controller's 64-byte UDP packet: header, sequence number, validation.

Pure functions, no I/O. Layout (reference/protocols.md §2; vendor WGController32 samples,
uhppoted/uhppote-core ``messages/message.go``)::

    0 type 0x17 (0x19 before firmware 6.56) | 1 function | 2-3 00 00 | 4-7 serial u32 LE
    8-39 data | 40-43 sequence number u32 LE (echoed) | 44-63 zero (status replies use 48-53)

Messages place their fields at absolute offsets (as the reference lists them), see messages.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from sitegate.errors import ProtocolError

PACKET_SIZE = 64
TYPE = 0x17
LEGACY_TYPE = 0x19
TYPES = frozenset({TYPE, LEGACY_TYPE})
SEQUENCE_OFFSET = 40
MAGIC = b"\x55\xAA\xAA\x55"  # guards destructive calls (0x54 clear, 0xB2 set read index)
DEFAULT_PORT = 60000


class Function(IntEnum):
    STATUS = 0x20
    SET_TIME = 0x30
    GET_TIME = 0x32
    OPEN_DOOR = 0x40
    PUT_PRIVILEGE = 0x50
    DELETE_PRIVILEGE = 0x52
    CLEAR_PRIVILEGES = 0x54
    PRIVILEGE_COUNT = 0x58
    GET_PRIVILEGE = 0x5A
    SET_DOOR_CONTROL = 0x80
    GET_DOOR_CONTROL = 0x82
    SET_PUSH_TARGET = 0x90
    GET_PUSH_TARGET = 0x92
    DISCOVER = 0x94
    GET_RECORD = 0xB0
    SET_READ_INDEX = 0xB2
    GET_READ_INDEX = 0xB4


class PacketError(ProtocolError):
    """A packet that breaks the protocol. ``kind``: 'length', 'type', 'function', 'serial',
    'magic' or 'value' (a field that cannot be decoded)."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Packet:
    type: int
    function: int
    serial: int
    sequence: int
    raw: bytes  # all 64 bytes, for fields at absolute offsets

    def at(self, offset: int, size: int) -> bytes:
        return self.raw[offset:offset + size]

    def u32(self, offset: int) -> int:
        return int.from_bytes(self.raw[offset:offset + 4], "little")

    def u16(self, offset: int) -> int:
        return int.from_bytes(self.raw[offset:offset + 2], "little")


def u32(value: int) -> bytes:
    if not 0 <= value <= 0xFFFFFFFF:
        raise PacketError("value", f"{value} does not fit an unsigned 32-bit field")
    return value.to_bytes(4, "little")


def u16(value: int) -> bytes:
    if not 0 <= value <= 0xFFFF:
        raise PacketError("value", f"{value} does not fit an unsigned 16-bit field")
    return value.to_bytes(2, "little")


def encode_packet(function: int, serial: int, fields: dict[int, bytes] | None = None, *,
                  sequence: int = 0, packet_type: int = TYPE) -> bytes:
    """A 64-byte packet; ``fields`` maps absolute offsets (8..63, not 40..43) to their bytes."""
    raw = bytearray(PACKET_SIZE)
    raw[0] = packet_type
    raw[1] = function
    raw[4:8] = u32(serial)
    raw[SEQUENCE_OFFSET:SEQUENCE_OFFSET + 4] = u32(sequence)
    for offset, value in (fields or {}).items():
        end = offset + len(value)
        if offset < 8 or end > PACKET_SIZE or (offset < SEQUENCE_OFFSET + 4 and end > SEQUENCE_OFFSET):
            raise PacketError("value", f"field at {offset}..{end} overlaps the header or sequence number")
        raw[offset:end] = value
    return bytes(raw)


def decode_packet(raw: bytes, *, serial: int | None = None, function: int | None = None) -> Packet:
    """Check a received packet's size, type, function (and expected serial/function)."""
    if not isinstance(raw, (bytes, bytearray, memoryview)):
        raise PacketError("type", f"a packet must be bytes, got {type(raw).__name__}")
    raw = bytes(raw)
    if len(raw) != PACKET_SIZE:
        raise PacketError("length", f"WG packet must be {PACKET_SIZE} bytes, got {len(raw)}")
    if raw[0] not in TYPES:
        raise PacketError("type", f"packet type 0x{raw[0]:02X} is not 0x17 or 0x19")
    code = raw[1]
    if code not in Function._value2member_map_:
        raise PacketError("function", f"unknown function 0x{code:02X}")
    if function is not None and code != function:
        raise PacketError("function", f"function 0x{code:02X}, expected 0x{function:02X}")
    packet = Packet(raw[0], code, int.from_bytes(raw[4:8], "little"),
                    int.from_bytes(raw[SEQUENCE_OFFSET:SEQUENCE_OFFSET + 4], "little"), raw)
    if serial is not None and packet.serial != serial:
        raise PacketError("serial", f"packet from controller {packet.serial}, expected {serial}")
    return packet
