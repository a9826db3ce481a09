"""Time as the events need it: wall time, the monotonic clock, the boot id, and whether the wall
clock is synchronised.

Site PCs and Raspberry Pis often boot without a real-time clock, at 1970 or at the last saved time
(fake-hwclock). An event stamped before synchronisation keeps its monotonic time and boot id so
its wall time can be corrected once the clock is synchronised in the same boot.

Synchronisation is read from the kernel with adjtimex(2): it returns TIME_ERROR (5) while the
kernel's clock is marked unsynchronised (STA_UNSYNC), which chrony, systemd-timesyncd and ntpd all
clear once they have disciplined the clock. See man 2 adjtimex and systemd-timesyncd's
/run/systemd/timesync/synchronized flag file.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
_TIME_ERROR = 5
_TIMESYNCD_FLAG = "/run/systemd/timesync/synchronized"


class _Timex(ctypes.Structure):
    # struct timex from <sys/timex.h>; only `modes` is written (0 = read only). The tail is padding
    # big enough for every architecture's layout.
    _fields_ = [("modes", ctypes.c_uint), ("_rest", ctypes.c_byte * 256)]


_libc = None


def kernel_clock_synchronised() -> bool | None:
    """True/False from adjtimex(2), or None when it cannot be asked."""
    global _libc
    try:
        if _libc is None:
            _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        tx = _Timex()
        state = _libc.adjtimex(ctypes.byref(tx))
    except (OSError, AttributeError):
        return None
    if state < 0:
        return None
    return state != _TIME_ERROR


def boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as fh:
            return fh.read().strip()
    except OSError:
        return "unknown"


@dataclass(frozen=True)
class Stamp:
    """One reading of every clock at once."""

    wall: datetime          # aware, UTC
    mono_ns: int            # CLOCK_BOOTTIME: keeps counting through suspend, resets at boot
    boot_id: str
    synced: bool


class Clock:
    """The system's clocks. Tests inject their own by subclassing or passing callables."""

    def __init__(self, *, wall_ns=time.time_ns, mono_ns=None, boot=boot_id, synced=None):
        self._wall_ns = wall_ns
        self._mono_ns = mono_ns or (lambda: time.clock_gettime_ns(time.CLOCK_BOOTTIME))
        self._boot = boot()
        self._synced = synced or self._detect_synced
        self._synced_cache = (0.0, False)

    def _detect_synced(self) -> bool:
        # one system call per second at most: events are stamped at high rates
        checked, value = self._synced_cache
        now = time.monotonic()
        if now - checked < 1.0:
            return value
        state = kernel_clock_synchronised()
        value = os.path.exists(_TIMESYNCD_FLAG) if state is None else state
        self._synced_cache = (now, value)
        return value

    def now(self) -> Stamp:
        return Stamp(
            wall=datetime.fromtimestamp(self._wall_ns() / 1e9, timezone.utc),
            mono_ns=self._mono_ns(),
            boot_id=self._boot,
            synced=bool(self._synced()),
        )

    def wall(self) -> datetime:
        return datetime.fromtimestamp(self._wall_ns() / 1e9, timezone.utc)

    @property
    def boot_id(self) -> str:
        return self._boot


def beijing(dt: datetime) -> datetime:
    """The same instant in Beijing time (the platform's time, UTC+8, no DST)."""
    if dt.tzinfo is None:
        raise ValueError("naive datetime: the zone of a time must be known")
    return dt.astimezone(BEIJING)
