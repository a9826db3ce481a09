"""The project roster the reference platform serves through ``ProjectWorker.Query``.

Given as CSV (UTF-8, a BOM is fine) with the columns
``id_card_number,name,team_sys_no,team_name,work_type,card_no``, or as a JSON list of objects with
the same keys (other keys of a JSON object are passed through into the platform row, e.g.
``corpCode``).
"""
from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sitegate.errors import UsageError
from sitegate.uplink.national.codec import encrypt_id

COLUMNS = ("id_card_number", "name", "team_sys_no", "team_name", "work_type", "card_no")
_REQUIRED = ("id_card_number", "name", "team_sys_no")


@dataclass(frozen=True)
class RosterWorker:
    id_card_number: str
    name: str
    team_sys_no: int
    team_name: str = ""
    work_type: str = ""
    card_no: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def platform_row(self, project_code: str, appsecret: str) -> dict[str, Any]:
        """A ``ProjectWorker.Query`` row (field names from reference/protocols.md §5)."""
        return {
            "projectCode": project_code,
            "corpCode": "",
            "corpName": "",
            "teamSysNo": self.team_sys_no,
            "teamName": self.team_name,
            "workerName": self.name,
            "isTeamLeader": 0,
            "idCardType": "01",
            "idCardNumber": encrypt_id(self.id_card_number, appsecret),
            "workType": self.work_type,
            "workRole": "",
            "cardNumber": self.card_no,
            "hasContract": 1,
            **self.extra,
        }


def _worker(raw: Any, where: str) -> RosterWorker:
    if not isinstance(raw, dict):
        raise UsageError(f"{where}: a roster entry must be an object")
    for key in _REQUIRED:
        if raw.get(key) in (None, ""):
            raise UsageError(f"{where}: {key}: missing")
    team = raw["team_sys_no"]
    digits = isinstance(team, str) and team.strip().isascii() and team.strip().isdigit()   # not "²"
    if isinstance(team, bool) or not (isinstance(team, int) or digits):
        raise UsageError(f"{where}: team_sys_no: {team!r} is not an integer")
    return RosterWorker(
        id_card_number=str(raw["id_card_number"]).strip().upper(),
        name=str(raw["name"]).strip(),
        team_sys_no=int(team),
        team_name=str(raw.get("team_name") or ""),
        work_type=str(raw.get("work_type") or ""),
        card_no=str(raw.get("card_no") or ""),
        extra={k: v for k, v in raw.items() if k not in COLUMNS},
    )


def parse_roster(text: str, name: str = "roster") -> list[RosterWorker]:
    """Workers from CSV or JSON text (JSON when it starts with ``[``); UsageError names the line."""
    text = text.lstrip("\ufeff")
    if text.lstrip().startswith("["):
        try:
            entries = json.loads(text)
        except ValueError as exc:
            raise UsageError(f"{name}: not valid JSON: {exc}") from None
        return [_worker(e, f"{name}: entry {i}") for i, e in enumerate(entries)]
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in _REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        raise UsageError(f"{name}:1: missing column(s) {', '.join(missing)}")
    # CSV extra columns are not passed through: only JSON carries typed extra fields.
    return [_worker({k: v for k, v in row.items() if k in COLUMNS}, f"{name}:{reader.line_num}")
            for row in reader]


def load_roster(path: str | os.PathLike) -> list[RosterWorker]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"roster {p}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise UsageError(f"roster {p}: not UTF-8") from None
    return parse_roster(text, str(p))
