"""A real Mosquitto broker for the mqtt tests, and a consumer that de-duplicates by event_id.

The broker listens on 127.0.0.1 only, on a port picked by binding port 0; it keeps its
persistence file in the test's directory (``autosave_interval 1``) and is stopped by its own
process id, never by name. ``user root``: Mosquitto started as root otherwise drops to the user
``mosquitto``, which cannot write a root-owned temp dir.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

MOSQUITTO = "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"

requires_mosquitto = pytest.mark.skipif(not os.access(MOSQUITTO, os.X_OK),
                                        reason=f"{MOSQUITTO} is missing (Debian package mosquitto)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class TlsFiles:
    ca: Path
    cert: Path
    key: Path


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def make_pki(root: Path, hosts: tuple[str, ...] = ("localhost", "127.0.0.1")) -> TlsFiles:
    """A self-signed CA and a server certificate for ``hosts`` (names or IP addresses), signed by it."""
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name("sitegate test CA")).issuer_name(_name("sitegate test CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name("localhost")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([_san(h) for h in hosts]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    root.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(ca=root / "ca.pem", cert=root / "server.pem", key=root / "server.key")
    files.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()))
    files.key.chmod(0o600)
    return files


class Mosquitto:
    def __init__(self, workdir: Path, *, users: dict[str, str] | None = None, acl: str | None = None,
                 tls: TlsFiles | None = None, port: int | None = None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.users = users
        self.acl = acl
        self.tls = tls
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None
        self.log_path = self.workdir / "mosquitto.log"
        self.conf = self.workdir / "mosquitto.conf"
        self._write_conf()

    def _write_conf(self) -> None:
        lines = [
            f"listener {self.port} 127.0.0.1",
            "persistence true",
            f"persistence_location {self.workdir}/",
            "autosave_interval 1",
            "user root",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
        ]
        if self.users is not None:
            pw = self.workdir / "passwd"
            pw.write_text("")
            for user, password in self.users.items():
                subprocess.run([MOSQUITTO_PASSWD, "-b", str(pw), user, password], check=True,
                               capture_output=True)
            lines += ["allow_anonymous false", f"password_file {pw}"]
        else:
            lines.append("allow_anonymous true")
        if self.acl is not None:
            acl = self.workdir / "acl"
            acl.write_text(self.acl)
            lines.append(f"acl_file {acl}")
        if self.tls is not None:
            lines += [f"cafile {self.tls.ca}", f"certfile {self.tls.cert}", f"keyfile {self.tls.key}"]
        self.conf.write_text("\n".join(lines) + "\n")

    def start(self) -> "Mosquitto":
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=log, stderr=log)
        finally:
            log.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited with {self.proc.returncode}: {self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"mosquitto did not listen on {self.port}: {self.log()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop our broker by its pid (SIGTERM saves the persistence file, as a restart would)."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except FileNotFoundError:
            return ""


class Consumer:
    """The operator's side: a paho client with a persistent session (clean_start=False, session
    expiry), subscribed QoS 1, de-duplicating by event_id. Runs paho's own network thread."""

    def __init__(self, port: int, topic: str, *, client_id: str = "consumer-1", username: str = "",
                 password: str = "", tls_ca: Path | None = None):
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        self.topic = topic
        self.records: dict[str, dict] = {}
        self.raw: list[bytes] = []
        self.topics: set[str] = set()
        self.properties: dict[str, dict[str, str]] = {}
        self.retained: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=mqtt.MQTTv5)
        if username:
            self.client.username_pw_set(username, password)
        if tls_ca:
            self.client.tls_set(ca_certs=str(tls_ca))
        self.client.reconnect_delay_set(0.05, 0.5)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        self.client.connect("127.0.0.1", port, 30, clean_start=False, properties=props)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise RuntimeError("consumer did not subscribe")

    def _on_connect(self, client, _u, _flags, reason, _props) -> None:
        if not reason.is_failure:
            client.subscribe([(self.topic, 1)])

    def _on_message(self, _client, _u, msg) -> None:
        with self._lock:
            if msg.topic.endswith("/status"):
                self.retained[msg.topic] = msg.payload
                return
            self.raw.append(msg.payload)
            self.topics.add(msg.topic)
            rec = json.loads(msg.payload)
            self.records.setdefault(rec["event_id"], rec)
            props = dict(getattr(msg.properties, "UserProperty", []) or [])
            self.properties.setdefault(rec["event_id"], props)

    def wait_for(self, event_ids: set[str], timeout: float = 30.0) -> set[str]:
        """The ids still missing after waiting (a guard against hanging, not a timing assertion)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                missing = event_ids - set(self.records)
            if not missing:
                return set()
            time.sleep(0.02)
        return missing

    def wait_until(self, condition, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if condition():
                    return True
            time.sleep(0.02)
        return False

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


# -- the gateway side of the tests ---------------------------------------------------------------
PROJECT, GATEWAY = "370102202300001", "gw-test"
PAYLOAD_KEY_HEX = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"


def secret_file(path: Path, value: str) -> Path:
    path.write_text(value + "\n")
    path.chmod(0o600)
    return path


def mqtt_config(root: Path, port: int, *, password: str | None = None, username: str = "gw",
                tls_ca: Path | None = None, tls: bool = False, signing_key: str | None = None,
                max_inflight: int = 100):
    """A validated configuration (the real loader) for the mqtt profile against our broker."""
    from sitegate.config import loads

    key = secret_file(root / "payload.key", PAYLOAD_KEY_HEX)
    lines = [
        "[site]", f'project_code = "{PROJECT}"', f'gateway_id = "{GATEWAY}"', f'data_dir = "{root / "data"}"',
        "[uplink]", 'profile = "mqtt"', f'payload_key_file = "{key}"', "timeout_s = 5.0",
        "[uplink.mqtt]", 'host = "127.0.0.1"', f"port = {port}", f"max_inflight = {max_inflight}",
        "session_expiry_s = 3600",
    ]
    if password is not None:
        pw = secret_file(root / "mqtt.password", password)
        lines += [f'username = "{username}"', f'password_file = "{pw}"']
    if tls:
        lines.append("tls = true")
        if tls_ca:
            lines.append(f'ca_file = "{tls_ca}"')
    if signing_key is not None:
        lines.append(f'secret_file = "{secret_file(root / "mqtt.sign", signing_key)}"')
    return loads("\n".join(lines) + "\n", str(root / "sitegate.toml"))


def pump(uplink, done, limit_s: float = 60.0) -> None:
    """Step the uplink until ``done()``; the limit only stops a hung test, it asserts no speed."""
    deadline = time.monotonic() + limit_s
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"uplink did not finish: {uplink.status}")
        if not uplink.step():
            time.sleep(0.005)


def wait_until(done, limit_s: float = 60.0) -> None:
    """Wait for work done elsewhere (a thread, a child process); the limit only stops a hung test."""
    deadline = time.monotonic() + limit_s
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.01)


def states(store, uplink: str) -> dict[str, int]:
    from sitegate.buffer import backlog

    return backlog(store).get(uplink, {})
