"""When did the worker pass? The device's record time when it can be trusted, else the receipt time.

A controller or terminal keeps its records while the gateway is away (restart, outage, disk full)
and hands them over later; dating them by their receipt would date a whole morning at the
gateway's restart, and wages are paid from these dates (docs/soak.md, "What the runs found" 2).
A device clock is trusted only when it can be checked against a synchronised gateway clock:
not ahead of it by more than ``MAX_AHEAD`` (no passage happens in the future; the margin allows
for a device clock set to the second and some drift) and not older than ``MAX_AGE`` (a record a
week old is more likely a device clock that was never set, e.g. one back at its factory date,
than a week-long outage).
An untrusted device time is kept beside the receipt time for the clerk, never thrown away.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sitegate.clock import Stamp

MAX_AHEAD = timedelta(minutes=2)
MAX_AGE = timedelta(days=7)


@dataclass(frozen=True)
class PassageTime:
    wall: datetime          # aware, UTC: the time the event is dated (and uploaded) with
    mono_s: float           # the same instant on the gateway's monotonic clock (CLOCK_BOOTTIME), seconds
    synced: bool            # False: the wall time still needs correcting (sitegate.clock)
    from_device: bool       # the wall time is the device's record time
    distrust: str = ""      # why a reported device time was not used ("" when used or none given)


def passage_time(received: Stamp, device_time: datetime | None) -> PassageTime:
    """Date one observation. ``received``: the gateway's clocks at receipt; ``device_time``: the
    device's own record time, if it reported one."""
    receipt = PassageTime(received.wall, received.mono_ns / 1e9, received.synced, False)
    if device_time is None:
        return receipt
    reason = _distrust(received, device_time)
    if reason:
        return PassageTime(received.wall, received.mono_ns / 1e9, received.synced, False, reason)
    age = received.wall - device_time
    # the passage's place on the monotonic clock, so repeat windows compare like with like; never
    # after its receipt (a device clock a little ahead must not reorder it after later passages)
    mono_s = received.mono_ns / 1e9 - max(age.total_seconds(), 0.0)
    return PassageTime(device_time.astimezone(timezone.utc), mono_s, True, True)


def _distrust(received: Stamp, device_time: datetime) -> str:
    if device_time.tzinfo is None:
        return "device time has no time zone"
    if not received.synced:
        # nothing to check the device clock against; the receipt time is corrected later instead
        return "gateway clock not synchronised: device time cannot be checked"
    age = received.wall - device_time
    if -age > MAX_AHEAD:
        return f"device clock {(-age).total_seconds():.0f} s ahead of the gateway's"
    if age > MAX_AGE:
        return f"device time {age.total_seconds() / 86400:.1f} days before receipt: older than a device keeps records"
    return ""
