"""Spoofing signals: each flag fires on its own case and stays quiet on honest fixes."""
from __future__ import annotations

import random

import pytest
from pyproj import Geod

from sitegate.geofence.spoof import SpoofConfig, SpoofDetector, decimals

GEOD = Geod(ellps="WGS84")
T0 = 1_718_000_000.0
LNG, LAT = 117.0123456, 36.6512345


def move(lng, lat, az, metres):
    x, y, _ = GEOD.fwd(lng, lat, az, metres)
    return float(x), float(y)


def codes(flags):
    return sorted(f.code for f in flags)


def honest_walk(det, phone="P1", n=10, start=(LNG, LAT), seed=3):
    """A walker at 1.4 m/s with varying accuracy and noisy full-precision positions."""
    rng = random.Random(seed)
    out = []
    lng, lat = start
    for i in range(n):
        lng, lat = move(lng, lat, 80, 1.4 * 15 + rng.gauss(0, 3))
        out.append(det.check(phone, lng, lat, round(rng.uniform(4, 12), 1), T0 + i * 15))
    return out


def test_honest_walk_raises_nothing():
    det = SpoofDetector()
    assert all(flags == [] for flags in honest_walk(det))


def test_mock_claim():
    flags = SpoofDetector().check("P1", LNG, LAT, 5.0, T0, is_mock=True)
    assert codes(flags) == ["mock"] and "mock" in flags[0].reason


@pytest.mark.parametrize("metres,dt,acc,flagged", [
    (2000, 10, 5, True),      # 1990 m excess in 10 s = 199 m/s
    (600, 10, 5, True),       # 59 m/s > 55
    (540, 10, 5, False),      # 53 m/s
    (600, 10, 30, False),     # big accuracies excuse it: (600 - 60) / 10 = 54 m/s
    (80, 0, 5, True),         # same fix time, 70 m apart beyond accuracy: instant teleport
    (8, 0, 5, False),         # same time, within accuracy: not a move
])
def test_impossible_speed(metres, dt, acc, flagged):
    det = SpoofDetector()
    assert det.check("P1", LNG, LAT, acc, T0) == []
    lng, lat = move(LNG, LAT, 45, metres)
    flags = det.check("P1", lng, lat, acc, T0 + dt)
    assert ("impossible_speed" in codes(flags)) is flagged, flags


def test_speed_checks_a_late_fix_against_both_neighbours():
    det = SpoofDetector()
    det.check("P1", LNG, LAT, 5, T0)
    far = move(LNG, LAT, 90, 100)
    det.check("P1", *far, 5, T0 + 100)                  # 1 m/s: honest
    teleport = move(LNG, LAT, 270, 5000)
    flags = det.check("P1", *teleport, 5, T0 + 50)      # late fix, 5 km off both neighbours
    assert "impossible_speed" in codes(flags)
    # the next honest fix is compared with the honest neighbour, not the teleport
    assert det.check("P1", *move(*far, 90, 20), 6, T0 + 115) == []


def test_repeated_coordinates_from_one_phone():
    det = SpoofDetector()
    assert det.check("P1", LNG, LAT, 5.1, T0) == []
    assert det.check("P1", LNG + 0.0000113, LAT, 5.2, T0 + 15) == []
    flags = det.check("P1", LNG, LAT, 5.3, T0 + 30)
    assert codes(flags) == ["repeated_coordinates"] and "30 s earlier" in flags[0].reason


def test_same_fix_resent_is_not_a_repeat_and_rounded_coordinates_are_not_compared():
    det = SpoofDetector()
    det.check("P1", LNG, LAT, 5.1, T0)
    assert det.check("P1", LNG, LAT, 5.1, T0) == []              # the same fix again (same time)
    det.check("P2", 117.01234, 36.65123, 5.0, T0)                  # 5 decimals: an app that rounds
    assert det.check("P2", 117.01234, 36.65123, 6.0, T0 + 20) == []


def test_coordinates_shared_between_phones():
    det = SpoofDetector()
    assert det.check("P1", LNG, LAT, 5.0, T0) == []
    flags = det.check("P2", LNG, LAT, 7.0, T0 + 40)
    assert codes(flags) == ["shared_coordinates"] and "P1" in flags[0].reason


def test_shared_outside_the_window_is_not_flagged():
    det = SpoofDetector(SpoofConfig(window_s=60))
    det.check("P1", LNG, LAT, 5.0, T0)
    assert det.check("P2", LNG, LAT, 7.0, T0 + 61) == []


def test_zero_accuracy():
    assert codes(SpoofDetector().check("P1", LNG, LAT, 0.0, T0)) == ["zero_accuracy"]


def test_constant_accuracy_over_the_last_n_fixes():
    det = SpoofDetector(SpoofConfig(constant_accuracy_n=5))
    lng, lat = LNG, LAT
    results = []
    for i in range(6):
        lng, lat = move(lng, lat, 10, 20 + i)
        results.append(det.check("P1", lng, lat, 10.0, T0 + i * 15))
    assert [("constant_accuracy" in codes(r)) for r in results] == [False, False, False, False, True, True]
    assert "10 m on the last 5 fixes" in results[4][0].reason


def test_memory_is_bounded():
    det = SpoofDetector(SpoofConfig(max_phones=50, max_shared=100, history=4, constant_accuracy_n=3))
    rng = random.Random(1)
    for i in range(1000):
        det.check(f"P{i}", LNG + rng.random() / 100, LAT + rng.random() / 100, 5.0, T0 + i)
    assert det.phones_tracked == 50 and det.shared_entries == 100
    assert max(len(p.samples) for p in det._phones.values()) <= 4
    for i in range(20):
        det.check("busy", *move(LNG, LAT, 0, i * 10), 5.0 + i, T0 + 2000 + i * 15)
    assert len(det._phones["busy"].samples) == 4


def test_decimals():
    assert decimals(121.5272106) == 7 and decimals(117.0) == 0 and decimals(1e-7) == 7 and decimals(36.65) == 2
