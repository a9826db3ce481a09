"""``WorkerAttendance.Add`` records in the platform's format (reference/protocols.md §5).

An item is built from plain values (``attendance_item``); the ID number is encrypted only when
the batch's ``data`` string is made (``attendance_add_data``). AES-CBC with the fixed IV is
deterministic and the JSON is compact with a fixed key order, so the same records always give the
same bytes: a retry resends the identical record, which the platform keys by
(ID number, date, direction).
"""
from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sitegate.uplink.national.beijing import beijing_time, parse_beijing_time
from sitegate.uplink.national.crypto import encrypt_id
from sitegate.uplink.national.errors import InvalidRecord
from sitegate.uplink.national.payload import dump_data

MAX_ITEMS = 20  # per call (unconfirmed in the reference: sending fewer is always safe)
# The platform takes images "≤ 50 KB". Whether KB is 1000 or 1024 is unknown: the receiver
# enforces 51 200 bytes like a lenient platform, the builder 50 000 to be safe either way.
PLATFORM_IMAGE_BYTES = 50 * 1024
SAFE_IMAGE_BYTES = 50_000
JPEG_MAGIC = b"\xff\xd8\xff"

ATTEND_TYPES = {
    "001": "face 人脸",
    "002": "iris 虹膜",
    "003": "fingerprint 指纹",
    "004": "palm 掌纹",
    "005": "ID card 身份证",
    "006": "real-name card 实名卡",
    "007": "abnormal clear-out 异常清退",
    "008": "one-key open 一键开闸",
    "009": "emergency channel 应急通道",
    "010": "QR code 二维码",
    "011": "other 其他",
}

# sitegate.model.Method values -> attendType. Why each:
# - face, fingerprint, idcard (SAM reader), card (access / real-name card): their own codes.
# - geofence: a phone fix inside an electronic fence has no code of its own; 010 is a QR code
#   scanned at a gate and 007-009 are gate operations, so it is 011 "other", with lng/lat sent.
# - manual (补卡, entered by a clerk): not a biometric nor a card; 007 "abnormal clear-out" is the
#   clearing of workers left marked on site, 008 a gate opened by a button, so also 011 "other".
# iris / palm / qr are here for drivers that may report them.
METHOD_ATTEND_TYPE = {
    "face": "001",
    "iris": "002",
    "fingerprint": "003",
    "palm": "004",
    "idcard": "005",
    "card": "006",
    "qr": "010",
    "geofence": "011",
    "manual": "011",
    "other": "011",
}

DIRECTION_IN = "01"
DIRECTION_OUT = "02"
DIRECTION_CODES = {"in": DIRECTION_IN, "out": DIRECTION_OUT}
RESIDENT_ID_CARD = "01"
_RESIDENT_ID = re.compile(r"^[0-9]{17}[0-9X]$")
_ID_TYPE = re.compile(r"^[0-9]{2}$")
MAX_CHANNEL_CHARS = 100  # no limit is documented; a gate name is short


def attend_type_for(method: str) -> str:
    """The attendType code for a sitegate clock-in method (``sitegate.model.Method`` value)."""
    try:
        return METHOD_ATTEND_TYPE[str(method)]
    except KeyError:
        raise InvalidRecord(f"method {method!r} has no attendType; known: {', '.join(METHOD_ATTEND_TYPE)}") from None


