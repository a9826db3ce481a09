"""Receiving what WG controllers push (after 0x90): 0x20 packets on every event and every interval.

The same record arrives again with every interval push, and UDP may duplicate or drop packets,
so records are de-duplicated by (controller serial, record index) — reference/protocols.md §2.
A jump in the index means pushes were lost: it is counted (``gaps``), and the gap-free download
(``WgClient.download_records``) is what fetches them.
"""
from __future__ import annotations

import logging
import socket
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from sitegate.errors import ProtocolError

from .codec import Function, decode_packet
from .messages import Status

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PushedRecord:
    serial: int
    status: Status
    source: tuple[str, int]
    received_ns: int = 0  # time.perf_counter_ns() when the datagram was read (latency figures)

    @property
    def record(self):
        return self.status.record


@dataclass
class PushCounters:
    packets: int = 0
    records: int = 0  # new records handed out
    duplicates: int = 0
    keepalives: int = 0  # pushes without any record (index 0)
    bad_packets: int = 0
    foreign: int = 0  # from a serial we were not told to accept
    gaps: int = 0  # records missing between two pushes


@dataclass
class _Seen:
    order: deque = field(default_factory=deque)
    members: set = field(default_factory=set)
    newest: int = 0


class PushListener:
    """A UDP socket controllers push to. ``serials``: accept only these controllers (None: any)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, serials: Iterable[int] | None = None,
                 window: int = 4096):
        self.serials = set(serials) if serials is not None else None
        self.window = window
        self.counters = PushCounters()
        self.last_heard: dict[int, float] = {}  # serial -> time.monotonic() of its last packet
        self._seen: dict[int, _Seen] = {}
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._sock.bind((host, port))
        except OSError:
            self._sock.close()
            raise

    @property
    def address(self) -> tuple[str, int]:
        return self._sock.getsockname()

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> PushListener:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def poll_once(self, timeout: float) -> PushedRecord | None:
        """The next new record pushed within ``timeout`` seconds, or None."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            self._sock.settimeout(max(remaining, 0.0))
            try:
                data, source = self._sock.recvfrom(2048)
            except (TimeoutError, BlockingIOError):
                return None
            pushed = self.accept(data, source, received_ns=time.perf_counter_ns())
            if pushed is not None:
                return pushed
            if remaining <= 0:
                return None

    def accept(self, data: bytes, source: tuple[str, int], *, received_ns: int = 0) -> PushedRecord | None:
        """Decode one datagram; the record if it is new, None otherwise (counted either way)."""
        self.counters.packets += 1
        try:
            packet = decode_packet(data, function=Function.STATUS)
            status = Status.from_packet(packet)
        except ProtocolError as exc:
            self.counters.bad_packets += 1
            log.debug("push from %s:%d skipped: %s", *source, exc)
            return None
        serial = packet.serial
        if self.serials is not None and serial not in self.serials:
            self.counters.foreign += 1
            return None
        self.last_heard[serial] = time.monotonic()
        index = status.record.index
        if index == 0 or not status.record.exists:
            self.counters.keepalives += 1
            return None
        seen = self._seen.setdefault(serial, _Seen())
        if index in seen.members:
            self.counters.duplicates += 1
            return None
        if seen.newest and index > seen.newest + 1:
            self.counters.gaps += index - seen.newest - 1
            log.info("controller %d: %d pushed record(s) missing before %d", serial, index - seen.newest - 1, index)
        seen.members.add(index)
        seen.order.append(index)
        if len(seen.order) > self.window:
            seen.members.discard(seen.order.popleft())
        seen.newest = max(seen.newest, index)
        self.counters.records += 1
        return PushedRecord(serial, status, source, received_ns)


__all__ = ["PushListener", "PushedRecord", "PushCounters"]
