"""Constants and helpers of the receiver tests (imported by conftest.py and the test files; a
unique module name, since several test folders have a conftest)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sitegate.idcard import check_digit
from sitegate.receiver import RosterWorker
from sitegate.uplink.national.codec import attendance_item, beijing_time

APPID = "TESTAPPID0001"
SECRET = "0123456789abcdef0123456789ABCDEF"  # the reference's dummy secret
# 2025-03-15 07:31:05 Beijing: the timestamp of the reference's worked example.
START = datetime(2025, 3, 14, 23, 31, 5, tzinfo=timezone.utc)


def resident_id(n: int) -> str:
    """A valid 18-digit ID number (GB 11643 check digit) for test worker ``n``."""
    first17 = f"37010219900101{n:03d}"
    return first17 + check_digit(first17)


class ManualClock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


ROSTER = [RosterWorker(resident_id(i), f"工人{i}", 100 if i % 2 else 200, "A班" if i % 2 else "B班", "木工", f"C{i}")
          for i in range(1, 8)]


def item(n: int, minutes_ago: int = 1, direction: str = "01", clock_now: datetime = START, **kw):
    """An attendance item of worker ``n``, ``minutes_ago`` before ``clock_now``."""
    return attendance_item(resident_id(n), beijing_time(clock_now - timedelta(minutes=minutes_ago)),
                           direction, kw.pop("attend_type", "001"), kw.pop("channel", "东门1号闸"), **kw)
