"""Clock-in/clock-out hysteresis: >= 2 agreeing fixes >= 30 s apart, UNCERTAIN inert, late fixes."""
from __future__ import annotations

import json
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from sitegate.geofence.decision import Verdict
from sitegate.geofence.hysteresis import HysteresisConfig, PresenceTracker, Transition

T0 = 1_718_000_000.0


def feed(tracker, fixes, worker="w1", fence="yard"):
    """fixes: (seconds after T0, verdict letter). Returns every transition as (kind, at, confirmed)."""
    out = []
    for dt, v in fixes:
        verdict = {"I": Verdict.IN, "O": Verdict.OUT, "U": Verdict.UNCERTAIN}[v]
        for t in tracker.observe(worker, fence, T0 + dt, verdict).transitions:
            out.append((t.kind, t.at - T0, t.confirmed_at - T0))
    return out


def test_two_in_fixes_30_s_apart_clock_in_dated_by_the_first():
    tr = PresenceTracker()
    assert feed(tr, [(0, "I"), (30, "I")]) == [("clock_in", 0, 30)]
    assert tr.state("w1", "yard") == "in"


def test_29_s_apart_is_not_yet():
    tr = PresenceTracker()
    assert feed(tr, [(0, "I"), (29, "I")]) == []
    assert tr.state("w1", "yard") == "out"
    assert feed(tr, [(30, "I")]) == [("clock_in", 0, 30)]


def test_one_fix_alone_never_clocks_in():
    tr = PresenceTracker()
    assert feed(tr, [(0, "I")]) == [] and tr.state("w1", "yard") == "out"


def test_uncertain_in_between_changes_nothing():
    tr = PresenceTracker()
    assert feed(tr, [(0, "I"), (10, "U"), (20, "U"), (30, "I")]) == [("clock_in", 0, 30)]
    # and UNCERTAIN alone never moves the state, however many
    tr2 = PresenceTracker()
    assert feed(tr2, [(i * 40, "U") for i in range(10)]) == [] and len(tr2) == 0


def test_out_fix_breaks_the_in_run():
    tr = PresenceTracker()
    assert feed(tr, [(0, "I"), (15, "O"), (30, "I")]) == []
    assert feed(tr, [(59, "I")]) == []
    assert feed(tr, [(60, "I")]) == [("clock_in", 30, 60)]


def test_clock_out_is_symmetric_and_flapping_is_damped():
    tr = PresenceTracker()
    feed(tr, [(0, "I"), (30, "I")])
    # near the edge the verdicts alternate: nothing happens
    assert feed(tr, [(40, "O"), (50, "I"), (60, "O"), (70, "I"), (80, "O"), (100, "I")]) == []
    assert feed(tr, [(200, "O"), (229, "O")]) == []
    assert feed(tr, [(230, "O")]) == [("clock_out", 200, 230)]
    assert tr.state("w1", "yard") == "out"


def test_late_in_fix_completes_a_waiting_run():
    tr = PresenceTracker()
    assert feed(tr, [(0, "I"), (50, "O")]) == []      # run broken at 50
    # the fix of t=35 was buffered on the phone and arrives late: judged by its own time, before
    # the OUT at 50, it completes the run 0..35
    assert feed(tr, [(35, "I")]) == [("clock_in", 0, 35)]
    # the OUT at 50 is still in the history and starts a clock-out run
    assert feed(tr, [(80, "O")]) == [("clock_out", 50, 80)]


def test_late_out_fix_breaks_a_run_not_yet_confirmed():
    tr = PresenceTracker()
    assert feed(tr, [(0, "I"), (20, "I")]) == []
    assert feed(tr, [(10, "O")]) == []          # late: between the two INs, so the run restarts at 20
    assert feed(tr, [(40, "I")]) == []          # 20 s after 20
    assert feed(tr, [(50, "I")]) == [("clock_in", 20, 50)]


def test_a_long_silence_restarts_the_run():
    tr = PresenceTracker()
    assert feed(tr, [(0, "I"), (601, "I")]) == []         # 10 min + 1 s of silence: no proof in between
    assert feed(tr, [(631, "I")]) == [("clock_in", 601, 631)]
    tr = PresenceTracker()
    assert feed(tr, [(0, "I"), (600, "I")]) == [("clock_in", 0, 600)]   # exactly the limit still counts
    tr = PresenceTracker()
    assert feed(tr, [(0, "I"), (500, "I"), (1000, "I")]) == [("clock_in", 0, 500)]


def test_fix_before_the_last_transition_is_too_late():
    tr = PresenceTracker()
    feed(tr, [(0, "I"), (30, "I")])
    obs = tr.observe("w1", "yard", T0 + 10, Verdict.OUT)
    assert obs.too_late and obs.transitions == [] and obs.state == "in"


