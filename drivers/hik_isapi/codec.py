"""Hikvision ISAPI codec (pure, no I/O): pushed events, AcsEvent searches, UserInfo and face
bodies, and the terminal's status answers. Source: ../shared/reference/protocols.md §4.

Every parser takes outside input and raises only ``ProtocolError`` (naming the field that is
wrong); the builders return plain dicts for ``json.dumps``.

Users go to the terminal as ``employeeNo = str(worker.pin)``, never the ID number: the terminal
shows the number on its screen, keeps it in its memory and pushes it in every event over plain
HTTP on the site network, so an ID number there would leave the gateway in clear (PIPL; see
design.md "Personal data"). The PIN is a number the gateway assigned, meaningless elsewhere.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from sitegate.errors import ProtocolError

from . import codes, multipart

BEIJING = timezone(timedelta(hours=8))
MAX_JSON_BYTES = 1024 * 1024
MAX_FACE_BYTES = 200 * 1024
FACE_LIBRARY = {"faceLibType": "blackFD", "FDID": "1"}
VALID_FROM = "2000-01-01T00:00:00"
VALID_FOREVER = "2037-12-31T23:59:59"


# -- events ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AccessEvent:
    """An AccessControllerEvent (pushed) or an AcsEvent InfoList item (searched)."""

    major: int
    minor: int
    serial_no: int | None
    time: datetime | None               # aware
    time_text: str
    employee_no: str = ""
    name: str = ""
    card_no: str = ""
    user_type: str = ""
    verify_mode: str = ""
    attendance_status: str = ""
    door_no: int | None = None
    card_reader_no: int | None = None
    picture_url: str = ""
    extra: dict[str, Any] = field(default_factory=dict)   # mask, helmet, currTemperature …

    @property
    def sub_event(self) -> codes.SubEvent | None:
        return codes.SUB_EVENTS.get(self.minor) if self.major == codes.MAJOR_EVENT else None

    @property
    def passage(self) -> bool:
        """A person was let through or refused (not a door, alarm or operation event)."""
        return self.sub_event is not None

    @property
    def granted(self) -> bool:
        return bool(self.sub_event and self.sub_event.granted)

    @property
    def reason(self) -> str:
        return self.sub_event.text if self.sub_event else f"event {self.major}/{self.minor}"

    @property
    def method(self) -> codes.Method:
        sub = self.sub_event
        if sub is not None and sub.method is not None:
            return sub.method
        return codes.verify_mode_method(self.verify_mode)

    @property
    def direction(self) -> str | None:
        return codes.attendance_direction(self.attendance_status)


@dataclass(frozen=True)
class PushedEvent:
    event_type: str                     # AccessControllerEvent, heartBeat, …
    date_time: datetime | None
    access: AccessEvent | None = None
    picture: bytes | None = None        # JPEG, from a multipart push
    ip_address: str = ""

    @property
    def heartbeat(self) -> bool:
        return self.event_type.lower() == "heartbeat"


def int_field(obj: dict, key: str, *, required: bool = False) -> int | None:
    value = obj.get(key)
    if value is None or value == "":
        if required:
            raise ProtocolError(f"{key} is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ProtocolError(f"{key} is {type(value).__name__}, not a number")
    if isinstance(value, str):
        if not value.strip().isascii() or not value.strip().isdigit() or len(value) > 18:
            raise ProtocolError(f"{key} {value[:20]!r} is not a number")
        return int(value)
    if not 0 <= value < 1 << 63:
        raise ProtocolError(f"{key} {value} is out of range")
    return value


def str_field(obj: dict, key: str, limit: int = 256) -> str:
    value = obj.get(key, "")
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ProtocolError(f"{key} is {type(value).__name__}, not text")
    return str(value)[:limit]


def parse_time(text: str, what: str = "dateTime") -> datetime:
    """ISO-8601; a time without an offset is taken as Beijing time (the terminals' default)."""
    try:
        dt = datetime.fromisoformat(text.strip())
    except (ValueError, TypeError):
        raise ProtocolError(f"{what} {str(text)[:40]!r} is not an ISO-8601 time") from None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=BEIJING)


