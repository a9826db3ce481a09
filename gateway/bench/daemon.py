"""``sitegate bench daemon``: does the daemon fit a Raspberry Pi? (issue 7)

The daemon runs as its own process, ``python -m sitegate run -c FILE`` as systemd starts it, with
eight simulated devices (2 GA 467 ID-card readers on ptys, 2 WG controllers, 2 ZKTeco PUSH and
2 Hikvision ISAPI face terminals; no camera), a roster of thousands and the reference platform,
all in this process on loopback (gateway/bench/_site.py). Measured:

- start-up: spawn -> READY=1 on a notify socket we listen on (sd_notify(3)), the median of
  ``--starts`` spawns. Target <= 2 s.
- memory after ``--minutes`` of traffic (a shift change, then a trickle; _traffic.py): VmRSS
  and VmHWM (the peak) from /proc/PID/status (proc(5)). Target <= 90 MB.
- idle CPU: utime+stime from /proc/PID/stat over ``--idle-seconds`` (>= 60 s for the figure of
  record) with the devices connected, the backlog delivered and no traffic. Target <= 1 %.

Baselines from the same run: a bare interpreter that says READY=1 and sleeps (start-up, RSS,
idle CPU), and, to tell the cost of imports from the cost of running, an interpreter that only
imports what ``sitegate run`` imports (informative).

Where the kernel does not report a synchronised clock (containers), ``sitegate run`` holds every
event and uploads nothing; the daemon is then started through sitegate.bench._trusted_run (the
same CLI with the clock taken as synchronised) so the uplink works as on a site with NTP.
"""
from __future__ import annotations

import logging
import os
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from sitegate.bench import Figure, check

log = logging.getLogger(__name__)

DESCRIPTION = "daemon footprint, 8 simulated devices: start-up to READY=1, RSS after N min of traffic, idle CPU %"

# What `sitegate run` imports before it starts the devices, without starting anything.
IMPORTS_ONLY = ("import sitegate.cli as cli\n"
                "cli.build_parser()\n"
                "import sitegate.daemon.runtime, sitegate.uplink.profiles, sitegate.web.server\n"
                "from sitegate.drivers.registry import BUILTIN\n"
                "import importlib\n"
                "for target in list(BUILTIN.values())[:4]:\n"
                "    importlib.import_module(target.partition(':')[0])\n")


def add_arguments(p) -> None:
    p.add_argument("--minutes", type=float, default=10.0, help="minutes of traffic before RSS is read (default %(default)s)")
    p.add_argument("--idle-seconds", type=float, default=60.0,
                   help="quiet period over which idle CPU is measured (default %(default)s; >= 60 for the figure of record)")
    p.add_argument("--workers", type=int, default=3000, help="workers on the roster (default %(default)s)")
    p.add_argument("--starts", type=int, default=3, help="spawns timed to READY=1; the median is reported (default %(default)s)")
    p.add_argument("--peak-rate", type=float, default=3.0, help="passages/s during the shift change (default %(default)s)")
    p.add_argument("--trickle-rate", type=float, default=0.2, help="passages/s after it (default %(default)s)")
    p.add_argument("--ready-timeout", type=float, default=900.0,
                   help="seconds to wait for the roster to reach every device (default %(default)s)")
    p.add_argument("--keep", metavar="DIR", help="run in DIR and keep it (config, logs, databases)")


def _wait(cond, timeout_s: float, proc) -> float:
    """Seconds until ``cond()``; raises if the daemon dies; returns -1 on timeout."""
    from sitegate.bench._proc import ProcessGone

    began = time.monotonic()
    while not cond():
        if proc.poll() is not None:
            raise ProcessGone(f"daemon exited with {proc.returncode}")
        if time.monotonic() - began > timeout_s:
            return -1.0
        time.sleep(0.5)
    return time.monotonic() - began


