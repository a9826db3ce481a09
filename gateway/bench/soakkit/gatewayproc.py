"""The gateway under test as its own process: started like systemd starts it, ready when it says
READY=1 on a notify socket (sd_notify(3)), killed with SIGKILL by its own pid, reloaded with SIGHUP.

Its wall clock can be moved with libfaketime (Debian package ``faketime``): the process runs with
``LD_PRELOAD`` of the library, ``FAKETIME_TIMESTAMP_FILE`` naming a file that holds the offset
("+0", "+2h"), and ``FAKETIME_DONT_FAKE_MONOTONIC=1`` so only the wall clock jumps (libfaketime
README, "Changing the 'faked' time during run time"). The file is re-read at most once a second
(``FAKETIME_CACHE_DURATION=1``), not at every call (``FAKETIME_NO_CACHE=1``): measured on the
short soak, re-reading at every call made the gateway use six times the CPU (user 31 s + sys 23 s
against 7.5 s + 1.3 s without libfaketime) and slowed its gate decisions tenfold, which would
have been measured as the gateway's own cost. A jump is seen within about two seconds.

The peak resident set (VmHWM in /proc/<pid>/status, proc(5)) is read every few seconds and just
before each kill; the run's figure is the largest over every process generation.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)

FAKETIME_LIBS = ("/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
                 "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
                 "/usr/lib/arm-linux-gnueabihf/faketime/libfaketimeMT.so.1",
                 "/usr/lib/faketime/libfaketimeMT.so.1")


def faketime_library() -> str | None:
    """The multi-threaded libfaketime of this machine, or None when the package is missing."""
    return next((p for p in FAKETIME_LIBS if os.path.exists(p)), None)


def kernel_clock_trusted() -> bool:
    from sitegate.clock import kernel_clock_synchronised

    return bool(kernel_clock_synchronised())


class GatewayError(RuntimeError):
    pass


class GatewayProcess:
    def __init__(self, config: Path, workdir: Path, *, faketime_file: Path | None = None, verbose: bool = False):
        self.config = Path(config)
        self.workdir = Path(workdir)
        self.faketime_file = faketime_file
        self.verbose = verbose
        self.log_path = self.workdir / "gateway.log"
        self.proc: subprocess.Popen | None = None
        self.starts = 0
        self.kills = 0
        self.peak_rss_kb = 0
        self.start_times_s: list[float] = []     # kill/spawn -> READY=1
        # Where the kernel does not call its clock synchronised (containers, CI without NTP),
        # ``sitegate run`` would hold every event until it is; the launcher (launch.py) runs the
        # same Runtime with the clock taken as synchronised, and the report says which ran.
        self.trusted_launcher = not kernel_clock_trusted()
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._sock_path = self.workdir / "notify.sock"
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock_path.unlink(missing_ok=True)
        self._sock.bind(str(self._sock_path))
        self._sock.settimeout(0.2)
        self._reader = threading.Thread(target=self._read_notify, name="soak-notify", daemon=True)
        self._reader.start()
        self._sampler = threading.Thread(target=self._sample_loop, name="soak-rss", daemon=True)
        self._sampler.start()

    # -- the command --------------------------------------------------------------------------
    @property
    def faked(self) -> bool:
        return self.faketime_file is not None and faketime_library() is not None

    def command(self) -> list[str]:
        """``sitegate run``, or the soak launcher (launch.py) when the clock must be trusted or
        libfaketime is loaded."""
        if self.trusted_launcher or self.faked:
            return [sys.executable, "-m", "sitegate.bench.soakkit.launch", "-c", str(self.config),
                    *(["--trust-clock"] if self.trusted_launcher else [])]
        return [sys.executable, "-m", "sitegate", "run", "-c", str(self.config)]

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env["NOTIFY_SOCKET"] = str(self._sock_path)
        env.pop("WATCHDOG_USEC", None)
        env.pop("WATCHDOG_PID", None)
        if self.faked:
            env.update({"LD_PRELOAD": faketime_library(), "FAKETIME_TIMESTAMP_FILE": str(self.faketime_file),
                        "FAKETIME_CACHE_DURATION": "1", "FAKETIME_DONT_FAKE_MONOTONIC": "1"})
        return env

    # -- life cycle ---------------------------------------------------------------------------
    def start(self, timeout_s: float = 90.0) -> float:
        """Spawn and wait for READY=1; the seconds it took."""
        if self.alive:
            raise GatewayError("gateway already running")
        began = time.monotonic()
        self._ready.clear()
        with open(self.log_path, "ab") as out:
            out.write(f"--- start {self.starts + 1} ---\n".encode())
            out.flush()
            self.proc = subprocess.Popen(self.command(), stdout=out, stderr=out, env=self.environment(),
                                         cwd=str(self.workdir), start_new_session=True)
        self.starts += 1
        while not self._ready.wait(0.1):
            if self.proc.poll() is not None:
                raise GatewayError(f"gateway exited with {self.proc.returncode} before READY=1; "
                                   f"last log lines:\n{self.log_tail()}")
            if time.monotonic() - began > timeout_s:
                raise GatewayError(f"gateway not READY after {timeout_s:.0f} s; last log lines:\n{self.log_tail()}")
        took = time.monotonic() - began
        self.start_times_s.append(took)
        return took

    def kill(self) -> None:
        """SIGKILL by our own pid (the RSS peak read first), and reap it."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        self.sample_rss()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
        self.kills += 1
        log.info("gateway pid %d killed (SIGKILL)", proc.pid)

    def terminate(self, timeout_s: float = 30.0) -> int | None:
        """SIGTERM and wait (SIGKILL after ``timeout_s``); the exit code."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return proc.returncode if proc else None
        self.sample_rss()
        os.kill(proc.pid, signal.SIGTERM)
        try:
            return proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            log.error("gateway pid %d did not stop within %.0f s of SIGTERM: killed", proc.pid, timeout_s)
            os.kill(proc.pid, signal.SIGKILL)
            return proc.wait(30)

    def hup(self) -> int:
        """SIGHUP (reload); the log size before it, to read what the reload said."""
        if not self.alive:
            raise GatewayError("gateway not running")
        offset = self.log_path.stat().st_size
        os.kill(self.proc.pid, signal.SIGHUP)
        return offset

    def close(self) -> None:
        self.terminate()
        self._stop.set()
        self._reader.join(2)
        self._sampler.join(2)
        self._sock.close()
        self._sock_path.unlink(missing_ok=True)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.alive else None

    # -- what it says -------------------------------------------------------------------------
    def log_tail(self, lines: int = 25) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def log_since(self, offset: int) -> str:
        with open(self.log_path, "rb") as fh:
            fh.seek(offset)
            return fh.read().decode("utf-8", errors="replace")

    def sample_rss(self) -> None:
        pid = self.pid
        if pid is None:
            return
        try:
            with open(f"/proc/{pid}/status", encoding="ascii") as fh:
                for line in fh:
                    if line.startswith("VmHWM:"):
                        self.peak_rss_kb = max(self.peak_rss_kb, int(line.split()[1]))
                        break
        except (OSError, ValueError):
            pass

    def _sample_loop(self) -> None:
        while not self._stop.wait(2.0):
            self.sample_rss()

    def _read_notify(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._sock.recv(4096)
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            for line in data.decode("utf-8", errors="replace").splitlines():
                if line == "READY=1":
                    self._ready.set()
