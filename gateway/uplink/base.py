"""What every uplink profile is: a loop that moves attendance from the store to the platform.

Each profile (``national``, ``mqtt``, ``webhook``) is one subclass. The daemon runs ``run(stop)`` in
its own thread; tests call ``step()`` directly. State lives in the store (deliveries, batches,
dead_letters), never only in memory, so a SIGKILL at any point loses nothing and a restart picks
up where the last transaction left off.
"""
from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass, field

from sitegate.buffer import DeliveryQueue
from sitegate.clock import Clock


@dataclass
class Backoff:
    """Capped exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff And
    Jitter", 2015): delay = uniform(0, min(cap, base * 2**attempt)). Reset only after a success."""

    base_s: float = 1.0
    cap_s: float = 300.0
    attempt: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def next_delay(self) -> float:
        delay = self.rng.uniform(self.base_s / 2, min(self.cap_s, self.base_s * 2 ** self.attempt))
        self.attempt = min(self.attempt + 1, 30)
        return delay

    def reset(self) -> None:
        self.attempt = 0


@dataclass
class UplinkStatus:
    state: str = "starting"        # ok | retrying | stopped (configuration fault) | idle
    last_error: str = ""
    last_success_ts: float | None = None
    consecutive_failures: int = 0


class Uplink:
    NAME = ""                      # the deliveries.uplink value; equals the config profile

    def __init__(self, cfg, store, *, metrics=None, clock: Clock | None = None):
        self.cfg = cfg
        self.store = store
        self.metrics = metrics
        self.clock = clock or Clock()
        self.queue = DeliveryQueue(store, self.NAME)
        self.status = UplinkStatus()
        self.log = logging.getLogger(f"sitegate.uplink.{self.NAME}")
        self.idle_sleep_s = 1.0    # how long run() waits when there was nothing to do

    def step(self) -> bool:
        """One round of work (send what is due, reconcile what is in flight). Returns whether
        anything was done; raises nothing but programming errors (failures become status/alarms)."""
        raise NotImplementedError

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                busy = self.step()
            except Exception:  # noqa: BLE001 - the loop must survive; the error is logged with its trace
                self.log.exception("uplink %s step failed", self.NAME)
                busy = False
            if not busy:
                stop.wait(self.idle_sleep_s)

    def close(self) -> None:
        """Release connections. Idempotent."""
