"""The soak run from start to tally: set the site up, run the shift under faults, drain, count.

    result = Soak(SoakSettings(...)).run()

Parts: site.py (files, roster, config), gatewayproc.py (the daemon as a process), lanes.py and
phones.py (devices and the people at them), workload.py (the shift change), faults.py (the
schedule), platform.py (the receiver), mosquitto.py (the comparison), tally.py (the counts).
"""
from __future__ import annotations

import logging
import math
import random
import resource
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from sitegate.bench.soakkit import faults as F
from sitegate.bench.soakkit.faults import FaultLog, FaultPlan, FaultRunner, write_offset
from sitegate.bench.soakkit.gatewaydb import GatewayDb
from sitegate.bench.soakkit.gatewayproc import GatewayError, GatewayProcess, faketime_library
from sitegate.bench.soakkit.lanes import IdCardLane, Lane, WgLane
from sitegate.bench.soakkit.phones import PhoneLane
from sitegate.bench.soakkit.platform import Platform
from sitegate.bench.soakkit.settings import SoakSettings
from sitegate.bench.soakkit.site import SiteFiles
from sitegate.bench.soakkit.tally import SoakResult, tally
from sitegate.bench.soakkit.truth import Ledger
from sitegate.bench.soakkit.workload import LaneRunner, build_lanes, plan

log = logging.getLogger(__name__)

MB = 1024 * 1024
AFTER_SHIFT_S = 90.0      # queues still waiting at the lanes when the shift ends get this long


def run_soak(settings: SoakSettings) -> SoakResult:
    return Soak(settings).run()


