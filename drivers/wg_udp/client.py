"""UDP client of one WG controller: request/reply with retries, every operation, gap-free download.

A reply is accepted only if its type, function and sequence number match the request (and it
comes from the controller's address, with its serial); anything else is counted and skipped
while waiting. Up to ``retries`` more attempts follow a silent one (reference/protocols.md §2).
"""
from __future__ import annotations

import itertools
import logging
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sitegate.errors import ProtocolError, SitegateError

from .codec import DEFAULT_PORT, TYPE, Function, PacketError, decode_packet
from .messages import (
    NEWEST, RECORD_NONE, RECORD_OVERWRITTEN, REPLY_DECODERS, DeviceInfo, DoorControl, Privilege, PushTarget, Record,
    Status, encode_request,
)

log = logging.getLogger(__name__)


class WgError(SitegateError):
    """The controller did not do what was asked."""


class WgTimeout(WgError):
    """No matching reply after every retry."""


@dataclass
class ClientCounters:
    requests: int = 0
    retries: int = 0
    timeouts: int = 0
    bad_packets: int = 0  # not a valid WG packet
    foreign_packets: int = 0  # another controller's serial
    stale_replies: int = 0  # valid, but for another request (late reply to an earlier attempt)
    records: int = 0
    records_lost: int = 0  # overwritten on the controller before they could be downloaded


