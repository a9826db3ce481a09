"""Frames of the resident ID-card reader (SAM module) serial protocol: build, parse, resynchronise.

Pure functions and dataclasses, no I/O. Wire facts from reference/protocols.md §1 (sources:
HslCommunication ``SAMSerial``, hevz/hev-idcard-reader, YinanSoft SerialReader, libsamv.h)::

    request  AA AA AA 96 69 | LEN(2, BE) | CMD PARA | DATA… | CHK
    reply    AA AA AA 96 69 | LEN(2, BE) | SW1 SW2 SW3 | DATA… | CHK

LEN counts everything after itself up to and including CHK; CHK is the XOR of every byte from
the first LEN byte through the last DATA byte. The same framing carries both directions, so one
``FrameParser`` serves the reader client (replies) and the simulator (requests).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import Enum
from functools import reduce
from operator import xor

from sitegate.errors import ProtocolError

PREAMBLE = b"\xAA\xAA\xAA\x96\x69"
HEADER_SIZE = len(PREAMBLE) + 2  # preamble + LEN
MIN_LEN = 3  # CMD PARA CHK (a reply needs 4: SW1 SW2 SW3 CHK)
# The biggest real frame is the 30 10 reply: SW 3 + lengths 6 + text 256 + photo 1024 +
# fingerprints 2×512 + CHK 1 = 2314 (0x090A). Anything above this cap is line noise.
MAX_LEN = 0x0A00


class Command(bytes, Enum):
    """CMD PARA of every request the reader understands."""

    SAM_STATUS = b"\x11\xFF"
    SAM_ID = b"\x12\xFF"
    RESET_SAM = b"\x10\xFF"  # (unconfirmed in the reference)
    FIND_CARD = b"\x20\x01"
    SELECT_CARD = b"\x20\x02"
    READ_TEXT_PHOTO = b"\x30\x01"
    READ_TEXT_PHOTO_FINGERPRINT = b"\x30\x10"
    READ_APPENDED_ADDRESS = b"\x30\x03"
    SET_MAX_RF_FRAME = b"\x61\xFF"


class ParseError(ProtocolError):
    """Bytes that are not a valid frame. Returned (not raised) by ``FrameParser.feed``.

    ``kind``: 'garbage' (no preamble), 'length' (LEN outside MIN_LEN..MAX_LEN), 'checksum',
    'truncated' (stream ended inside a frame); ``offset``: stream position of the first bad byte;
    ``data``: the skipped bytes (at most 64 kept, for a hex dump in the log).
    """

    def __init__(self, kind: str, message: str, offset: int = 0, data: bytes = b"", skipped: int | None = None):
        super().__init__(message)
        self.kind = kind
        self.offset = offset
        self.skipped = len(data) if skipped is None else skipped
        self.data = bytes(data[:64])


@dataclass(frozen=True)
class Frame:
    """One frame with a correct checksum; ``payload`` is everything between LEN and CHK."""

    payload: bytes
    offset: int = 0  # stream position of the preamble's first byte

    @property
    def size(self) -> int:
        return HEADER_SIZE + len(self.payload) + 1


@dataclass(frozen=True)
class Reply:
    sw1: int
    sw2: int
    sw3: int
    data: bytes = b""


@dataclass(frozen=True)
class Request:
    cmd: int
    para: int
    data: bytes = b""

    @property
    def command(self) -> Command | None:
        try:
            return Command(bytes((self.cmd, self.para)))
        except ValueError:
            return None


def checksum(data: bytes) -> int:
    """XOR of all bytes (the reader's CHK)."""
    return reduce(xor, data, 0)


def encode_frame(payload: bytes) -> bytes:
    """Preamble, LEN, payload, CHK. ``payload`` is CMD PARA DATA or SW1 SW2 SW3 DATA."""
    length = len(payload) + 1
    if not 1 <= length <= MAX_LEN:
        raise ProtocolError(f"frame payload of {len(payload)} bytes does not fit LEN (max {MAX_LEN - 1})")
    body = length.to_bytes(2, "big") + payload
    return PREAMBLE + body + bytes((checksum(body),))


def build_request(command: Command | bytes, data: bytes = b"") -> bytes:
    return encode_frame(bytes(command.value if isinstance(command, Command) else command) + data)


def build_reply(sw3: int, data: bytes = b"", sw1: int = 0, sw2: int = 0) -> bytes:
    return encode_frame(bytes((sw1, sw2, sw3)) + data)


# The requests of reference/protocols.md §1, ready to write.
def sam_status_request() -> bytes:
    return build_request(Command.SAM_STATUS)


def sam_id_request() -> bytes:
    return build_request(Command.SAM_ID)


def reset_request() -> bytes:
    return build_request(Command.RESET_SAM)


def find_request() -> bytes:
    return build_request(Command.FIND_CARD)


def select_request() -> bytes:
    return build_request(Command.SELECT_CARD)


def read_request(fingerprint: bool = False) -> bytes:
    return build_request(Command.READ_TEXT_PHOTO_FINGERPRINT if fingerprint else Command.READ_TEXT_PHOTO)


def appended_address_request() -> bytes:
    return build_request(Command.READ_APPENDED_ADDRESS)


def max_rf_frame_request(size: int = 0x50) -> bytes:
    if not 0 <= size <= 0xFF:
        raise ProtocolError(f"max RF frame size must be one byte, got {size}")
    return build_request(Command.SET_MAX_RF_FRAME, bytes((size,)))


def decode_reply(frame: Frame) -> Reply:
    if len(frame.payload) < 3:
        raise ProtocolError(f"reply of {len(frame.payload)} bytes has no SW1 SW2 SW3")
    p = frame.payload
    return Reply(p[0], p[1], p[2], bytes(p[3:]))


def decode_request(frame: Frame) -> Request:
    if len(frame.payload) < 2:
        raise ProtocolError(f"request of {len(frame.payload)} bytes has no CMD PARA")
    p = frame.payload
    return Request(p[0], p[1], bytes(p[2:]))


def _preamble_prefix_at_end(buf: bytearray) -> int:
    """How many trailing bytes could start a preamble (kept until more bytes arrive)."""
    for n in range(min(len(PREAMBLE) - 1, len(buf)), 0, -1):
        if buf.endswith(PREAMBLE[:n]):
            return n
    return 0


@dataclass
class FrameParser:
    """Streaming parser: ``feed`` bytes as they come, get frames and errors in stream order.

    Never raises on input. After garbage, a bad checksum or an impossible LEN it resynchronises
    on the next preamble (also one inside a rejected frame), so one corrupted frame costs only
    itself. ``flush`` ends the stream (or a silence): a partial frame is reported as truncated
    and any complete frame behind it is still found. ``errors`` counts error kinds.
    """

    max_len: int = MAX_LEN
    errors: Counter = field(default_factory=Counter)
    frames: int = 0
    skipped_bytes: int = 0
    _buf: bytearray = field(default_factory=bytearray, repr=False)
    _pos: int = 0  # stream offset of _buf[0]
    # A run of garbage is reported once, when it ends (a preamble, an error, flush, or 4 KiB).
    _junk: bytearray = field(default_factory=bytearray, repr=False)
    _junk_len: int = 0
    _junk_pos: int = 0

    @property
    def pending(self) -> int:
        """Bytes held back, waiting for the rest of a frame."""
        return len(self._buf)

    def wanted(self) -> int:
        """How many more bytes would complete the frame in progress (at least 1): a read-size hint."""
        buf = self._buf
        if len(buf) < HEADER_SIZE or not buf.startswith(PREAMBLE):
            return max(1, HEADER_SIZE - len(buf))
        length = int.from_bytes(buf[5:7], "big")
        return max(1, HEADER_SIZE + length - len(buf))

    def feed(self, data: bytes) -> list[Frame | ParseError]:
        self._buf += data
        return self._scan(final=False)

    def flush(self) -> list[Frame | ParseError]:
        """End of input: report what is left, recovering complete frames behind a partial one."""
        return self._scan(final=True)

    def reset(self) -> None:
        """Forget buffered bytes without reporting them (e.g. before a new request)."""
        self._pos += len(self._buf)
        self._buf.clear()
        self._junk.clear()
        self._junk_len = 0

    def _skip(self, n: int, kind: str, message: str, out: list) -> None:
        self._end_junk(out)
        err = ParseError(kind, message, self._pos, self._buf[:n])
        del self._buf[:n]
        self._pos += n
        self.errors[kind] += 1
        self.skipped_bytes += n
        out.append(err)

    def _skip_junk(self, n: int, out: list) -> None:
        if not self._junk_len:
            self._junk_pos = self._pos
        if len(self._junk) < 64:
            self._junk += self._buf[:64 - len(self._junk)]
        self._junk_len += n
        del self._buf[:n]
        self._pos += n
        self.skipped_bytes += n
        if self._junk_len >= 4096:
            self._end_junk(out)

    def _end_junk(self, out: list) -> None:
        if self._junk_len:
            n = self._junk_len
            out.append(ParseError("garbage", f"{n} bytes outside any frame", self._junk_pos, self._junk, n))
            self.errors["garbage"] += 1
            self._junk = bytearray()
            self._junk_len = 0

    def _scan(self, final: bool) -> list[Frame | ParseError]:
        out: list[Frame | ParseError] = []
        buf = self._buf
        while buf:
            start = buf.find(PREAMBLE)
            if start < 0:
                keep = 0 if final else _preamble_prefix_at_end(buf)
                if len(buf) > keep:
                    self._skip_junk(len(buf) - keep, out)
                break
            if start > 0:
                self._skip_junk(start, out)
                continue
            if len(buf) < HEADER_SIZE:
                if final:
                    self._skip(len(buf), "truncated", f"stream ended after {len(buf)} bytes of a frame header", out)
                break
            length = int.from_bytes(buf[5:7], "big")
            if not MIN_LEN <= length <= self.max_len:
                self._drop_bad_frame(len(buf), "length", f"frame LEN {length} outside {MIN_LEN}..{self.max_len}", out)
                continue
            end = HEADER_SIZE + length
            if len(buf) < end:
                if final:
                    self._drop_bad_frame(len(buf), "truncated",
                                         f"stream ended {end - len(buf)} bytes short of a {end}-byte frame", out)
                    continue
                break
            expected = checksum(buf[5:end - 1])
            if expected != buf[end - 1]:
                self._drop_bad_frame(end, "checksum",
                                     f"frame checksum 0x{buf[end - 1]:02X}, computed 0x{expected:02X}", out)
                continue
            self._end_junk(out)
            out.append(Frame(bytes(buf[HEADER_SIZE:end - 1]), self._pos))
            del buf[:end]
            self._pos += end
            self.frames += 1
        if final:
            self._end_junk(out)
        return out

    def _drop_bad_frame(self, extent: int, kind: str, message: str, out: list) -> None:
        # Drop the rejected frame, but only up to a preamble that starts inside it: with a
        # corrupted LEN the "frame" may have swallowed the start of the next good one. A
        # preamble cut off by the end of the buffer counts too (its rest is still on the way).
        buf = self._buf
        n = buf.find(PREAMBLE, 1, min(len(buf), extent + len(PREAMBLE) - 1))
        if n < 0:
            n = next((p for p in range(max(1, len(buf) - len(PREAMBLE) + 1), min(extent, len(buf)))
                      if PREAMBLE.startswith(buf[p:])), extent)
        self._skip(n, kind, message, out)


def parse_stream(data: bytes) -> tuple[list[Frame], list[ParseError]]:
    """All frames and errors in a complete byte stream (captures, benchmarks, tests)."""
    parser = FrameParser()
    items = parser.feed(data) + parser.flush()
    return [i for i in items if isinstance(i, Frame)], [i for i in items if isinstance(i, ParseError)]
