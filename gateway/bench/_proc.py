"""Measuring another process from the outside, for ``sitegate bench daemon``: when it said READY=1
on a notify socket, and what proc(5) says of its memory and CPU time.

- READY=1: the process is given ``NOTIFY_SOCKET`` naming a unix datagram socket we listen on, as
  systemd does (sd_notify(3)); start-up is the time from spawn to that datagram.
- Memory: ``VmRSS`` (resident now) and ``VmHWM`` (the peak resident set) in /proc/PID/status, kB.
- CPU: ``utime`` + ``stime`` (fields 14 and 15 of /proc/PID/stat, in clock ticks) over a period.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")

# A bare interpreter that announces itself like the daemon and then sleeps: the baseline.
BARE_PYTHON = ("import os, socket, time\n"
               "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
               "s.sendto(b'READY=1', os.environ['NOTIFY_SOCKET'])\n"
               "s.close()\n"
               "time.sleep(86400)\n")


class ProcessGone(RuntimeError):
    """The measured process exited (or never said READY=1)."""


@dataclass
class Memory:
    rss_kb: int
    hwm_kb: int
    threads: int


def memory(pid: int) -> Memory:
    fields: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "VmHWM", "Threads"):
                    fields[key] = int(rest.split()[0])
    except (OSError, ValueError, IndexError) as exc:
        raise ProcessGone(f"cannot read /proc/{pid}/status: {exc}") from None
    return Memory(fields.get("VmRSS", 0), fields.get("VmHWM", 0), fields.get("Threads", 0))


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process (all its threads), in seconds."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            text = fh.read()
    except OSError as exc:
        raise ProcessGone(f"cannot read /proc/{pid}/stat: {exc}") from None
    # the command name (field 2) is in parentheses and may hold spaces: split after the last ')'
    rest = text[text.rindex(")") + 2:].split()
    return (int(rest[11]) + int(rest[12])) / CLK_TCK     # fields 14, 15 counted from field 3


class NotifyListener:
    """A unix datagram socket standing in for systemd's notify socket; remembers when each
    process (by the order it was armed) said READY=1."""

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="sitegate-notify-")
        self.path = str(Path(self._dir.name) / "notify.sock")
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(self.path)
        self._ready = threading.Event()
        self._ready_at = 0.0
        self._stop = threading.Event()
        self.messages: list[str] = []
        self._thread = threading.Thread(target=self._read, name="bench-notify", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        self._sock.settimeout(0.5)     # only so that close() is noticed; READY is stamped on arrival
        while not self._stop.is_set():
            try:
                data = self._sock.recv(4096)
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            now = time.perf_counter()
            for line in data.decode("utf-8", errors="replace").splitlines():
                self.messages.append(line)
                if line == "READY=1" and not self._ready.is_set():
                    self._ready_at = now
                    self._ready.set()

    def arm(self) -> None:
        self._ready.clear()

    def wait_ready(self, proc: subprocess.Popen, began: float, timeout_s: float) -> float:
        """Seconds from ``began`` (perf_counter) to READY=1 of ``proc``."""
        deadline = time.monotonic() + timeout_s
        while not self._ready.wait(0.05):
            if proc.poll() is not None:
                raise ProcessGone(f"pid {proc.pid} exited with {proc.returncode} before READY=1")
            if time.monotonic() > deadline:
                raise ProcessGone(f"pid {proc.pid} not READY after {timeout_s:.0f} s")
        return self._ready_at - began

    def close(self) -> None:
        self._stop.set()
        self._sock.close()
        self._thread.join(2)
        self._dir.cleanup()


def spawn_ready(cmd: list[str], notify: NotifyListener, *, log_path: Path, cwd: Path,
                timeout_s: float = 60.0) -> tuple[subprocess.Popen, float]:
    """Start ``cmd`` with ``NOTIFY_SOCKET`` set; wait for READY=1. Returns (process, seconds)."""
    env = dict(os.environ)
    env["NOTIFY_SOCKET"] = notify.path
    for name in ("WATCHDOG_USEC", "WATCHDOG_PID"):
        env.pop(name, None)
    notify.arm()
    with open(log_path, "ab") as out:
        began = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=out, env=env, cwd=str(cwd), start_new_session=True)
    try:
        took = notify.wait_ready(proc, began, timeout_s)
    except ProcessGone:
        stop(proc)
        raise
    return proc, took


def stop(proc: subprocess.Popen, timeout_s: float = 30.0) -> int:
    """SIGTERM by our own pid and wait; SIGKILL if it does not end. The exit code."""
    if proc.poll() is not None:
        return proc.returncode
    os.kill(proc.pid, signal.SIGTERM)
    try:
        return proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        return proc.wait(30)
