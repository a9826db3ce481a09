"""TLS to the broker: verified with the configured CA; without it the uplink fails closed."""
from __future__ import annotations

import pytest

from sitegate.buffer import Store
from sitegate.uplink.base import Backoff
from sitegate.uplink.mqtt import MqttUplink
from tests.conftest import make_id
from tests.foundation.helpers import event
from tests.uplink.mosquitto import (
    GATEWAY, PROJECT, Consumer, Mosquitto, make_pki, mqtt_config, pump, requires_mosquitto, states,
)

pytestmark = [pytest.mark.mqtt, requires_mosquitto]


@pytest.fixture
def tls_broker(tmp_path):
    pki = make_pki(tmp_path / "pki")
    broker = Mosquitto(tmp_path / "broker", users={"gw": "gw-secret"}, tls=pki).start()
    yield broker, pki
    broker.stop()


def test_connects_with_the_ca_file_and_delivers(tmp_path, tls_broker):
    broker, pki = tls_broker
    cfg = mqtt_config(tmp_path, broker.port, password="gw-secret", tls=True, tls_ca=pki.ca)
    consumer = Consumer(broker.port, f"sitegate/{PROJECT}/{GATEWAY}/#", tls_ca=pki.ca,
                        username="gw", password="gw-secret", client_id="tls-consumer")
    try:
        with Store.from_config(cfg) as store:
            ids = []
            for i in range(20):
                ev = event(make_id(i))
                store.append(ev)
                ids.append(ev.event_id)
            uplink = MqttUplink(cfg, store, backoff=Backoff(0.05, 0.3))
            pump(uplink, lambda: states(store, "mqtt")["delivered"] == 20)
            assert consumer.wait_for(set(ids)) == set()
            uplink.close()
    finally:
        consumer.close()


def test_without_the_ca_file_it_fails_closed(tmp_path, tls_broker):
    broker, _pki = tls_broker
    # tls = true and no ca_file: the system CAs, which do not know our self-signed CA
    cfg = mqtt_config(tmp_path, broker.port, password="gw-secret", tls=True)
    with Store.from_config(cfg) as store:
        store.append(event(make_id(1)))
        uplink = MqttUplink(cfg, store, backoff=Backoff(0.05, 0.3))
        pump(uplink, lambda: uplink.status.consecutive_failures >= 2)
        assert "certificate" in uplink.status.last_error and "not accepted" in uplink.status.last_error
        assert (states(store, "mqtt")["pending"], states(store, "mqtt")["delivered"]) == (1, 0)
        [alarm] = store.active_alarms()
        assert alarm["code"] == "uplink_tls" and alarm["severity"] == "critical"
        assert not uplink.stopped                 # retried: the broker's certificate may be fixed on its side
        uplink.close()


def test_a_plain_connection_to_the_tls_port_delivers_nothing(tmp_path, tls_broker):
    broker, _pki = tls_broker
    cfg = mqtt_config(tmp_path, broker.port, password="gw-secret")     # tls = false
    with Store.from_config(cfg) as store:
        store.append(event(make_id(1)))
        uplink = MqttUplink(cfg, store, backoff=Backoff(0.05, 0.3))
        pump(uplink, lambda: uplink.status.consecutive_failures >= 2)
        assert states(store, "mqtt")["delivered"] == 0 and states(store, "mqtt")["pending"] == 1
        uplink.close()


def test_a_certificate_for_another_host_is_refused(tmp_path):
    pki = make_pki(tmp_path / "pki", hosts=("broker.example",))          # valid chain, wrong name
    broker = Mosquitto(tmp_path / "broker", users={"gw": "gw-secret"}, tls=pki).start()
    try:
        cfg = mqtt_config(tmp_path, broker.port, password="gw-secret", tls=True, tls_ca=pki.ca)
        with Store.from_config(cfg) as store:
            store.append(event(make_id(1)))
            uplink = MqttUplink(cfg, store, backoff=Backoff(0.05, 0.3))
            pump(uplink, lambda: uplink.status.consecutive_failures >= 1)
            assert "not accepted" in uplink.status.last_error and "127.0.0.1" in uplink.status.last_error
            assert states(store, "mqtt")["delivered"] == 0
            uplink.close()
    finally:
        broker.stop()
