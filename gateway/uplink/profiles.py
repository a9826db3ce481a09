"""Which module implements each ``[uplink] profile``. A province's variant is one more entry."""
from __future__ import annotations

import importlib
import inspect

from sitegate.errors import UsageError
from sitegate.uplink.base import Uplink

PROFILES = {
    "national": "sitegate.uplink.national.engine",
    "mqtt": "sitegate.uplink.mqtt",
    "webhook": "sitegate.uplink.webhook",
}


def uplink_class(profile: str) -> type[Uplink]:
    try:
        module = importlib.import_module(PROFILES[profile])
    except KeyError:
        raise UsageError(f"no uplink profile {profile!r} (expected one of {', '.join(PROFILES)})") from None
    for _name, obj in inspect.getmembers(module, inspect.isclass):
        if issubclass(obj, Uplink) and obj is not Uplink and obj.NAME == profile:
            return obj
    raise UsageError(f"module {PROFILES[profile]} has no Uplink with NAME {profile!r}")


def make_uplink(cfg, store, *, metrics=None, clock=None) -> Uplink:
    return uplink_class(cfg["uplink"]["profile"])(cfg, store, metrics=metrics, clock=clock)
