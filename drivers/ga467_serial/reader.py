"""Client of an ID-card reader on a serial port: request/reply, find-select-read, one result per card.

Works on a pyserial ``Serial`` or any object with ``read(n)``, ``write(b)`` and a ``timeout``
attribute (``reset_input_buffer()`` and ``in_waiting`` are used when present). No threads, no
queue: ``poll_once`` does one find → select → read cycle and returns; the driver loop (elsewhere)
calls it about once a second, as the vendor samples do (reference/protocols.md §1).

Every failure is a ``ReaderError`` with a reason: ``code`` is the reader's SW3 when it answered,
``kind`` says what happened ('status', 'timeout', 'corrupt', 'card_data', 'disconnected').
"""
from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sitegate.errors import ProtocolError, SitegateError
from sitegate.idcard import mask

from . import status as sw
from .card import IdCard
from .codec import (
    Frame, FrameParser, ParseError, Reply, appended_address_request, decode_reply, find_request, max_rf_frame_request,
    read_request, reset_request, sam_id_request, sam_status_request, select_request,
)
from .textblock import TextBlockError, decode_appended_address, decode_read_data

log = logging.getLogger(__name__)

# Reply timeouts seen in vendor samples (reference/protocols.md §1).
FIND_TIMEOUT = 0.1
SELECT_TIMEOUT = 0.1
READ_TIMEOUT = 2.0
COMMAND_TIMEOUT = 0.5  # SAM status / id / reset / settings
READ_SLICE = 0.05  # the port's read timeout: how often a wait checks its deadline


class ReaderError(SitegateError):
    """The reader did not do what was asked; ``reason`` says why in words."""

    def __init__(self, reason: str, *, code: int | None = None, kind: str = "status"):
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.kind = kind

    @property
    def category(self) -> str:
        """Who must act: 'card' (present it again), 'reader' (alarm), 'request', or ``kind``
        ('timeout', 'corrupt', 'card_data', 'disconnected') when the reader gave no status."""
        return sw.category(self.code) if self.code is not None else self.kind

    @classmethod
    def from_status(cls, what: str, sw3: int) -> ReaderError:
        return cls(f"{what}: {sw.describe(sw3)}", code=sw3, kind="status")


class ReaderTimeout(ReaderError):
    def __init__(self, reason: str):
        super().__init__(reason, kind="timeout")


class ReaderDisconnected(ReaderError):
    def __init__(self, reason: str):
        super().__init__(reason, kind="disconnected")


@dataclass
class ReaderCounters:
    requests: int = 0
    timeouts: int = 0
    corrupt_replies: int = 0
    stale_bytes: int = 0  # late bytes of an earlier reply, dropped before a new request
    status_errors: Counter = field(default_factory=Counter)  # SW3 -> count
    bad_card_data: int = 0
    bad_id_numbers: int = 0
    cards: int = 0
    duplicates: int = 0
    disconnects: int = 0


