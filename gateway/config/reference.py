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


def _table(lines: list[str], header: str, table: Table) -> None:
    lines.append(f"## `{header}`\n")
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
            lines.append("Each driver adds its own keys to its `[[devices]]` table: `sitegate drivers show NAME`"
                         " lists them (see docs/drivers.md).\n")
        if name == "geofences":
            lines.append("Fence keys (`id`, `crs`, `polygon` | `center`+`radius_m` | `line`+`width_m`, `grace_m`,"
                         " `lane`, `direction`) are described in docs/phones.md.\n")
    return "\n".join(lines).rstrip() + "\n"
