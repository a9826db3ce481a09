"""Hysteresis per (worker, fence): clock-in and clock-out from sequences of judged fixes.

Why: geofence events without hysteresis flap between enter and exit near the edge, and late
buffered fixes that are never evaluated lose attendance (Traccar issues #3609, #6019;
../shared/reference/geofence.md §3).

Rules (defaults):

- a worker is *out* until clocked in. Clock-in needs a run of >= 2 IN fixes >= 30 s apart (the
  first fix of the run and a later one at least 30 s after it) with no OUT fix between them;
  clock-out is symmetric with OUT fixes while *in*;
- a fix agreeing with the current state (IN while in, OUT while out) ends the opposite run; a
  gap of more than ``max_gap_s`` (10 min) between the run's fixes restarts it: evidence must be
  continuous, two fixes hours apart do not prove presence in between;
- UNCERTAIN fixes never change anything;
- a transition is dated by the first fix of its run (when the worker really arrived or left) and
  also carries the fix that confirmed it.

Fixes are judged by their own time, in time order, also when they arrive late or out of order:
the tracker keeps the fixes since the last transition (at most ``history_s`` seconds and
``max_pending`` fixes, older ones are folded into the base state) and replays them in time order
from the state at the last transition whenever a fix is inserted. So a late IN fix can complete a
run that was waiting, and a late OUT fix can break a run that has not been confirmed yet.
Confirmed transitions are final: they have been recorded and may already be on their way to the
platform. A fix dated at or before the last transition (or older than the folded history) cannot
change the state; ``observe`` reports it with ``Observation.too_late``.

Pure: no clock is read; the state is a plain dict (``to_dict``/``from_dict``) the daemon persists.
Memory: one entry per (worker, fence) seen; ``forget_idle(now)``, called now and then by the
daemon, drops the entries of workers who are out with nothing under way.
"""
from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field

IN, OUT, UNCERTAIN = "in", "out", "uncertain"
CLOCK_IN, CLOCK_OUT = "clock_in", "clock_out"
STATE_VERSION = 1


@dataclass(frozen=True)
class HysteresisConfig:
    dwell_s: float = 30.0        # first and confirming fix of a run at least this far apart
    max_gap_s: float = 600.0     # a longer silence between a run's fixes restarts the run
    history_s: float = 600.0     # how late a fix may arrive and still be replayed
    max_pending: int = 64        # fixes kept per (worker, fence) for replay


@dataclass(frozen=True)
class Transition:
    worker_id: str
    fence_id: str
    kind: str                    # "clock_in" | "clock_out"
    at: float                    # epoch s of the first fix of the run
    confirmed_at: float          # epoch s of the fix that completed the run

    def to_dict(self) -> dict:
        return {"worker_id": self.worker_id, "fence_id": self.fence_id, "kind": self.kind,
                "at": self.at, "confirmed_at": self.confirmed_at}


@dataclass
class _Entry:
    state: str = OUT                             # confirmed state at the checkpoint
    run: tuple[float, float] | None = None       # (first, latest) fix of the opposite run, at the checkpoint
    checkpoint: float = -math.inf                # fixes at or before this are folded in
    pending: list[tuple[float, str]] = field(default_factory=list)  # later fixes, time order

    def to_dict(self) -> dict:
        return {"state": self.state, "run": None if self.run is None else list(self.run),
                "checkpoint": None if self.checkpoint == -math.inf else self.checkpoint,
                "pending": [[t, v] for t, v in self.pending]}

    @classmethod
    def from_dict(cls, d: dict) -> "_Entry":
        state = d.get("state", OUT)
        if state not in (IN, OUT):
            raise ValueError(f"bad hysteresis state {state!r}")
        pending = sorted((float(t), str(v)) for t, v in d.get("pending", []))
        if any(v not in (IN, OUT, UNCERTAIN) for _, v in pending):
            raise ValueError("bad verdict in hysteresis pending list")
        cp = d.get("checkpoint")
        run = d.get("run")
        return cls(state, None if run is None else (float(run[0]), float(run[1])),
                   -math.inf if cp is None else float(cp), pending)


@dataclass(frozen=True)
class Observation:
    """What ``observe`` did with one fix."""

    transitions: list[Transition]
    state: str                  # the worker's confirmed state at this fence afterwards
    too_late: bool = False      # the fix was older than the replayable history: no effect


Run = tuple[float, float]   # (first, latest) fix time of a run of fixes opposing the state


