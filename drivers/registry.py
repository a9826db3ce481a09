"""Which drivers exist: the built-in ones and those other distributions register under the
entry-point group ``sitegate.drivers`` (name = the driver's NAME, value = ``module:Class``).

Classes load lazily, so ``sitegate config check`` does not import OpenCV to validate a reader.
"""
from __future__ import annotations

import importlib
import logging
from functools import lru_cache
from importlib.metadata import entry_points

from sitegate.config.schema import Key

log = logging.getLogger(__name__)

GROUP = "sitegate.drivers"

BUILTIN: dict[str, str] = {
    "ga467-serial": "sitegate.drivers.ga467_serial.driver:Ga467Driver",
    "wg-udp": "sitegate.drivers.wg_udp.driver:WgDriver",
    "zk-push": "sitegate.drivers.zk_push.driver:ZkPushDriver",
    "hik-isapi": "sitegate.drivers.hik_isapi.driver:HikIsapiDriver",
    "camera-face": "sitegate.drivers.camera_face.driver:CameraFaceDriver",
}


@lru_cache(maxsize=1)
def _targets() -> dict[str, tuple[str, str]]:
    """name -> (target "module:Class", where it came from)."""
    out = {name: (target, "built-in") for name, target in BUILTIN.items()}
    for ep in entry_points(group=GROUP):
        if ep.name in BUILTIN:
            log.warning("driver %s from %s ignored: a built-in driver has that name", ep.name, ep.value)
            continue
        dist = getattr(ep, "dist", None)
        out[ep.name] = (ep.value, f"{dist.name} {dist.version}" if dist else "entry point")
    return out


def refresh() -> None:
    """Forget what was found (tests install drivers at run time)."""
    _targets.cache_clear()
    driver_class.cache_clear()


def driver_names() -> list[str]:
    return sorted(n for n in _targets() if _importable(n))


def _importable(name: str) -> bool:
    try:
        driver_class(name)
        return True
    except Exception:  # noqa: BLE001 - a broken third-party driver must not break listing
        return False


def origin(name: str) -> str:
    return _targets()[name][1]


@lru_cache(maxsize=None)
def driver_class(name: str):
    target, _where = _targets()[name]
    module, _, attr = target.partition(":")
    cls = getattr(importlib.import_module(module), attr)
    if getattr(cls, "NAME", None) != name:
        raise TypeError(f"driver {target} declares NAME {getattr(cls, 'NAME', None)!r}, registered as {name!r}")
    return cls


def driver_config_keys(name: str) -> dict[str, Key] | None:
    """The driver's own [[devices]] keys; None when no such driver is installed."""
    if name not in _targets():
        return None
    try:
        cls = driver_class(name)
    except Exception as exc:  # noqa: BLE001
        log.warning("driver %s cannot be loaded: %s", name, exc)
        return None
    return dict(cls.CONFIG_KEYS)
