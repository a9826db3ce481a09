"""Two workers' phones walking in and out of the demo's electronic fence, posting signed clock-ins
to the gateway's ``/api/clockin`` like the phone app does (``PhoneWalker``: the reference
implementation of the request format, docs/phones.md).

Each phone is registered for its worker (``PhoneRegistry.issue``, as ``sitegate phones add``
does) and its key is also written to ``phone-<id>.key`` (mode 0600) in the demo folder, so
``sitegate sim phone --key-file …`` can be tried by hand. A phone walks a ray from outside the
fence to well inside, stays, walks out, lingers, and starts again; each lap has new noise.
"""
from __future__ import annotations

import json
import logging
import math
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import requests

from sitegate.drivers.phone.walker import PhoneWalker, WalkSettings, Waypoint
from sitegate.geofence.fences import Fence, FenceSet
from sitegate.secrets import write_secret

log = logging.getLogger(__name__)

# Demo pace: a worker on an e-bike (5 m/s, far below the spoofing speed) sending a fix every 2 s,
# so a lap (in, clocked in, out, clocked out) takes about a minute.
SPEED_MPS = 5.0
INTERVAL_S = 2.0
OUTSIDE_M = 20.0       # start this far outside the edge: OUT for sure (margin 10 m at 8 m accuracy)
INSIDE_M = 40.0        # walk this far in: IN for sure
STAY_S = 20.0          # inside, then outside again, before the next lap


@dataclass(frozen=True)
class DemoPhone:
    phone_id: str
    id_card_number: str
    key: bytes
    bearing_deg: float     # the direction of the phone's ray from the fence centre


def register_phones(store, people: list, data_dir: Path) -> list[DemoPhone]:
    """Issue a key for each given worker's phone; the keys also go to 0600 files."""
    from sitegate.geofence.phonekeys import key_to_text
    from sitegate.geofence.phones import PhoneRegistry

    registry = PhoneRegistry(store)
    phones = []
    for n, person in enumerate(people, start=1):
        record, key = registry.issue(person.id_card_number, phone_id=f"P-DEMO-{n}", actor="demo")
        write_secret(data_dir / f"phone-{record.phone_id}.key", key_to_text(key))
        phones.append(DemoPhone(record.phone_id, person.id_card_number, key, bearing_deg=200.0 + 70.0 * n))
    return phones


def lap(fence: Fence, fences: FenceSet, bearing_deg: float) -> list[Waypoint]:
    """Outside → inside (stay) → outside (linger), along one ray of a circular fence."""
    assert fence.center_xy is not None and fences.projection is not None, "demo fence is a circle"
    cx, cy = fence.center_xy
    ux, uy = math.cos(math.radians(bearing_deg)), math.sin(math.radians(bearing_deg))
    out_r, in_r = fence.radius_m + OUTSIDE_M, fence.radius_m - INSIDE_M
    xy = [(cx + ux * out_r, cy + uy * out_r), (cx + ux * in_r, cy + uy * in_r), (cx + ux * out_r, cy + uy * out_r)]
    lngs, lats = fences.projection.to_lnglat([p[0] for p in xy], [p[1] for p in xy])
    return [Waypoint(float(a), float(b), d) for a, b, d in zip(lngs, lats, (0.0, STAY_S, STAY_S))]


class PhoneWalks:
    """One thread per phone, walking laps until ``stop()``; answers are tallied in ``counts``."""

    def __init__(self, phones: list[DemoPhone], fence: Fence, fences: FenceSet, url: str):
        self.phones, self.fence, self.fences, self.url = phones, fence, fences, url
        self.counts: Counter[str] = Counter()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for phone in self.phones:
            t = threading.Thread(target=self._walk, args=(phone,), name=f"demo-phone-{phone.phone_id}", daemon=True)
            t.start()
            self._threads.append(t)
        log.info("demo: %d phone(s) walking in and out of fence %s, posting to %s", len(self.phones),
                 self.fence.id, self.url)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=15)
        self._threads.clear()

    def _walk(self, phone: DemoPhone) -> None:
        waypoints = lap(self.fence, self.fences, phone.bearing_deg)
        with requests.Session() as http:
            for n in range(1_000_000):
                settings = WalkSettings(speed_mps=SPEED_MPS, interval_s=INTERVAL_S, accuracy_m=8.0,
                                        seed=n * 7919 + int(phone.bearing_deg), crs="gcj02")
                walker = PhoneWalker(phone.phone_id, phone.key, waypoints, settings)
                # each fix is dated when it is made; the wait between fixes ends early on stop
                for payload in walker.payloads(pace=self._stop.wait):
                    if self._stop.is_set():
                        return
                    self._post(http, phone, payload)

    def _post(self, http: requests.Session, phone: DemoPhone, payload: dict) -> None:
        try:
            # the numbers go out exactly as they were signed (docs/phones.md, "the canonical string")
            resp = http.post(self.url, data=json.dumps(payload, separators=(",", ":")).encode("utf-8"),
                             headers={"Content-Type": "application/json"}, timeout=10)
        except requests.RequestException as exc:
            self.counts["unreachable"] += 1
            log.warning("demo phone %s: gateway not reached: %s", phone.phone_id, exc)
            return
        try:
            body = resp.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        self.counts[str(resp.status_code)] += 1
        if resp.status_code != 200:
            log.warning("demo phone %s: refused %s %s", phone.phone_id, resp.status_code, body.get("reason", ""))
        elif body.get("transition"):
            log.info("demo phone %s: %s (%s)", phone.phone_id, body["transition"], body.get("outcome", ""))
