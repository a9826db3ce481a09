"""A small declarative schema for the TOML configuration.

Each table is a dict of ``Key`` specs; drivers declare the keys of their ``[[devices]]`` table the
same way (``CONFIG_KEYS``), so ``sitegate config check`` validates them and ``sitegate drivers show``
can list them. One spec is the single source of truth for types, defaults, choices and help.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

Check = Callable[[Any], "str | None"]  # returns what is wrong, or None


@dataclass(frozen=True)
class Key:
    type: type | tuple[type, ...]
    help: str
    required: bool = False
    default: Any = None
    choices: tuple = ()
    check: Check | None = None
    secret_file: bool = False          # a path to a 0600 file holding a secret
    expected: str = ""                 # how to say what is expected, when the type does not say it

    def describe_expected(self) -> str:
        if self.expected:
            return self.expected
        if self.choices:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        return _type_name(self.type)


@dataclass(frozen=True)
class Table:
    keys: dict[str, Key]
    help: str = ""
    required: bool = False
    array: bool = False                         # [[name]]: a list of tables
    subtables: dict[str, "Table"] = field(default_factory=dict)


def _type_name(t) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
             list: "a list", dict: "a table"}
    if isinstance(t, tuple):
        return " or ".join(names.get(x, x.__name__) for x in t)
    return names.get(t, t.__name__)


def type_ok(value: Any, t) -> bool:
    types = t if isinstance(t, tuple) else (t,)
    if isinstance(value, bool):          # TOML booleans are not numbers
        return bool in types
    if float in types and isinstance(value, int):
        return True
    return isinstance(value, types)


# -- reusable checks ---------------------------------------------------------------------------
def positive(v) -> str | None:
    return None if v > 0 else "must be greater than 0"


def non_negative(v) -> str | None:
    return None if v >= 0 else "must not be negative"


def between(lo, hi) -> Check:
    return lambda v: None if lo <= v <= hi else f"must be between {lo} and {hi}"


def matches(pattern: str, what: str) -> Check:
    rx = re.compile(pattern)
    return lambda v: None if rx.fullmatch(v) else f"is not {what}"


def host_port(v: str) -> str | None:
    host, sep, port = v.rpartition(":")
    if not sep or not host or not (port.isascii() and port.isdigit()) or not 0 <= int(port) < 65536:
        return "must be HOST:PORT, e.g. 127.0.0.1:8080 (port 0: any free port)"
    return None


def timezone_name(v: str) -> str | None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {v!r}"
    return None


def url(v: str) -> str | None:
    return None if re.match(r"^(https?|mqtts?)://[^\s/]+", v) else "must be a URL such as https://host/path"
