"""A thin adapter over one paho-mqtt connection: paho's callbacks only append facts to a list;
the engine reads them after ``poll`` returns, so no store call ever runs inside paho's locks
(paho calls on_publish holding its out-message lock; see paho issues #354, #346).

One ``BrokerConnection`` is one network connection: the engine makes a new one after a drop, so
paho never replays messages from its memory behind the engine's back — what was not PUBACKed goes
back to ``pending`` in the store and is published again from there.

paho-mqtt 2.x API: ``Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=MQTTv5)``.
"""
from __future__ import annotations

import hashlib
import hmac
import ssl
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from sitegate.errors import SitegateError
from sitegate.uplink.feed import UplinkConfigError
from sitegate.uplink.mqtt.settings import MqttSettings


class BrokerUnreachable(SitegateError):
    """The broker could not be reached or the connection dropped (retried with backoff)."""


class TlsFailure(BrokerUnreachable):
    """The broker's certificate was not accepted, or the TLS handshake failed: nothing is sent."""


@dataclass
class Connack:
    code: int
    name: str
    session_present: bool
    receive_maximum: int          # the broker's flow-control limit for our QoS 1 messages


@dataclass
class Polled:
    """What happened on the wire during one ``poll``."""

    connack: Connack | None = None
    acks: list[tuple[int, int, str]] = field(default_factory=list)   # (mid, reason code, reason name)
    lost: str | None = None


def signature(key: bytes, payload: bytes) -> str:
    """``sha256=<hex>`` HMAC-SHA256 of the payload bytes (the user property ``sitegate-signature``)."""
    return "sha256=" + hmac.new(key, payload, hashlib.sha256).hexdigest()


class BrokerConnection:
    def __init__(self, settings: MqttSettings):
        self.settings = s = settings
        self._events: list[tuple] = []
        c = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=s.client_id,
                        protocol=mqtt.MQTTv5)
        c.connect_timeout = s.timeout_s
        if s.tls:
            try:
                # verification on: CERT_REQUIRED and host name checked (paho's default for tls_set)
                c.tls_set(ca_certs=s.ca_file or None, certfile=s.certfile or None, keyfile=s.keyfile or None,
                          cert_reqs=ssl.CERT_REQUIRED, tls_version=ssl.PROTOCOL_TLS_CLIENT)
            except (OSError, ssl.SSLError, ValueError) as exc:
                raise UplinkConfigError(f"[uplink.mqtt] TLS files cannot be used: {exc}") from None
        if s.username:
            c.username_pw_set(s.username, s.password or None)
        c.will_set(s.status_topic, b"offline", qos=1, retain=True)
        c.max_inflight_messages_set(s.max_inflight)
        c.on_connect = self._on_connect
        c.on_publish = self._on_publish
        c.on_disconnect = self._on_disconnect
        self.client = c

    # paho callbacks: record only --------------------------------------------------------------
    def _on_connect(self, _client, _userdata, flags, reason, properties) -> None:
        receive_max = getattr(properties, "ReceiveMaximum", None) or 65535
        self._events.append(("connack", Connack(reason.value, reason.getName(), bool(flags.session_present),
                                                int(receive_max))))

    def _on_publish(self, _client, _userdata, mid, reason, _properties) -> None:
        self._events.append(("ack", (mid, reason.value, reason.getName())))

    def _on_disconnect(self, _client, _userdata, _flags, reason, _properties) -> None:
        self._events.append(("lost", f"broker closed the connection ({reason.getName()})"))

    # the engine's side ------------------------------------------------------------------------
    def open(self) -> None:
        """TCP (+TLS) connect and send CONNECT; the CONNACK arrives through ``poll``."""
        s = self.settings
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = s.session_expiry_s
        try:
            rc = self.client.connect(s.host, s.port, s.keepalive_s, clean_start=False, properties=props)
        except ssl.SSLCertVerificationError as exc:
            raise TlsFailure(f"certificate of {s.where} not accepted: {exc.verify_message or exc}") from None
        except ssl.SSLError as exc:
            raise TlsFailure(f"TLS handshake with {s.where} failed: {exc.reason or exc}") from None
        except OSError as exc:
            raise BrokerUnreachable(f"cannot reach {s.where}: {exc.strerror or exc}") from None
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise BrokerUnreachable(f"cannot connect to {s.where}: {mqtt.error_string(rc)}")

    def poll(self, timeout: float) -> Polled:
        try:
            rc = self.client.loop(timeout)
        except (OSError, ssl.SSLError) as exc:
            rc = None
            self._events.append(("lost", f"connection to {self.settings.where} failed: {exc}"))
        if rc not in (None, MQTTErrorCode.MQTT_ERR_SUCCESS):
            self._events.append(("lost", f"connection to {self.settings.where} lost: {mqtt.error_string(rc)}"))
        out = Polled()
        events, self._events = self._events, []
        for kind, value in events:
            if kind == "connack" and out.connack is None:
                out.connack = value
            elif kind == "ack":
                out.acks.append(value)
            elif kind == "lost" and out.lost is None:
                out.lost = value
        return out

    def publish(self, topic: str, payload: bytes, *, retain: bool = False, event_id: str = "") -> int:
        """Send one QoS 1 PUBLISH; returns its packet id (mid). Raises BrokerUnreachable."""
        props = Properties(PacketTypes.PUBLISH)
        props.PayloadFormatIndicator = 1            # UTF-8 (the JSON records and "online"/"offline")
        if event_id:
            props.ContentType = "application/json"
            props.UserProperty = ("event_id", event_id)
            if self.settings.signing_key:
                props.UserProperty = ("sitegate-signature", signature(self.settings.signing_key, payload))
        info = self.client.publish(topic, payload, qos=1, retain=retain, properties=props)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise BrokerUnreachable(f"publish to {self.settings.where} failed: {mqtt.error_string(info.rc)}")
        return info.mid

    def close(self) -> None:
        """Send DISCONNECT if still connected and close the socket. Idempotent."""
        try:
            if self.client.is_connected():
                self.client.disconnect()
                self.client.loop(0.0)
        except (OSError, ssl.SSLError):
            pass
        finally:
            # paho has no public "close now"; without this each reconnect would leak the socket and the
            # socketpair loop() makes until the garbage collector runs paho's __del__ (which does the same)
            self.client._reset_sockets()  # noqa: SLF001