def percentile(values: list[float], q: float) -> float | None:
    """The nearest-rank percentile (no interpolation), None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


class Soak:
    def __init__(self, settings: SoakSettings):
        self.s = settings
        self.rng = random.Random(settings.seed)
        self.root = Path(settings.workdir or tempfile.mkdtemp(prefix="sitegate-soak-"))
        self.site = SiteFiles(self.root, settings.workers, settings.seed)
        self.ledger = Ledger()
        self.flog = FaultLog()
        self.result = SoakResult(workers=settings.workers)
        self.gw_lock = threading.Lock()
        self.lanes: list[Lane] = []
        self.runners: list[LaneRunner] = []
        self.platform: Platform | None = None
        self.gw: GatewayProcess | None = None
        self.db: GatewayDb | None = None
        self.compare = None
        self.fault_runner: FaultRunner | None = None
        self.fatal: str | None = None
        self._monitor_stop = threading.Event()
        self._monitor: threading.Thread | None = None
        self._reload_note = False

    def say(self, text: str) -> None:
        if self.s.progress:
            print(f"soak: {text}", file=sys.stderr, flush=True)

    # -- the run -------------------------------------------------------------------------------
    def run(self) -> SoakResult:
        began = time.monotonic()
        own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        try:
            self._setup()
            self._shift()
            self._drain()
            self._count()
        finally:
            self.result.duration_s = time.monotonic() - began
            self._teardown()
            own2, children2 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
            self.result.cpu_harness_s = (own2.ru_utime - own.ru_utime, own2.ru_stime - own.ru_stime)
            self.result.cpu_processes_s = (children2.ru_utime - children.ru_utime,
                                           children2.ru_stime - children.ru_stime)
        return self.result

    def _setup(self) -> None:
        s = self.s
        self.say(f"site in {self.root}: {s.workers} workers, {s.lanes} lanes, {s.kills} kills, "
                 f"shift of 20 simulated minutes in {s.shift_s:.0f} s")
        self.site.prepare_dirs()
        self.platform = Platform(self.site, s.seed)
        self.platform.start()
        self.db = GatewayDb(self.site.data_dir / "sitegate.db")
        self.lanes = build_lanes(s, self.site, self.db)
        self.result.lanes = [f"{ln.kind} ({ln.name})" for ln in self.lanes]
        devices = "".join(ln.start_device(self.site.root) for ln in self.lanes)
        phone = next((ln for ln in self.lanes if isinstance(ln, PhoneLane)), None)
        self.site.write_config(self.platform.url, devices, phone.name if phone else None)
        phone_people = self.site.people[:s.phones] if phone else []
        self.site.prepare_store(phone_people)
        faketime_file = None
        if "clock_jump" in s.faults and faketime_library():
            faketime_file = self.root / "faketime"
            write_offset(faketime_file, "+0")
        self.gw = GatewayProcess(self.site.config, self.root, faketime_file=faketime_file, verbose=s.verbose)
        self.result.launcher = " ".join(a if not a.endswith(".toml") else "FILE" for a in self.gw.command()[1:])
        took = self.gw.start()
        self.say(f"gateway READY in {took:.1f} s ({self.result.launcher}); waiting for the devices")
        self._wait_ready()
        if s.compare_mosquitto:
            self._start_comparison()
        self._monitor = threading.Thread(target=self._watch_backlog, name="soak-backlog", daemon=True)
        self._monitor.start()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.s.setup_timeout_s
        waiting = list(self.lanes)
        while waiting and time.monotonic() < deadline:
            waiting = [ln for ln in waiting if not ln.ready(self.s.workers)]
            time.sleep(0.5)
        for ln in waiting:
            self.result.notes.append(f"{ln.device_id} not ready after {self.s.setup_timeout_s:.0f} s "
                                     "(privileges/users still being put on it): its first passages may be refused")

    def _start_comparison(self) -> None:
        from sitegate.bench.soakkit import mosquitto

        if not mosquitto.available():
            self.result.notes.append(f"Mosquitto comparison skipped: {mosquitto.MOSQUITTO} is missing "
                                     "(Debian package mosquitto)")
            return
        self.compare = mosquitto.BridgeComparison(self.root / "mqtt")
        self.compare.start()
        self.ledger.listeners.append(lambda p: self.compare.publish(f"{p.seq}-{p.direction}"))

    def _shift(self) -> None:
        s = self.s
        passages = plan(s, self.site.people, self.lanes, self.rng)
        for p in passages:
            self.ledger.add(p)
        t0 = time.monotonic() + 1.0
        give_up = t0 + s.shift_s * 1.02 + AFTER_SHIFT_S
        for i, lane in enumerate(self.lanes):
            mine = [p for p in passages if p.lane == lane.name]
            runner = LaneRunner(lane, mine, self.ledger, t0, give_up, random.Random(s.seed + i))
            self.runners.append(runner)
        fault_plan = FaultPlan.make(s.shift_s, s.kills, list(s.faults), s.seed, first=s.faults_first)
        for line in fault_plan.describe():
            self.say("plan: " + line)
        self.fault_runner = FaultRunner(fault_plan, actions=self._actions(), kill=self._kill, seed=s.seed,
                                        flog=self.flog)
        self.flog.started = time.time() + (t0 - time.monotonic())
        for runner in self.runners:
            runner.start()
        self.fault_runner.start(t0)
        self.say(f"shift started: {len(passages)} planned passages")
        last = 0.0
        while not all(r.done for r in self.runners) or self.fault_runner.running:
            if self.fatal:
                raise GatewayError(self.fatal)
            if time.monotonic() - last >= 30:
                last = time.monotonic()
                acked = len(self.ledger.acknowledged())
                self.say(f"t+{time.monotonic() - t0:5.0f} s: {acked}/{len(passages)} passages acknowledged, "
                         f"backlog max {self.result.max_backlog}, kills {self.gw.kills}")
            time.sleep(0.5)
        self.fault_runner.stop()
        self.say(f"shift over: {len(self.ledger.acknowledged())}/{len(passages)} passages acknowledged")

    # -- faults --------------------------------------------------------------------------------
    def _actions(self) -> dict:
        acts: dict = {
            "platform_down": (self._platform_down, self._platform_back),
            "platform_errors": (lambda: self._knob(error_rate=F.ERROR_RATE), lambda: self._knob(error_rate=0.0)),
            "dropped_answers": (lambda: self._knob(drop_rate=F.DROP_RATE), lambda: self._knob(drop_rate=0.0)),
            "disk_full": (self._disk_full, self._disk_back),
        }
        readers = [ln for ln in self.lanes if isinstance(ln, IdCardLane)]
        if readers:
            acts["unplug_reader"] = (lambda: self._each(readers, "unplug"), lambda: self._each(readers, "replug"))
        else:
            self.flog.notes.append("unplug_reader skipped: no ID-card lane")
        wgs = sorted((ln for ln in self.lanes if isinstance(ln, WgLane)), key=lambda ln: ln.online)
        if wgs:
            acts["wg_socket"] = (lambda: self._each(wgs[:1], "close_socket"),
                                 lambda: self._each(wgs[:1], "reopen_socket"))
        else:
            self.flog.notes.append("wg_socket skipped: no WG lane")
        if self.gw.faketime_file is not None:
            acts["clock_jump"] = (lambda: self._clock(self.s.clock_jump), lambda: self._clock("+0"))
        elif "clock_jump" in self.s.faults:
            self.flog.notes.append("clock_jump SKIPPED: libfaketime is not installed (Debian package faketime)")
        return acts

    def _each(self, lanes: list[Lane], method: str) -> None:
        for ln in lanes:
            getattr(ln, method)()
        self.flog.say(f"{method} {', '.join(ln.device_id for ln in lanes)}")

    def _knob(self, **knobs) -> None:
        self.platform.set_faults(**knobs)
        self.flog.say(f"platform faults {knobs}")

    def _platform_down(self) -> None:
        self.platform.down()
        if self.compare is not None:
            self.compare.platform_down()
        self.flog.say("platform down (and the comparison's platform broker)")

    def _platform_back(self) -> None:
        self.platform.back()
        if self.compare is not None:
            self.compare.platform_back()
        self.flog.say("platform back")

    def _clock(self, offset: str) -> None:
        write_offset(self.gw.faketime_file, offset)
        self.flog.say(f"gateway wall clock offset {offset}")

    def _disk_full(self) -> None:
        free_mb = shutil.disk_usage(self.site.data_dir).free // MB
        self._apply_config(lambda: self.site.set_min_free_mb(free_mb + F.FULL_DISK_MB), "disk full")

    def _disk_back(self) -> None:
        self._apply_config(lambda: self.site.set_min_free_mb(100), "disk space back")
        refused = self.db.alarm_count("disk_full")
        self.flog.say(f"disk_full alarm raised {refused} time(s) so far (events the store refused)")

    def _apply_config(self, change, what: str) -> None:
        with self.gw_lock:
            change()
            offset = self.gw.hup()
            time.sleep(2.0)
            said = self.gw.log_since(offset)
            if "next restart" not in said:
                self.flog.say(f"{what}: applied by SIGHUP")
                return
            if not self._reload_note:
                self._reload_note = True
                self.result.notes.append("SIGHUP does not apply [storage] min_free_mb (the gateway logs 'take "
                                         "effect at the next restart'): the disk-full fault restarts the gateway "
                                         "with SIGTERM to apply it")
            self.flog.say(f"{what}: SIGHUP said 'next restart'; restarting the gateway (SIGTERM)")
            stopped = time.time()
            code = self.gw.terminate()
            if code not in (0, None):
                self.result.notes.append(f"gateway exited {code} on SIGTERM")
            self._start_gateway(stopped)

    def _kill(self) -> None:
        with self.gw_lock:
            if self.compare is not None:
                self.compare.kill_local()
            self.gw.kill()
            killed = time.time()
            self.flog.kills.append(killed)
            self.flog.say(f"SIGKILL {self.gw.kills}")
            time.sleep(self.fault_runner.restart_delay())
            if self.compare is not None:
                self.compare.start_local()
            self._start_gateway(killed)

    def _start_gateway(self, stopped: float | None = None) -> None:
        try:
            took = self.gw.start()
        except GatewayError as exc:
            self.flog.say(f"gateway did not start: {exc}")
            self.fatal = f"the gateway did not come back after a restart: {exc}"
            return
        if stopped is not None:
            self.flog.down.append((stopped, time.time()))
        self.flog.say(f"gateway READY in {took:.1f} s")

    def _watch_backlog(self) -> None:
        while not self._monitor_stop.wait(0.5):
            try:
                self.result.max_backlog = max(self.result.max_backlog, self.db.undelivered())
            except Exception:  # noqa: BLE001 - a busy moment; the next look counts
                pass

    # -- the end -------------------------------------------------------------------------------
    def _drain(self) -> None:
        began = time.monotonic()
        deadline = began + self.s.drain_timeout_s
        self.platform.start()
        if not self.gw.alive:
            self._start_gateway()
        self.say("draining: waiting for the devices' kept records and the gateway's backlog")
        last, still_since = None, time.monotonic()
        while time.monotonic() < deadline:
            unsent = sum(ln.unsent() for ln in self.lanes)
            backlog, open_batches = self.db.undelivered(), self.db.open_batches()
            if unsent == 0 and backlog == 0 and open_batches == 0:
                self.result.drained = True
                break
            state = (unsent, backlog, open_batches)
            if state != last:
                last, still_since = state, time.monotonic()
            elif unsent == 0 and time.monotonic() - still_since > 15 and self._stalled(deadline):
                break
            time.sleep(1.0)
        self.result.drain_s = time.monotonic() - began
        if not self.result.drained and not any(n.startswith("drain stopped early") for n in self.result.notes):
            self.result.notes.append(f"drain timed out after {self.s.drain_timeout_s:.0f} s: devices keep "
                                     f"{sum(ln.unsent() for ln in self.lanes)}, backlog {self.db.undelivered()}, "
                                     f"open batches {self.db.open_batches()}")
        self.say(f"drained in {self.result.drain_s:.0f} s" if self.result.drained
                 else "not drained: " + self.result.notes[-1])
        code = self.gw.terminate()
        if code not in (0, None):
            self.result.notes.append(f"gateway exited {code} on the final SIGTERM")

    def _stalled(self, deadline: float) -> bool:
        """Nothing moved for a while and everything left is scheduled after the drain's end (a
        batch put off by a clock jump, say): waiting longer proves nothing. Noted, with why."""
        rows = self.db.query("SELECT next_ts, last_error, state FROM batches WHERE state IN "
                             "('queued', 'sending', 'sent', 'unknown') ORDER BY next_ts LIMIT 1")
        pend = self.db.query("SELECT min(next_attempt_ts) FROM deliveries WHERE state = 'pending'")[0][0]
        held = self.db.backlog()["held"]
        soonest = min([t for t in ([rows[0]["next_ts"]] if rows else []) + [pend] if t is not None], default=None)
        end_wall = time.time() + (deadline - time.monotonic())
        if held or soonest is None or soonest <= end_wall:
            return False
        why = f"batch {rows[0]['state']}: {rows[0]['last_error']}" if rows else "pending records"
        self.result.notes.append(
            f"drain stopped early: {self.db.undelivered()} record(s) wait for a retry scheduled "
            f"{soonest - time.time():.0f} s from now ({why})")
        return True

    def _count(self) -> None:
        r = self.result
        r.produced = sum(ln.produced() for ln in self.lanes)
        for kind_reason, n in self.ledger.refusals.items():
            r.refusals[kind_reason] += n
        drops = [self.flog.windows["dropped_answers"]] if "dropped_answers" in self.flog.windows else []
        tally(r, self.ledger.passages, self.site.platform_db, self.db, drop_windows=drops, kills=self.flog.kills)
        swipes = [x for ln in self.lanes if isinstance(ln, WgLane) for x in ln.latencies]
        up = [lat for at, lat in swipes if not any(a - 1.0 <= at + lat and at <= b for a, b in self.flog.down)]
        everything = [lat for _, lat in swipes]
        ms = lambda v: None if v is None else v * 1000     # noqa: E731
        r.p99_latency_ms, r.p50_latency_ms = ms(percentile(up, 99)), ms(percentile(up, 50))
        r.p99_latency_all_ms = ms(percentile(everything, 99))
        r.latency_samples, r.latency_samples_all = len(up), len(everything)
        r.peak_rss_mb = self.gw.peak_rss_kb / 1024
        r.kills, r.starts = self.gw.kills, self.gw.starts
        r.median_start_s = percentile(self.gw.start_times_s, 50) or 0.0
        r.faults = list(self.flog.lines)
        r.skipped_faults = list(self.flog.notes) + [f"{k} skipped" for k in self.flog.skipped]
        phone = next((ln for ln in self.lanes if isinstance(ln, PhoneLane)), None)
        if phone is not None and phone.counters:
            r.notes.append("phones: " + ", ".join(f"{k} {v}" for k, v in sorted(phone.counters.items())))
        if self.compare is not None:
            self.say("counting the Mosquitto bridge comparison")
            r.mosquitto = self.compare.finish()

    def _teardown(self) -> None:
        for runner in self.runners:
            runner.stop()
        if self.fault_runner is not None:
            self.fault_runner.stop()
        self._monitor_stop.set()
        for part in [*self.lanes]:
            try:
                part.stop()
            except Exception:  # noqa: BLE001
                log.exception("stopping %s", part.device_id)
        if self.compare is not None:
            self.compare.close()
        if self.gw is not None:
            self.gw.close()
        if self.platform is not None:
            self.platform.stop()
        if self.db is not None:
            self.db.close()
        if not self.s.keep:
            shutil.rmtree(self.root, ignore_errors=True)
