"""Which clock-ins go to the clerk's review queue (the rules of sitegate.geofence.reviewing), and
how the clerk's decisions, later clean fixes and the real state keep the queue in step."""
from __future__ import annotations

import itertools

import pytest
from pyproj import Geod

from sitegate.buffer.reviews import ReviewQueue
from sitegate.model import Direction, Method
from tests.geofence.test_intake_support import ARRIVAL_DELAY_S, LAT0, LNG0, T0, WORKER_A, GeoSite, signed_body

GEOD = Geod(ellps="WGS84")
RADIUS = 100.0          # the yard
DEEP_IN, EDGE_IN, EDGE_OUT, FAR_OUT = 0.0, 95.0, 105.0, 300.0   # metres from the centre


@pytest.fixture
def site(tmp_path):
    s = GeoSite(tmp_path)
    yield s
    s.close()


class Phone:
    """Signed fixes at a distance from the yard's centre, each a little different (a real receiver
    never repeats itself to the last digit) and with varying accuracy."""

    def __init__(self, site: GeoSite, key: bytes):
        self.site, self.key = site, key
        self.n = itertools.count()

    def send(self, distance_m: float, t: float, *, delay: float = ARRIVAL_DELAY_S, accuracy_m: float | None = None,
             **kw) -> dict:
        i = next(self.n)
        lng, lat, _ = GEOD.fwd(LNG0, LAT0, 270.0, distance_m + 0.013 * i)
        acc = accuracy_m if accuracy_m is not None else 6.0 + (i % 7) * 0.4
        self.site.clock.t = t + delay
        status, answer = self.site.intake.handle_http(signed_body(self.key, lng=lng, lat=lat, t=t, accuracy_m=acc,
                                                                  **kw), "127.0.0.1")
        assert status == 200, answer
        return answer


def events(site):
    return [(e.direction, e.time.wall.timestamp()) for e in site.geofence_events()]


def test_mock_location_goes_to_review_in_pairs_and_acceptance_sets_the_state(site):
    phone = Phone(site, site.add_phone())
    for k in range(3):                                 # a mock-location phone "inside" for a minute
        phone.send(DEEP_IN, T0 + 30 * k, is_mock=True)
    assert site.geofence_events() == []
    (item,) = site.reviews()
    assert item.kind == "geofence" and item.event.direction == Direction.IN
    assert item.event.method == Method.GEOFENCE and item.event.worker.id_card_number == WORKER_A
    assert [r["code"] for r in item.reasons] == ["would_clock_in", "mock"]
    assert item.event.time.wall.timestamp() == pytest.approx(T0)
    assert item.id_masked == "370102********" + WORKER_A[-4:]

    for k in range(3):                                 # ... and "outside": the pair's second half
        phone.send(FAR_OUT, T0 + 600 + 30 * k, is_mock=True)
    opened = site.reviews()
    assert [i.event.direction for i in opened] == [Direction.IN, Direction.OUT]

    queue = ReviewQueue(site.store)
    event_id = queue.accept(opened[0].id, "clerk", "was on site, phone setting")
    queue.reject(opened[1].id, "clerk", "left later, by the gate")
    accepted = site.store.get_event(event_id)
    assert accepted.direction == Direction.IN and accepted.source.lane == "geo-yard"

    # the clerk's acceptance is the worker's state now: clean fixes inside make no second clock-in,
    # clean fixes outside make the clock-out
    for k in range(3):
        phone.send(DEEP_IN, T0 + 1200 + 30 * k)
    for k in range(3):
        phone.send(FAR_OUT, T0 + 1800 + 30 * k)
    assert [d for d, _ in events(site)] == [Direction.IN, Direction.OUT]
    assert site.reviews() == []


