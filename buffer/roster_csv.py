"""Roster import from CSV, as clerks export it: UTF-8 with or without BOM, or GBK/GB18030 (Excel on
Chinese Windows), with English or the platform's Chinese headers.

Bad rows are reported by line number with the reason and skipped; good rows are imported.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date

from sitegate.buffer.roster import Worker
from sitegate.idcard import normalise, problem as id_problem

HEADERS = {
    "id_card_number": ("id_card_number", "身份证号", "身份证号码", "证件号码"),
    "name": ("name", "姓名"),
    "team_sys_no": ("team_sys_no", "班组编号"),
    "team_name": ("team_name", "班组名称"),
    "work_type": ("work_type", "工种"),
    "card_no": ("card_no", "卡号"),
    "valid_to": ("valid_to", "有效期至"),
    "blacklisted": ("blacklisted", "黑名单"),
    "id_card_type": ("id_card_type", "证件类型"),
}
REQUIRED = ("id_card_number", "name")
_TRUE = {"1", "true", "yes", "y", "是", "t"}
_FALSE = {"", "0", "false", "no", "n", "否", "f"}


class RosterFileError(ValueError):
    """The file as a whole cannot be read (encoding, missing columns)."""


@dataclass
class ImportResult:
    workers: list[Worker] = field(default_factory=list)
    problems: list[tuple[int, str]] = field(default_factory=list)   # (line, reason)
    encoding: str = ""


def decode(data: bytes) -> tuple[str, str]:
    """Text and the encoding it was read as."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gbk"
    except UnicodeDecodeError as exc:
        raise RosterFileError(f"the file is neither UTF-8 nor GBK (byte {exc.start}): save it as CSV UTF-8") from None


def _column_map(header: list[str]) -> dict[str, int]:
    out = {}
    for i, raw in enumerate(header):
        h = raw.strip().lstrip("\ufeff").lower()
        for key, names in HEADERS.items():
            if h in (n.lower() for n in names) and key not in out:
                out[key] = i
    missing = [k for k in REQUIRED if k not in out]
    if missing:
        raise RosterFileError(f"line 1: missing column(s) {', '.join(missing)} "
                              f"(expected e.g. {', '.join(HEADERS[m][0] + ' or ' + HEADERS[m][1] for m in missing)})")
    return out


def _date(value: str) -> str:
    v = value.strip()
    m = re.fullmatch(r"(\d{4})[-/.年]?(\d{1,2})[-/.月]?(\d{1,2})日?", v)
    if not m:
        raise ValueError(f"valid_to {v!r} is not a date (expected YYYY-MM-DD)")
    try:
        return date(int(m[1]), int(m[2]), int(m[3])).isoformat()
    except ValueError:
        raise ValueError(f"valid_to {v!r} is not a real date") from None


def _row(cells: list[str], cols: dict[str, int]) -> Worker:
    def cell(key: str) -> str:
        i = cols.get(key)
        return cells[i].strip() if i is not None and i < len(cells) else ""

    id_type = cell("id_card_type") or "01"
    idn = normalise(cell("id_card_number"))
    if not idn:
        raise ValueError("id_card_number is empty")
    if id_type == "01" and (why := id_problem(idn)):
        raise ValueError(why)
    name = cell("name")
    if not name:
        raise ValueError("name is empty")
    if len(name) > 50:
        raise ValueError("name is longer than 50 characters")
    team = cell("team_sys_no")
    if team and not (team.isascii() and team.isdigit()):      # '²' passes isdigit() but not int()
        raise ValueError(f"team_sys_no {team!r} is not a number")
    black = cell("blacklisted").lower()
    if black not in _TRUE | _FALSE:
        raise ValueError(f"blacklisted {black!r} is not yes/no (expected 1/0, true/false, 是/否)")
    card = cell("card_no")
    if card and not re.fullmatch(r"[0-9A-Za-z]{1,20}", card):
        raise ValueError(f"card_no {card!r} is not a card number (letters and digits)")
    valid_to = cell("valid_to")
    return Worker(
        id_card_number=idn, name=name, id_card_type=id_type,
        team_sys_no=int(team) if team else None, team_name=cell("team_name"),
        work_type=cell("work_type"), card_no=card or None,
        valid_to=_date(valid_to) if valid_to else None,
        blacklisted=black in _TRUE, source="csv",
    )


def parse(data: bytes) -> ImportResult:
    text, encoding = decode(data)
    result = ImportResult(encoding=encoding)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise RosterFileError("the file is empty (expected a header line)") from None
    except csv.Error as exc:
        raise RosterFileError(f"line 1: {exc}") from None
    cols = _column_map(header)
    seen: dict[str, int] = {}
    line = reader.line_num
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            result.problems.append((reader.line_num, f"not valid CSV: {exc}"))
            continue
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        try:
            w = _row(cells, cols)
        except ValueError as exc:
            result.problems.append((line, str(exc)))
            continue
        if w.id_card_number in seen:
            result.problems.append((line, f"the same ID number is already on line {seen[w.id_card_number]}"))
            continue
        seen[w.id_card_number] = line
        result.workers.append(w)
    return result
