"""The people of ``sitegate bench daemon``: a shift change, then a steady trickle.

The first ``PEAK_SHARE`` of the run is the shift change: workers arrive at ``peak_rate`` passages
a second spread over the eight gates (each gate serves one person at a time, as a turnstile
does). The rest is the day: ``trickle_rate`` passages a second, people going out and back in.
Times are drawn from a seeded exponential distribution (arrivals of independent people).
"""
from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections import Counter

from sitegate.bench._site import BenchSite, IdCardLane, Lane

log = logging.getLogger(__name__)

PEAK_SHARE = 0.4
MAX_QUEUE = 8            # people waiting at one gate before the next arrivals pick another


class Traffic:
    def __init__(self, site: BenchSite, seconds: float, *, peak_rate: float, trickle_rate: float, seed: int = 7):
        self.site = site
        self.seconds = seconds
        self.peak_rate, self.trickle_rate = peak_rate, trickle_rate
        self.rng = random.Random(seed)
        self.offered: Counter[str] = Counter()
        self.failed = 0
        self.inside: set[str] = set()
        self._queues = {lane.device_id: queue.Queue() for lane in site.lanes}
        self._next_arrival = 0

    def run(self, stop: threading.Event) -> int:
        """Blocks for the run's length (or until ``stop``); the passages offered."""
        gates = [threading.Thread(target=self._gate, args=(lane,), name=f"bench-gate-{lane.device_id}", daemon=True)
                 for lane in self.site.lanes]
        for g in gates:
            g.start()
        began = time.monotonic()
        end, peak_end = began + self.seconds, began + self.seconds * PEAK_SHARE
        at = began
        while not stop.is_set():
            rate = self.peak_rate if at < peak_end else self.trickle_rate
            at += self.rng.expovariate(rate) if rate > 0 else self.seconds
            if at >= end or stop.wait(max(0.0, at - time.monotonic())):
                break
            self._dispatch(shift_change=at < peak_end)
        for q in self._queues.values():
            q.put(None)
        for g in gates:
            g.join(30)
        return sum(self.offered.values())

    def _dispatch(self, shift_change: bool) -> None:
        people = self.site.people
        if shift_change or not self.inside:
            worker = people[self._next_arrival % len(people)]
            self._next_arrival += 1
        else:
            worker = self.rng.choice(people)
        going_in = worker.id_card_number not in self.inside
        lanes = [lane for lane in self.site.lanes
                 if (going_in or not isinstance(lane, IdCardLane))      # ID readers stand at the entrances
                 and self._queues[lane.device_id].qsize() < MAX_QUEUE]
        if not lanes:
            return                                                       # every gate is crowded: they wait
        lane = self.rng.choice(lanes)
        (self.inside.add if going_in else self.inside.discard)(worker.id_card_number)
        self._queues[lane.device_id].put((worker, going_in))

    def _gate(self, lane: Lane) -> None:
        q = self._queues[lane.device_id]
        while True:
            item = q.get()
            if item is None:
                return
            worker, going_in = item
            try:
                lane.pass_(worker, self.site.pins.get(worker.id_card_number, 0), going_in)
                self.offered[lane.device_id] += 1
            except Exception as exc:  # noqa: BLE001 - a failed passage is counted, the run goes on
                self.failed += 1
                log.warning("bench traffic: %s: %s", lane.device_id, exc)
