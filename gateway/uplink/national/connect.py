"""A NationalClient from the configuration's ``[uplink]`` table (engine, roster sync, CLI)."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sitegate.errors import UsageError
from sitegate.secrets import read_secret
from sitegate.uplink.national.client import NationalClient
from sitegate.uplink.national.codec import check_secret

NEEDED = ("url", "appid", "appsecret_file")


def appsecret_of(cfg) -> str:
    """The appsecret named by ``uplink.appsecret_file`` (mode 0600), checked as an AES-256 key."""
    up = cfg["uplink"]
    missing = [f"uplink.{k}" for k in NEEDED if not up.get(k)]
    if missing:
        raise UsageError(f"the national OpenAPI needs {', '.join(missing)} in the configuration")
    secret = read_secret(up["appsecret_file"])
    check_secret(secret)
    return secret


def client_from_config(cfg, appsecret: str, clock: Callable[[], datetime] | None = None) -> NationalClient:
    up = cfg["uplink"]
    timeout = float(up.get("timeout_s", 15.0))
    kw = {"clock": clock} if clock is not None else {}
    # connect quickly or not at all; the answer may take the whole timeout (20 records with photos)
    return NationalClient(up["url"], up["appid"], appsecret, timeout=(min(5.0, timeout), timeout),
                          ca_file=up.get("ca_file") or None, **kw)
