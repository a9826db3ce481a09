"""The clock-in intake over real HTTP on loopback, with the real store, roster, policy and
pipeline: a simulated phone walks into the yard and out; refusals are answered with their code,
counted, and store nothing; a blacklisted worker's clock-in is recorded as denied."""
from __future__ import annotations

import json

import pytest

from sitegate.buffer import Roster, Worker, backlog
from sitegate.geofence.clockin import MAX_BODY_BYTES
from sitegate.geofence.phones import PhoneRegistry
from sitegate.model import DenyReason, Direction, Outcome
from tests.geofence.test_intake_support import (ARRIVAL_DELAY_S, LNG0, T0, WORKER_A, GeoSite, HttpFront,
                                                signed_body)


@pytest.fixture
def site(tmp_path):
    s = GeoSite(tmp_path)
    yield s
    s.close()


@pytest.fixture
def http(site):
    front = HttpFront(site)
    yield front
    front.close()


def test_walk_in_and_out_makes_one_clock_in_and_one_clock_out(site, http):
    key = site.add_phone()
    answers = http.walk(site.walker(key))
    assert all(status == 200 and a["ok"] for status, a in answers), answers

    events = site.geofence_events()
    assert [(e.direction, e.decision.outcome) for e in events] == [(Direction.IN, Outcome.ADMITTED),
                                                                   (Direction.OUT, Outcome.ADMITTED)]
    clock_in, clock_out = events
    for e in events:
        assert e.worker.id_card_number == WORKER_A and e.worker.name == "张三" and e.worker.team_sys_no == 7
        assert e.source.device_id == "phone:P-1" and e.source.lane == "geo-yard"
        assert e.extra["fence_id"] == "yard" and e.location is not None and e.location.accuracy_m > 0
        # dated by the first fix of the run, confirmed by a fix >= 30 s later
        assert e.time.wall.timestamp() == pytest.approx(e.extra["run_from"])
        assert e.extra["confirmed_at"] - e.extra["run_from"] >= 30
    assert clock_in.time.wall < clock_out.time.wall
    assert backlog(site.store)["national"]["pending"] == 2        # both queued for the platform

    # the phone was told: the clock-in answer names the event; in between it is "in"
    transitions = [a for _, a in answers if "transition" in a]
    assert [(a["transition"], a["event_id"]) for a in transitions] == [("clock_in", clock_in.event_id),
                                                                       ("clock_out", clock_out.event_id)]
    states = [a["state"] for _, a in answers]
    assert states[0] == "out" and "in" in states and states[-1] == "out"
    assert site.reviews() == [] and site.intake.rejections == {}


def test_source_key_is_phone_and_nonce_and_a_resent_event_is_not_doubled(site, http):
    key = site.add_phone()
    bodies = [signed_body(key, t=T0 + dt) for dt in (0, 40)]
    for body in bodies:
        site.clock.t = json.loads(body)["fix_time"] / 1000 + ARRIVAL_DELAY_S
        status, answer = http.post(body)
    assert status == 200 and answer["transition"] == "clock_in"
    (event,) = site.geofence_events()
    assert event.source_key == f"P-1:{json.loads(bodies[1])['nonce']}"


def _expect(http, site, body, status, reason):
    got_status, answer = http.post(body)
    assert (got_status, answer.get("reason")) == (status, reason), answer
    assert answer["ok"] is False and answer["message"]
    return answer


def test_each_refusal_is_answered_with_its_code_counted_and_stores_nothing(site, http):
    key = site.add_phone()
    site.add_phone(phone_id="P-old")
    PhoneRegistry(site.store).revoke(phone_id="P-old", actor="test")
    site.clock.t = T0 + ARRIVAL_DELAY_S

    _expect(http, site, b"{not json", 400, "bad_json")
    _expect(http, site, json.dumps({"phone_id": "P-1"}).encode(), 400, "schema")
    _expect(http, site, signed_body(key, phone_id="P-404"), 401, "unknown_phone")
    _expect(http, site, signed_body(key, phone_id="P-old"), 401, "unknown_phone")       # revoked
    _expect(http, site, signed_body(bytes(32)), 401, "bad_signature")
    replay = signed_body(key)
    assert http.post(replay)[0] == 200
    _expect(http, site, replay, 409, "replayed")
    _expect(http, site, signed_body(key, t=T0 - 3600), 403, "fix_time_window")           # an hour old
    _expect(http, site, signed_body(key, lat=91.0), 400, "bad_coordinates")
    padded = signed_body(key)[:-1] + b" " * MAX_BODY_BYTES + b"}"
    _expect(http, site, padded, 413, "too_large")
    for _ in range(25):                                     # burst 20 by default, then 429
        status, answer = http.post(signed_body(key, lng=LNG0 + 0.1))
        if status != 200:
            break
    assert (status, answer["reason"]) == (429, "rate_limited")

    expected = {"bad_json": 1, "schema": 1, "unknown_phone": 2, "bad_signature": 1, "replayed": 1,
                "fix_time_window": 1, "bad_coordinates": 1, "too_large": 1, "rate_limited": 1}
    assert dict(site.intake.rejections) == expected
    reported = {}
    for what, reason in site.metrics.rejected_calls:
        assert what == "clockin"
        reported[reason] = reported.get(reason, 0) + 1
    assert reported == expected
    assert site.store.count_events() == 0 and site.reviews() == []


