"""Nothing listens beyond this machine unless the configuration says so: every listen address the
product offers -- configuration keys of the gateway and of every installed driver, and the
``--listen`` options of the command line (receiver, demo, simulators) -- defaults to loopback.
docs/security.md, "Who can reach what"."""
from __future__ import annotations

import argparse
import ipaddress

import pytest

from sitegate.cli import build_parser
from sitegate.config import tables
from sitegate.config.schema import Key
from sitegate.drivers.registry import driver_config_keys, driver_names

LOOPBACK_NAMES = {"localhost"}


def is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_of(default) -> str:
    if isinstance(default, tuple):
        return str(default[0])
    return str(default).rpartition(":")[0]


def _config_listen_keys() -> list[tuple[str, Key]]:
    found = []
    for name in dir(tables):
        keys = getattr(getattr(tables, name), "keys", None)
        for key_name, key in (keys if isinstance(keys, dict) else {}).items():
            if isinstance(key, Key) and key_name in ("listen", "bind"):
                found.append((f"[{name.lower()}] {key_name}", key))
    for driver in driver_names():
        for key_name, key in (driver_config_keys(driver) or {}).items():
            if key_name in ("listen", "bind"):
                found.append((f"driver {driver}: {key_name}", key))
    return found


CONFIG_LISTEN_KEYS = _config_listen_keys()


def test_the_listen_keys_were_found():
    names = {where for where, _ in CONFIG_LISTEN_KEYS}
    # the clerk web and the three drivers that devices call; a rename here must not pass silently
    wanted = {"[http] listen", "driver zk-push: listen", "driver hik-isapi: listen", "driver wg-udp: listen"}
    assert wanted <= names, names


@pytest.mark.parametrize("where,key", CONFIG_LISTEN_KEYS, ids=[w for w, _ in CONFIG_LISTEN_KEYS])
def test_every_configured_listener_defaults_to_loopback(where, key):
    assert key.default, f"{where} has no default"
    assert is_loopback(host_of(key.default)), f"{where} defaults to {key.default!r}, not a loopback address"


def _cli_listen_defaults() -> list[tuple[str, object]]:
    out = []

    def walk(parser: argparse.ArgumentParser, prefix: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, f"{prefix} {name}")
            elif any(opt in ("--listen", "--bind", "--host") for opt in action.option_strings):
                out.append((f"{prefix} {action.option_strings[-1]}", action.default))

    walk(build_parser(), "sitegate")
    return out


CLI_LISTEN = _cli_listen_defaults()


def test_the_cli_listen_options_were_found():
    assert any(w.startswith("sitegate receiver") for w, _ in CLI_LISTEN), CLI_LISTEN


@pytest.mark.parametrize("where,default", CLI_LISTEN, ids=[w for w, _ in CLI_LISTEN])
def test_every_command_line_listener_defaults_to_loopback(where, default):
    if default is None:             # no default: the user must name an address
        return
    assert is_loopback(host_of(default)), f"{where} defaults to {default!r}"
