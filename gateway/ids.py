"""UUIDv7 event ids (RFC 9562 §5.7), made at the edge: time-ordered, so the store's primary key
grows with time, and unique across gateways, so it is the idempotency key up to the platform.

Python 3.11's ``uuid`` has no uuid7. Within one millisecond the 12-bit ``rand_a`` field is used as a
counter (RFC 9562 §6.2, method 1) so ids made in the same process sort in the order they were made.
"""
from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_counter = 0


def uuid7(now_ns: int | None = None) -> uuid.UUID:
    global _last_ms, _counter
    ms = (time.time_ns() if now_ns is None else now_ns) // 1_000_000
    with _lock:
        if ms <= _last_ms:
            ms = _last_ms  # the wall clock stepped back or same ms: stay monotonic
            _counter += 1
            if _counter > 0xFFF:  # 4096 ids in one ms: borrow the next millisecond
                ms += 1
                _counter = 0
        else:
            _counter = int.from_bytes(os.urandom(2), "big") & 0x3FF  # random start, room to count
        _last_ms = ms
        counter = _counter
    rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | rand_b
    return uuid.UUID(int=value)


def uuid7_time_ms(u: uuid.UUID | str) -> int:
    """The Unix millisecond timestamp inside a UUIDv7."""
    return uuid.UUID(str(u)).int >> 80