class _DaemonDb:
    """Read-only looks into the daemon's store (counts only; nothing personal is read)."""

    def __init__(self, data_dir: Path):
        self.path = data_dir / "sitegate.db"

    def _one(self, sql: str) -> int:
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10)
        try:
            return int(conn.execute(sql).fetchone()[0] or 0)
        finally:
            conn.close()

    def events(self) -> int:
        return self._one("SELECT count(*) FROM events")

    def backlog(self) -> int:
        return self._one("SELECT count(*) FROM deliveries WHERE state IN ('pending', 'inflight')")

    def devices_up(self) -> int:
        return self._one("SELECT count(*) FROM kv WHERE key LIKE 'device.%.health' AND value LIKE '%\"state\": \"up\"%'")


class _PeakSampler:
    """VmRSS every 2 s while traffic runs (VmHWM already keeps the peak; this keeps the curve's max
    of *resident now*, and notices a dead daemon early)."""

    def __init__(self, pid: int):
        self.pid, self.max_rss_kb = pid, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="bench-rss", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        from sitegate.bench._proc import ProcessGone, memory

        while not self._stop.wait(2.0):
            try:
                self.max_rss_kb = max(self.max_rss_kb, memory(self.pid).rss_kb)
            except ProcessGone:
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def _cpu_percent(pids: list[int], seconds: float) -> list[float]:
    from sitegate.bench._proc import cpu_seconds

    before, t0 = [cpu_seconds(p) for p in pids], time.monotonic()
    time.sleep(seconds)
    after, t1 = [cpu_seconds(p) for p in pids], time.monotonic()
    return [(a - b) / (t1 - t0) * 100.0 for a, b in zip(after, before)]


def daemon_command(config: Path) -> tuple[list[str], bool]:
    """The daemon's command line, and whether the clock is trusted by the bench (see above)."""
    from sitegate.clock import kernel_clock_synchronised

    if kernel_clock_synchronised():
        return [sys.executable, "-m", "sitegate", "run", "-c", str(config)], False
    return [sys.executable, "-m", "sitegate.bench._trusted_run", "run", "-c", str(config)], True


