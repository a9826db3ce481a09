"""The mqtt profile: one JSON record per attendance event, QoS 1, to an existing broker.

Delivery, step by step (each store move is one transaction):
1. due records are marked ``inflight`` (batch_id = this connection's id) BEFORE they are published;
2. each is published QoS 1; the packet id (mid) maps back to its event id;
3. a PUBACK with a success reason code (< 0x80) marks it ``delivered``; a failure code sends it back
   to ``pending`` with backoff (or, for "not authorised", raises the configuration alarm and stops);
4. a dropped connection sends everything still ``inflight`` back to ``pending``; so does a restart
   of the gateway. They are published again, same payload, same event_id.

That is at-least-once on the wire and exactly-once for a consumer that de-duplicates by event_id
(docs/platform.md). MQTT v5 rather than 3.1.1 because v5 PUBACKs carry reason codes: a broker
whose ACL refuses our topic says 0x87 instead of acknowledging and dropping the message (Mosquitto
does the latter for 3.1.1 clients), and v5 gives Session Expiry and Receive Maximum.
"""
from __future__ import annotations

import time
import uuid

from sitegate.uplink.base import Backoff
from sitegate.uplink.feed import ALARM_TLS, FeedUplink, UplinkConfigError
from sitegate.uplink.mqtt import codes
from sitegate.uplink.mqtt.connection import BrokerConnection, BrokerUnreachable, Polled, TlsFailure
from sitegate.uplink.mqtt.settings import MqttSettings
from sitegate.uplink.payload import canonical_json

ONLINE, OFFLINE = b"online", b"offline"


