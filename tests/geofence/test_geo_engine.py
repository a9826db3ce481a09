"""The whole decision for one verified clock-in: fences, verdicts, spoof flags, hysteresis."""
from __future__ import annotations

import json

import pytest
from pyproj import Geod

from sitegate.geofence.clockin import parse_and_verify, sign_request
from sitegate.geofence.decision import Verdict
from sitegate.geofence.engine import GeofenceEngine
from sitegate.geofence.fences import parse_fences
from sitegate.geofence.guards import NonceCache
from sitegate.geofence.hysteresis import PresenceTracker

GEOD = Geod(ellps="WGS84")
LNG0, LAT0 = 117.0, 36.65
T0 = 1_718_000_000.0
KEY = bytes(range(32))


def at(az, metres):
    x, y, _ = GEOD.fwd(LNG0, LAT0, az, metres)
    return float(x), float(y)


@pytest.fixture
def engine():
    fences, problems = parse_fences([
        {"id": "yard", "crs": "wgs84", "center": [LNG0, LAT0], "radius_m": 200, "grace_m": 10},
        {"id": "office", "crs": "wgs84", "center": list(at(90, 300)), "radius_m": 50},
    ])
    assert problems == []
    return GeofenceEngine(fences)


class Phone:
    def __init__(self, phone_id="P-1"):
        self.phone_id = phone_id
        self.nonces = NonceCache()
        self.n = 0

    def fix(self, lng, lat, dt, *, acc=6.0, mock=False, received_after=1.0):
        self.n += 1
        payload = {"phone_id": self.phone_id, "lng": lng, "lat": lat, "crs": "wgs84", "accuracy_m": acc + self.n / 10,
                   "fix_time": int((T0 + dt) * 1000), "provider": "gps", "is_mock": mock,
                   "nonce": f"nonce-{self.n:012d}"}
        body = json.dumps(sign_request(payload, KEY)).encode()
        return parse_and_verify(body, {self.phone_id: KEY}.get, self.nonces, T0 + dt + received_after)


def test_in_then_clock_in_with_the_fence_and_reason(engine):
    phone = Phone()
    ev = engine.evaluate(phone.fix(*at(0, 50), 0), worker_id="W-1")
    assert ev.verdict is Verdict.IN and ev.transitions == [] and ev.flags == []
    assert ev.best.fence.id == "yard" and ev.reason.startswith("yard: 160.0 m inside")   # 150 + 10 grace
    ev = engine.evaluate(phone.fix(*at(10, 55), 30), worker_id="W-1")
    assert [(t.worker_id, t.fence_id, t.kind, t.at) for t in ev.transitions] == [("W-1", "yard", "clock_in", T0)]
    by_fence = {r.fence.id: r for r in ev.results}
    assert by_fence["yard"].state == "in" and by_fence["office"].state == "out"
    assert by_fence["office"].judgement.verdict is Verdict.OUT


def test_near_the_edge_is_uncertain_and_stale_fixes_decide_nothing(engine):
    phone = Phone()
    ev = engine.evaluate(phone.fix(*at(180, 205), 0))       # 5 m inside the grace band: within margin
    assert ev.verdict is Verdict.UNCERTAIN and ev.results[0].judgement.reason_code == "near_edge"
    ev = engine.evaluate(phone.fix(*at(0, 10), 100, received_after=90))
    assert ev.verdict is Verdict.UNCERTAIN and ev.results[0].judgement.reason_code == "stale"


def test_spoof_flags_keep_the_record_but_never_clock_in(engine):
    phone = Phone()
    ev1 = engine.evaluate(phone.fix(*at(0, 50), 0, mock=True))
    ev2 = engine.evaluate(phone.fix(*at(0, 60), 40, mock=True))
    for ev in (ev1, ev2):
        assert ev.verdict is Verdict.UNCERTAIN and [f.code for f in ev.flags] == ["mock"]
        assert ev.results[0].judgement.verdict is Verdict.IN          # the position itself was inside
        assert ev.reason.startswith("spoof suspected: ")
    assert ev2.transitions == [] and engine.tracker.state("P-1", "yard") == "out"


def test_teleporting_phone_is_flagged(engine):
    phone = Phone()
    engine.evaluate(phone.fix(LNG0 + 0.3, LAT0, 0))                  # ~27 km east
    ev = engine.evaluate(phone.fix(*at(0, 20), 60))                  # 60 s later on site: 450 m/s
    assert [f.code for f in ev.flags] == ["impossible_speed"] and ev.verdict is Verdict.UNCERTAIN


def test_no_fences_means_out(engine):
    empty = GeofenceEngine(parse_fences([])[0])
    ev = empty.evaluate(Phone().fix(LNG0, LAT0, 0))
    assert ev.verdict is Verdict.OUT and ev.best is None and ev.reason == "no fences configured"


def test_state_persists_through_the_tracker_dict(engine):
    phone = Phone()
    engine.evaluate(phone.fix(*at(0, 50), 0))
    saved = json.loads(json.dumps(engine.tracker.to_dict()))
    restarted = GeofenceEngine(engine.fences, tracker=PresenceTracker.from_dict(saved))
    ev = restarted.evaluate(phone.fix(*at(0, 40), 45))
    assert [t.kind for t in ev.transitions] == ["clock_in"]
