"""Clock-ins over MQTT against a real Mosquitto started by the test: the walk into the yard and out
becomes events, answers come back on <topic>/<phone_id>/result, a payload on another phone's
topic and a replay are refused."""
from __future__ import annotations

import json
import os
import queue
import shutil
import socket
import subprocess
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from sitegate.drivers.phone.walker import request_bodies
from sitegate.model import Direction
from tests.geofence.test_intake_support import ARRIVAL_DELAY_S, T0, GeoSite, fix_time_of, signed_body

MOSQUITTO = "/usr/sbin/mosquitto"
TOPIC = "sitegate/370102202300001/clockin"
pytestmark = pytest.mark.mqtt


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def broker(tmp_path):
    if not (os.path.exists(MOSQUITTO) or shutil.which("mosquitto")):
        pytest.skip(f"mosquitto not installed ({MOSQUITTO} missing): apt-get install mosquitto")
    port = _free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nuser root\nset_tcp_nodelay true\n")
    proc = subprocess.Popen([MOSQUITTO if os.path.exists(MOSQUITTO) else shutil.which("mosquitto"), "-c", str(conf)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while True:                                   # wait until it listens (readiness, not a timing check)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"mosquitto did not start: {proc.stderr.read().decode(errors='replace')}")
            time.sleep(0.05)
    yield port
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class PhoneClient:
    """A phone speaking MQTT: publishes requests, collects the answers on its result topic."""

    def __init__(self, port: int, phone_id: str = "P-1"):
        self.answers: queue.Queue = queue.Queue()
        self.subscribed = queue.Queue()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-{phone_id}", protocol=mqtt.MQTTv5)
        self.client.on_message = lambda c, u, m: self.answers.put((m.topic, json.loads(m.payload)))
        self.client.on_subscribe = lambda c, u, mid, codes, props: self.subscribed.put(codes)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.client.subscribe(f"{TOPIC}/+/result", qos=1)
        self.subscribed.get(timeout=10)

    def send(self, topic_phone: str, body: bytes) -> dict:
        self.client.publish(f"{TOPIC}/{topic_phone}", body, qos=1).wait_for_publish(10)
        topic, answer = self.answers.get(timeout=20)
        assert topic == f"{TOPIC}/{topic_phone}/result"
        return answer

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def mqtt_site(tmp_path, broker):
    site = GeoSite(tmp_path, extra_toml=f"[uplink.mqtt]\nhost = \"127.0.0.1\"\nport = {broker}\n\n"
                                        "[geofence]\nmqtt_intake = true\n")
    assert site.intake.mqtt is not None and site.intake.mqtt.subscription == f"{TOPIC}/+"
    assert site.intake.mqtt.connected.wait(10), "the intake did not connect to mosquitto"
    phone = PhoneClient(broker)
    yield site, phone
    phone.close()
    site.close()


def test_walk_over_mqtt_makes_a_clock_in_and_a_clock_out(mqtt_site):
    site, phone = mqtt_site
    key = site.add_phone()
    answers = []
    for body, _ in request_bodies(site.walker(key).payloads(start_time=T0)):
        site.clock.t = fix_time_of(body) + ARRIVAL_DELAY_S
        answer = phone.send("P-1", body)
        assert answer["status"] == 200 and answer["nonce"] == json.loads(body)["nonce"], answer
        answers.append(answer)
    assert [e.direction for e in site.geofence_events()] == [Direction.IN, Direction.OUT]
    assert [a["transition"] for a in answers if "transition" in a] == ["clock_in", "clock_out"]


def test_wrong_topic_and_replay_are_refused_over_mqtt(mqtt_site):
    site, phone = mqtt_site
    key = site.add_phone()
    site.add_phone(phone_id="P-2")
    site.clock.t = T0 + ARRIVAL_DELAY_S
    body = signed_body(key, t=T0)
    answer = phone.send("P-2", body)                       # P-1's request on P-2's topic
    assert (answer["status"], answer["reason"]) == (403, "topic_mismatch")
    assert phone.send("P-1", signed_body(key, t=T0))["status"] == 200
    again = signed_body(key, t=T0 + 1)
    assert phone.send("P-1", again)["status"] == 200
    answer = phone.send("P-1", again)
    assert (answer["status"], answer["reason"]) == (409, "replayed")
    assert phone.send("P-1", b"\x00garbage")["reason"] == "bad_json"
    assert site.intake.rejections == {"topic_mismatch": 1, "replayed": 1, "bad_json": 1}
    assert site.intake.mqtt.received == 5