def access_event(obj: Any, time_text: str | None = None) -> AccessEvent:
    """One event from a push (``AccessControllerEvent`` + the envelope's dateTime) or a search
    (``InfoList`` item: ``major``/``minor``/``time``)."""
    if not isinstance(obj, dict):
        raise ProtocolError(f"access event is {type(obj).__name__}, not an object")
    major = int_field(obj, "majorEventType") if "majorEventType" in obj else int_field(obj, "major")
    minor = int_field(obj, "subEventType") if "subEventType" in obj else int_field(obj, "minor")
    if major is None or minor is None:
        raise ProtocolError("access event without majorEventType/subEventType")
    text = time_text if time_text is not None else str_field(obj, "time", 64)
    known = {"majorEventType", "subEventType", "major", "minor", "time", "serialNo", "employeeNoString",
             "employeeNo", "name", "cardNo", "userType", "currentVerifyMode", "attendanceStatus", "doorNo",
             "cardReaderNo", "pictureURL"}
    return AccessEvent(
        major=major, minor=minor, serial_no=int_field(obj, "serialNo"),
        time=parse_time(text) if text else None, time_text=text,
        employee_no=str_field(obj, "employeeNoString", 64) or str_field(obj, "employeeNo", 64),
        name=str_field(obj, "name", 128), card_no=str_field(obj, "cardNo", 64), user_type=str_field(obj, "userType", 32),
        verify_mode=str_field(obj, "currentVerifyMode", 64), attendance_status=str_field(obj, "attendanceStatus", 32),
        door_no=int_field(obj, "doorNo"), card_reader_no=int_field(obj, "cardReaderNo"),
        picture_url=str_field(obj, "pictureURL", 512),
        extra={k: v for k, v in obj.items() if k not in known and isinstance(v, (str, int, float, bool))},
    )


def parse_json(data: bytes, what: str = "body") -> Any:
    if len(data) > MAX_JSON_BYTES:
        raise ProtocolError(f"{what} of {len(data)} bytes is over the {MAX_JSON_BYTES}-byte limit")
    try:
        return json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ProtocolError(f"{what} is not UTF-8") from None
    except RecursionError:
        raise ProtocolError(f"{what} nests too deeply") from None
    except ValueError as exc:
        raise ProtocolError(f"{what} is not JSON: {exc}") from None


def event_from_json(obj: Any) -> PushedEvent:
    if not isinstance(obj, dict):
        raise ProtocolError(f"event is {type(obj).__name__}, not an object")
    event_type = str_field(obj, "eventType", 64)
    if not event_type:
        raise ProtocolError("event without eventType")
    date_text = str_field(obj, "dateTime", 64)
    access = None
    if "AccessControllerEvent" in obj:
        access = access_event(obj["AccessControllerEvent"], date_text)
    return PushedEvent(event_type, parse_time(date_text) if date_text else None, access,
                       ip_address=str_field(obj, "ipAddress", 64))


def parse_push(body: bytes, content_type: str) -> PushedEvent:
    """A body POSTed by the terminal: JSON, or multipart with a JSON part (chosen by its content
    type, else by the names ``event_log`` / ``AccessControllerEvent``) and an optional JPEG."""
    if "multipart/" not in content_type.lower():
        return event_from_json(parse_json(body))
    parts = multipart.parse(body, content_type)
    doc = next((p for p in parts if p.content_type in ("application/json", "text/json")), None)
    if doc is None:
        doc = next((p for p in parts if p.name in ("event_log", "AccessControllerEvent")), None)
    if doc is None:
        raise ProtocolError("multipart event without a JSON part")
    event = event_from_json(parse_json(doc.data, f"part {doc.name or '?'}"))
    picture = next((p.data for p in parts if p is not doc and p.data[:2] == b"\xff\xd8"
                    and (p.content_type == "image/jpeg" or p.name == "Picture")), None)
    return PushedEvent(event.event_type, event.date_time, event.access, picture, event.ip_address)


def event_document(event: dict[str, Any], *, date_time: str, ip: str = "127.0.0.1", event_type: str =
                   "AccessControllerEvent") -> dict[str, Any]:
    """The envelope a terminal pushes (the simulator's side)."""
    doc: dict[str, Any] = {"ipAddress": ip, "portNo": 80, "protocol": "HTTP", "macAddress": "44:19:b6:00:00:01",
                           "channelID": 1, "dateTime": date_time, "activePostCount": 1, "eventType": event_type,
                           "eventState": "active", "eventDescription": "Access Controller Event"
                           if event_type == "AccessControllerEvent" else event_type}
    if event_type == "AccessControllerEvent":
        doc["AccessControllerEvent"] = event
    return doc


def isapi_time(dt: datetime) -> str:
    """ISO-8601 with offset, seconds resolution (naive times are Beijing time)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=BEIJING)
    return dt.replace(microsecond=0).isoformat()


# -- status answers ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ResponseStatus:
    status_code: int
    status_string: str = ""
    sub_status_code: str = ""
    error_msg: str = ""

    @property
    def ok(self) -> bool:
        return self.status_code == 1

    def describe(self) -> str:
        return f"statusCode {self.status_code} {self.status_string} {self.sub_status_code} {self.error_msg}".strip()


def parse_status(obj: Any) -> ResponseStatus:
    if not isinstance(obj, dict) or "statusCode" not in obj:
        raise ProtocolError("answer without statusCode")
    code = int_field(obj, "statusCode", required=True)
    return ResponseStatus(code or 0, str_field(obj, "statusString", 64), str_field(obj, "subStatusCode", 64),
                          str_field(obj, "errorMsg", 256))


def status_document(code: int = 1, string: str = "OK", sub: str = "ok", msg: str = "") -> dict[str, Any]:
    doc: dict[str, Any] = {"statusCode": code, "statusString": string, "subStatusCode": sub}
    if msg:
        doc["errorMsg"] = msg
    return doc
