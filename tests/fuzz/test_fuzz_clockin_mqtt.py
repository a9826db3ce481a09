"""Clock-ins over MQTT (geofence/mqtt_intake.py -> ClockInIntake.handle_mqtt): any payload on any
``<topic>/<phone_id>`` is answered with a refusal reason from ``STATUS`` and counted, or accepted;
a genuine phone's request published on another phone's topic is refused (``topic_mismatch``);
nothing is stored from noise. The HTTP path is fuzzed in tests/geofence/test_intake_state.py and
test_geo_clockin.py; the broker round trip is tests/geofence/test_intake_mqtt.py."""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sitegate.geofence.intake import STATUS
from sitegate.geofence.mqtt_intake import _nonce_of
from tests.geofence.test_intake_support import ARRIVAL_DELAY_S, T0, GeoSite, signed_body

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
topic_ids = st.one_of(st.just("P-1"), st.just("P-2"), st.just(""), st.text(max_size=80),
                      st.text(alphabet="+#/\x00", max_size=5))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    # a generous rate limit: these tests send one phone's requests far faster than a phone would
    s = GeoSite(tmp_path_factory.mktemp("mqtt-fuzz"), extra_toml="[geofence]\nrate_per_minute = 6000.0\n"
                                                                  "rate_burst = 10000\n")
    s.key = s.add_phone()
    s.clock.t = T0 + ARRIVAL_DELAY_S
    yield s
    s.close()


@SETTINGS
@given(st.one_of(st.binary(max_size=6000), st.text(max_size=300).map(str.encode)), topic_ids)
def test_any_payload_on_any_topic_is_answered_and_counted(site, payload, topic_phone):
    before = sum(site.intake.rejections.values())
    status, answer = site.intake.handle_mqtt(payload, topic_phone)
    assert status in set(STATUS.values()) and answer["ok"] is False and answer["reason"] in STATUS
    assert sum(site.intake.rejections.values()) == before + 1
    assert site.store.count_events() == 0
    json.dumps(answer)                  # the answer is published as JSON: it must serialise


@SETTINGS
@given(topic_ids.filter(lambda t: t != "P-1"))
@example("P-2")
def test_a_genuine_request_on_another_phones_topic_is_refused(site, topic_phone):
    status, answer = site.intake.handle_mqtt(signed_body(site.key, t=T0), topic_phone)
    assert (status, answer["reason"]) == (STATUS["topic_mismatch"], "topic_mismatch")


@SETTINGS
@given(st.data())
def test_corrupted_signed_payloads_are_refused_or_accepted_never_crash(site, data):
    body = bytearray(signed_body(site.key, t=T0))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(body) - 1))
        body[i] ^= data.draw(st.integers(1, 255))
    status, answer = site.intake.handle_mqtt(bytes(body), "P-1")
    assert (status, answer["ok"]) == (200, True) or (status in set(STATUS.values()) and answer["reason"] in STATUS)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=300), st.builds(lambda v: json.dumps({"nonce": v}).encode(),
                                                     st.one_of(st.text(max_size=80), st.integers(), st.none()))))
@example(b"[" * 100_000)                 # nesting deep enough for RecursionError
def test_the_nonce_echoed_to_the_phone_is_sane_or_absent(payload):
    nonce = _nonce_of(payload)
    assert nonce is None or (isinstance(nonce, str) and 0 < len(nonce) <= 64 and nonce.isascii())
