"""Ground truth: every passage the harness caused, and whether the gate acknowledged it.

A passage is *acknowledged* when the worker was let through: the device decided itself and
granted it (WG controller mode, face terminals), or the gateway decided and said so (an ID-card
read stored as admitted; a door the gateway opened in WG online mode; a phone clock-in answered
with its event id). Only acknowledged passages are owed to the platform; the others are attempts
the worker repeated (docs/soak.md defines each).
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from sitegate.bench.soakkit.site import Person

DIRECTION_CODES = {"in": "01", "out": "02"}


@dataclass
class Passage:
    seq: int
    person: Person
    lane: str                  # the lane's name: the channel the platform gets
    kind: str                  # idcard | wg-controller | wg-online | zk | hik | phone
    direction: str             # in | out
    due: float                 # planned real time (time.monotonic scale)
    at: float = 0.0            # wall time (epoch s) when it was acknowledged
    acknowledged: bool = False
    attempts: int = 0
    gave_up: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str]:
        """What the platform keys attendance by, minus the second: (ID number, direction code)."""
        return (self.person.id_number, DIRECTION_CODES[self.direction])


class Ledger:
    """Thread-safe record of passages and attempts; listeners hear of each acknowledgement."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.passages: list[Passage] = []
        self.attempts: Counter[str] = Counter()       # lane kind -> attempts made at the devices
        self.refusals: Counter[str] = Counter()       # why an attempt was not acknowledged
        self.listeners: list = []                     # called with each acknowledged Passage

    def add(self, passage: Passage) -> None:
        with self._lock:
            self.passages.append(passage)

    def attempt(self, passage: Passage) -> None:
        with self._lock:
            passage.attempts += 1
            self.attempts[passage.kind] += 1

    def refused(self, passage: Passage, why: str) -> None:
        with self._lock:
            self.refusals[f"{passage.kind}: {why}"] += 1

    def acknowledge(self, passage: Passage, at: float | None = None) -> None:
        with self._lock:
            if passage.acknowledged:
                return
            passage.acknowledged = True
            passage.at = time.time() if at is None else at
        for listener in list(self.listeners):
            listener(passage)

    def acknowledged(self) -> list[Passage]:
        with self._lock:
            return [p for p in self.passages if p.acknowledged]

    def open(self) -> list[Passage]:
        with self._lock:
            return [p for p in self.passages if not p.acknowledged and not p.gave_up]
