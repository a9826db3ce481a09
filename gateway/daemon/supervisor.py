"""Each device in its own thread, supervised: a driver that crashes is restarted with capped
backoff, one that hangs (stops beating) is closed and replaced, one that floods is slowed down.
No driver can take the daemon or the other lanes down.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from sitegate.drivers.api import DriverContext, Health, HealthState, Observation
from sitegate.drivers.registry import driver_class
from sitegate.uplink.base import Backoff

log = logging.getLogger(__name__)


class TokenBucket:
    """Flood guard: ``take`` blocks (backpressure) once a device exceeds its rate."""

    def __init__(self, rate: float, burst: float):
        self.rate, self.burst = rate, burst
        self.tokens = burst
        self.stamp = time.monotonic()
        self.lock = threading.Lock()

    def take(self, stop: threading.Event) -> bool:
        """Returns whether the caller had to wait."""
        waited = False
        while True:
            with self.lock:
                now = time.monotonic()
                self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
                self.stamp = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return waited
                delay = (1 - self.tokens) / self.rate
            waited = True
            if stop.wait(delay):
                return waited


class DeviceRunner:
    """Runs one [[devices]] entry."""

    STABLE_AFTER_S = 60.0      # a run this long resets the backoff
    HUNG_GRACE_S = 5.0         # after close(), how long a hung thread gets to return

    def __init__(self, device: dict, *, emit: Callable[[Observation], object], make_context_kw: dict,
                 flood_rate: float = 100.0, flood_burst: float = 300.0, backoff: Backoff | None = None):
        self.device = device
        self.id = device["id"]
        self.cls = driver_class(device["driver"])
        self._emit = emit
        self._ctx_kw = make_context_kw
        self._bucket = TokenBucket(flood_rate, flood_burst)
        self._backoff = backoff or Backoff(base_s=1.0, cap_s=60.0)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.driver = None
        self.ctx: DriverContext | None = None
        self.restarts = 0
        self.flooding_since: float | None = None
        self._health = Health(HealthState.DOWN, "not started")

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=f"device-{self.id}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        driver = self.driver
        if driver is not None:
            _safe(driver.close, f"closing {self.id}")
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("device %s did not stop within %.0f s; abandoning its thread", self.id, timeout)
        self._health = Health(HealthState.DOWN, "stopped")

    def _guarded_emit(self, obs: Observation):
        if self._bucket.take(self._stop):
            if self.flooding_since is None:
                self.flooding_since = time.time()
                log.warning("device %s is flooding: observations slowed down", self.id)
        elif self.flooding_since is not None and time.time() - self.flooding_since > 10:
            self.flooding_since = None
        return self._emit(obs)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.ctx = DriverContext(device_id=self.id, lane=self.device.get("lane", ""),
                                     direction=self.device["direction"], options=self.device,
                                     emit=self._guarded_emit, **self._ctx_kw)
            started = time.monotonic()
            reason = "driver returned"
            try:
                self.driver = self.cls(self.ctx)
                self.driver.run(self._stop)
            except Exception as exc:  # noqa: BLE001 - a driver's failure must not end the supervisor
                reason = f"{type(exc).__name__}: {exc}"
                log.warning("device %s failed: %s", self.id, reason, exc_info=log.isEnabledFor(logging.DEBUG))
            finally:
                if self.driver is not None:
                    _safe(self.driver.close, f"closing {self.id}")
            if self._stop.is_set():
                break
            if time.monotonic() - started > self.STABLE_AFTER_S:
                self._backoff.reset()
            delay = self._backoff.next_delay()
            self.restarts += 1
            self._health = Health(HealthState.DOWN, f"{reason}; restarting in {delay:.0f} s")
            self._stop.wait(delay)

    # -- supervision --------------------------------------------------------------------------
    def check(self) -> None:
        """Called from the main loop: replace a driver whose loop stopped beating."""
        ctx, driver, thread = self.ctx, self.driver, self._thread
        if ctx is None or driver is None or thread is None or not thread.is_alive():
            return
        silent = time.monotonic() - ctx.last_beat
        if silent <= 2 * self.cls.HEARTBEAT_S:
            return
        log.error("device %s hung (no heartbeat for %.0f s): closing it", self.id, silent)
        self._health = Health(HealthState.DOWN, f"hung for {silent:.0f} s; restarting")
        _safe(driver.close, f"closing hung {self.id}")
        thread.join(self.HUNG_GRACE_S)
        if thread.is_alive():
            # Python cannot kill a thread: leave the stuck one (daemon) and start afresh
            self.restarts += 1
            ctx.beat()
            self.start()

    def health(self) -> dict:
        driver = self.driver
        h = driver.health if driver is not None and self._thread and self._thread.is_alive() else self._health
        if h.state == HealthState.UP and self.flooding_since is not None:
            h = Health(HealthState.DEGRADED, "flooding: observations slowed down", self.flooding_since)
        return {"id": self.id, "driver": self.device["driver"], "lane": self.device.get("lane", ""),
                "direction": self.device["direction"], "state": h.state.value, "reason": h.reason,
                "since": h.since, "restarts": self.restarts}

    def push_roster(self, workers) -> None:
        driver = self.driver
        if driver is not None and self.cls.KEEPS_ROSTER:
            _safe(lambda: driver.push_roster(workers), f"roster push to {self.id}")


def _safe(fn, what: str) -> None:
    try:
        fn()
    except Exception as exc:  # noqa: BLE001
        log.warning("%s failed: %s", what, exc)
