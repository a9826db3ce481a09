"""BCD wire values of the WG controller (reference/protocols.md §2)."""
from __future__ import annotations

from datetime import date, datetime, time

import pytest

from sitegate.drivers.wg_udp import bcd
from sitegate.errors import ProtocolError


def test_datetime_both_directions():
    raw = bytes.fromhex("20 25 03 15 07 30 05")  # the reference's set-time example
    assert bcd.decode_datetime(raw) == datetime(2025, 3, 15, 7, 30, 5)
    assert bcd.encode_datetime(datetime(2025, 3, 15, 7, 30, 5)) == raw


def test_date_both_directions():
    assert bcd.decode_date(bytes.fromhex("20291231")) == date(2029, 12, 31)
    assert bcd.encode_date(date(2025, 1, 1)) == bytes.fromhex("20250101")
    assert bcd.encode_date(date(999, 1, 2)) == bytes.fromhex("09990102")


def test_all_zero_means_no_value():
    assert bcd.decode_datetime(bytes(7)) is None and bcd.encode_datetime(None) == bytes(7)
    assert bcd.decode_date(bytes(4)) is None and bcd.encode_date(None) == bytes(4)
    assert bcd.decode_short_date(bytes(3)) is None


def test_status_short_date_and_time():
    assert bcd.decode_short_date(bytes.fromhex("250315")) == date(2025, 3, 15)
    assert bcd.encode_short_date(date(2025, 3, 15)) == bytes.fromhex("250315")
    assert bcd.decode_time(bytes.fromhex("073102")) == time(7, 31, 2)
    assert bcd.encode_time(time(7, 31, 2)) == bytes.fromhex("073102")
    with pytest.raises(bcd.BcdError, match="two-digit"):
        bcd.encode_short_date(date(1999, 1, 1))


def test_version():
    assert bcd.decode_version(bytes.fromhex("0662")) == "6.62"
    assert bcd.encode_version("6.62") == bytes.fromhex("0662")
    with pytest.raises(bcd.BcdError):
        bcd.encode_version("six")


@pytest.mark.parametrize("raw, message", [
    ("20 25 03 15 07 3A 05", "not packed BCD"),
    ("20 25 13 15 07 30 05", "not a real date-time"),
    ("20 25 02 30 00 00 00", "not a real date-time"),
    ("20 25 03 15 24 00 00", "not a real date-time"),
    ("20 25 03 15 07 30", "7 bytes"),
])
def test_bad_datetimes(raw, message):
    with pytest.raises(bcd.BcdError, match=message):
        bcd.decode_datetime(bytes.fromhex(raw))


def test_bad_dates_and_times_are_protocol_errors():
    for call, raw in [(bcd.decode_date, "2025F101"), (bcd.decode_date, "20250231"), (bcd.decode_date, "202501"),
                      (bcd.decode_time, "256000"), (bcd.decode_time, "0730"), (bcd.decode_short_date, "251301"),
                      (bcd.decode_short_date, "2513")]:
        with pytest.raises(ProtocolError):
            call(bytes.fromhex(raw))


def test_encode_digits_refuses_non_digits():
    with pytest.raises(bcd.BcdError):
        bcd.encode_digits("12a4")
    with pytest.raises(bcd.BcdError):
        bcd.encode_digits("123")
