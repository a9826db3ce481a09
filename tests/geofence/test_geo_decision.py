"""Accuracy-aware classification around the margin M = max(1.2 * accuracy, 10 m)."""
from __future__ import annotations

import math

import pytest

from sitegate.geofence.decision import DecisionConfig, Verdict, classify, margin_m

T = 1_718_000_000.0   # a fix time; received 2 s later unless a test says otherwise


def judge(s, acc, *, age=2.0, grace=0.0, config=DecisionConfig()):
    return classify(s, acc, fix_time=T, received_at=T + age, grace_m=grace, config=config)


@pytest.mark.parametrize("acc,margin", [(5, 10), (8.3, 10), (8.4, 10.08), (20, 24), (100, 120)])
def test_margin(acc, margin):
    assert margin_m(acc) == pytest.approx(margin)


@pytest.mark.parametrize("s,acc,verdict", [
    (24.0, 20, Verdict.IN),            # exactly M inside
    (23.99, 20, Verdict.UNCERTAIN),
    (0.0, 20, Verdict.UNCERTAIN),      # on the edge
    (-23.99, 20, Verdict.UNCERTAIN),
    (-24.0, 20, Verdict.OUT),          # exactly M outside
    (10.0, 3, Verdict.IN),             # the 10 m floor applies to good fixes
    (9.99, 3, Verdict.UNCERTAIN),
    (-10.0, 3, Verdict.OUT),
    (500.0, 100, Verdict.IN),          # 100 m accuracy still decides far from the edge
])
def test_boundary(s, acc, verdict):
    j = judge(s, acc)
    assert j.verdict is verdict, j
    assert j.margin_m == pytest.approx(max(1.2 * acc, 10))


def test_grace_widens_the_fence():
    assert judge(-5.0, 5, grace=15).verdict is Verdict.IN          # -5 + 15 = 10 >= 10
    assert judge(-5.0, 5, grace=14).verdict is Verdict.UNCERTAIN
    assert judge(-5.0, 5, grace=15).signed_distance_m == pytest.approx(10)


@pytest.mark.parametrize("acc,code", [
    (None, "accuracy_missing"), (math.nan, "accuracy_missing"), (0, "accuracy_zero"), (0.0, "accuracy_zero"),
    (-3, "accuracy_zero"), (100.01, "accuracy_too_large"), (2000, "accuracy_too_large"),
])
def test_bad_accuracy_is_uncertain_with_its_reason(acc, code):
    j = judge(1000.0, acc)   # deep inside, yet nothing can be concluded
    assert (j.verdict, j.reason_code, j.margin_m) == (Verdict.UNCERTAIN, code, None)
    assert j.reason


def test_accuracy_exactly_100_is_accepted():
    assert judge(1000.0, 100).verdict is Verdict.IN


@pytest.mark.parametrize("age,verdict,code", [
    (60.0, Verdict.IN, "inside"),       # exactly at the limit: still fresh
    (60.5, Verdict.UNCERTAIN, "stale"),
    (3600.0, Verdict.UNCERTAIN, "stale"),
    (-5.0, Verdict.IN, "inside"),       # phone 5 s ahead: tolerated skew
    (-6.0, Verdict.UNCERTAIN, "future"),
])
def test_fix_age(age, verdict, code):
    j = judge(100.0, 5, age=age)
    assert (j.verdict, j.reason_code) == (verdict, code), j.reason


def test_configurable_margin_and_limits():
    cfg = DecisionConfig(margin_factor=2.0, min_margin_m=5.0, max_accuracy_m=50, max_age_s=10)
    assert judge(20.0, 10, config=cfg).verdict is Verdict.IN
    assert judge(19.9, 10, config=cfg).verdict is Verdict.UNCERTAIN
    assert judge(1000.0, 60, config=cfg).reason_code == "accuracy_too_large"
    assert judge(1000.0, 5, age=11, config=cfg).reason_code == "stale"
    with pytest.raises(ValueError, match="margin_factor"):
        DecisionConfig(margin_factor=-1)


def test_reasons_are_readable_and_serialisable():
    j = judge(-30.0, 20)
    assert j.reason == "30.0 m outside the edge (needs 24.0 m)"
    assert j.to_dict() == {"verdict": "out", "signed_distance_m": -30.0, "margin_m": 24.0,
                           "reason_code": "outside", "reason": j.reason}
