"""BCD wire values of the WG controller: date-time ``CC YY MM DD hh mm ss``, date ``CC YY MM DD``,
status time ``hh mm ss`` and status date ``YY MM DD`` (reference/protocols.md §2; uhppote-core
``types/datetime.go``, ``types/date.go``).

All-zero fields mean "no value" (an empty record, a privilege without dates) and decode to None.
"""
from __future__ import annotations

from datetime import date, datetime, time

from sitegate.errors import ProtocolError


class BcdError(ProtocolError):
    """Bytes that are not packed BCD, or digits that are not a real date or time."""


def encode_digits(digits: str) -> bytes:
    """'20250315' -> 20 25 03 15 (two decimal digits per byte)."""
    if len(digits) % 2 or not digits.isascii() or not digits.isdigit():
        raise BcdError(f"{digits!r} is not an even number of decimal digits")
    return bytes.fromhex(digits)


def decode_digits(raw: bytes) -> str:
    text = raw.hex()
    if not text.isdigit():
        raise BcdError(f"{raw.hex(' ')} is not packed BCD")
    return text


def encode_datetime(value: datetime | None) -> bytes:
    if value is None:
        return bytes(7)
    v = value
    return encode_digits(f"{v.year:04d}{v.month:02d}{v.day:02d}{v.hour:02d}{v.minute:02d}{v.second:02d}")


def decode_datetime(raw: bytes) -> datetime | None:
    if len(raw) != 7:
        raise BcdError(f"a BCD date-time has 7 bytes, got {len(raw)}")
    if not any(raw):
        return None
    d = decode_digits(raw)
    try:
        return datetime(int(d[0:4]), int(d[4:6]), int(d[6:8]), int(d[8:10]), int(d[10:12]), int(d[12:14]))
    except ValueError:
        raise BcdError(f"{raw.hex(' ')} is not a real date-time") from None


def encode_date(value: date | None) -> bytes:
    if value is None:
        return bytes(4)
    return encode_digits(f"{value.year:04d}{value.month:02d}{value.day:02d}")


def decode_date(raw: bytes) -> date | None:
    if len(raw) != 4:
        raise BcdError(f"a BCD date has 4 bytes, got {len(raw)}")
    if not any(raw):
        return None
    d = decode_digits(raw)
    try:
        return date(int(d[0:4]), int(d[4:6]), int(d[6:8]))
    except ValueError:
        raise BcdError(f"{raw.hex(' ')} is not a real date") from None


def encode_short_date(value: date) -> bytes:
    """The status reply's ``YY MM DD`` (years 2000-2099)."""
    if not 2000 <= value.year <= 2099:
        raise BcdError(f"year {value.year} does not fit a two-digit BCD year")
    return encode_digits(f"{value.year % 100:02d}{value.month:02d}{value.day:02d}")


def decode_short_date(raw: bytes) -> date | None:
    if len(raw) != 3:
        raise BcdError(f"a BCD short date has 3 bytes, got {len(raw)}")
    if not any(raw):
        return None
    d = decode_digits(raw)
    try:
        return date(2000 + int(d[0:2]), int(d[2:4]), int(d[4:6]))
    except ValueError:
        raise BcdError(f"{raw.hex(' ')} is not a real date") from None


def encode_time(value: time) -> bytes:
    return encode_digits(value.strftime("%H%M%S"))


def decode_time(raw: bytes) -> time:
    if len(raw) != 3:
        raise BcdError(f"a BCD time has 3 bytes, got {len(raw)}")
    d = decode_digits(raw)
    try:
        return time(int(d[0:2]), int(d[2:4]), int(d[4:6]))
    except ValueError:
        raise BcdError(f"{raw.hex(' ')} is not a real time of day") from None


def encode_version(version: str) -> bytes:
    """'6.62' -> 06 62 (firmware version, two BCD bytes)."""
    major, _, minor = version.partition(".")
    if not (major.isdigit() and minor.isdigit() and len(major) <= 2 and len(minor) <= 2):
        raise BcdError(f"version {version!r} is not N.NN")
    return encode_digits(f"{int(major):02d}{int(minor):02d}")


def decode_version(raw: bytes) -> str:
    d = decode_digits(raw)
    return f"{int(d[:2])}.{d[2:]}"
