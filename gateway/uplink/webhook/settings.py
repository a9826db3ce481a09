"""The webhook profile's settings, read once from the validated configuration (secret from a file)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from sitegate.secrets import SecretFileError, read_secret
from sitegate.uplink.feed import UplinkConfigError


@dataclass(frozen=True)
class WebhookSettings:
    url: str
    secret: bytes = field(repr=False)
    project_code: str
    gateway_id: str
    batch_size: int = 20
    timeout_s: float = 15.0
    ca_file: str = ""              # "" = the system CAs; verification is never turned off

    @property
    def verify(self) -> str | bool:
        return self.ca_file or True

    @classmethod
    def from_config(cls, cfg) -> "WebhookSettings":
        site, up = cfg["site"], cfg["uplink"]
        hook = up["webhook"]
        if not hook.get("url"):
            raise UplinkConfigError("[uplink.webhook] url is not set")
        if not hook.get("secret_file"):
            raise UplinkConfigError("[uplink.webhook] secret_file is not set (the HMAC key for X-Sitegate-Signature)")
        try:
            secret = read_secret(hook["secret_file"])
        except SecretFileError as exc:
            raise UplinkConfigError(f"[uplink.webhook] secret_file: {exc}") from None
        ca_file = up.get("ca_file", "")
        if ca_file and not os.path.isfile(ca_file):
            raise UplinkConfigError(f"[uplink] ca_file {ca_file} does not exist")
        return cls(url=hook["url"], secret=secret.encode("utf-8"), project_code=site["project_code"],
                   gateway_id=site["gateway_id"], batch_size=up.get("batch_size", 20),
                   timeout_s=float(up.get("timeout_s", 15.0)), ca_file=ca_file)