def _measure(root: Path, args) -> list[Figure]:
    from sitegate.bench._proc import BARE_PYTHON, NotifyListener, memory, spawn_ready, stop
    from sitegate.bench._site import BenchSite
    from sitegate.bench._traffic import Traffic

    site = BenchSite(root, max(args.workers, 10))
    notify = NotifyListener()
    procs: list = []
    log_path = root / "daemon.log"
    try:
        config = site.start()
        daemon_cmd, trusted = daemon_command(config)
        starts = max(1, args.starts)
        imports_only = [sys.executable, "-c", IMPORTS_ONLY + BARE_PYTHON]

        bare_times, daemon_times = [], []
        for _ in range(starts - 1):       # alternate, so a warming disk cache favours neither
            p, t = spawn_ready([sys.executable, "-c", BARE_PYTHON], notify, log_path=root / "bare.log", cwd=root)
            bare_times.append(t)
            stop(p)
            p, t = spawn_ready(daemon_cmd, notify, log_path=log_path, cwd=root)
            daemon_times.append(t)
            stop(p)
        bare, t = spawn_ready([sys.executable, "-c", BARE_PYTHON], notify, log_path=root / "bare.log", cwd=root)
        procs.append(bare)
        bare_times.append(t)
        importer, imports_t = spawn_ready(imports_only, notify, log_path=root / "imports.log", cwd=root)
        procs.append(importer)
        imports_mem = memory(importer.pid)
        stop(importer)
        daemon, t = spawn_ready(daemon_cmd, notify, log_path=log_path, cwd=root)
        procs.append(daemon)
        daemon_times.append(t)
        log.info("daemon pid %d READY in %.2f s%s", daemon.pid, t, " (clock trusted by the bench)" if trusted else "")

        db = _DaemonDb(site.data_dir)
        synced_s = _wait(site.devices_ready, args.ready_timeout, daemon)
        _wait(lambda: db.devices_up() >= len(site.lanes), 30.0, daemon)   # health is recorded every 10 s
        before = memory(daemon.pid)

        sampler = _PeakSampler(daemon.pid)
        traffic = Traffic(site, args.minutes * 60.0, peak_rate=args.peak_rate, trickle_rate=args.trickle_rate)
        offered = traffic.run(threading.Event())
        sampler.stop()
        after = memory(daemon.pid)

        # quiet: what the devices hold and the backlog delivered, then nothing moves
        drained_s = _wait(lambda: site.devices_waiting() == 0 and db.backlog() == 0, 180.0, daemon)
        # a roster sync from the platform may have queued user commands again: quiet means done
        _wait(site.devices_ready, args.ready_timeout, daemon)
        time.sleep(5.0)
        idle_s = max(1.0, args.idle_seconds)
        daemon_cpu, bare_cpu = _cpu_percent([daemon.pid, bare.pid], idle_s)
        bare_mem = memory(bare.pid)
        final = memory(daemon.pid)
        events, platform = db.events(), site.platform_records()
        code = stop(daemon)
    finally:
        for p in procs:
            stop(p)
        notify.close()
        site.stop()

    mb = 1024 / 1e6           # /proc reports kB of 1024 bytes; figures are MB of 10^6 (the stricter reading)
    how = f"{len(site.lanes)} devices, {len(site.people):,} workers"
    start_t, bare_t = statistics.median(daemon_times), statistics.median(bare_times)
    rss, hwm = max(after.rss_kb, final.rss_kb) * mb, max(after.hwm_kb, final.hwm_kb) * mb
    return [
        Figure(f"start-up to READY=1, median of {starts} ({how})", start_t, "s", baseline=bare_t,
               baseline_name="bare interpreter", target="<= 2 s", met=check(start_t, "<=", 2.0)),
        Figure("start-up of the imports alone (no store, no devices)", imports_t, "s", baseline=bare_t,
               baseline_name="bare interpreter"),
        Figure(f"VmRSS after {args.minutes:g} min of traffic ({offered:,} passages)", rss, "MB",
               baseline=bare_mem.rss_kb * mb, baseline_name="bare interpreter", target="<= 90 MB",
               met=check(rss, "<=", 90.0)),
        Figure("VmHWM (peak resident) over the run", hwm, "MB", baseline=bare_mem.hwm_kb * mb,
               baseline_name="bare interpreter", target="<= 90 MB", met=check(hwm, "<=", 90.0)),
        Figure("VmRSS with devices connected, before traffic", before.rss_kb * mb, "MB",
               baseline=imports_mem.rss_kb * mb, baseline_name="imports alone"),
        Figure(f"idle CPU over {idle_s:g} s, devices connected, no traffic", daemon_cpu, "%", baseline=bare_cpu,
               baseline_name="bare interpreter", target="<= 1 %", met=check(daemon_cpu, "<=", 1.0)),
        Figure("threads in the daemon", float(final.threads), ""),
        Figure("roster on every device (s after READY; -1: not within the timeout)", synced_s, "s"),
        Figure("backlog delivered after the traffic (s; -1: not within 180 s)", drained_s, "s"),
        Figure("passages offered at the gates", float(offered), "", target="> 0", met=offered > 0),
        Figure("events recorded by the daemon", float(events), "", target="> 0", met=events > 0),
        Figure("records received by the platform" + (" (clock trusted by the bench)" if trusted else ""),
               float(platform), ""),
        Figure("daemon exit code after SIGTERM", float(code), "", target="= 0", met=code == 0),
    ]


def run(args) -> list[Figure]:
    if args.keep:
        root = Path(args.keep)
        root.mkdir(parents=True, exist_ok=True)
        return _measure(root, args)
    base = "/var/tmp" if os.path.isdir("/var/tmp") else None
    with tempfile.TemporaryDirectory(prefix="sitegate-bench-daemon-", dir=base) as tmp:
        return _measure(Path(tmp), args)
