"""One misbehaving device never takes the daemon or the other lanes down."""
import threading
import time

import pytest

from sitegate.daemon.supervisor import DeviceRunner
from sitegate.drivers import registry
from sitegate.drivers.api import Outcome
from sitegate.model import ADMIT
from sitegate.uplink.base import Backoff


@pytest.fixture(autouse=True)
def bad_drivers(monkeypatch):
    for name, cls in [("test-crash", "CrashDriver"), ("test-hang", "HangDriver"), ("test-flood", "FloodDriver"),
                      ("test-steady", "SteadyDriver")]:
        monkeypatch.setitem(registry.BUILTIN, name, f"tests.daemon.bad_drivers:{cls}")
    registry.refresh()
    yield
    registry.refresh()


class Sink:
    def __init__(self):
        self.by_device: dict[str, int] = {}
        self.lock = threading.Lock()

    def emit(self, obs):
        with self.lock:
            self.by_device[obs.device_id] = self.by_device.get(obs.device_id, 0) + 1
        return Outcome(ADMIT, "e")


def runner(driver: str, sink: Sink, **kw) -> DeviceRunner:
    dev = {"id": driver, "driver": driver, "lane": "l", "direction": "in"}
    return DeviceRunner(dev, emit=sink.emit, make_context_kw={}, backoff=Backoff(base_s=0.05, cap_s=0.2), **kw)


def wait_for(cond, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return False


def test_a_crashing_driver_is_restarted_and_the_other_lane_goes_on():
    sink = Sink()
    crash, steady = runner("test-crash", sink), runner("test-steady", sink)
    crash.start()
    steady.start()
    try:
        assert wait_for(lambda: crash.restarts >= 3)
        assert "firmware said no" in crash.health()["reason"] or crash.health()["state"] == "up"
        before = sink.by_device.get("test-steady", 0)
        assert wait_for(lambda: sink.by_device.get("test-steady", 0) > before + 5)
        assert steady.health()["state"] == "up"
    finally:
        crash.stop()
        steady.stop()


def test_a_hung_driver_is_closed_and_replaced():
    sink = Sink()
    hang = runner("test-hang", sink)
    hang.start()
    try:
        assert wait_for(lambda: hang.driver is not None)
        first = hang.driver
        time.sleep(0.5)          # > 2 heartbeats of 0.2 s
        hang.check()
        assert wait_for(lambda: hang.driver is not first)
    finally:
        hang.stop()


def test_a_flooding_driver_is_slowed_and_reported():
    sink = Sink()
    flood = runner("test-flood", sink, flood_rate=50.0, flood_burst=10.0)
    flood.start()
    try:
        time.sleep(1.0)
        assert sink.by_device["test-flood"] <= 10 + 50 * 1.5   # the bucket, not the driver, sets the pace
        assert flood.health()["state"] == "degraded" and "flooding" in flood.health()["reason"]
    finally:
        flood.stop()
