"""Serial-number bookkeeping of the Hikvision driver (pure logic)."""
from __future__ import annotations

from datetime import datetime

from sitegate.drivers.hik_isapi.serials import MAX_GAP, SerialTracker

T = [datetime(2025, 3, 15, 7, 0, i) for i in range(20)]


def test_first_event_sets_the_baseline_and_contiguous_ones_advance():
    t = SerialTracker()
    t.record(100, T[0])
    t.record(101, T[1])
    assert (t.last, t.last_time, t.missing()) == (101, T[1], [])
    assert t.is_recorded(100) and not t.is_recorded(102)


def test_gap_is_reported_and_filled():
    t = SerialTracker(10, T[0])
    t.record(14, T[4])
    assert t.missing() == [11, 12, 13] and t.last == 10 and t.is_recorded(14)
    t.record(12, T[2])
    assert t.missing() == [11, 13]
    t.record(11, T[1])
    t.record(13, T[3])
    assert (t.last, t.last_time, t.missing(), t.ahead) == (14, T[4], [], {})


def test_settle_gives_up_numbers_a_complete_search_did_not_find():
    t = SerialTracker(10, T[0])
    t.record(12, T[2])
    t.record(15, T[5])
    assert t.settle(12) == [11]
    assert (t.last, t.last_time, t.missing()) == (12, T[2], [13, 14])
    assert t.settle(15) == [13, 14] and t.last == 15 and t.last_time == T[5]
    assert t.settle(3) == []


def test_a_huge_jump_is_a_reset_log_not_a_gap():
    t = SerialTracker(10, T[0])
    t.record(10 + MAX_GAP + 5, T[1])
    assert t.missing() == [] and t.last == 10 + MAX_GAP + 5


def test_old_serials_are_not_remembered_forever():
    t = SerialTracker(remember=3)
    for s in range(1, 6):
        t.record(s, None)
    assert not t.is_recorded(1) and t.is_recorded(5)
