"""The comparison: the "simple" design of a plain local Mosquitto bridge, run for real beside the soak.

Devices publish each event with QoS 1 to a Mosquitto on the site PC (``persistence true`` at its
default autosave: ``autosave_interval 1800``, so the queue lives in memory between saves, see
mosquitto.conf(5)), which bridges ``soak/#`` out with QoS 1 to the platform's broker. A device
takes the local broker's PUBACK as "delivered" and forgets the event. The harness publishes the
same acknowledged passages at the moment they happen, takes the platform broker down when it takes
the platform down, and SIGKILLs the local broker when it SIGKILLs the gateway. A subscriber on the
platform broker (persistent session, QoS 1) counts what arrived: every event PUBACKed by the local
broker that never arrives is lost.

Both brokers are ``/usr/sbin/mosquitto`` processes with their own mosquitto.conf in a temp dir,
``user root`` (as root Mosquitto otherwise drops to user mosquitto, which cannot write a root-owned
dir), listening on 127.0.0.1 only, started with subprocess and stopped by their own pid.
"""
from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from sitegate.bench.soakkit.site import free_port

log = logging.getLogger(__name__)

MOSQUITTO = "/usr/sbin/mosquitto"
TOPIC = "soak/attendance"


def available() -> bool:
    return os.access(MOSQUITTO, os.X_OK)


class Broker:
    def __init__(self, name: str, workdir: Path, extra: list[str]):
        self.name = name
        self.dir = Path(workdir) / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.conf = self.dir / "mosquitto.conf"
        self.log_path = self.dir / "mosquitto.log"
        lines = [f"listener {self.port} 127.0.0.1", "allow_anonymous true", "persistence true",
                 f"persistence_location {self.dir}/", "user root", "log_dest stderr",
                 "log_type error", "log_type warning", "log_type notice", *extra]
        self.conf.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self.proc: subprocess.Popen | None = None
        self.kills = 0

    def start(self, timeout_s: float = 15.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            return
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=out, stderr=out,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto ({self.name}) exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto ({self.name}) does not listen on {self.port}: {self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL by our own pid: whatever was only in memory is gone."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
            self.kills += 1

    def stop(self) -> None:
        """SIGTERM (Mosquitto saves its persistence file on a clean stop)."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-2000:]
        except OSError:
            return ""


@dataclass
class BridgeResult:
    published: int
    acknowledged: int          # PUBACKed by the local broker: what the device was told "delivered"
    received: int              # distinct events at the platform's subscriber
    lost: int                  # acknowledged, never received
    duplicates: int            # received more than once
    local_kills: int


class BridgeComparison:
    def __init__(self, workdir: Path):
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.platform = Broker("platform-broker", workdir, [])
        self.local = Broker("local-broker", workdir, [])
        self.local.conf.write_text(self.local.conf.read_text() + "\n".join([
            "connection platform", f"address 127.0.0.1:{self.platform.port}", f"topic soak/# out 1",
            "cleansession false", "remote_clientid soak-site-bridge", "restart_timeout 1 5", ""]))
        self._lock = threading.Lock()
        self._mids: dict[int, list[str]] = {}
        self._acked_mids: list[int] = []
        self._received: dict[str, int] = {}
        self.published = 0
        self._pub = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="soak-device",
                                protocol=mqtt.MQTTv311, clean_session=True)
        self._pub.reconnect_delay_set(0.1, 1.0)
        self._pub.max_queued_messages_set(0)
        self._pub.on_publish = self._on_publish
        self._sub = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="soak-platform-consumer",
                                protocol=mqtt.MQTTv311, clean_session=False)
        self._sub.reconnect_delay_set(0.1, 1.0)
        self._sub.on_connect = lambda c, *_: c.subscribe(TOPIC, qos=1)
        self._sub.on_message = self._on_message

    # -- life cycle ---------------------------------------------------------------------------
    def start(self) -> None:
        self.platform.start()
        self.local.start()
        self._sub.connect("127.0.0.1", self.platform.port, 30)
        self._sub.loop_start()
        self._pub.connect("127.0.0.1", self.local.port, 30)
        self._pub.loop_start()

    def close(self) -> None:
        for client in (self._pub, self._sub):
            try:
                client.disconnect()
                client.loop_stop()
            except Exception:  # noqa: BLE001
                pass
        self.local.stop()
        self.platform.stop()

    # -- the same events, the same faults -----------------------------------------------------
    def publish(self, event_id: str) -> None:
        info = self._pub.publish(TOPIC, json.dumps({"event_id": event_id}), qos=1)
        with self._lock:
            self._mids.setdefault(info.mid, []).append(event_id)
            self.published += 1

    def kill_local(self) -> None:
        self.local.kill()

    def start_local(self) -> None:
        self.local.start()

    def platform_down(self) -> None:
        self.platform.stop()

    def platform_back(self) -> None:
        self.platform.start()

    def _on_publish(self, _client, _userdata, mid, _reason, _props) -> None:
        # Only record the mid here: paho may call this under its own lock while publish() waits for it.
        self._acked_mids.append(mid)

    def _on_message(self, _client, _userdata, msg) -> None:
        try:
            event_id = json.loads(msg.payload)["event_id"]
        except (ValueError, KeyError, TypeError):
            return
        with self._lock:
            self._received[event_id] = self._received.get(event_id, 0) + 1

    # -- the count ----------------------------------------------------------------------------
    def acknowledged(self) -> set[str]:
        """Event ids the local broker PUBACKed (what the device was told was delivered)."""
        with self._lock:
            acked = set()
            for mid in list(self._acked_mids):
                acked.update(self._mids.get(mid, ()))
            return acked

    def finish(self, settle_s: float = 10.0, limit_s: float = 90.0) -> BridgeResult:
        """Both brokers up; wait until every acknowledged event arrived or nothing new arrives for
        ``settle_s``; then count."""
        self.platform.start()
        self.local.start()
        deadline, last_change, last_n = time.monotonic() + limit_s, time.monotonic(), -1
        while time.monotonic() < deadline:
            acked = self.acknowledged()
            with self._lock:
                n = len(self._received)
                missing = len(acked - set(self._received))
            if missing == 0 and self._pub.want_write() is False and n >= len(acked):
                break
            if n != last_n:
                last_n, last_change = n, time.monotonic()
            elif time.monotonic() - last_change > settle_s:
                break
            time.sleep(0.2)
        acked = self.acknowledged()
        with self._lock:
            received = set(self._received)
            dups = sum(c - 1 for c in self._received.values())
        return BridgeResult(self.published, len(acked), len(received), len(acked - received), dups,
                            self.local.kills)