def check_image(image_b64: str, limit: int = SAFE_IMAGE_BYTES) -> bytes:
    """The decoded JPEG, or InvalidRecord naming why the platform would refuse it."""
    if not isinstance(image_b64, str):
        raise InvalidRecord(f"image must be a Base64 string, got {type(image_b64).__name__}")
    try:
        raw = base64.b64decode(image_b64, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRecord("image is not valid Base64") from None
    if len(raw) > limit:
        raise InvalidRecord(f"image is {len(raw)} bytes, at most {limit} are accepted")
    if not raw.startswith(JPEG_MAGIC):
        raise InvalidRecord("image is not a JPEG (it must start with FF D8 FF)")
    return raw


def _coordinate(name: str, value: Any, bound: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidRecord(f"{name} must be a finite number, got {value!r}")
    if not -bound <= value <= bound:
        raise InvalidRecord(f"{name} {value} is outside ±{bound}")
    return float(value)


def attendance_item(
    id_card_number: str,
    date_str: str | datetime,
    direction: str,
    attend_type: str,
    channel: str,
    image_b64: str | None = None,
    lng: float | None = None,
    lat: float | None = None,
    id_card_type: str = RESIDENT_ID_CARD,
) -> dict[str, Any]:
    """One ``dataList`` item with the PLAIN ID number (encrypted later by ``attendance_add_data``).

    ``date_str`` is ``yyyy-MM-dd HH:mm:ss`` Beijing time, or an aware datetime; ``direction`` is
    "01" in / "02" out; ``lng``/``lat`` are WGS-84 and go together. InvalidRecord names the field.
    """
    if not isinstance(id_card_type, str) or not _ID_TYPE.match(id_card_type):
        raise InvalidRecord(f"idCardType must be two digits, got {id_card_type!r}")
    if not isinstance(id_card_number, str) or not id_card_number.strip():
        raise InvalidRecord("idCardNumber is empty")
    number = id_card_number.strip().upper()
    # Shape only: the check digit is the gate policy's business (the reference's own sample fails it).
    if id_card_type == RESIDENT_ID_CARD and not _RESIDENT_ID.match(number):
        raise InvalidRecord("idCardNumber is not 17 digits followed by a digit or X")
    if isinstance(date_str, datetime):
        try:
            date_text = beijing_time(date_str)
        except ValueError as exc:
            raise InvalidRecord(f"date: {exc}") from None
    else:
        try:
            parse_beijing_time(date_str)
        except (TypeError, ValueError):
            raise InvalidRecord(f"date {date_str!r} is not yyyy-MM-dd HH:mm:ss") from None
        date_text = date_str
    if direction not in (DIRECTION_IN, DIRECTION_OUT):
        raise InvalidRecord(f"direction must be '01' (in) or '02' (out), got {direction!r}")
    if attend_type not in ATTEND_TYPES:
        raise InvalidRecord(f"attendType {attend_type!r} is not one of 001..011")
    if not isinstance(channel, str) or not channel.strip():
        raise InvalidRecord("channel (the gate's name) is empty")
    if len(channel) > MAX_CHANNEL_CHARS:
        raise InvalidRecord(f"channel is {len(channel)} characters, at most {MAX_CHANNEL_CHARS}")
    item: dict[str, Any] = {
        "idCardType": id_card_type,
        "idCardNumber": number,
        "date": date_text,
        "direction": direction,
        "attendType": attend_type,
        "channel": channel,
    }
    if image_b64 is not None:
        check_image(image_b64)
        item["image"] = image_b64
    if (lng is None) != (lat is None):
        raise InvalidRecord("lng and lat go together: give both or neither")
    if lng is not None:
        item["lng"] = _coordinate("lng", lng, 180.0)
        item["lat"] = _coordinate("lat", lat, 90.0)
    return item


def attendance_add_payload(project_code: str, team_sys_no: int,
                           items: Sequence[Mapping[str, Any]], appsecret: str) -> dict[str, Any]:
    """The ``data`` object of ``WorkerAttendance.Add`` with the ID numbers encrypted."""
    if not isinstance(project_code, str) or not project_code.strip():
        raise InvalidRecord("projectCode is empty")
    if isinstance(team_sys_no, bool) or not isinstance(team_sys_no, int):
        raise InvalidRecord(f"teamSysNo must be an integer, got {team_sys_no!r}")
    if not 1 <= len(items) <= MAX_ITEMS:
        raise InvalidRecord(f"a batch holds 1 to {MAX_ITEMS} records, got {len(items)}")
    data_list = []
    for i, item in enumerate(items):
        number = item.get("idCardNumber")
        if not isinstance(number, str) or not number:
            raise InvalidRecord(f"dataList[{i}]: idCardNumber is empty")
        data_list.append({**item, "idCardNumber": encrypt_id(number, appsecret)})
    return {"projectCode": project_code, "teamSysNo": team_sys_no, "dataList": data_list}


def attendance_add_data(project_code: str, team_sys_no: int,
                        items: Sequence[Mapping[str, Any]], appsecret: str) -> str:
    """The exact ``data`` string of ``WorkerAttendance.Add``: store it with the batch and resend it
    unchanged (only ``timestamp``/``nonce``/``sign`` are fresh on a retry)."""
    return dump_data(attendance_add_payload(project_code, team_sys_no, items, appsecret))
