"""The mqtt profile against a real Mosquitto: every event reaches a de-duplicating consumer, through
broker restarts, uplink restarts and a wrong password; the broker's ACL refusal is a config alarm."""
from __future__ import annotations

import hashlib
import hmac
import json
import threading

import pytest

from sitegate.buffer import Store
from sitegate.uplink.base import Backoff
from sitegate.uplink.mqtt import MqttUplink
from sitegate.uplink.mqtt.connection import Polled
from tests.conftest import make_id
from tests.foundation.helpers import event
from tests.uplink.mosquitto import (
    GATEWAY, PROJECT, Consumer, Mosquitto, mqtt_config, pump, requires_mosquitto, secret_file, states,
)

pytestmark = [pytest.mark.mqtt, requires_mosquitto]

USERS = {"gw": "gw-secret", "consumer": "consumer-secret"}
TOPIC = f"sitegate/{PROJECT}/{GATEWAY}/#"
ATTENDANCE = f"sitegate/{PROJECT}/{GATEWAY}/attendance"
STATUS = f"sitegate/{PROJECT}/{GATEWAY}/status"


@pytest.fixture
def broker(tmp_path):
    b = Mosquitto(tmp_path / "broker", users=USERS).start()
    yield b
    b.stop()


@pytest.fixture
def consumer(broker):
    c = Consumer(broker.port, TOPIC, username="consumer", password=USERS["consumer"])
    yield c
    c.close()


def fast(uplink: MqttUplink) -> MqttUplink:
    uplink.backoff = Backoff(base_s=0.05, cap_s=0.3)
    return uplink


def fill(store: Store, n: int, start: int = 0) -> list[str]:
    ids = []
    for i in range(start, start + n):
        ev = event(make_id(i))
        store.append(ev)
        ids.append(ev.event_id)
    return ids


def delivered_all(store: Store, n: int):
    return lambda: states(store, "mqtt").get("delivered") == n


def test_every_event_reaches_a_deduplicating_consumer(tmp_path, broker, consumer):
    cfg = mqtt_config(tmp_path, broker.port, password=USERS["gw"], signing_key="sign-me")
    with Store.from_config(cfg) as store:
        ids = fill(store, 300)
        uplink = fast(MqttUplink(cfg, store))
        peak = 0

        def done_and_capped() -> bool:
            nonlocal peak
            peak = max(peak, states(store, "mqtt")["inflight"])
            return states(store, "mqtt")["delivered"] == 300

        pump(uplink, done_and_capped)
        # flow control: never more unacknowledged than the broker's Receive Maximum (Mosquitto: 20)
        assert uplink.receive_maximum == 20 and 0 < peak <= 20
        assert consumer.wait_for(set(ids)) == set()
        assert set(consumer.records) == set(ids)
        assert states(store, "mqtt")["pending"] == 0 and states(store, "mqtt")["inflight"] == 0
        rec = consumer.records[ids[0]]
        assert rec["project_code"] == PROJECT and rec["gateway_id"] == GATEWAY
        assert rec["id_card_number_masked"].count("*") == 8 and rec["id_card_number_enc"]
        # the signature is HMAC-SHA256 over the exact payload bytes, checked independently here
        raw = next(r for r in consumer.raw if json.loads(r)["event_id"] == ids[0])
        expected = "sha256=" + hmac.new(b"sign-me", raw, hashlib.sha256).hexdigest()
        assert consumer.properties[ids[0]]["sitegate-signature"] == expected
        assert consumer.retained.get(STATUS) == b"online"
        assert consumer.topics == {ATTENDANCE}
        uplink.close()


def test_in_flight_messages_are_capped_by_max_inflight(tmp_path, broker, consumer):
    cfg = mqtt_config(tmp_path, broker.port, password=USERS["gw"], max_inflight=5)
    with Store.from_config(cfg) as store:
        ids = fill(store, 60)
        uplink = fast(MqttUplink(cfg, store))
        peak = 0

        def done() -> bool:
            nonlocal peak
            peak = max(peak, states(store, "mqtt")["inflight"])
            return states(store, "mqtt")["delivered"] == 60

        pump(uplink, done)
        assert 0 < peak <= 5
        assert consumer.wait_for(set(ids)) == set()
        uplink.close()


