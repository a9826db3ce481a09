"""Load and validate the TOML configuration.

``load(path)`` returns a ``Config`` or raises ``ConfigError`` whose ``problems`` are lines of the
form ``FILE:LINE: key.path: what is wrong (expected …)``. Unknown keys are errors: a typo such as
``baudrat = 9600`` must not silently fall back to a default on a site nobody visits.
"""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Callable, Iterable

from sitegate.config.lines import key_lines, line_of
from sitegate.config.schema import Key, Table, type_ok
from sitegate.config.tables import INLINE_SECRET_NAMES, ROOT
from sitegate.errors import ConfigError
from sitegate.secrets import secret_file_problem

Problem = tuple[str, str]  # (key path, what is wrong)

# Hooks other packages register so their nested tables are validated here too:
#   driver_keys(name) -> dict[str, Key] | None   (None: no such driver; message lists known ones)
#   known_drivers() -> list[str]
#   geofence_problems(list_of_tables) -> list[(key_path, message)]
HOOKS: dict[str, Callable] = {}


def _default_driver_keys(name: str):
    try:
        from sitegate.drivers.registry import driver_config_keys
    except ImportError:
        return {}
    return driver_config_keys(name)


def _default_known_drivers() -> list[str]:
    try:
        from sitegate.drivers.registry import driver_names
    except ImportError:
        return []
    return driver_names()


def _default_geofence_problems(tables: list) -> list[Problem]:
    try:
        from sitegate.geofence.fences import parse_fences
    except ImportError:
        return []
    _fences, problems = parse_fences(tables)
    return list(problems)