def test_a_worker_at_the_fence_edge_all_night_makes_at_most_two_open_items(site):
    phone = Phone(site, site.add_phone())
    t = T0
    for cycle in range(6):                             # jitter across the edge, never far enough
        for _ in range(3):
            phone.send(EDGE_IN, t)
            t += 30
        for _ in range(3):
            phone.send(EDGE_OUT, t)
            t += 30
    assert site.geofence_events() == []
    opened = site.reviews()
    assert sorted(i.event.direction for i in opened) == [Direction.IN, Direction.OUT]
    assert {r["code"] for r in opened[0].reasons} >= {"would_clock_in", "near_edge"}
    assert site.intake.desk.counts["suppressed"] >= 8


def test_uncertain_heartbeats_that_change_nothing_are_not_queued(site):
    phone = Phone(site, site.add_phone())
    phone.send(DEEP_IN, T0)
    phone.send(DEEP_IN, T0 + 30)                       # clocked in
    for k in range(10):                                # in, near the edge, poor or no accuracy
        phone.send(EDGE_IN, T0 + 60 + 30 * k, accuracy_m=None if k % 2 else 8.0)
    for k in range(4):                                 # far outside: a cell-tower fix is not a clock-out
        phone.send(FAR_OUT + 400, T0 + 400 + 30 * k, accuracy_m=800.0)
    phone.send(FAR_OUT, T0 + 600)                      # one lone clean fix outside, then back inside
    phone.send(DEEP_IN, T0 + 620)
    assert [d for d, _ in events(site)] == [Direction.IN]
    assert site.reviews() == []


def test_stale_fixes_sent_late_from_the_phones_buffer_go_to_review(site):
    phone = Phone(site, site.add_phone())
    for k in range(3):                                 # made offline, arriving two minutes late
        answer = phone.send(DEEP_IN, T0 + 30 * k, delay=120.0)
        assert answer["verdict"] == "uncertain" and "old when received" in answer["reason"]
    (item,) = site.reviews()
    assert {r["code"] for r in item.reasons} == {"would_clock_in", "stale"}
    assert site.geofence_events() == []


def test_an_item_is_superseded_when_clean_fixes_clock_the_worker_in(site):
    phone = Phone(site, site.add_phone())
    phone.send(EDGE_IN, T0)                            # doubtful start of the run
    answer = phone.send(DEEP_IN, T0 + 30)              # the shadow completes it: queued
    assert "review_id" in answer
    answer = phone.send(DEEP_IN, T0 + 60)              # the real run (from T0+30) completes
    assert answer["transition"] == "clock_in"
    assert site.reviews() == []
    (closed,) = site.reviews("rejected")
    assert closed.decided_by == "sitegate" and closed.note.startswith("superseded")
    assert answer["event_id"] in closed.note
    assert events(site) == [(Direction.IN, pytest.approx(T0 + 30))]


def test_an_item_is_withdrawn_when_clean_fixes_show_the_worker_never_left(site):
    phone = Phone(site, site.add_phone())
    phone.send(DEEP_IN, T0)
    phone.send(DEEP_IN, T0 + 30)                       # clocked in
    phone.send(EDGE_OUT, T0 + 60)
    phone.send(EDGE_OUT, T0 + 90)                      # would-be clock-out near the edge: queued
    assert [i.event.direction for i in site.reviews()] == [Direction.OUT]
    phone.send(DEEP_IN, T0 + 120)
    phone.send(DEEP_IN, T0 + 150)                      # clean fixes: in all along
    assert site.reviews() == []
    (closed,) = site.reviews("rejected")
    assert closed.note.startswith("withdrawn") and closed.decided_by == "sitegate"
    assert [d for d, _ in events(site)] == [Direction.IN]


def test_after_a_rejection_a_new_episode_is_queued_again(site):
    phone = Phone(site, site.add_phone())
    phone.send(DEEP_IN, T0, is_mock=True)
    phone.send(DEEP_IN, T0 + 30, is_mock=True)
    (first,) = site.reviews()
    ReviewQueue(site.store).reject(first.id, "clerk", "fake")
    phone.send(DEEP_IN, T0 + 60, is_mock=True)         # the rejection is picked up; the run starts anew
    assert site.reviews() == []
    phone.send(DEEP_IN, T0 + 90, is_mock=True)
    (second,) = site.reviews()
    assert second.id != first.id and second.event.direction == Direction.IN
