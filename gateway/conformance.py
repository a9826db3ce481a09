"""``sitegate drivers test``: the vendor's conformance run against a real device or a simulator.

The driver runs under the real supervisor with a throw-away store (nothing touches the site's data):
it must start and report UP, produce an observation, obey an open command, come back by itself after
its connection is cut, and survive garbage (count it, stay up).
"""
from __future__ import annotations

import sys
import tempfile
import threading
import time
from dataclasses import dataclass

from sitegate.drivers.api import HealthState
from sitegate.errors import UsageError


@dataclass
class Step:
    name: str
    passed: bool
    detail: str
    skipped: bool = False

    def line(self) -> str:
        mark = "skip" if self.skipped else "pass" if self.passed else "FAIL"
        return f"[{mark}] {self.name}: {self.detail}"


def _shown(credential) -> str:
    """A credential as the vendor may see it on screen: ID numbers masked, card numbers as they are."""
    from sitegate.idcard import mask_text
    return mask_text(str(credential.value))


def _wait(cond, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return False


def _find_device(cfg, name: str) -> dict:
    by_id = [d for d in cfg["devices"] if d["id"] == name]
    by_driver = [d for d in cfg["devices"] if d["driver"] == name]
    if by_id:
        return by_id[0]
    if len(by_driver) == 1:
        return by_driver[0]
    if by_driver:
        raise UsageError(f"{len(by_driver)} devices use driver {name!r}: name one by its id")
    raise UsageError(f"no device with id or driver {name!r} in the configuration")


def run_conformance(config_path: str, name: str, *, timeout: float = 20.0, prompt: bool = True) -> list[Step]:
    from sitegate.buffer import Store
    from sitegate.config import load
    from sitegate.daemon.supervisor import DeviceRunner
    from sitegate.pipeline import Pipeline
    from sitegate.policy import GatePolicy
    from sitegate.roster_cache import RosterCache
    from sitegate.uplink.base import Backoff

    cfg = load(config_path)
    dev = _find_device(cfg, name)
    steps: list[Step] = []
    with tempfile.TemporaryDirectory(prefix="sitegate-conformance-") as tmp, Store.open(tmp, uplinks=[]) as store:
        roster = RosterCache(store)
        pipeline = Pipeline(store, GatePolicy(roster), devices={dev["id"]: dev})
        seen: list = []
        lock = threading.Lock()

        def emit(obs):
            out = pipeline.emit(obs)
            with lock:
                seen.append(obs)
            return out

        runner = DeviceRunner(dev, emit=emit, backoff=Backoff(base_s=0.5, cap_s=2.0),
                              make_context_kw={"state_get": store.kv_get, "state_set": store.kv_set,
                                               "roster": roster.admitted})
        runner.start()
        try:
            up = _wait(lambda: runner.health()["state"] == "up", timeout)
            h = runner.health()
            steps.append(Step("starts and reports health", up, f"{h['state']} {h['reason']}".strip()))
            if not up:
                return steps
            if prompt:
                print(f"present a card / face / passage at {dev['id']} now (waiting {timeout:.0f} s)…",
                      file=sys.stderr, flush=True)
            got = _wait(lambda: bool(seen), timeout)
            steps.append(Step("produces an observation", got,
                              f"{seen[0].credential.kind.value} {_shown(seen[0].credential)} via {seen[0].method.value}"
                              if got else f"nothing within {timeout:.0f} s"))
            try:
                runner.driver.open(None)
                steps.append(Step("obeys an open command", True, "open() accepted by the device"))
            except Exception as exc:  # noqa: BLE001
                steps.append(Step("obeys an open command", False, f"{type(exc).__name__}: {exc}"))
            before = runner.driver
            before.close()       # the connection is cut, as if unplugged
            back = _wait(lambda: runner.driver is not before and runner.health()["state"] == "up", timeout)
            steps.append(Step("survives disconnect and reconnects", back,
                              f"restarted {runner.restarts} time(s), {runner.health()['state']}"))
            errors = sum(getattr(d, "protocol_errors", 0) for d in (before, runner.driver))
            if errors:
                steps.append(Step("rejects garbage", runner.health()["state"] == HealthState.UP.value,
                                  f"{errors} bad input(s) counted, still {runner.health()['state']}"))
            else:
                steps.append(Step("rejects garbage", True, "no garbage seen (run the simulator with garbage on)",
                                  skipped=True))
        finally:
            runner.stop()
    return steps
