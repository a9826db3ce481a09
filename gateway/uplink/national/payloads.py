"""A stored batch's ``data`` string read back: its records' natural keys, and parts of it.

A batch's ``data`` (``WorkerAttendance.Add``, reference/protocols.md §5) is stored byte for byte
when the batch is made. Everything the engine later needs to know about what it sent comes from
that string, not from the events (whose photos, roster team or clock correction could differ by
then): the platform's natural key of each record (ID number, date, direction) for reconciliation,
and the halves of a batch that must be split to find a record the platform refuses.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from sitegate.uplink.national.crypto import decrypt_id
from sitegate.uplink.national.errors import DecryptError
from sitegate.uplink.national.payload import dump_data

NaturalKey = tuple[str, str, str]  # (plain ID number, "yyyy-MM-dd HH:mm:ss", "01"|"02")


class PayloadError(ValueError):
    """A stored ``data`` string that is not a WorkerAttendance.Add batch (a bug or a damaged row)."""


@dataclass(frozen=True)
class Batch:
    """What a stored ``data`` string says: project, team and each record's natural key in order."""

    project_code: str
    team_sys_no: int
    keys: tuple[NaturalKey, ...]

    @property
    def plain_ids(self) -> list[str]:
        return [k[0] for k in self.keys]


def _document(data: str) -> dict:
    try:
        doc = json.loads(data)
    except (TypeError, ValueError) as exc:
        raise PayloadError(f"stored data is not JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("dataList"), list) or not doc["dataList"]:
        raise PayloadError("stored data has no dataList")
    return doc


def read_batch(data: str, appsecret: str) -> Batch:
    """The natural keys of a stored batch, ID numbers decrypted."""
    doc = _document(data)
    keys = []
    for i, item in enumerate(doc["dataList"]):
        try:
            plain = decrypt_id(item["idCardNumber"], appsecret)
            keys.append((plain, str(item["date"]), str(item["direction"])))
        except (KeyError, TypeError, DecryptError) as exc:
            raise PayloadError(f"stored dataList[{i}] is unreadable: {exc}") from None
    team = doc.get("teamSysNo")
    if isinstance(team, bool) or not isinstance(team, int):
        raise PayloadError("stored data has no integer teamSysNo")
    return Batch(str(doc.get("projectCode", "")), team, tuple(keys))


def sub_payload(data: str, indices: Sequence[int]) -> str:
    """The ``data`` string of a batch holding only the records at ``indices`` of ``data``.

    The items are copied as they were sent (JSON keeps key order and floats round-trip), so each
    record of a part is byte-identical to the same record in the whole: the same natural key, the
    same photo, no second re-encoding.
    """
    doc = _document(data)
    items = doc["dataList"]
    if not indices or any(not 0 <= i < len(items) for i in indices):
        raise PayloadError(f"indices {list(indices)} do not fit a batch of {len(items)}")
    return dump_data({**doc, "dataList": [items[i] for i in indices]})


def halves(indices: Sequence[int]) -> list[list[int]]:
    """Two halves (the first one the larger) of two or more indices; one part for a single one."""
    items = list(indices)
    if len(items) < 2:
        return [items]
    middle = (len(items) + 1) // 2
    return [items[:middle], items[middle:]]


def day_of(date_text: str) -> str:
    """``2025-03-15`` of ``2025-03-15 07:31:02``."""
    return date_text[:10]


def normal_date(value: object) -> str | None:
    """A platform row's ``date`` as ``yyyy-MM-dd HH:mm:ss``; tolerates a ``.0`` tail (Java
    Timestamp.toString) or a ``T``; None when it is not a time at all."""
    if not isinstance(value, str) or len(value) < 19:
        return None
    text = value[:19].replace("T", " ")
    if text[4] != "-" or text[7] != "-" or text[10] != " " or text[13] != ":" or text[16] != ":":
        return None
    return text