def test_blacklisted_workers_clock_in_is_recorded_as_denied(site, http):
    key = site.add_phone()
    Roster(site.store).upsert_many([Worker(WORKER_A, "张三", team_sys_no=7, blacklisted=True)])
    site.roster.refresh(force=True)
    answers = http.walk(site.walker(key))
    events = site.geofence_events()
    assert [(e.direction, e.decision.reason) for e in events] == [(Direction.IN, DenyReason.BLACKLISTED),
                                                                  (Direction.OUT, DenyReason.BLACKLISTED)]
    clock_in = next(a for _, a in answers if a.get("transition") == "clock_in")
    assert (clock_in["outcome"], clock_in["deny_reason"]) == ("denied", "blacklisted")
    assert backlog(site.store)["national"]["pending"] == 0        # recorded, not attendance


def test_a_fence_that_records_only_clock_ins(tmp_path):
    site = GeoSite(tmp_path)
    try:
        site.cfg["geofences"][0]["direction"] = "in"
        site.restart_intake()
        http = HttpFront(site)
        try:
            http.walk(site.walker(site.add_phone()))
        finally:
            http.close()
        assert [e.direction for e in site.geofence_events()] == [Direction.IN]
        assert site.intake.counts["direction_ignored"] == 1
    finally:
        site.close()


def test_store_failure_is_503_and_the_fix_counts_again_when_resent(site, http):
    key = site.add_phone()
    first = signed_body(key, t=T0)
    site.clock.t = T0 + ARRIVAL_DELAY_S
    assert http.post(first)[0] == 200
    full_at = site.store.min_free_bytes
    site.store.min_free_bytes = 1 << 62                       # the disk is "full": events are refused
    second = signed_body(key, t=T0 + 40)
    site.clock.t = T0 + 40 + ARRIVAL_DELAY_S
    _expect(http, site, second, 503, "store_unavailable")
    assert site.store.count_events() == 0
    site.store.min_free_bytes = full_at
    # the same fix again with a new nonce: the run from the first fix is intact
    again = signed_body(key, t=T0 + 40)
    status, answer = http.post(again)
    assert status == 200 and answer["transition"] == "clock_in"
    (event,) = site.geofence_events()
    assert event.time.wall.timestamp() == pytest.approx(T0)


def test_the_daemon_serves_clockins_on_its_web_port(tmp_path):
    """The whole daemon (sitegate run's Runtime): the intake is started, POST /api/clockin reaches it
    through the clerk web server, refusals reach /metrics."""
    import time

    import requests

    from sitegate.buffer import Store
    from sitegate.config import loads
    from sitegate.daemon.runtime import Runtime
    from tests.geofence.test_intake_support import FENCES_TOML, web_server_available

    if not web_server_available():
        pytest.skip("the clerk web server (sitegate.web.server) is not in this build")
    data = tmp_path / "data"
    with Store.open(data) as store:
        Roster(store).upsert_many([Worker(WORKER_A, "张三")])
        _, key = PhoneRegistry(store).issue(WORKER_A, phone_id="P-1", actor="test")
    cfg = loads(f'[site]\nproject_code = "370102202300001"\ngateway_id = "gw"\ndata_dir = "{data}"\n'
                f'[uplink]\nenabled = false\n[http]\nlisten = "127.0.0.1:0"\n{FENCES_TOML}')
    runtime = Runtime(cfg)
    runtime.start()
    try:
        url = runtime.url + "api/clockin"
        now = time.time()
        answers = [requests.post(url, data=signed_body(key, t=now - 40 + dt), timeout=30) for dt in (0, 35)]
        assert [r.status_code for r in answers] == [200, 200]
        assert answers[1].json()["transition"] == "clock_in"
        assert requests.post(url, data=b"{}", timeout=30).json()["reason"] == "schema"
        metrics = requests.get(runtime.url + "metrics", timeout=30).text
        assert 'sitegate_rejected_input_total{reason="schema",source="clockin"} 1.0' in metrics
        (event,) = runtime.store.events()
        assert event.source.device_id == "phone:P-1" and event.direction == Direction.IN
    finally:
        runtime.stop()