class WgClient:
    def __init__(self, host: str, port: int = DEFAULT_PORT, serial: int = 0, timeout: float = 1.0,
                 retries: int = 3, *, packet_type: int = TYPE):
        self.host, self.port, self.serial = host, port, serial
        self.timeout, self.retries, self.packet_type = timeout, retries, packet_type
        self.counters = ClientCounters()
        self._sequence = itertools.count(1)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # connect(): the kernel then delivers only datagrams from the controller's address.
        self._sock.connect((host, port))

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> WgClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- one request, one reply -------------------------------------------------------------------
    def call(self, function: Function, value: Any = None) -> Any:
        """Send one request and return the decoded reply value; raises WgTimeout."""
        sequence = next(self._sequence) & 0xFFFFFFFF
        request = encode_request(function, self.serial, value, sequence=sequence, packet_type=self.packet_type)
        self.counters.requests += 1
        for attempt in range(1 + self.retries):
            if attempt:
                self.counters.retries += 1
                log.debug("controller %d: no reply to 0x%02X, retry %d", self.serial, function, attempt)
            try:
                self._sock.send(request)
            except OSError as exc:
                log.debug("controller %d: send failed: %s", self.serial, exc)
                continue
            reply = self._await(function, sequence, time.monotonic() + self.timeout)
            if reply is not _NOTHING:
                return reply
        self.counters.timeouts += 1
        raise WgTimeout(f"controller {self.serial} at {self.host}:{self.port}: no reply to function "
                        f"0x{function:02X} after {1 + self.retries} attempts of {self.timeout:.2f} s")

    def _await(self, function: int, sequence: int, deadline: float) -> Any:
        while (remaining := deadline - time.monotonic()) > 0:
            self._sock.settimeout(remaining)
            try:
                data = self._sock.recv(2048)
            except TimeoutError:
                break
            except ConnectionRefusedError:  # ICMP port unreachable: nothing listens there
                time.sleep(min(remaining, 0.05))
                continue
            try:
                packet = decode_packet(data, serial=self.serial)
            except PacketError as exc:
                if exc.kind == "serial":
                    self.counters.foreign_packets += 1
                else:
                    self.counters.bad_packets += 1
                log.debug("controller %d: skipped packet: %s", self.serial, exc)
                continue
            if packet.type != self.packet_type or packet.function != function or packet.sequence != sequence:
                self.counters.stale_replies += 1
                continue
            try:
                return REPLY_DECODERS[function](packet)
            except ProtocolError as exc:
                self.counters.bad_packets += 1
                log.warning("controller %d: bad reply to 0x%02X: %s", self.serial, function, exc)
        return _NOTHING

    # -- operations -------------------------------------------------------------------------------
    def status(self) -> Status:
        return self.call(Function.STATUS)

    def get_time(self) -> datetime:
        return self.call(Function.GET_TIME)

    def set_time(self, when: datetime) -> datetime:
        return self.call(Function.SET_TIME, when.replace(microsecond=0, tzinfo=None))

    def open_door(self, door: int) -> bool:
        return self.call(Function.OPEN_DOOR, door)

    def put_privilege(self, privilege: Privilege) -> bool:
        return self.call(Function.PUT_PRIVILEGE, privilege)

    def delete_privilege(self, card: int) -> bool:
        return self.call(Function.DELETE_PRIVILEGE, card)

    def clear_privileges(self) -> bool:
        return self.call(Function.CLEAR_PRIVILEGES)

    def privilege_count(self) -> int:
        return self.call(Function.PRIVILEGE_COUNT)

    def get_privilege(self, card: int) -> Privilege | None:
        return self.call(Function.GET_PRIVILEGE, card)

    def set_door_control(self, door: int, mode: int = 3, delay: int = 3) -> DoorControl:
        return self.call(Function.SET_DOOR_CONTROL, DoorControl(door, mode, delay))

    def get_door_control(self, door: int) -> DoorControl:
        return self.call(Function.GET_DOOR_CONTROL, door)

    def set_push_target(self, host: str, port: int, interval: int = 0) -> bool:
        return self.call(Function.SET_PUSH_TARGET, PushTarget(host, port, interval))

    def get_push_target(self) -> PushTarget:
        return self.call(Function.GET_PUSH_TARGET)

    def get_record(self, index: int) -> Record:
        return self.call(Function.GET_RECORD, index)

    def get_read_index(self) -> int:
        return self.call(Function.GET_READ_INDEX)

    def set_read_index(self, index: int) -> bool:
        return self.call(Function.SET_READ_INDEX, index)

    # -- gap-free download ------------------------------------------------------------------------
    def download_records(self, *, commit: bool = True) -> Iterator[Record]:
        """Every record after the controller's read index, oldest first, none skipped.

        0xB4 gives the read index r; 0xB0 r+1, r+2 … until an empty record. An overwritten
        record (type 0xFF: the ring wrapped while nobody downloaded) makes the download jump to
        the oldest surviving record; the records lost that way are counted and logged. When the
        iteration ends normally the read index is stored (0xB2) — if the consumer stops early,
        nothing is stored and the next download repeats the records (consumers de-duplicate by
        controller serial and record index), so a crash never loses one.
        """
        start = self.get_read_index()
        index, last, rescued = start + 1, start, False
        while True:
            record = self.get_record(index)
            if record.type == RECORD_OVERWRITTEN:
                record = self._oldest_after_wrap(index)
            elif record.type == RECORD_NONE and not rescued and index == start + 1:
                rescued = True  # only once per download
                restart = self._after_index_reset(start)
                if restart is not None:
                    record, index = restart, restart.index
            if record.type == RECORD_NONE or record.index == 0:
                break
            if record.index < index:
                log.warning("controller %d: record %d returned for index %d; stopping this download",
                            self.serial, record.index, index)
                break
            self.counters.records += 1
            yield record
            last, index = record.index, record.index + 1
        if commit and last != start:
            self.commit_read_index(last)

    def commit_read_index(self, index: int) -> None:
        if not self.set_read_index(index):
            raise WgError(f"controller {self.serial} refused to store read index {index}")

    def _oldest_after_wrap(self, index: int) -> Record:
        oldest = self.get_record(0)
        if oldest.index > index:
            lost = oldest.index - index
            self.counters.records_lost += lost
            log.warning("controller %d overwrote records %d..%d before they were downloaded (%d lost)",
                        self.serial, index, oldest.index - 1, lost)
        return oldest

    def _after_index_reset(self, start: int) -> Record | None:
        # Nothing after our read index: normal, unless the controller's records restarted below
        # it (memory cleared, controller replaced); then start again from its oldest record.
        newest = self.get_record(NEWEST)
        if newest.type in (RECORD_NONE, RECORD_OVERWRITTEN) or newest.index >= start:
            return None
        log.warning("controller %d: read index %d is beyond its newest record %d; downloading from the oldest",
                    self.serial, start, newest.index)
        return self.get_record(0)


_NOTHING = object()


def discover(address: str, port: int = DEFAULT_PORT, timeout: float = 1.0) -> list[DeviceInfo]:
    """Send 0x94 (serial 0) to ``address`` (a broadcast address on a site LAN; no default on
    purpose) and collect the controllers that answer within ``timeout``."""
    found: dict[int, DeviceInfo] = {}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        sock.sendto(encode_request(Function.DISCOVER, 0), (address, port))
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            sock.settimeout(remaining)
            try:
                data, _ = sock.recvfrom(2048)
            except TimeoutError:
                break
            try:
                info = REPLY_DECODERS[Function.DISCOVER](decode_packet(data, function=Function.DISCOVER))
            except ProtocolError as exc:
                log.debug("discover: skipped packet: %s", exc)
                continue
            found[info.serial] = info
    return list(found.values())
