"""systemd's notify protocol (sd_notify(3)) with the stdlib only, after gunicorn/systemd.py:
does nothing without NOTIFY_SOCKET and never raises — a daemon must not die because systemd is absent."""
from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger(__name__)


def notify(state: str) -> bool:
    """Send ``state`` (e.g. "READY=1", "WATCHDOG=1", "STATUS=…"); returns whether it was sent."""
    addr = os.environ.get("NOTIFY_SOCKET")
    if not addr:
        return False
    if addr.startswith("@"):          # abstract namespace socket
        addr = "\0" + addr[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(addr)
            sock.sendall(state.encode("utf-8"))
        return True
    except OSError as exc:
        log.debug("sd_notify %r failed: %s", state, exc)
        return False


def watchdog_interval_s() -> float | None:
    """Half of WatchdogSec when systemd asked for pings (WATCHDOG_USEC for this very pid), else None."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return int(usec) / 1e6 / 2
    except ValueError:
        return None
