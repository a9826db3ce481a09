"""Building blocks for ``sitegate bench gate``: reproducible controller packets and their decode.

Nothing here is timed; the benchmark module times ``decode_packets`` against its own baseline.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from .codec import Function
from .messages import RECORD_SWIPE, Record, Status, decode_reply, encode_reply

SERIAL = 223000123


def sample_packets(count: int, serial: int = SERIAL) -> list[bytes]:
    """``count`` record replies (0xB0) and pushed status packets (0x20), alternating."""
    start = datetime(2025, 3, 15, 7, 0, 0)
    out = []
    for n in range(count):
        record = Record(n + 1, RECORD_SWIPE, n % 7 != 0, 1 + n % 4, 1 + n % 2, 3_000_000 + n,
                        start + timedelta(seconds=n), 1 if n % 7 else 6)
        if n % 2:
            out.append(encode_reply(Function.STATUS, serial, Status(record, clock=record.time)))
        else:
            out.append(encode_reply(Function.GET_RECORD, serial, record, sequence=n))
    return out


def decode_packets(packets: list[bytes], serial: int = SERIAL) -> int:
    """Decode every packet as a reply (validation included); how many records they held."""
    found = 0
    for raw in packets:
        _, value = decode_reply(raw, serial=serial)
        record = value.record if isinstance(value, Status) else value
        found += record.index != 0
    return found