def _step(state: str, run: Run | None, t: float, verdict: str,
          cfg: HysteresisConfig) -> tuple[str, Run | None, Run | None]:
    """One fix through the state machine: (new state, new run, (at, confirmed_at) or None)."""
    if verdict == UNCERTAIN:
        return state, run, None
    if verdict == state:                       # agrees with the state: ends any opposite run
        return state, None, None
    if run is None or t - run[1] > cfg.max_gap_s:
        return state, (t, t), None
    if t - run[0] >= cfg.dwell_s:
        return verdict, None, (run[0], t)
    return state, (run[0], t), None


class PresenceTracker:
    """Clock-in/clock-out state of every (worker, fence), fed one judged fix at a time."""

    def __init__(self, config: HysteresisConfig = HysteresisConfig()):
        self.config = config
        self._entries: dict[tuple[str, str], _Entry] = {}

    def state(self, worker_id: str, fence_id: str) -> str:
        entry = self._entries.get((worker_id, fence_id))
        return entry.state if entry else OUT

    def observe(self, worker_id: str, fence_id: str, fix_time: float, verdict: str) -> Observation:
        """Feed one judged fix (``verdict`` "in", "out" or "uncertain", a ``Verdict`` works too)."""
        verdict = str(getattr(verdict, "value", verdict))
        if verdict not in (IN, OUT, UNCERTAIN):
            raise ValueError(f"verdict must be in/out/uncertain, got {verdict!r}")
        key = (worker_id, fence_id)
        entry = self._entries.get(key) or _Entry()
        if fix_time <= entry.checkpoint:
            return Observation([], entry.state, too_late=True)
        if verdict == UNCERTAIN:                 # changes nothing: not even worth remembering
            return Observation([], entry.state)
        times = [t for t, _ in entry.pending]
        entry.pending.insert(bisect.bisect_right(times, fix_time), (fix_time, verdict))
        transitions = self._replay(worker_id, fence_id, entry)
        newest = entry.pending[-1][0] if entry.pending else fix_time
        self._fold_before(entry, newest - self.config.history_s)
        self._entries[key] = entry
        return Observation(transitions, entry.state)

    def forget_idle(self, now: float) -> int:
        """Drop the (worker, fence) entries that can no longer matter: out, no run under way and
        nothing within ``history_s`` of ``now``. Call it now and then (e.g. every few minutes);
        returns how many were dropped."""
        idle = []
        for key, entry in self._entries.items():
            self._fold_before(entry, now - self.config.history_s)
            stale_run = entry.run is None or entry.run[1] < now - self.config.max_gap_s
            if entry.state == OUT and stale_run and not entry.pending and entry.checkpoint < now - self.config.history_s:
                idle.append(key)
        for key in idle:
            del self._entries[key]
        return len(idle)

    def _replay(self, worker_id: str, fence_id: str, entry: _Entry) -> list[Transition]:
        """Replay the pending fixes from the checkpoint; fold each transition into the base."""
        transitions: list[Transition] = []
        state, run = entry.state, entry.run
        i = 0
        while i < len(entry.pending):
            t, v = entry.pending[i]
            state, run, done = _step(state, run, t, v, self.config)
            i += 1
            if done:
                kind = CLOCK_IN if state == IN else CLOCK_OUT
                transitions.append(Transition(worker_id, fence_id, kind, done[0], done[1]))
                entry.state, entry.run, entry.checkpoint = state, run, t
                del entry.pending[:i]
                i = 0
        return transitions

    def _fold_before(self, entry: _Entry, limit: float) -> None:
        """Fold fixes older than ``limit`` (and beyond ``max_pending``) into the base state, so
        memory stays bounded; fixes at or before the new checkpoint are then too late."""
        while entry.pending and (entry.pending[0][0] < limit or len(entry.pending) > self.config.max_pending):
            t, v = entry.pending.pop(0)
            # Replay from the base never confirmed a transition here, so this step cannot either.
            entry.state, entry.run, _ = _step(entry.state, entry.run, t, v, self.config)
            entry.checkpoint = t

    # ---- persistence -----------------------------------------------------------------------

    def to_dict(self) -> dict:
        return {"version": STATE_VERSION,
                "entries": [{"worker_id": w, "fence_id": f, **e.to_dict()} for (w, f), e in self._entries.items()]}

    @classmethod
    def from_dict(cls, data: dict, config: HysteresisConfig = HysteresisConfig()) -> "PresenceTracker":
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported hysteresis state version {data.get('version')!r}")
        tracker = cls(config)
        for item in data.get("entries", []):
            tracker._entries[(str(item["worker_id"]), str(item["fence_id"]))] = _Entry.from_dict(item)
        return tracker

    def __len__(self) -> int:
        return len(self._entries)
