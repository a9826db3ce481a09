"""The mqtt profile's settings, read once from the validated configuration (secrets from files).

Topics (docs/platform.md, "## mqtt profile"):
    <topic_prefix>/<project_code>/<gateway_id>/attendance   one JSON record per message, QoS 1
    <topic_prefix>/<project_code>/<gateway_id>/status       retained "online" / "offline" (last will)
The client id is stable, ``sitegate-<project_code>-<gateway_id>``, so the broker resumes the session.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from sitegate.secrets import SecretFileError, read_secret
from sitegate.uplink.feed import UplinkConfigError


def client_id(project_code: str, gateway_id: str) -> str:
    return f"sitegate-{project_code}-{gateway_id}"


def topics(prefix: str, project_code: str, gateway_id: str) -> tuple[str, str]:
    """(attendance topic, status topic)."""
    base = f"{prefix}/{project_code}/{gateway_id}"
    return f"{base}/attendance", f"{base}/status"


@dataclass(frozen=True)
class MqttSettings:
    host: str
    port: int
    client_id: str
    attendance_topic: str
    status_topic: str
    tls: bool = False
    ca_file: str = ""
    certfile: str = ""
    keyfile: str = ""
    username: str = ""
    password: str = field(default="", repr=False)
    signing_key: bytes = field(default=b"", repr=False)
    keepalive_s: int = 30
    session_expiry_s: int = 7 * 86400
    max_inflight: int = 100
    timeout_s: float = 15.0

    @property
    def where(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    @classmethod
    def from_config(cls, cfg) -> "MqttSettings":
        site, up = cfg["site"], cfg["uplink"]
        m = up["mqtt"]
        if m.get("tls"):
            for key in ("ca_file", "certfile", "keyfile"):
                if m.get(key) and not os.path.isfile(m[key]):
                    raise UplinkConfigError(f"[uplink.mqtt] {key} {m[key]} does not exist")
        elif m.get("ca_file") or m.get("certfile"):
            raise UplinkConfigError("[uplink.mqtt] tls = false but certificate files are given")
        attendance, status = topics(m.get("topic_prefix", "sitegate"), site["project_code"], site["gateway_id"])
        return cls(
            host=m["host"], port=m["port"], client_id=client_id(site["project_code"], site["gateway_id"]),
            attendance_topic=attendance, status_topic=status,
            tls=bool(m.get("tls")), ca_file=m.get("ca_file", ""), certfile=m.get("certfile", ""),
            keyfile=m.get("keyfile", ""), username=m.get("username", ""),
            password=_secret(m.get("password_file", ""), "[uplink.mqtt] password_file"),
            signing_key=_secret(m.get("secret_file", ""), "[uplink.mqtt] secret_file").encode("utf-8"),
            keepalive_s=m.get("keepalive_s", 30), session_expiry_s=m.get("session_expiry_s", 7 * 86400),
            max_inflight=m.get("max_inflight", 100), timeout_s=float(up.get("timeout_s", 15.0)),
        )


def _secret(path: str, what: str) -> str:
    if not path:
        return ""
    try:
        return read_secret(path)
    except SecretFileError as exc:
        raise UplinkConfigError(f"{what}: {exc}") from None
