"""The phone lane: a few workers clock in (and some out) by geofence, each phone a PhoneWalker
(drivers/phone) walking into the soak fence and POSTing signed fixes to ``/api/clockin``.

The phone app behaves as docs/phones.md asks: a fix every interval, kept while the gateway cannot
be reached and sent oldest first; a request without an answer is sent again with the same body
(``409 replayed`` then means it had arrived); ``503`` is sent again with a new nonce; ``429``
waits; ``403 fix_time_window`` drops the fix. A clock-in (or -out) is acknowledged when an answer
carries its ``transition`` and ``event_id``.
"""
from __future__ import annotations

import json
import logging
import math
import secrets
import threading
import time
from collections import Counter, deque
from pathlib import Path

import requests

from sitegate.bench.soakkit.lanes import Lane
from sitegate.bench.soakkit.site import FENCE_CENTER, FENCE_RADIUS_M
from sitegate.bench.soakkit.truth import Ledger, Passage

log = logging.getLogger(__name__)

PENDING = None
INTERVAL_S = 1.0
SPEED_MPS = 5.0
OUTSIDE_M = FENCE_RADIUS_M + 30.0     # where the walk starts and ends (west of the centre)
INSIDE_M = FENCE_RADIUS_M - 45.0      # well inside the edge margin
LINGER_S = 12.0


def _west_of_centre(metres: float) -> tuple[float, float]:
    lng, lat = FENCE_CENTER
    return lng - metres / (111_320.0 * math.cos(math.radians(lat))), lat


class PhoneLane(Lane):
    kind = "phone"
    gateway_decides = True

    def __init__(self, index: int, name: str, device_id: str, url: str):
        super().__init__(index, name, device_id)
        self.url = url
        self.counters: Counter[str] = Counter()
        self._threads: list[threading.Thread] = []
        self._walks: dict[str, "_Walk"] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.out_at: dict[str, float] = {}      # person -> planned monotonic time of the way out

    def start_device(self, root: Path) -> str:
        return ""    # the fence is part of the site config (site.py)

    def attempt(self, passage: Passage, ledger: Ledger):
        """The way in starts the phone's walk; the way out is part of the same walk."""
        with self._lock:
            walk = self._walks.get(passage.person.id_number)
            if walk is None:
                walk = _Walk(self, passage, ledger)
                self._walks[passage.person.id_number] = walk
                thread = threading.Thread(target=walk.run, name=f"soak-phone-{passage.person.phone_id}",
                                          daemon=True)
                self._threads.append(thread)
                thread.start()
            else:
                walk.out_passage = passage
        return PENDING

    def unsent(self) -> int:
        with self._lock:
            return sum(len(w.queue) for w in self._walks.values())

    def produced(self) -> int:
        return int(self.counters["fixes"])

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(10)


class _Walk:
    def __init__(self, lane: PhoneLane, passage: Passage, ledger: Ledger):
        from sitegate.drivers.phone.walker import PhoneWalker, WalkSettings, Waypoint

        self.lane, self.ledger = lane, ledger
        self.in_passage, self.out_passage = passage, None
        person = passage.person
        out_at = lane.out_at.get(person.id_number)
        walk_in_s = (OUTSIDE_M - INSIDE_M) / SPEED_MPS
        dwell = max(5.0, out_at - time.monotonic() - walk_in_s) if out_at else 8.0
        outside, inside = _west_of_centre(OUTSIDE_M), _west_of_centre(INSIDE_M)
        points = [Waypoint(*outside), Waypoint(*inside, dwell_s=dwell)]
        if out_at:
            points.append(Waypoint(*outside, dwell_s=LINGER_S))
        settings = WalkSettings(speed_mps=SPEED_MPS, interval_s=INTERVAL_S, accuracy_m=5.0, seed=passage.seq)
        self.walker = PhoneWalker(person.phone_id, person.phone_key, points, settings)
        self.key = person.phone_key
        self.queue: deque[dict] = deque()
        self.session = requests.Session()

    def run(self) -> None:
        try:
            fixes = self.walker.payloads(clock=time.time)
            next_tick = time.monotonic()
            for payload in fixes:
                if self.lane._stop.is_set():
                    return
                self.queue.append(payload)
                self.lane.counters["fixes"] += 1
                self._flush()
                next_tick += INTERVAL_S
                self.lane._stop.wait(max(0.0, next_tick - time.monotonic()))
            while self.queue and not self.lane._stop.is_set():   # the walk is over: send what is kept
                self._flush()
                self.lane._stop.wait(INTERVAL_S)
        except Exception:  # noqa: BLE001 - a harness bug must be seen, not end the run silently
            log.exception("phone walk of %s failed", self.in_passage.person.phone_id)
        finally:
            self.session.close()

    def _flush(self) -> None:
        while self.queue:
            payload = self.queue[0]
            try:
                resp = self.session.post(self.lane.url, data=json.dumps(payload, separators=(",", ":")),
                                         headers={"Content-Type": "application/json"}, timeout=5)
            except requests.RequestException:
                self.lane.counters["unreachable"] += 1
                return                                   # keep it; send the same body later
            status = resp.status_code
            if status == 200:
                self.queue.popleft()
                self._answered(resp.json())
            elif status == 409:
                self.queue.popleft()                     # it had arrived; its answer was lost
                self.lane.counters["answer_lost_replayed"] += 1
            elif status == 503:
                self.queue[0] = self._renonce(payload)   # not taken: again with a new nonce
                self.lane.counters["503"] += 1
                return
            elif status == 429:
                self.lane.counters["429"] += 1
                return
            else:
                self.queue.popleft()
                reason = _reason(resp)
                self.lane.counters[f"dropped {status} {reason}"] += 1
                for p in (self.in_passage, self.out_passage):
                    if p is not None and not p.acknowledged:
                        self.ledger.refused(p, f"fix refused {status} {reason}")
                        break

    def _answered(self, answer: dict) -> None:
        transition = answer.get("transition")
        if not transition or not (answer.get("event_id") or answer.get("event_ids")):
            return
        passage = self.in_passage if transition == "clock_in" else self.out_passage
        if passage is None or passage.acknowledged:
            self.lane.counters[f"unplanned {transition}"] += 1
            return
        self.ledger.attempt(passage)
        if answer.get("outcome") == "admitted":
            self.ledger.acknowledge(passage)
        else:
            self.ledger.refused(passage, f"clock-in {answer.get('outcome')} {answer.get('deny_reason', '')}")

    def _renonce(self, payload: dict) -> dict:
        from sitegate.geofence.clockin import sign_request

        fresh = {k: v for k, v in payload.items() if k != "sig"}
        fresh["nonce"] = secrets.token_hex(16)
        return sign_request(fresh, self.key)


def _reason(resp: requests.Response) -> str:
    try:
        return str(resp.json().get("reason", ""))
    except ValueError:
        return ""