def test_status_is_offline_after_close_and_by_last_will(tmp_path, broker):
    cfg = mqtt_config(tmp_path, broker.port, password=USERS["gw"])
    with Store.from_config(cfg) as store:
        uplink = fast(MqttUplink(cfg, store))
        pump(uplink, lambda: uplink.connected)
        watcher = Consumer(broker.port, STATUS, client_id="watcher", username="consumer", password=USERS["consumer"])
        try:
            pump(uplink, lambda: watcher.retained.get(STATUS) == b"online", limit_s=10)
            uplink.close()                                   # clean stop: "offline", published by us
            pump(uplink, lambda: watcher.retained.get(STATUS) == b"offline", limit_s=10)

            uplink2 = fast(MqttUplink(cfg, store))
            pump(uplink2, lambda: watcher.retained.get(STATUS) == b"online", limit_s=10)
            uplink2.conn.client.socket().close()             # the gateway vanishes: the broker sends the will
            assert watcher.wait_until(lambda: watcher.retained.get(STATUS) == b"offline")
        finally:
            watcher.close()


def test_broker_restarted_while_publishing_loses_nothing(tmp_path, broker, consumer):
    cfg = mqtt_config(tmp_path, broker.port, password=USERS["gw"], max_inflight=20)
    with Store.from_config(cfg) as store:
        ids = fill(store, 400)
        uplink = fast(MqttUplink(cfg, store))
        restarts = 0

        def restart_now() -> bool:
            nonlocal restarts
            done = states(store, "mqtt")["delivered"]
            if restarts < 2 and done >= 100 * (restarts + 1):
                broker.restart()                              # by pid; same port, same persistence dir
                restarts += 1
            return done == 400

        pump(uplink, restart_now)
        assert restarts == 2
        assert uplink.counters["retried"] > 0 or uplink.counters["failures"] > 0
        assert consumer.wait_for(set(ids)) == set(), "events lost across broker restarts"
        uplink.close()


def test_uplink_restarted_mid_stream_loses_nothing(tmp_path, broker, consumer):
    cfg = mqtt_config(tmp_path, broker.port, password=USERS["gw"])
    with Store.from_config(cfg) as store:
        ids = fill(store, 250)
        first = fast(MqttUplink(cfg, store))
        pump(first, lambda: states(store, "mqtt")["delivered"] >= 60 and states(store, "mqtt")["inflight"] > 0)
        # vanish without closing (as a killed process would): its inflight records stay inflight
        first.conn.client.socket().close()
        first.conn = None
        assert states(store, "mqtt")["inflight"] > 0
        second = fast(MqttUplink(cfg, store))                 # a new instance over the same store
        pump(second, delivered_all(store, 250))
        assert consumer.wait_for(set(ids)) == set()
        second.close()


def test_wrong_password_alarms_keeps_everything_and_works_after_the_fix(tmp_path, broker, consumer):
    cfg = mqtt_config(tmp_path, broker.port, password="not-the-password")
    with Store.from_config(cfg) as store:
        ids = fill(store, 40)
        uplink = fast(MqttUplink(cfg, store))
        pump(uplink, lambda: uplink.stopped)
        [alarm] = [a for a in store.active_alarms() if a["code"] == "uplink_config"]
        assert alarm["severity"] == "critical" and "refused the connection" in alarm["message"]
        assert "not-the-password" not in alarm["message"]
        assert uplink.step() is False                         # stopped until reload
        assert states(store, "mqtt")["pending"] == 40

        secret_file(tmp_path / "mqtt.password", USERS["gw"])  # the fix, then a reload
        fixed = fast(MqttUplink(cfg, store))
        pump(fixed, delivered_all(store, 40))
        assert consumer.wait_for(set(ids)) == set()
        assert not [a for a in store.active_alarms() if a["code"] == "uplink_config"]
        fixed.close()


