"""Faults on a schedule made from the seed: the same seed gives the same faults at the same moments.

Windows (one of each kind, not overlapping each other, placed at random in the shift):

- ``platform_down``    the receiver stops listening, then comes back on the same port and db;
- ``platform_errors``  30 % of platform calls fail unprocessed (HTTP 500 / code -5);
- ``dropped_answers``  30 % of calls are processed and stored, then closed without an answer;
- ``unplug_reader``    the ID-card reader's pty goes away (USB pulled), then comes back;
- ``wg_socket``        a WG controller stops answering (its socket closed), then reopens;
- ``disk_full``        ``[storage] min_free_mb`` is set above the free space and the gateway told
                       (SIGHUP); the store refuses new events, devices must keep them; then restored;
- ``clock_jump``       the gateway's wall clock jumps (libfaketime offset file), then comes back.

Kills: ``kills`` SIGKILLs of the gateway at random moments (one always while the platform is
down, the case a local buffer exists for), each followed by a restart about a second later; the
Mosquitto comparison's local broker is killed and restarted at the same moments.
"""
from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

log = logging.getLogger(__name__)

# kind -> (share of the shift, at least this many seconds)
LENGTHS = {
    "platform_down": (0.12, 12.0),
    "platform_errors": (0.10, 8.0),
    "dropped_answers": (0.10, 8.0),
    "unplug_reader": (0.05, 5.0),
    "wg_socket": (0.05, 5.0),
    "disk_full": (0.07, 7.0),
    "clock_jump": (0.07, 7.0),
}
ERROR_RATE = 0.3
DROP_RATE = 0.3
RESTART_DELAY_S = (0.5, 1.5)        # systemd's RestartSec is 5 s; shorter here to fit the kills in
FULL_DISK_MB = 10_000_000           # far more than any disk has free


@dataclass(frozen=True)
class Window:
    kind: str
    start: float       # seconds after the shift starts
    length: float

    @property
    def end(self) -> float:
        return self.start + self.length


@dataclass
class FaultPlan:
    windows: list[Window]
    kills: list[float]

    @classmethod
    def make(cls, shift_s: float, kills: int, kinds: list[str], seed: int,
             first: tuple[str, ...] = ()) -> "FaultPlan":
        """``first``: kinds placed before the others (the short run puts the dropped answers first,
        so the gateway's 60 s wait before reconciling a lost answer ends within the shift)."""
        rng = random.Random(seed)
        kinds = [k for k in LENGTHS if k in kinds]
        rng.shuffle(kinds)
        kinds.sort(key=lambda k: k not in first)      # stable: the shuffled order otherwise
        lengths = [max(LENGTHS[k][0] * shift_s, LENGTHS[k][1]) for k in kinds]
        span_start, span_end = 0.05 * shift_s, 0.92 * shift_s
        free = (span_end - span_start) - sum(lengths)
        if free < 0:
            raise ValueError(f"a {shift_s:.0f} s shift is too short for {len(kinds)} fault windows; "
                             "give more --minutes")
        cuts = sorted(rng.uniform(0, free) for _ in kinds)
        windows, t, used = [], span_start, 0.0
        for kind, length, cut in zip(kinds, lengths, cuts):
            t = span_start + cut + used
            windows.append(Window(kind, round(t, 2), round(length, 2)))
            used += length
        moments = sorted(round(rng.uniform(0.03 * shift_s, 1.02 * shift_s), 2) for _ in range(kills))
        down = next((w for w in windows if w.kind == "platform_down"), None)
        if down is not None and moments and not any(down.start < m < down.end for m in moments):
            # the kill the comparison is about: while the platform is down, events queue locally
            moments[len(moments) // 2] = round(down.start + down.length / 2, 2)
            moments.sort()
        return cls(windows, moments)

    def describe(self) -> list[str]:
        lines = [f"{w.start:7.1f} s - {w.end:7.1f} s  {w.kind}" for w in sorted(self.windows, key=lambda w: w.start)]
        lines.append("kills at " + ", ".join(f"{m:.1f}" for m in self.kills) + " s")
        return lines


@dataclass
class FaultLog:
    """What was done when, for the report and the tally (epoch seconds)."""

    started: float = field(default_factory=time.time)
    lines: list[str] = field(default_factory=list)
    kills: list[float] = field(default_factory=list)
    down: list[tuple[float, float]] = field(default_factory=list)   # gateway stopped .. READY again
    windows: dict[str, tuple[float, float]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def say(self, text: str) -> None:
        with self._lock:
            self.lines.append(f"t+{time.time() - self.started:7.1f} s  {text}")
        log.info("%s", text)


class FaultRunner:
    """Runs a FaultPlan against the live site: one thread for the windows, one for the kills."""

    def __init__(self, plan: FaultPlan, *, actions: dict[str, tuple[Callable[[], None], Callable[[], None]]],
                 kill: Callable[[], None], seed: int, flog: FaultLog):
        self.plan = plan
        self.actions = actions
        self.kill = kill
        self.rng = random.Random(seed ^ 0x5EED)
        self.log = flog
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.t0 = 0.0

    def start(self, t0: float) -> None:
        """``t0``: the shift's start on the time.monotonic() scale."""
        self.t0 = t0
        for target, name in ((self._windows, "soak-faults"), (self._kills, "soak-kills")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(120)

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def _sleep_until(self, offset: float) -> bool:
        while not self._stop.is_set():
            left = self.t0 + offset - time.monotonic()
            if left <= 0:
                return True
            self._stop.wait(min(left, 0.5))
        return False

    def _windows(self) -> None:
        steps = sorted([(w.start, 0, w) for w in self.plan.windows] + [(w.end, 1, w) for w in self.plan.windows],
                       key=lambda s: (s[0], s[1]))
        begun: set[str] = set()
        for offset, is_end, window in steps:
            if not self._sleep_until(offset):
                break
            begin, end = self.actions.get(window.kind, (None, None))
            if begin is None:
                if not is_end:
                    self.log.skipped.append(window.kind)
                continue
            try:
                if is_end:
                    if window.kind in begun:
                        end()
                        self.log.windows[window.kind] = (self.log.windows[window.kind][0], time.time())
                else:
                    started = time.time()
                    begin()
                    begun.add(window.kind)
                    self.log.windows[window.kind] = (started, started)
            except Exception as exc:  # noqa: BLE001 - one fault failing must not stop the others
                self.log.say(f"fault {window.kind} {'end' if is_end else 'start'} failed: {exc}")
                log.exception("fault %s", window.kind)
        # a window cut short by stop() is ended all the same: the site must be whole for the drain
        for kind in begun:
            kind_end = self.log.windows.get(kind)
            if kind_end is not None and kind_end[0] == kind_end[1]:
                try:
                    self.actions[kind][1]()
                    self.log.windows[kind] = (kind_end[0], time.time())
                except Exception:  # noqa: BLE001
                    log.exception("ending fault %s", kind)

    def _kills(self) -> None:
        for offset in self.plan.kills:
            if not self._sleep_until(offset):
                return
            try:
                self.kill()
            except Exception as exc:  # noqa: BLE001
                self.log.say(f"kill failed: {exc}")
                log.exception("kill")

    def restart_delay(self) -> float:
        return self.rng.uniform(*RESTART_DELAY_S)


def write_offset(path: Path, offset: str) -> None:
    """The libfaketime offset file: "+0" for the true time, "+2h" for two hours ahead."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(offset + "\n", encoding="ascii")
    tmp.replace(path)