class MqttUplink(FeedUplink):
    NAME = "mqtt"

    def __init__(self, cfg, store, *, metrics=None, clock=None, backoff: Backoff | None = None,
                 poll_s: float = 0.05):
        super().__init__(cfg, store, metrics=metrics, clock=clock, backoff=backoff)
        self.settings: MqttSettings | None = None
        self.poll_s = poll_s              # how long one step waits on the socket for PUBACKs
        self.conn: BrokerConnection | None = None
        self.connected = False
        self.session_id = ""              # batch_id of the records inflight on this connection
        self.receive_maximum = 65535
        self._mids: dict[int, str] = {}   # packet id -> event id, for this connection only
        self._connect_started = 0.0

    # -- FeedUplink hooks ---------------------------------------------------------------------
    def _load_settings(self) -> None:
        self.settings = MqttSettings.from_config(self.cfg)

    def _recover(self) -> None:
        self._requeue_inflight("the gateway's uplink restarted before the broker's PUBACK")

    def _requeue_inflight(self, why: str) -> int:
        ids = [r["event_id"] for r in self.queue.inflight()]
        if ids:
            self.queue.retry_later(ids, 0.0, why)
            self.counters["retried"] += len(ids)
            self.log.info("%d record(s) back to pending: %s", len(ids), why)
        return len(ids)

    # -- one round ----------------------------------------------------------------------------
    @property
    def inflight_cap(self) -> int:
        assert self.settings is not None
        return max(1, min(self.settings.max_inflight, self.receive_maximum))

    def wait_hint(self) -> float:
        # awaiting a CONNACK or PUBACKs: no sleep, the next step's poll blocks on the socket instead
        if self.conn is not None and (self._mids or not self.connected):
            return 0.0
        return super().wait_hint()

    def step(self) -> bool:
        if not self._ensure_started():
            return False
        if self.conn is None:
            if time.monotonic() < self._retry_at:
                return False
            self._open()
            return True
        polled = self.conn.poll(self.poll_s if (self._mids or not self.connected) else 0.0)
        busy = self._handle(polled)
        if self.conn is not None and self.connected and not self.stopped:
            busy = self._publish_due() or busy
        return busy

    def _open(self) -> None:
        assert self.settings is not None
        self.session_id = f"mqtt-{uuid.uuid4()}"
        self.connected = False
        try:
            conn = BrokerConnection(self.settings)
        except UplinkConfigError as exc:
            self._config_fault(str(exc))
            return
        try:
            conn.open()
        except TlsFailure as exc:
            conn.close()
            self._raise_alarm(ALARM_TLS, f"{exc}; nothing is sent until the certificate is accepted "
                                         "(check [uplink.mqtt] ca_file and the broker's certificate)", "critical")
            self._failed(str(exc))
            return
        except BrokerUnreachable as exc:
            conn.close()
            self._failed(str(exc))
            return
        self.conn = conn
        self._connect_started = time.monotonic()

    def _handle(self, polled: Polled) -> bool:
        busy = False
        if polled.connack is not None:
            busy = True
            if not self._connacked(polled.connack):
                return True
        if polled.acks:
            busy = True
            self._acked(polled.acks)
        if self.conn is None:          # a configuration fault while handling the acks
            return True
        if polled.lost:
            self._drop(polled.lost)
            return True
        if not self.connected and time.monotonic() - self._connect_started > self.settings.timeout_s:
            self._drop(f"no CONNACK from {self.settings.where} within {self.settings.timeout_s:g} s")
            return True
        return busy

    def _connacked(self, ack) -> bool:
        s = self.settings
        if not codes.is_success(ack.code):
            why = f"broker {s.where} refused the connection: {ack.name} (0x{ack.code:02X})"
            if ack.code in codes.CONNACK_CONFIG_FAULTS:
                self._close_conn()
                self._config_fault(f"{why}; check [uplink.mqtt] username, password_file and the broker's ACL")
            else:
                self._drop(why)
            return False
        self.connected = True
        self.receive_maximum = ack.receive_maximum
        self.log.info("connected to %s as %s (session present: %s, receive maximum %d)",
                      s.where, s.client_id, ack.session_present, ack.receive_maximum)
        try:
            self.conn.publish(s.status_topic, ONLINE, retain=True)
        except BrokerUnreachable as exc:
            self._drop(str(exc))
            return False
        self._succeeded()
        return True

    def _acked(self, acks: list[tuple[int, int, str]]) -> None:
        delivered: list[str] = []
        refused: list[tuple[str, int, str]] = []
        for mid, code, name in acks:
            event_id = self._mids.pop(mid, None)
            if event_id is None:       # the retained status message
                if codes.is_success(code):
                    self.backoff.reset()
                else:
                    self.log.warning("broker refused the status message on %s: %s (0x%02X)",
                                     self.settings.status_topic, name, code)
                continue
            if codes.is_success(code):
                delivered.append(event_id)
            else:
                refused.append((event_id, code, name))
        if delivered:
            self.queue.mark_delivered(delivered)
            self.counters["delivered"] += len(delivered)
            self.backoff.reset()       # reset only after a confirmed success
            self._succeeded()
        if refused:
            self._refused(refused)

    def _refused(self, refused: list[tuple[str, int, str]]) -> None:
        _eid, code, name = refused[0]
        why = f"broker {self.settings.where} answered PUBACK {name} (0x{code:02X}) on {self.settings.attendance_topic}"
        if any(c in codes.PUBACK_CONFIG_FAULTS for _e, c, _n in refused):
            self._drop(why, backoff=False)
            self._config_fault(f"{why}; the broker's ACL must let user {self.settings.username!r} publish there")
            return
        delay = self._failed(why)
        ids = [e for e, _c, _n in refused]
        self.queue.retry_later(ids, delay, why)
        self.counters["retried"] += len(ids)

    def _publish_due(self) -> bool:
        room = self.inflight_cap - len(self._mids)
        if room <= 0:
            return False
        records = self._due_records(room)
        if not records:
            return False
        self.queue.mark_inflight([r["event_id"] for r in records], self.session_id)
        topic = self.settings.attendance_topic
        for rec in records:
            try:
                mid = self.conn.publish(topic, canonical_json(rec), event_id=rec["event_id"])
            except BrokerUnreachable as exc:
                self._drop(str(exc))
                return True
            self._mids[mid] = rec["event_id"]
        self.counters["sent"] += len(records)
        return True

    # -- losing and closing -------------------------------------------------------------------
    def _close_conn(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.conn = None
        self.connected = False
        self._mids.clear()

    def _drop(self, why: str, *, backoff: bool = True) -> None:
        """The connection is gone: what was not PUBACKed goes back to pending, reconnect later."""
        self._close_conn()
        self._requeue_inflight(f"connection lost before PUBACK: {why}")
        if backoff:
            self._failed(why)

    def close(self, drain_s: float = 2.0) -> None:
        """Wait briefly for outstanding PUBACKs, mark the gateway offline (retained), disconnect.
        Whatever is still unacknowledged goes back to pending. Idempotent."""
        if self.conn is not None and self.connected:
            deadline = time.monotonic() + drain_s
            while self._mids and self.conn is not None and time.monotonic() < deadline:
                self._handle(self.conn.poll(0.05))
            if self.conn is not None:
                try:
                    mid = self.conn.publish(self.settings.status_topic, OFFLINE, retain=True)
                    deadline = time.monotonic() + drain_s
                    while time.monotonic() < deadline:
                        polled = self.conn.poll(0.05)
                        if polled.lost or any(a[0] == mid for a in polled.acks):
                            break
                except BrokerUnreachable:
                    pass
        self._close_conn()
        if self._started:
            self._requeue_inflight("the uplink stopped before the broker's PUBACK")
