"""When a track is encoded again and when it is settled (decide.py): pure rules, no images."""
from __future__ import annotations

import numpy as np
import pytest

from sitegate.drivers.camera_face.box import Box
from sitegate.drivers.camera_face.decide import DecisionRules, Sample, TrackVerdict
from sitegate.drivers.camera_face.gallery import Match

RULES = DecisionRules(tolerance=0.5, max_encodings=3, recheck_gap_frames=4, settle_frames=15, grey_band=0.1)


def look(frame: int, worker: str | None, distance: float | None, good: bool = True, sharp: float = 200) -> Sample:
    return Sample(np.zeros(128, np.float32), Match(worker, distance), Box(0, 100, 100, 0), b"jpeg", sharp, good, frame)


def verdict(*samples: Sample) -> TrackVerdict:
    return TrackVerdict(RULES, list(samples))


def test_a_new_track_is_looked_at_at_once():
    assert verdict().wants_look(1, good_now=False) and not verdict().settled(1)


def test_a_clear_match_or_a_clear_stranger_settles_on_the_first_look():
    for v in (verdict(look(1, "w1", 0.35)), verdict(look(1, None, 0.8)), verdict(look(1, None, None))):
        assert v.settled(1) and not v.wants_look(5, good_now=True)


def test_a_grey_look_is_rechecked_after_the_gap_and_a_match_settles():
    v = verdict(look(1, None, 0.55))
    assert not v.settled(1)
    assert not v.wants_look(3, good_now=True)  # too soon: the next frame looks the same
    assert v.wants_look(5, good_now=True)
    assert not v.wants_look(5, good_now=False)  # not on a poor frame
    v.samples.append(look(5, "w1", 0.45))
    assert v.settled(5) and v.best.match.worker_id == "w1"


def test_looks_are_capped_and_the_nearest_decides():
    v = verdict(look(1, None, 0.58), look(5, None, 0.52), look(9, None, 0.56))
    assert v.settled(9) and not v.wants_look(20, good_now=True)
    assert v.best.match.distance == 0.52


def test_a_poor_look_waits_for_a_good_one_even_when_it_matched():
    v = verdict(look(1, "w1", 0.45, good=False, sharp=10))
    assert not v.settled(2) and v.wants_look(2, good_now=True)
    v.samples.append(look(2, None, 0.9))
    assert v.settled(2)
    assert v.best.match.worker_id is None  # the good look outweighs a blurred match


def test_only_poor_looks_settle_after_settle_frames():
    v = verdict(look(1, "w1", 0.45, good=False, sharp=10))
    assert not v.settled(15)
    assert v.settled(16) and v.best.match.worker_id == "w1"


def test_decided_tracks_want_nothing():
    v = verdict(look(1, None, 0.55))
    v.decided = True
    assert not v.wants_look(10, good_now=True)


@pytest.mark.parametrize("kwargs", [dict(tolerance=0), dict(tolerance=0.5, max_encodings=0),
                                    dict(tolerance=0.5, grey_band=-0.1), dict(tolerance=0.5, recheck_gap_frames=0)])
def test_bad_rules(kwargs):
    with pytest.raises(ValueError):
        DecisionRules(**kwargs)