class Section(dict):
    """A validated table: ``cfg.site.project_code`` as well as ``cfg["site"]["project_code"]``."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _wrap(value: Any) -> Any:
    if isinstance(value, dict):
        return Section({k: _wrap(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    return value


class Config(Section):
    path: Path

    @property
    def data_dir(self) -> Path:
        return Path(self["site"]["data_dir"])

    def secret(self, dotted_key: str) -> str:
        """Read the secret named by a ``*_file`` key, e.g. ``cfg.secret("uplink.appsecret_file")``."""
        from sitegate.secrets import read_secret

        node: Any = self
        for part in dotted_key.split("."):
            node = node[part]
        return read_secret(node)


def _check_keys(values: dict, keys: dict[str, Key], path: str, problems: list[Problem],
                extra_ok: Iterable[str] = ()) -> dict:
    out = {}
    for name, value in values.items():
        kpath = f"{path}.{name}" if path else name
        spec = keys.get(name)
        if spec is None:
            if name in extra_ok:
                out[name] = value
                continue
            if name in INLINE_SECRET_NAMES:
                problems.append((kpath, f"secrets must not be written in the configuration "
                                        f"(expected {name}_file = a path to a file with mode 0600)"))
            else:
                close = [k for k in keys if _similar(k, name)]
                hint = f"; did you mean {close[0]!r}?" if close else ""
                problems.append((kpath, f"unknown key{hint} (expected one of {', '.join(sorted(keys))})"))
            continue
        if not type_ok(value, spec.type):
            problems.append((kpath, f"has the wrong type {type(value).__name__} (expected {spec.describe_expected()})"))
            continue
        if spec.choices and value not in spec.choices:
            problems.append((kpath, f"{value!r} is not allowed (expected {spec.describe_expected()})"))
            continue
        if spec.check and (why := spec.check(value)):
            problems.append((kpath, f"{value!r} {why}" if not why.startswith("must be HOST") else why))
            continue
        if spec.secret_file and value and (why := secret_file_problem(value)):
            problems.append((kpath, why))
            continue
        out[name] = float(value) if spec.type is float else value
    for name, spec in keys.items():
        if name not in out and not any(p[0] == f"{path}.{name}" for p in problems):
            if spec.required and name not in values:
                problems.append((f"{path}.{name}" if path else name,
                                 f"is required (expected {spec.describe_expected()}: {spec.help})"))
            elif name not in values:
                out[name] = list(spec.default) if isinstance(spec.default, list) else spec.default
    return out


def _similar(a: str, b: str) -> bool:
    import difflib

    return difflib.SequenceMatcher(None, a, b).ratio() >= 0.6


def _check_table(raw: Any, table: Table, path: str, problems: list[Problem]) -> dict:
    if not isinstance(raw, dict):
        problems.append((path, f"must be a table [{path}] (expected a table)"))
        return {}
    sub = {k: v for k, v in raw.items() if k in table.subtables}
    plain = {k: v for k, v in raw.items() if k not in table.subtables}
    out = _check_keys(plain, table.keys, path, problems)
    for name, subtable in table.subtables.items():
        out[name] = _check_table(sub.get(name, {}), subtable, f"{path}.{name}", problems)
    return out


def _check_devices(raw: Any, problems: list[Problem]) -> list:
    if not isinstance(raw, list):
        problems.append(("devices", "must be written as [[devices]] tables (expected a list of tables)"))
        return []
    driver_keys = HOOKS.get("driver_keys", _default_driver_keys)
    known = HOOKS.get("known_drivers", _default_known_drivers)
    out, seen = [], {}
    for i, dev in enumerate(raw):
        path = f"devices[{i}]"
        if not isinstance(dev, dict):
            problems.append((path, "must be a table (expected [[devices]])"))
            continue
        common = ROOT["devices"].keys
        specific = driver_keys(dev.get("driver", "")) if isinstance(dev.get("driver"), str) else {}
        if specific is None:
            names = known()
            problems.append((f"{path}.driver", f"no driver named {dev.get('driver')!r} is installed "
                                               f"(expected one of {', '.join(names) or 'the installed drivers'})"))
            specific = {}
        checked = _check_keys(dev, {**common, **specific}, path, problems)
        did = checked.get("id")
        if did in seen:
            problems.append((f"{path}.id", f"{did!r} is already the id of devices[{seen[did]}] (expected a unique id)"))
        elif did:
            seen[did] = i
        out.append(checked)
    return out


def _cross_checks(cfg: dict, problems: list[Problem]) -> None:
    web = cfg.get("http") or {}
    already = any(p[0] in ("http.cert_file", "http.key_file") for p in problems)
    if not already and bool(web.get("cert_file")) != bool(web.get("key_file")):
        missing = "key_file" if web.get("cert_file") else "cert_file"
        problems.append((f"http.{missing}", "cert_file and key_file go together (expected both or neither)"))
    up = cfg.get("uplink") or {}
    if not up or not up.get("enabled", True):
        return
    profile = up.get("profile")
    # mqtt and webhook records carry ID numbers encrypted for the receiver: without the key the
    # uplink could only stop at run time, so say it at `config check`
    need = {"national": ("url", "appid", "appsecret_file"), "webhook": ("payload_key_file",),
            "mqtt": ("payload_key_file",)}.get(profile, ())
    for key in need:
        if not up.get(key) and not any(p[0] == f"uplink.{key}" for p in problems):
            problems.append((f"uplink.{key}", f"is required when profile = {profile!r} (expected {ROOT['uplink'].keys[key].help})"))
    if profile == "webhook":
        for key in ("url", "secret_file"):
            if not (up.get("webhook") or {}).get(key):
                problems.append((f"uplink.webhook.{key}", "is required when profile = 'webhook'"))
    if profile == "mqtt":
        m = up.get("mqtt") or {}
        if m.get("tls") is False and (m.get("ca_file") or m.get("certfile")):
            problems.append(("uplink.mqtt.tls", "is false but certificate files are given (expected tls = true)"))
        if bool(m.get("certfile")) != bool(m.get("keyfile")):
            problems.append(("uplink.mqtt.keyfile", "certfile and keyfile go together (expected both or neither)"))


def validate(raw: dict) -> tuple[dict, list[Problem]]:
    """Validate a parsed TOML document. Returns (config with defaults, problems)."""
    problems: list[Problem] = []
    cfg: dict = {}
    for name, value in raw.items():
        if name not in ROOT:
            problems.append((name, f"unknown table (expected one of {', '.join(ROOT)})"))
    for name, table in ROOT.items():
        if name not in raw:
            if table.required:
                problems.append((name, f"the [{name}] table is required ({table.help})"))
                continue
            raw_value: Any = [] if table.array else {}
        else:
            raw_value = raw[name]
        if name == "devices":
            cfg[name] = _check_devices(raw_value, problems)
        elif name == "geofences":
            if not isinstance(raw_value, list):
                problems.append(("geofences", "must be written as [[geofences]] tables"))
                cfg[name] = []
            else:
                cfg[name] = raw_value
                if raw_value:   # no fences, nothing to check: and no numpy/shapely/pyproj (~35 MB) loaded
                    problems += HOOKS.get("geofence_problems", _default_geofence_problems)(raw_value)
        else:
            cfg[name] = _check_table(raw_value, table, name, problems)
    _cross_checks(cfg, problems)
    return cfg, problems


def load(path: str | Path) -> Config:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such configuration file"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot be read: {exc}"]) from None
    return loads(text, str(path))


def loads(text: str, name: str = "<config>") -> Config:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib says "... (at line 3, column 7)"; keep our FILE:LINE shape
        msg = str(exc)
        line = 1
        if "line " in msg:
            try:
                line = int(msg.rsplit("line ", 1)[1].split(",")[0].rstrip(")"))
            except ValueError:
                pass
        raise ConfigError([f"{name}:{line}: not valid TOML: {msg}"]) from None
    cfg, problems = validate(raw)
    if problems:
        lines = key_lines(text)
        raise ConfigError([f"{name}:{line_of(lines, p)}: {p}: {what}" for p, what in problems])
    out = Config(_wrap(cfg))
    out.path = Path(name)
    return out
