"""Fault injection of the reference platform: what a real platform and the road to it do wrong.

Per request, in this order:
- ``latency_ms``   wait this long before handling (a slow platform; with a short client timeout
                   the request is still processed: a lost answer);
- ``error_rate``   answer without processing, alternately HTTP 500 and code -5 (rate limited);
- ``drop_rate``    process and store, then close the connection without an answer (the "lost
                   response" case: the batch arrived, the gateway cannot know);
- ``garbage_rate`` process and store, then answer 200 with a body that is not an envelope (a
                   proxy's HTML page, a truncated JSON, random bytes) — also a lost answer.
The dice are a seeded ``random.Random`` so a run can be repeated (``--seed``).
"""
from __future__ import annotations

import json
import random
import threading
from dataclasses import dataclass, fields, replace
from typing import Any

from sitegate.errors import UsageError

HTTP_500 = "http_500"
RATE_LIMITED = "rate_limited"


@dataclass(frozen=True)
class Faults:
    error_rate: float = 0.0
    latency_ms: int = 0
    drop_rate: float = 0.0
    garbage_rate: float = 0.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise UsageError(f"{f.name} must be a number, got {value!r}")
            if f.name.endswith("_rate") and not 0.0 <= value <= 1.0:
                raise UsageError(f"{f.name} must be between 0 and 1, got {value}")
            if f.name == "latency_ms" and not 0 <= value <= 600_000:
                raise UsageError(f"latency_ms must be between 0 and 600000, got {value}")


@dataclass(frozen=True)
class Plan:
    """What to do to one request."""

    latency_s: float = 0.0
    error: str | None = None  # HTTP_500 | RATE_LIMITED | None
    drop: bool = False
    garbage: bool = False


class FaultDice:
    def __init__(self, faults: Faults | None = None, seed: int | None = None):
        self.faults = faults or Faults()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._errors = 0

    def update(self, **changes: Any) -> Faults:
        self.faults = replace(self.faults, **changes)
        return self.faults

    def roll(self) -> Plan:
        f = self.faults
        with self._lock:
            # Always draw three numbers, so one knob does not shift the others' sequence.
            error_roll, drop_roll, garbage_roll = self._rng.random(), self._rng.random(), self._rng.random()
            error = None
            if error_roll < f.error_rate:
                error = HTTP_500 if self._errors % 2 == 0 else RATE_LIMITED
                self._errors += 1
        return Plan(latency_s=f.latency_ms / 1000.0, error=error,
                    drop=error is None and drop_roll < f.drop_rate,
                    garbage=error is None and drop_roll >= f.drop_rate and garbage_roll < f.garbage_rate)

    def garbage(self, answer: bytes) -> bytes:
        """A body that is not an envelope; never valid JSON of an object with a code."""
        with self._lock:
            kind = self._rng.randrange(4)
            noise = self._rng.randbytes(48)
        if kind == 0:
            return answer[: max(1, len(answer) // 2)]  # cut off: the closing brace is missing
        if kind == 1:
            return b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
        if kind == 2:
            return b"\xff" + noise  # 0xFF never starts UTF-8 text
        return json.dumps({"status": 200, "msg": "ok"}).encode()  # JSON, but no envelope
