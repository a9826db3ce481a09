"""Who is in survives a restart of the intake: the saved per-worker state, the debounce, and the
correction from stored events when the state was not saved (a crash right after an event)."""
from __future__ import annotations

import itertools
import json
import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod

from sitegate.geofence.intake import STATUS
from sitegate.geofence.state import KV_PREFIX
from sitegate.model import Direction
from tests.geofence.test_intake_support import ARRIVAL_DELAY_S, LAT0, LNG0, T0, WORKER_A, GeoSite, signed_body

GEOD = Geod(ellps="WGS84")


@pytest.fixture
def site(tmp_path):
    s = GeoSite(tmp_path, extra_toml="[geofence]\nstate_save_s = 3600.0\n")
    yield s
    s.close()


class Phone:
    def __init__(self, site: GeoSite, key: bytes):
        self.site, self.key, self.n = site, key, itertools.count()

    def send(self, distance_m: float, t: float) -> dict:
        i = next(self.n)
        lng, lat, _ = GEOD.fwd(LNG0, LAT0, 90.0, distance_m + 0.011 * i)
        self.site.clock.t = t + ARRIVAL_DELAY_S
        status, answer = self.site.intake.handle_http(
            signed_body(self.key, lng=lng, lat=lat, t=t, accuracy_m=5.0 + (i % 5) * 0.5), "127.0.0.1")
        assert status == 200, answer
        return answer


def saved_rows(site) -> list:
    return site.store.query("SELECT key, value FROM kv WHERE key LIKE ?", (KV_PREFIX + "%",))


def directions(site):
    return [e.direction for e in site.geofence_events()]


def test_a_clocked_in_worker_is_still_in_after_a_restart(site):
    phone = Phone(site, site.add_phone())
    phone.send(0, T0)
    assert phone.send(0, T0 + 30)["transition"] == "clock_in"
    site.restart_intake()
    assert phone.send(0, T0 + 60)["state"] == "in"          # no second clock-in
    phone.send(0, T0 + 90)
    phone.send(400, T0 + 200)
    assert phone.send(400, T0 + 230)["transition"] == "clock_out"
    assert directions(site) == [Direction.IN, Direction.OUT]


def test_a_run_under_way_survives_a_restart(site):
    phone = Phone(site, site.add_phone())
    phone.send(0, T0)
    site.restart_intake()                                    # stop() writes what the debounce held back
    answer = phone.send(0, T0 + 30)
    assert answer["transition"] == "clock_in"
    (event,) = site.geofence_events()
    assert event.time.wall.timestamp() == pytest.approx(T0)  # dated by the fix before the restart


def test_changes_are_debounced_but_a_clock_in_is_saved_at_once(site):
    phone = Phone(site, site.add_phone())
    phone.send(0, T0)
    assert saved_rows(site) == []                            # state_save_s = 3600: not yet
    phone.send(0, T0 + 30)
    (row,) = saved_rows(site)                                # the clock-in: saved before answering
    state = json.loads(row["value"])
    assert [e["state"] for e in state["real"]["entries"]] == ["in"]
    # personal data stays out of the kv table: the key is the blind index, never the ID number
    assert row["key"] == KV_PREFIX + site.store.cipher.index(WORKER_A)
    assert WORKER_A not in row["value"] and WORKER_A not in row["key"]


def test_events_correct_a_state_that_was_not_saved(site):
    phone = Phone(site, site.add_phone())
    phone.send(0, T0)
    phone.send(0, T0 + 30)                                   # clocked in, event stored
    site.intake.stop()
    site.store.write(lambda c: c.execute("DELETE FROM kv WHERE key LIKE ?", (KV_PREFIX + "%",)))  # "crash"
    site.intake = site.new_intake()
    phone.send(0, T0 + 60)
    phone.send(0, T0 + 90)                                   # still in: no second clock-in
    phone.send(400, T0 + 200)
    phone.send(400, T0 + 230)
    assert directions(site) == [Direction.IN, Direction.OUT]


def test_an_unreadable_saved_state_is_logged_and_started_afresh(site, caplog):
    site.intake.stop()
    site.store.kv_set(KV_PREFIX + "deadbeef", "{not json")
    with caplog.at_level(logging.ERROR, logger="sitegate.geofence.state"):
        site.intake = site.new_intake()
    assert "unreadable" in caplog.text
    phone = Phone(site, site.add_phone())
    phone.send(0, T0)
    assert phone.send(0, T0 + 30)["transition"] == "clock_in"


# ---- nothing but answers comes out of handle_http, whatever arrives ---------------------------

@pytest.fixture(scope="module")
def fuzz_site(tmp_path_factory):
    s = GeoSite(tmp_path_factory.mktemp("fuzz"))
    s.key = s.add_phone()
    s.clock.t = T0 + ARRIVAL_DELAY_S
    yield s
    s.close()


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=6000))
def test_random_bytes_are_answered_and_counted(fuzz_site, raw):
    before = sum(fuzz_site.intake.rejections.values())
    status, answer = fuzz_site.intake.handle_http(raw, "127.0.0.1")
    assert status in set(STATUS.values()) and answer["ok"] is False and answer["reason"] in STATUS
    assert sum(fuzz_site.intake.rejections.values()) == before + 1
    assert fuzz_site.store.count_events() == 0


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_corrupted_signed_bodies_are_refused_or_accepted_never_crash(fuzz_site, data):
    body = bytearray(signed_body(fuzz_site.key, t=T0))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(body) - 1))
        body[i] ^= data.draw(st.integers(1, 255))
    status, answer = fuzz_site.intake.handle_http(bytes(body), "127.0.0.1")
    assert (status, answer["ok"]) == (200, True) or (status in set(STATUS.values()) and answer["reason"] in STATUS)
