"""Shared by the ZKTeco and Hikvision driver tests (imported explicitly, not a conftest).

``FakePipeline`` stands in for the gateway's pipeline: ``emit`` records the observation and
answers like the real one (a repeated ``source_key`` is a duplicate). ``RunningDriver`` runs a
driver's ``run(stop)`` in a thread and stops it by its own stop event.
"""
from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path
from typing import Callable

from sitegate.buffer.roster import Worker
from sitegate.drivers.api import Driver, DriverContext, Observation, Outcome
from sitegate.model import ADMIT
from sitegate.clock import Clock
from sitegate.idcard import check_digit

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
VECTORS_FILE = SHARED / "data" / "vectors" / "vectors.json"
HIK_MULTIPART_FILE = SHARED / "data" / "vectors" / "hik_event_multipart.bin"


def load_vectors() -> dict:
    assert VECTORS_FILE.is_file(), f"protocol vectors missing at {VECTORS_FILE}"
    return json.loads(VECTORS_FILE.read_text(encoding="utf-8"))


def wait_until(condition: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> object:
    """Poll until ``condition()`` is truthy; fail naming ``what`` (no timing is asserted)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


class FakePipeline:
    def __init__(self, fail: Callable[[Observation], Exception | None] | None = None):
        self.observations: list[Observation] = []     # every new event, in order
        self.emits: list[Observation] = []            # every call, repeats included
        self.keys: set[str] = set()
        self.fail = fail
        self.lock = threading.Lock()

    def emit(self, obs: Observation) -> Outcome:
        error = self.fail(obs) if self.fail else None
        if error is not None:
            raise error
        with self.lock:
            self.emits.append(obs)
            decision = obs.device_decision or ADMIT
            if obs.source_key is not None and obs.source_key in self.keys:
                return Outcome(decision=decision, event_id=None, duplicate=True)
            if obs.source_key is not None:
                self.keys.add(obs.source_key)
            self.observations.append(obs)
            return Outcome(decision=decision, event_id=str(uuid.uuid4()))

    def count(self) -> int:
        with self.lock:
            return len(self.observations)


class MemoryState(dict):
    """The device state (kv table) of a gateway that outlives its drivers."""

    def get_(self, key: str) -> str | None:
        return self.get(key)

    def set_(self, key: str, value: str) -> None:
        self[key] = value


def make_context(options: dict, pipeline: FakePipeline, *, state: MemoryState | None = None,
                 roster: Callable[[], list[Worker]] | None = None, synced: bool = True,
                 device_id: str = "gate-1", direction: str = "device", clock: Clock | None = None) -> DriverContext:
    state = state if state is not None else MemoryState()
    return DriverContext(device_id=device_id, lane="east", direction=direction, options=options, emit=pipeline.emit,
                         state_get=state.get_, state_set=state.set_, roster=roster or (lambda: []),
                         clock_synced=lambda: synced, clock=clock)


class RunningDriver:
    """``with RunningDriver(driver) as d:`` runs ``driver.run(stop)`` in a thread until the block ends."""

    def __init__(self, driver: Driver):
        self.driver = driver
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name=f"driver-{driver.NAME}", daemon=True)

    def _run(self) -> None:
        try:
            self.driver.run(self.stop)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc

    def __enter__(self) -> Driver:
        self.thread.start()
        wait_until(lambda: self.driver.ready.is_set() or self.error, what=f"{self.driver.NAME} to listen")
        if self.error:
            raise self.error
        return self.driver

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive(), "driver did not stop"


def worker(pin: int, name: str, *, card: str | None = None, status: str = "active", blacklisted: bool = False,
           valid_to: str | None = None, seed: int = 0) -> Worker:
    first17 = f"37010219851120{(pin + seed) % 1000:03d}"
    return Worker(id_card_number=first17 + check_digit(first17), name=name, card_no=card, pin=pin, status=status,
                  blacklisted=blacklisted, valid_to=valid_to)
