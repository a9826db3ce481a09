"""The configuration reference (docs/configuration.md) made from the schema itself, so the two
cannot drift apart (a test compares them)."""
from __future__ import annotations

from sitegate.config.schema import Key, Table
from sitegate.config.tables import ROOT


def _default(k: Key) -> str:
    if k.required:
        return "**required**"
    if k.default in ("", None):
        return "—"
    if isinstance(k.default, bool):
        return "true" if k.default else "false"
    if isinstance(k.default, str):
        return f'`"{k.default}"`'
    return f"`{k.default}`"


def _table(lines: list[str], header: str, table: Table, level: str = "##") -> None:
    lines.append(f"{level} `{header}`\n")
    if table.help:
        lines.append(table.help[0].upper() + table.help[1:] + ".\n")
    if table.keys:
        lines.append("| key | type | default | what |")
        lines.append("|---|---|---|---|")
        for name, k in table.keys.items():
            what = k.help + (f" (one of {', '.join(map(str, k.choices))})" if k.choices else "")
            if k.secret_file and "0600" not in what:
                what += "; the file must have mode 0600"
            what = what.replace("|", "\\|")
            lines.append(f"| `{name}` | {k.describe_expected() if not k.choices else 'a string'} | {_default(k)} | {what} |")
        lines.append("")
    for sub, st in table.subtables.items():
        _table(lines, f"[{header.strip('[]')}.{sub}]", st)


def _builtin_drivers(lines: list[str]) -> None:
    from sitegate.drivers.registry import BUILTIN, driver_class

    for name in BUILTIN:
        try:
            cls = driver_class(name)
        except Exception as exc:  # noqa: BLE001 - e.g. the face extra is not installed
            lines.append(f"### `driver = \"{name}\"`\n\nNot installed here ({exc}).\n")
            continue
        desc = cls.DESCRIPTION.rstrip(".")
        _table(lines, f'driver = "{name}"', Table(help=desc, keys=dict(cls.CONFIG_KEYS)), level="###")


def markdown() -> str:
    lines = [
        "# Configuration reference",
        "",
        "Generated from the schema by `sitegate config reference`; `config/example.toml` shows every key",
        "in use. Unknown keys are errors. Secrets are never written in the file: `*_file` keys name a file",
        "with mode 0600.",
        "",
    ]
    for name, table in ROOT.items():
        header = f"[[{name}]]" if table.array else f"[{name}]"
        _table(lines, header, table)
        if name == "devices":
            lines.append("Each driver adds its own keys to its `[[devices]]` table, beside the ones above;"
                         " `sitegate drivers show NAME` lists them for any installed driver (docs/drivers.md).\n")
            _builtin_drivers(lines)
        if name == "geofences":
            lines.append("Fence keys (`id`, `crs`, `polygon` | `center`+`radius_m` | `line`+`width_m`, `grace_m`,"
                         " `lane`, `direction`) are described in docs/phones.md.\n")
    return "\n".join(lines).rstrip() + "\n"
