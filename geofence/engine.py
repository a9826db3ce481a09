"""One verified clock-in through the whole geofence decision: distances to every fence, the
accuracy-aware verdict per fence, spoof flags, and the hysteresis that turns fixes into
clock-in/clock-out transitions.

A fix with any spoof flag is recorded with its flags but counts as UNCERTAIN for the
hysteresis: a suspected fake position never clocks anyone in or out on its own; the clerk
reviews it (../shared/reference/geofence.md §4).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sitegate.geofence.clockin import ClockIn
from sitegate.geofence.decision import DEFAULT_DECISION, DecisionConfig, Judgement, Verdict, classify
from sitegate.geofence.fences import Fence, FenceSet
from sitegate.geofence.hysteresis import HysteresisConfig, PresenceTracker, Transition
from sitegate.geofence.spoof import SpoofConfig, SpoofDetector, SpoofFlag


@dataclass(frozen=True)
class FenceResult:
    fence: Fence
    judgement: Judgement          # from position and accuracy alone
    counted_as: Verdict           # what the hysteresis was fed (UNCERTAIN when spoof flags)
    state: str                    # the worker's state at this fence afterwards: "in" | "out"
    too_late: bool                # older than the replayable history: no effect on state


@dataclass(frozen=True)
class Evaluation:
    clockin: ClockIn
    worker_id: str
    results: list[FenceResult]
    flags: list[SpoofFlag]
    transitions: list[Transition] = field(default_factory=list)

    @property
    def verdict(self) -> Verdict:
        """IN if some fence says IN, OUT if every fence says OUT (or there are none), else
        UNCERTAIN. Spoof flags make any IN UNCERTAIN."""
        counted = [r.counted_as for r in self.results]
        if Verdict.IN in counted:
            return Verdict.IN
        if all(v is Verdict.OUT for v in counted):
            return Verdict.OUT
        return Verdict.UNCERTAIN

    @property
    def best(self) -> FenceResult | None:
        """The fence the fix is deepest inside (or closest to)."""
        return max(self.results, key=lambda r: r.judgement.signed_distance_m, default=None)

    @property
    def reason(self) -> str:
        if self.flags:
            return "spoof suspected: " + "; ".join(f.reason for f in self.flags)
        best = self.best
        if best is None:
            return "no fences configured"
        return f"{best.fence.id}: {best.judgement.reason}"


class GeofenceEngine:
    """Holds the site's fences and the per-phone / per-worker state; not thread-safe (the daemon
    feeds it from one worker path). Time comes from each ClockIn (fix time, received_at)."""

    def __init__(self, fences: FenceSet, *, decision: DecisionConfig = DEFAULT_DECISION,
                 hysteresis: HysteresisConfig = HysteresisConfig(), spoof: SpoofConfig = SpoofConfig(),
                 tracker: PresenceTracker | None = None):
        self.fences = fences
        self.decision = decision
        self.tracker = tracker if tracker is not None else PresenceTracker(hysteresis)
        self.spoof = SpoofDetector(spoof)

    def evaluate(self, clockin: ClockIn, worker_id: str | None = None) -> Evaluation:
        worker = worker_id if worker_id is not None else clockin.phone_id
        flags = self.spoof.check(clockin.phone_id, clockin.lng, clockin.lat, clockin.accuracy_m, clockin.fix_time,
                                 is_mock=clockin.is_mock, wgs=(clockin.wgs_lng, clockin.wgs_lat))
        distances = self.fences.signed_distance_one(clockin.wgs_lng, clockin.wgs_lat)
        results: list[FenceResult] = []
        transitions: list[Transition] = []
        for fence, s in zip(self.fences, distances):
            judgement = classify(s, clockin.accuracy_m, fix_time=clockin.fix_time, received_at=clockin.received_at,
                                 grace_m=fence.grace_m, config=self.decision)
            counted = Verdict.UNCERTAIN if flags else judgement.verdict
            seen = self.tracker.observe(worker, fence.id, clockin.fix_time, counted)
            transitions += seen.transitions
            results.append(FenceResult(fence, judgement, counted, seen.state, seen.too_late))
        return Evaluation(clockin, worker, results, flags, transitions)
