"""Clock-ins over MQTT: phones publish the same signed request they would POST, to
``<topic>/<phone_id>`` (QoS 1); the answer goes to ``<topic>/<phone_id>/result`` (QoS 1).

The broker is the one of ``[uplink.mqtt]`` (host, port, tls, ca_file, certfile/keyfile, username,
password_file, keepalive_s, session_expiry_s); this client has its own id
(``<gateway_id>-clockin``) and a persistent session (MQTT 5, clean start off, the configured
session expiry), so clock-ins published while the gateway is down wait at the broker. A message
is acknowledged (PUBACK) only after ``handle`` returned, i.e. after its event is on disk: paho
sends the PUBACK of a QoS 1 message once ``on_message`` has returned (paho-mqtt 2.x,
``manual_ack=False``). A redelivery after a crash is answered ``replayed`` or changes nothing (the
hysteresis ignores fixes at or before the last transition; events are unique per source key).

Reconnects: paho's own loop with capped backoff (1 s to 60 s); "lost" and "back" logged once each.
"""
from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from sitegate.secrets import read_secret

log = logging.getLogger(__name__)

QOS = 1
Handler = Callable[[bytes, str], tuple[int, dict[str, Any]]]


def _nonce_of(payload: bytes) -> str | None:
    """The request's nonce, if it has a sane one, so the phone can match answers to requests."""
    try:
        nonce = json.loads(payload).get("nonce")
    except (ValueError, AttributeError, RecursionError):
        return None
    return nonce if isinstance(nonce, str) and 0 < len(nonce) <= 64 and nonce.isascii() else None


class MqttClockIns:
    def __init__(self, broker: Mapping[str, Any], topic: str, client_id: str, handle: Handler):
        self.broker = dict(broker)
        self.topic = topic.rstrip("/")
        self.handle = handle
        self.connected = threading.Event()
        self.received = 0
        self._was_connected = False
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.reconnect_delay_set(min_delay=1, max_delay=60)

    @property
    def subscription(self) -> str:
        return f"{self.topic}/+"

    def start(self) -> None:
        b = self.broker
        if b.get("tls"):
            self._client.tls_set(ca_certs=b.get("ca_file") or None, certfile=b.get("certfile") or None,
                                 keyfile=b.get("keyfile") or None)
        if b.get("username"):
            password = read_secret(b["password_file"]) if b.get("password_file") else None
            self._client.username_pw_set(b["username"], password)
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = int(b.get("session_expiry_s", 7 * 86400))
        self._client.connect_async(b.get("host", "127.0.0.1"), int(b.get("port", 1883)),
                                   keepalive=int(b.get("keepalive_s", 30)), clean_start=False, properties=props)
        self._client.loop_start()
        log.info("clock-in intake: MQTT %s:%s, topic %s", b.get("host"), b.get("port"), self.subscription)

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
        self.connected.clear()

    # -- paho callbacks (its network thread) -----------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning("clock-in intake: broker refused the connection: %s", reason_code)
            return
        client.subscribe(self.subscription, qos=QOS)
        if self._was_connected:
            log.info("clock-in intake: MQTT broker back")
        self._was_connected = True
        self.connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if self.connected.is_set():
            log.warning("clock-in intake: MQTT broker lost (%s); reconnecting", reason_code)
        self.connected.clear()

    def _on_message(self, client, userdata, message) -> None:
        self.received += 1
        phone_id = message.topic[len(self.topic) + 1:]
        try:
            status, answer = self.handle(bytes(message.payload), phone_id)
        except Exception:  # noqa: BLE001 - one bad message must not stop the network loop
            log.exception("clock-in intake: message on %s could not be handled", message.topic)
            status, answer = 500, {"ok": False, "reason": "internal", "message": "internal error"}
        reply = {**answer, "status": status}
        nonce = _nonce_of(message.payload)
        if nonce is not None:
            reply["nonce"] = nonce
        client.publish(f"{self.topic}/{phone_id}/result", json.dumps(reply, ensure_ascii=False), qos=QOS)
