"""The shift change: who passes which lane when, and the people in the queue at each lane.

Everyone comes in within 20 simulated minutes (arrivals peak in the middle: a Beta(2, 2) spread),
compressed into ``settings.minutes`` real minutes; some workers go out again later in the window.
Each worker uses one lane. A lane serves its queue one person at a time (a turnstile does); a
passage that was not acknowledged is tried again 1.5-3 s later, until the give-up time.
"""
from __future__ import annotations

import heapq
import logging
import random
import threading
import time

from sitegate.bench.soakkit.gatewaydb import GatewayDb
from sitegate.bench.soakkit.lanes import IdCardLane, Lane, WgLane, ZkLane, HikLane
from sitegate.bench.soakkit.phones import PhoneLane
from sitegate.bench.soakkit.settings import SoakSettings
from sitegate.bench.soakkit.site import Person, SiteFiles
from sitegate.bench.soakkit.truth import Ledger, Passage

log = logging.getLogger(__name__)

# The order lanes are added in: --lanes 6 gives one lane of every kind.
LAYOUT = ("idcard", "wg-controller", "zk", "wg-online", "hik", "phone", "idcard", "wg-controller")
NAMES = {"idcard": "东门身份证{n}", "wg-controller": "东门闸机{n}", "zk": "西门人脸(ZK){n}",
         "wg-online": "北门闸机(在线){n}", "hik": "西门人脸(海康){n}", "phone": "管线电子围栏{n}"}
# Share of the workers per lane of each kind (phones get settings.phones workers instead).
WEIGHTS = {"idcard": 0.6, "wg-controller": 1.4, "zk": 1.0, "wg-online": 0.8, "hik": 1.0}
RETRY_S = (1.5, 3.0)


def build_lanes(settings: SoakSettings, site: SiteFiles, db: GatewayDb) -> list[Lane]:
    lanes: list[Lane] = []
    seen: dict[str, int] = {}
    for kind in LAYOUT[:settings.lanes]:
        n = seen[kind] = seen.get(kind, 0) + 1
        name, dev = NAMES[kind].format(n=n), f"{kind}-{n}"
        if kind == "idcard":
            lanes.append(IdCardLane(n, name, dev, db))
        elif kind in ("wg-controller", "wg-online"):
            lanes.append(WgLane(len(lanes) + 1, name, dev, online=kind == "wg-online"))
        elif kind == "zk":
            lanes.append(ZkLane(n, name, dev))
        elif kind == "hik":
            lanes.append(HikLane(n, name, dev))
        else:
            lanes.append(PhoneLane(n, name, dev, site.clockin_url))
    return lanes


def plan(settings: SoakSettings, people: list[Person], lanes: list[Lane], rng: random.Random) -> list[Passage]:
    """Every planned passage with ``due`` as an offset in real seconds from the shift's start."""
    window = settings.shift_s
    phone_lanes = [ln for ln in lanes if isinstance(ln, PhoneLane)]
    others = [ln for ln in lanes if not isinstance(ln, PhoneLane)]
    if not others:
        raise ValueError("a soak needs at least one lane that is not the phone lane")
    weights = [WEIGHTS[ln.kind] for ln in others]
    passages: list[Passage] = []
    seq = 0
    for i, person in enumerate(people):
        lane = phone_lanes[0] if phone_lanes and i < settings.phones else rng.choices(others, weights)[0]
        arrive = rng.betavariate(2, 2) * window * 0.85
        if isinstance(lane, PhoneLane):
            arrive = min(arrive, window * 0.5)      # a phone's walk takes a while; leave it room
        seq += 1
        passages.append(Passage(seq, person, lane.name, lane.kind, "in", arrive))
        if lane.supports_out and rng.random() < settings.out_share:
            leave = min(window, arrive + rng.uniform(0.1, 0.5) * window)
            seq += 1
            passages.append(Passage(seq, person, lane.name, lane.kind, "out", leave))
    return passages


class LaneRunner:
    """One lane's queue in its own thread: attempts in due order, retries, give-up."""

    def __init__(self, lane: Lane, passages: list[Passage], ledger: Ledger, start: float, give_up_at: float,
                 rng: random.Random):
        self.lane, self.ledger, self.rng = lane, ledger, rng
        self.give_up_at = give_up_at
        self._heap: list[tuple[float, int, Passage]] = []
        for p in passages:
            p.due += start
            if isinstance(lane, PhoneLane) and p.direction == "out":
                lane.out_at[p.person.id_number] = p.due
            heapq.heappush(self._heap, (p.due, p.seq, p))
        self._ins = {p.person.id_number: p for p in passages if p.direction == "in"}
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"soak-lane-{lane.device_id}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(30)

    @property
    def done(self) -> bool:
        return not self.thread.is_alive()

    def _run(self) -> None:
        try:
            while self._heap and not self._stop.is_set():
                due, _, passage = self._heap[0]
                now = time.monotonic()
                if now >= self.give_up_at:
                    break
                if due > now:
                    self._stop.wait(min(due - now, 0.5))
                    continue
                heapq.heappop(self._heap)
                if passage.direction == "out" and not isinstance(self.lane, PhoneLane):
                    entry = self._ins.get(passage.person.id_number)
                    if entry is not None and not entry.acknowledged:
                        heapq.heappush(self._heap, (now + 2.0, passage.seq, passage))   # not in yet
                        continue
                result = self.lane.attempt(passage, self.ledger)
                if result is False:
                    heapq.heappush(self._heap, (time.monotonic() + self.rng.uniform(*RETRY_S), passage.seq, passage))
        except Exception:  # noqa: BLE001 - a harness bug must be seen; the tally still runs
            log.exception("lane %s failed", self.lane.device_id)
        for _, _, passage in self._heap:
            if not passage.acknowledged and not self.lane.late_ack(passage, self.ledger):
                passage.gave_up = True
        self._heap.clear()
