"""Checks the reference platform makes on a ``WorkerAttendance.Add`` batch, with platform-style
messages (``[field]…``, as quoted in reference/protocols.md §5: ``[teamSysNo]值超出范围或无效!``,
``[date]不能大于当天!``).

Like the platform, the first bad field fails the whole call (code -1) and the message does not say
which item it was: the delivery engine has to find the record itself (e.g. by halving the batch).
"""
from __future__ import annotations

import base64
import binascii
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sitegate.receiver.store import Item
from sitegate.uplink.national.attendance import ATTEND_TYPES, JPEG_MAGIC, MAX_ITEMS, PLATFORM_IMAGE_BYTES
from sitegate.uplink.national.beijing import parse_beijing_time
from sitegate.uplink.national.crypto import decrypt_id
from sitegate.uplink.national.errors import DecryptError

INVALID = "值超出范围或无效!"
EMPTY = "不能为空!"
_RESIDENT_ID = re.compile(r"^[0-9]{17}[0-9X]$")


class BadParameter(Exception):
    """Code -1 with a ``[field]…`` message."""

    def __init__(self, field: str, problem: str = INVALID):
        super().__init__(f"[{field}]{problem}")
        self.field = field


@dataclass(frozen=True)
class AttendanceBatch:
    project_code: str
    team_sys_no: int
    items: tuple[Item, ...]


def required_text(data: dict, key: str) -> str:
    value = data.get(key)
    if value is None or value == "":
        raise BadParameter(key, EMPTY)
    if not isinstance(value, str):
        raise BadParameter(key)
    return value


def required_int(data: dict, key: str, low: int = 0, high: int = 2**63 - 1) -> int:
    value = data.get(key)
    if value is None:
        raise BadParameter(key, EMPTY)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadParameter(key)
    return value


def _coordinate(item: dict, key: str, bound: float) -> float | None:
    value = item.get(key)
    if value is None or value == "":
        return None
    try:  # numbers, or numbers in strings as some vendors send them
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        raise BadParameter(key) from None
    if not math.isfinite(number) or not -bound <= number <= bound:
        raise BadParameter(key)
    return number


def _image_size(item: dict) -> int:
    image = item.get("image")
    if image is None or image == "":
        return 0
    if not isinstance(image, str):
        raise BadParameter("image")
    try:
        raw = base64.b64decode(image, validate=True)
    except (binascii.Error, ValueError):
        raise BadParameter("image", "不是有效的Base64编码!") from None
    if len(raw) > PLATFORM_IMAGE_BYTES:
        raise BadParameter("image", "图片大小不能超过50KB!")
    if not raw.startswith(JPEG_MAGIC):
        raise BadParameter("image", "必须是JPEG格式的图片!")
    return len(raw)


def _item(index: int, raw: Any, appsecret: str, latest: datetime) -> Item:
    if not isinstance(raw, dict):
        raise BadParameter("dataList")
    id_type = required_text(raw, "idCardType")
    if id_type != "01":  # the platform has refused non-ID-card types (reference §5)
        raise BadParameter("idCardType")
    cipher = required_text(raw, "idCardNumber")
    try:
        number = decrypt_id(cipher, appsecret)
    except DecryptError:
        raise BadParameter("idCardNumber", "解密失败!") from None
    if not _RESIDENT_ID.match(number):
        raise BadParameter("idCardNumber")
    date_text = required_text(raw, "date")
    try:
        when = parse_beijing_time(date_text)
    except ValueError:
        raise BadParameter("date", "格式不正确，应为yyyy-MM-dd HH:mm:ss!") from None
    if when > latest:
        raise BadParameter("date", "不能大于当天!")
    direction = required_text(raw, "direction")
    if direction not in ("01", "02"):
        raise BadParameter("direction")
    attend_type = required_text(raw, "attendType")
    if attend_type not in ATTEND_TYPES:
        raise BadParameter("attendType")
    channel = raw.get("channel", "")
    if not isinstance(channel, str) or len(channel) > 100:
        raise BadParameter("channel")
    lng, lat = _coordinate(raw, "lng", 180.0), _coordinate(raw, "lat", 90.0)
    return Item(index=index, id_card_number=number, cipher=cipher, date=date_text, direction=direction,
                attend_type=attend_type, channel=channel, id_card_type=id_type,
                image_bytes=_image_size(raw), lng=lng, lat=lat)


def validate_attendance(data: Any, appsecret: str, now: datetime,
                        future_tolerance: timedelta = timedelta(minutes=1)) -> AttendanceBatch:
    """The checked batch, or BadParameter for the first problem found.

    ``date`` may not be later than ``now`` + ``future_tolerance`` (site clocks drift by seconds;
    the platform's "不能大于当天" is read as "not in the future").
    """
    if not isinstance(data, dict):
        raise BadParameter("data")
    project_code = required_text(data, "projectCode")
    team = required_int(data, "teamSysNo", 1)
    data_list = data.get("dataList")
    if not isinstance(data_list, list) or not data_list:
        raise BadParameter("dataList", EMPTY)
    if len(data_list) > MAX_ITEMS:
        raise BadParameter("dataList", f"最多{MAX_ITEMS}条!")
    latest = now + future_tolerance
    items = tuple(_item(i, raw, appsecret, latest) for i, raw in enumerate(data_list))
    return AttendanceBatch(project_code, team, items)