def test_broker_acl_refusal_is_a_config_alarm_and_nothing_is_delivered(tmp_path):
    acl = "user gw\ntopic write elsewhere/#\n"
    broker = Mosquitto(tmp_path / "broker", users=USERS, acl=acl).start()
    try:
        cfg = mqtt_config(tmp_path, broker.port, password=USERS["gw"])
        with Store.from_config(cfg) as store:
            fill(store, 10)
            uplink = fast(MqttUplink(cfg, store))
            pump(uplink, lambda: uplink.stopped)
            assert states(store, "mqtt")["delivered"] == 0
            assert states(store, "mqtt")["pending"] == 10 and states(store, "mqtt")["inflight"] == 0
            [alarm] = [a for a in store.active_alarms() if a["code"] == "uplink_config"]
            assert "Not authorized" in alarm["message"] and "ACL" in alarm["message"]
    finally:
        broker.stop()


def test_broker_down_backs_off_and_delivers_when_it_comes_up(tmp_path):
    broker = Mosquitto(tmp_path / "broker", users=USERS)     # configured, not started
    try:
        cfg = mqtt_config(tmp_path, broker.port, password=USERS["gw"])
        with Store.from_config(cfg) as store:
            ids = fill(store, 30)
            uplink = fast(MqttUplink(cfg, store))
            pump(uplink, lambda: uplink.status.consecutive_failures >= 3)
            assert uplink.status.state == "retrying" and "cannot reach" in uplink.status.last_error
            assert not store.active_alarms()                 # network trouble is not a configuration fault
            broker.start()
            consumer = Consumer(broker.port, TOPIC, username="consumer", password=USERS["consumer"])
            try:
                pump(uplink, delivered_all(store, 30))
                assert consumer.wait_for(set(ids)) == set()
            finally:
                consumer.close()
            uplink.close()
    finally:
        broker.stop()


def test_missing_payload_key_stops_with_a_clear_alarm(tmp_path, broker):
    cfg = mqtt_config(tmp_path, broker.port, password=USERS["gw"])
    cfg["uplink"]["payload_key_file"] = ""
    with Store.from_config(cfg) as store:
        fill(store, 3)
        uplink = MqttUplink(cfg, store)
        assert uplink.step() is False and uplink.stopped
        [alarm] = store.active_alarms()
        assert alarm["code"] == "uplink_config" and "payload_key_file" in alarm["message"]
        assert states(store, "mqtt")["pending"] == 3


def test_only_success_reason_codes_count_as_delivered(tmp_path, broker):
    """No consumer: real PUBACKs say 0x10 "No matching subscribers", which is a success. One PUBACK
    is replaced by 0x97 "Quota exceeded": that record is not delivered, it is retried later."""
    cfg = mqtt_config(tmp_path, broker.port, password=USERS["gw"])
    with Store.from_config(cfg) as store:
        fill(store, 10)
        uplink = fast(MqttUplink(cfg, store))
        pump(uplink, lambda: len(uplink._mids) > 0)
        mid, refused_id = next(iter(uplink._mids.items()))
        uplink._handle(Polled(acks=[(mid, 0x97, "Quota exceeded")]))
        [row] = store.query("SELECT state, last_error FROM deliveries WHERE event_id = ?", (refused_id,))
        assert row["state"] == "pending" and "Quota exceeded (0x97)" in row["last_error"]
        pump(uplink, delivered_all(store, 10))               # the rest at once, that one after its backoff
        assert uplink.counters["retried"] == 1
        uplink.close()


def test_run_delivers_until_stopped(tmp_path, broker, consumer):
    cfg = mqtt_config(tmp_path, broker.port, password=USERS["gw"])
    with Store.from_config(cfg) as store:
        ids = fill(store, 50)
        uplink = fast(MqttUplink(cfg, store))
        uplink.idle_sleep_s = 0.05
        stop = threading.Event()
        worker = threading.Thread(target=uplink.run, args=(stop,))
        worker.start()
        try:
            assert consumer.wait_for(set(ids)) == set()
            more = fill(store, 5, start=50)                   # picked up while running
            assert consumer.wait_for(set(more)) == set()
        finally:
            stop.set()
            worker.join(10)
        assert not worker.is_alive()
        uplink.close()
        assert states(store, "mqtt")["delivered"] == 55
