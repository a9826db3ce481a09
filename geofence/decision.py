"""Accuracy-aware classification of one phone fix against one fence: IN, OUT or UNCERTAIN.

The rule (../shared/reference/geofence.md §3, engineering defaults rather than a standard):
with ``s`` the signed distance to the fence edge (positive inside, widened by the fence's
``grace_m``) and margin ``M = max(1.2 * accuracy, 10 m)``::

    IN if s >= M;  OUT if s <= -M;  UNCERTAIN otherwise.

Why 1.2: Android's ``getAccuracy()`` is a 68 % radius and iOS's ``horizontalAccuracy`` an RMS
radius; near a straight edge P(inside) ~ Phi(s / sigma) with sigma ~ 0.66-0.71 * accuracy, so
1.2 * accuracy gives >= 95 % confidence on both. UNCERTAIN fixes are kept for review and never
change a worker's state (see :mod:`sitegate.geofence.hysteresis`).

A fix is UNCERTAIN whatever its position when its accuracy is missing, 0 or above 100 m, when it
was more than 60 s old when the gateway received it, or when it lies in the future beyond a small
clock skew. All times are epoch seconds and are passed in: nothing here reads a clock.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from sitegate.geofence.hysteresis import HysteresisConfig, PresenceTracker, Transition

__all__ = [
    "Verdict", "DecisionConfig", "Judgement", "margin_m", "classify",
    "HysteresisConfig", "PresenceTracker", "Transition",
]


class Verdict(str, Enum):
    IN = "in"
    OUT = "out"
    UNCERTAIN = "uncertain"


@dataclass(frozen=True)
class DecisionConfig:
    margin_factor: float = 1.2      # M = max(margin_factor * accuracy, min_margin_m)
    min_margin_m: float = 10.0
    max_accuracy_m: float = 100.0   # worse than this (Wi-Fi at best, cell towers) decides nothing
    max_age_s: float = 60.0         # fix older than this when received: stale
    max_future_s: float = 5.0       # tolerated phone-ahead-of-gateway clock skew

    def __post_init__(self) -> None:
        for name in ("margin_factor", "min_margin_m", "max_accuracy_m", "max_age_s", "max_future_s"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise ValueError(f"DecisionConfig.{name} must be a finite number >= 0, got {v!r}")


DEFAULT_DECISION = DecisionConfig()


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    signed_distance_m: float       # to the edge widened by grace_m; positive inside
    margin_m: float | None         # None when the accuracy could not give one
    reason_code: str               # inside | outside | near_edge | accuracy_missing | accuracy_zero |
    #                                accuracy_too_large | stale | future
    reason: str                    # for people: the clerk's review list

    def to_dict(self) -> dict:
        return {"verdict": self.verdict.value, "signed_distance_m": self.signed_distance_m,
                "margin_m": self.margin_m, "reason_code": self.reason_code, "reason": self.reason}


def margin_m(accuracy_m: float, config: DecisionConfig = DEFAULT_DECISION) -> float:
    return max(config.margin_factor * accuracy_m, config.min_margin_m)


def _accuracy_problem(accuracy_m: float | None, config: DecisionConfig) -> tuple[str, str] | None:
    if accuracy_m is None or not isinstance(accuracy_m, (int, float)) or math.isnan(accuracy_m):
        return "accuracy_missing", "the fix has no accuracy: cannot tell how far off it may be"
    if accuracy_m <= 0:
        return "accuracy_zero", f"the fix reports accuracy {accuracy_m:g} m: no real receiver is exact"
    if accuracy_m > config.max_accuracy_m:
        return ("accuracy_too_large",
                f"accuracy {accuracy_m:g} m is worse than {config.max_accuracy_m:g} m (network/cell position)")
    return None


def _time_problem(fix_time: float, received_at: float, config: DecisionConfig) -> tuple[str, str] | None:
    age = received_at - fix_time
    if age > config.max_age_s:
        return "stale", f"the fix was {age:.0f} s old when received (limit {config.max_age_s:g} s)"
    if -age > config.max_future_s:
        return "future", f"the fix time is {-age:.0f} s ahead of the gateway clock (limit {config.max_future_s:g} s)"
    return None


def classify(signed_distance_m: float, accuracy_m: float | None, *, fix_time: float, received_at: float,
             grace_m: float = 0.0, config: DecisionConfig = DEFAULT_DECISION) -> Judgement:
    """Judge one fix against one fence.

    ``signed_distance_m``: metres to the fence edge, positive inside, WITHOUT grace (grace_m is
    added here); ``fix_time``/``received_at``: epoch seconds of the fix and of its arrival.
    """
    s = float(signed_distance_m) + float(grace_m)
    problem = _time_problem(fix_time, received_at, config) or _accuracy_problem(accuracy_m, config)
    if problem:
        return Judgement(Verdict.UNCERTAIN, s, None, *problem)
    assert accuracy_m is not None
    m = margin_m(float(accuracy_m), config)
    if s >= m:
        return Judgement(Verdict.IN, s, m, "inside", f"{s:.1f} m inside the edge (needs {m:.1f} m)")
    if s <= -m:
        return Judgement(Verdict.OUT, s, m, "outside", f"{-s:.1f} m outside the edge (needs {m:.1f} m)")
    side = "inside" if s >= 0 else "outside"
    return Judgement(Verdict.UNCERTAIN, s, m, "near_edge",
                     f"{abs(s):.1f} m {side} the edge, within the {m:.1f} m margin of accuracy {accuracy_m:g} m")