def test_history_is_bounded_and_older_fixes_are_folded():
    tr = PresenceTracker(HysteresisConfig(history_s=600, max_pending=8))
    feed(tr, [(0, "I"), (30, "I")])               # in
    feed(tr, [(100 + i * 10, "I") for i in range(50)])
    entry = tr.to_dict()["entries"][0]
    assert len(entry["pending"]) <= 8
    assert tr.observe("w1", "yard", T0 + 101, Verdict.OUT).too_late


def test_fences_and_workers_are_independent():
    tr = PresenceTracker()
    assert feed(tr, [(0, "I"), (30, "I")], worker="a") == [("clock_in", 0, 30)]
    assert feed(tr, [(0, "I")], worker="b") == []
    assert feed(tr, [(0, "I")], worker="a", fence="road") == []
    assert tr.state("a", "yard") == "in" and tr.state("b", "yard") == "out" and tr.state("a", "road") == "out"


def test_state_round_trips_through_json():
    tr = PresenceTracker()
    feed(tr, [(0, "I"), (30, "I"), (100, "O")])
    restored = PresenceTracker.from_dict(json.loads(json.dumps(tr.to_dict())))
    assert restored.state("w1", "yard") == "in"
    assert feed(restored, [(130, "O")]) == [("clock_out", 100, 130)]


def test_transition_to_dict():
    t = Transition("w", "f", "clock_in", 1.0, 31.0)
    assert t.to_dict() == {"worker_id": "w", "fence_id": "f", "kind": "clock_in", "at": 1.0, "confirmed_at": 31.0}


def _reference(fixes, dwell=30.0, max_gap=600.0):
    """An independent, unbounded model: replay all fixes in time order, no late handling needed."""
    state, first, last, out = "out", None, None, []
    for t, v in sorted(fixes, key=lambda f: f[0]):
        if v == "uncertain":
            continue
        if v == state:
            first = None
        elif first is None or t - last > max_gap:
            first = last = t
        elif t - first >= dwell:
            out.append(("clock_in" if v == "in" else "clock_out", first, t))
            state, first = v, None
        else:
            last = t
    return out


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5000), st.sampled_from(["in", "out", "uncertain"])),
                max_size=40, unique_by=lambda f: f[0]))
def test_in_order_feed_matches_the_reference_model(fixes):
    fixes.sort()
    tr = PresenceTracker(HysteresisConfig(history_s=10_000, max_pending=1000))
    got = [(t.kind, t.at, t.confirmed_at) for t, _ in
           ((x, None) for dt, v in fixes for x in tr.observe("w", "f", dt, v).transitions)]
    assert got == _reference(fixes)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 900), st.sampled_from(["in", "out", "uncertain"])), max_size=30,
                unique_by=lambda f: f[0]), st.randoms(use_true_random=False))
def test_any_arrival_order_gives_well_formed_transitions(fixes, rnd: random.Random):
    """Fixes arriving in any order: transitions alternate in/out starting with a clock-in, each
    is backed by two received fixes of its kind >= 30 s apart, and the final state agrees with
    the last transition."""
    shuffled = list(fixes)
    rnd.shuffle(shuffled)
    verdict_at = dict(fixes)
    tr = PresenceTracker(HysteresisConfig(history_s=10_000, max_pending=1000))
    got = []
    for dt, v in shuffled:
        got += tr.observe("w", "f", dt, v).transitions
    for i, t in enumerate(got):
        kind_verdict = "in" if t.kind == "clock_in" else "out"
        assert t.kind == ("clock_in" if i % 2 == 0 else "clock_out")
        assert verdict_at[t.at] == kind_verdict and verdict_at[t.confirmed_at] == kind_verdict
        assert t.confirmed_at - t.at >= 30
        if i:
            assert t.at > got[i - 1].confirmed_at
    assert tr.state("w", "f") == ("in" if len(got) % 2 else "out")


def test_forget_idle_drops_only_entries_that_cannot_matter():
    tr = PresenceTracker(HysteresisConfig(history_s=600))
    feed(tr, [(0, "I"), (30, "I")], worker="in-worker")            # in: must be kept
    feed(tr, [(0, "O")], worker="far-worker")                      # out, nothing under way
    feed(tr, [(200, "I")], worker="arriving")                      # run under way
    assert len(tr) == 3
    assert tr.forget_idle(T0 + 100) == 0                           # all within the history
    assert tr.forget_idle(T0 + 700) == 1
    assert tr.state("in-worker", "yard") == "in" and len(tr) == 2
    assert feed(tr, [(230, "I")], worker="arriving") == [("clock_in", 200, 230)]   # its run survived
    # a clock-out followed by quiet time is forgotten too, and the worker is out either way
    feed(tr, [(1000, "O"), (1030, "O")], worker="in-worker")
    assert tr.forget_idle(T0 + 2000) >= 1 and tr.state("in-worker", "yard") == "out"
