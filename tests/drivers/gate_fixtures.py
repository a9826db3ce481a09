"""Shared by the gate driver tests (imported explicitly, not a conftest): the real road — a temp
store, the roster, the gate policy and the pipeline, built the way gateway/daemon/runtime.py
builds them — and drivers run on it under the real supervisor or directly in a thread."""
from __future__ import annotations

import threading
import time
from datetime import date
from pathlib import Path

from sitegate.buffer import Roster, Store, Worker
from sitegate.daemon.supervisor import DeviceRunner
from sitegate.drivers.api import Driver, DriverContext
from sitegate.pipeline import Pipeline
from sitegate.policy import GatePolicy
from sitegate.roster_cache import RosterCache
from sitegate.uplink.base import Backoff

WAIT = 15.0   # upper bound for something to happen on loopback; only reached when it is broken


def wait_for(cond, timeout: float = WAIT, step: float = 0.02) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(step)
    return bool(cond())


class Gate:
    def __init__(self, root: Path, workers: list[Worker], devices: list[dict], *, today: date | None = None):
        self.store = Store.open(root / "gate-store", uplinks=["national"])
        self.roster_table = Roster(self.store)
        if workers:
            self.roster_table.upsert_many(workers)
        self.roster = RosterCache(self.store)
        self.policy = GatePolicy(self.roster, repeat_window_s=10.0, **({"today": lambda: today} if today else {}))
        self.devices = {d["id"]: d for d in devices}
        self.pipeline = Pipeline(self.store, self.policy, devices=self.devices)
        self._running: list[tuple[threading.Thread, threading.Event, Driver]] = []
        self._runners: list[DeviceRunner] = []

    # -- running drivers ------------------------------------------------------------------------
    def context(self, device_id: str, **kw) -> DriverContext:
        dev = self.devices[device_id]
        kw.setdefault("clock_synced", lambda: True)
        return DriverContext(device_id=device_id, lane=dev.get("lane", ""), direction=dev["direction"], options=dev,
                             emit=self.pipeline.emit, state_get=self.store.kv_get, state_set=self.store.kv_set,
                             roster=self.roster.admitted, **kw)

    def start(self, cls: type[Driver], device_id: str, **kw) -> Driver:
        """``driver.run(stop)`` in a thread; stopped by its own event in ``close``."""
        driver = cls(self.context(device_id, **kw))
        stop = threading.Event()
        failures: list[BaseException] = []

        def run() -> None:
            try:
                driver.run(stop)
            except BaseException as exc:  # noqa: BLE001 - kept for the test to look at
                failures.append(exc)

        thread = threading.Thread(target=run, name=f"test-{device_id}", daemon=True)
        driver.failures = failures      # type: ignore[attr-defined]
        thread.start()
        self._running.append((thread, stop, driver))
        return driver

    def stop(self, driver: Driver) -> None:
        for thread, stop, d in list(self._running):
            if d is driver:
                stop.set()
                d.close()
                thread.join(WAIT)
                assert not thread.is_alive(), "driver did not stop"
                self._running.remove((thread, stop, d))

    def supervise(self, device_id: str, **ctx_kw) -> DeviceRunner:
        """The device under the real supervisor, with a short backoff."""
        kw = {"state_get": self.store.kv_get, "state_set": self.store.kv_set, "roster": self.roster.admitted,
              "clock_synced": lambda: True, **ctx_kw}
        runner = DeviceRunner(self.devices[device_id], emit=self.pipeline.emit, make_context_kw=kw,
                              backoff=Backoff(base_s=0.05, cap_s=0.3))
        runner.start()
        self._runners.append(runner)
        return runner

    # -- what was recorded ----------------------------------------------------------------------
    def events(self, device_id: str | None = None):
        return [e for e in self.store.events(limit=100_000) if device_id is None or e.source.device_id == device_id]

    def add_workers(self, workers: list[Worker]) -> None:
        self.roster_table.upsert_many(workers)
        self.roster.refresh(force=True)

    def close(self) -> None:
        for runner in self._runners:
            runner.stop()
        for thread, stop, driver in self._running:
            stop.set()
            driver.close()
            thread.join(WAIT)
        self.store.close()