class Ga467Reader:
    """One reader. ``repeat_after``: report a card that stays on the reader again after this many
    seconds (None: only after it left). ``min_gap``: never report the same ID number twice within
    this many seconds, even if a find said "no card" in between — some readers report a card
    they have just read as gone for one cycle."""

    def __init__(
        self,
        port: Any,
        *,
        fingerprint: bool = False,
        repeat_after: float | None = None,
        min_gap: float = 2.0,
        find_timeout: float = FIND_TIMEOUT,
        select_timeout: float = SELECT_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
        command_timeout: float = COMMAND_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
        today: Callable[[], date] = date.today,
    ):
        self.fingerprint = fingerprint
        self.repeat_after = repeat_after
        self.min_gap = min_gap
        self.find_timeout = find_timeout
        self.select_timeout = select_timeout
        self.read_timeout = read_timeout
        self.command_timeout = command_timeout
        self.clock = clock
        self.today = today
        self.parser = FrameParser()
        self.counters = ReaderCounters()
        self._on_field: str | None = None  # ID number of the card reported and not seen leaving
        self._last_id: str | None = None
        self._last_time = 0.0
        self.port: Any = None
        self.attach(port)

    def attach(self, port: Any) -> None:
        """Use a (re)opened port. Forgets buffered bytes and which card was on the field: after a
        reconnect a card is reported again rather than risk losing a new presentation."""
        self.port = port
        if getattr(port, "timeout", None) != READ_SLICE:
            port.timeout = READ_SLICE
        self.parser.reset()
        self._on_field = None
        self._last_id = None

    # -- one request, one reply ---------------------------------------------------------------
    def transact(self, request: bytes, timeout: float) -> Reply:
        """Write ``request`` and return the reply frame; raises ReaderError subclasses."""
        self._drop_stale()
        self.counters.requests += 1
        try:
            self.port.write(request)
        except OSError as exc:  # serial.SerialException is an OSError
            raise self._disconnected(exc) from exc
        deadline = time.monotonic() + timeout
        while True:
            expired = time.monotonic() >= deadline
            if expired:
                items = self.parser.flush()  # silence: a partial frame will not be completed
            else:
                try:
                    chunk = self.port.read(self.parser.wanted())
                except OSError as exc:
                    raise self._disconnected(exc) from exc
                items = self.parser.feed(chunk) if chunk else []
            for item in items:
                if isinstance(item, Frame):
                    return self._reply(item)
                self._parse_error(item)
            if expired:
                self.counters.timeouts += 1
                raise ReaderTimeout(f"no reply within {timeout:.2f} s to request {request[7:9].hex(' ')}")

    def _reply(self, frame: Frame) -> Reply:
        try:
            return decode_reply(frame)
        except ProtocolError as exc:
            self.counters.corrupt_replies += 1
            raise ReaderError(f"damaged reply: {exc}", kind="corrupt") from exc

    def _parse_error(self, err: ParseError) -> None:
        log.debug("reader: %s (%s), skipped %d bytes: %s", err, err.kind, err.skipped, err.data.hex(" "))
        if err.kind in ("checksum", "length", "truncated"):
            # The reader sends one reply per request: a damaged one will not be followed by another.
            self.counters.corrupt_replies += 1
            raise ReaderError(f"damaged reply: {err}", kind="corrupt")

    def _drop_stale(self) -> None:
        try:
            waiting = getattr(self.port, "in_waiting", 0) or 0
            reset = getattr(self.port, "reset_input_buffer", None)
            if reset is not None:
                reset()
        except OSError as exc:
            raise self._disconnected(exc) from exc
        self.counters.stale_bytes += waiting + self.parser.pending
        self.parser.reset()

    def _disconnected(self, exc: BaseException) -> ReaderDisconnected:
        self.counters.disconnects += 1
        return ReaderDisconnected(f"serial port failed: {exc}")

    def _expect(self, what: str, request: bytes, timeout: float, ok: int = sw.OK) -> Reply:
        reply = self.transact(request, timeout)
        if reply.sw3 != ok:
            self.counters.status_errors[reply.sw3] += 1
            raise ReaderError.from_status(what, reply.sw3)
        return reply

    # -- commands -----------------------------------------------------------------------------
    def status(self) -> None:
        """SAM status (11 FF); returns when the SAM reports 90, raises ReaderError otherwise."""
        self._expect("SAM status", sam_status_request(), self.command_timeout)

    def sam_id(self) -> str:
        """The SAM module's 16-byte id, as hex (its text form differs between vendors)."""
        return self._expect("SAM id", sam_id_request(), self.command_timeout).data.hex()

    def reset(self) -> None:
        self._expect("SAM reset", reset_request(), self.command_timeout)

    def set_max_rf_frame(self, size: int = 0x50) -> None:
        self._expect("set max RF frame", max_rf_frame_request(size), self.command_timeout)

    def initialise(self) -> None:
        """What vendor samples do once at start: SAM status, then max RF frame 0x50."""
        self.status()
        self.set_max_rf_frame(0x50)

    def read_appended_address(self) -> str | None:
        """The appended address of the selected card, None when it has none (SW3 91)."""
        reply = self.transact(appended_address_request(), self.read_timeout)
        if reply.sw3 == sw.NO_SUCH_ITEM:
            return None
        if reply.sw3 != sw.OK:
            self.counters.status_errors[reply.sw3] += 1
            raise ReaderError.from_status("read appended address", reply.sw3)
        try:
            return decode_appended_address(reply.data)
        except TextBlockError as exc:
            raise ReaderError(str(exc), kind="card_data") from exc

    def poll_once(self, timeout: float | None = None) -> IdCard | None:
        """One find → select → read cycle. Returns a card once per presentation, None when there
        is no card or it was already reported. ``timeout`` overrides the find reply timeout."""
        found = self.transact(find_request(), self.find_timeout if timeout is None else timeout)
        if found.sw3 == sw.NO_CARD:
            self._on_field = None
            return None
        if found.sw3 != sw.FIND_OK:
            self.counters.status_errors[found.sw3] += 1
            raise ReaderError.from_status("find card", found.sw3)
        self._expect("select card", select_request(), self.select_timeout)
        reply = self._expect("read card", read_request(self.fingerprint), self.read_timeout)
        try:
            card = decode_read_data(reply.data, self.fingerprint, self.today())
        except TextBlockError as exc:
            self.counters.bad_card_data += 1
            raise ReaderError(f"card data unreadable: {exc}", kind="card_data") from exc
        return self._once_per_presentation(card)

    def _once_per_presentation(self, card: IdCard) -> IdCard | None:
        now = self.clock()
        number = card.id_number
        since_last = now - self._last_time
        staying = number == self._on_field and (self.repeat_after is None or since_last < self.repeat_after)
        flapping = number == self._last_id and since_last < self.min_gap
        self._on_field = number
        if staying or flapping:
            self.counters.duplicates += 1
            return None
        self._last_id, self._last_time = number, now
        self.counters.cards += 1
        if not card.id_number_ok:
            self.counters.bad_id_numbers += 1
            log.warning("card %s: ID number fails its check (%s)", mask(number), card.card_type)
        return card
