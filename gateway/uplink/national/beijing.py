"""Times on the wire are Beijing time (UTC+8, no daylight saving since 1991), whatever the zone of
the machine: ``yyyy-MM-dd HH:mm:ss`` in records and ``yyyyMMddHHmmss`` for the request timestamp
(reference/protocols.md §5)."""
from __future__ import annotations

from datetime import datetime

from sitegate.clock import BEIJING

RECORD_FORMAT = "%Y-%m-%d %H:%M:%S"
TIMESTAMP_FORMAT = "%Y%m%d%H%M%S"


def _aware(dt: datetime) -> datetime:
    if not isinstance(dt, datetime):
        raise TypeError(f"expected a datetime, got {type(dt).__name__}")
    if dt.tzinfo is None or dt.utcoffset() is None:
        # A naive time could be UTC, local or Beijing: guessing would shift a worker's hours.
        raise ValueError("naive datetime: give a timezone-aware one (e.g. UTC)")
    return dt.astimezone(BEIJING)


def beijing_time(dt: datetime) -> str:
    """``2025-03-15 07:31:02`` — a record's ``date``; sub-seconds are cut, never rounded up."""
    return _aware(dt).strftime(RECORD_FORMAT)


def beijing_timestamp(dt: datetime) -> str:
    """``20250315073105`` — the request's ``timestamp`` field."""
    return _aware(dt).strftime(TIMESTAMP_FORMAT)


def _parse(text: str, fmt: str, length: int) -> datetime:
    # strptime accepts single-digit fields ("2025-3-5 7:1:2"); the wire format does not.
    if not isinstance(text, str) or len(text) != length or not text.isascii():
        raise ValueError(f"{text!r} does not match {fmt}")
    return datetime.strptime(text, fmt).replace(tzinfo=BEIJING)


def parse_beijing_time(text: str) -> datetime:
    """The aware datetime of a ``yyyy-MM-dd HH:mm:ss`` string; ValueError if malformed."""
    return _parse(text, RECORD_FORMAT, 19)


def parse_beijing_timestamp(text: str) -> datetime:
    """The aware datetime of a ``yyyyMMddHHmmss`` string; ValueError if malformed."""
    return _parse(text, TIMESTAMP_FORMAT, 14)
