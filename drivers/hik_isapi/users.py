"""UserInfo and face bodies for Hikvision terminals (pure, no I/O).

- ``PUT /ISAPI/AccessControl/UserInfo/SetUp?format=json``: create or update one user;
- ``PUT /ISAPI/AccessControl/UserInfoDetail/Delete?format=json``: delete by employee number;
- ``POST /ISAPI/AccessControl/UserInfo/Search?format=json``: page through the users;
- ``POST /ISAPI/Intelligent/FDLib/FaceDataRecord?format=json``: a face photo, multipart with a
  JSON part ``FaceDataRecord`` ``{faceLibType: "blackFD", FDID: "1", FPID: <employeeNo>}`` and a
  JPEG part ``img`` (≤ 200 KB). The reference names ``FDLib/pictureUpload`` and says the endpoint
  varies by model (unconfirmed); FaceDataRecord is the one public integrations use.
Why ``employeeNo`` is the gateway's PIN and not the ID number: see ``codec``.
Source: ../shared/reference/protocols.md §4.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sitegate.errors import ProtocolError

from . import multipart
from .codec import FACE_LIBRARY, MAX_FACE_BYTES, VALID_FOREVER, VALID_FROM, int_field, parse_json, str_field

SETUP_PATH = "/ISAPI/AccessControl/UserInfo/SetUp?format=json"
RECORD_PATH = "/ISAPI/AccessControl/UserInfo/Record?format=json"
DELETE_PATH = "/ISAPI/AccessControl/UserInfoDetail/Delete?format=json"
SEARCH_PATH = "/ISAPI/AccessControl/UserInfo/Search?format=json"
COUNT_PATH = "/ISAPI/AccessControl/UserInfo/Count?format=json"
FACE_PATH = "/ISAPI/Intelligent/FDLib/FaceDataRecord?format=json"
FACE_PATH_ALT = "/ISAPI/Intelligent/FDLib/pictureUpload"
MAX_NAME_CHARS = 32          # terminals cut longer names; we cut them first, the same way each time


@dataclass(frozen=True)
class TerminalUser:
    employee_no: str
    name: str
    valid_end: str = VALID_FOREVER        # YYYY-MM-DDTHH:MM:SS, terminal local time
    valid_begin: str = VALID_FROM
    user_type: str = "normal"

    def same_as(self, other: "TerminalUser") -> bool:
        return (self.name, self.valid_end, self.user_type) == (other.name, other.valid_end, other.user_type)


def terminal_user(pin: int | str, name: str, valid_to: str | None = None) -> TerminalUser:
    """What a worker looks like on the terminal; ``valid_to`` YYYY-MM-DD ends the validity."""
    end = f"{valid_to}T23:59:59" if valid_to else VALID_FOREVER
    return TerminalUser(str(pin), name.replace("\t", " ").strip()[:MAX_NAME_CHARS], end)


def setup_body(user: TerminalUser) -> dict[str, Any]:
    return {"UserInfo": {
        "employeeNo": user.employee_no, "name": user.name, "userType": user.user_type,
        "Valid": {"enable": True, "beginTime": user.valid_begin, "endTime": user.valid_end, "timeType": "local"},
        "doorRight": "1", "RightPlan": [{"doorNo": 1, "planTemplateNo": "1"}],
    }}


def delete_body(employee_nos: list[str]) -> dict[str, Any]:
    return {"UserInfoDetail": {"mode": "byEmployeeNo",
                               "EmployeeNoList": [{"employeeNo": e} for e in employee_nos]}}


def search_body(search_id: str, position: int, max_results: int) -> dict[str, Any]:
    return {"UserInfoSearchCond": {"searchID": search_id, "searchResultPosition": position,
                                   "maxResults": max_results}}


def parse_user(obj: Any) -> TerminalUser:
    if not isinstance(obj, dict):
        raise ProtocolError(f"UserInfo is {type(obj).__name__}, not an object")
    employee_no = str_field(obj, "employeeNo", 64)
    if not employee_no:
        raise ProtocolError("UserInfo without employeeNo")
    valid = obj.get("Valid") if isinstance(obj.get("Valid"), dict) else {}
    return TerminalUser(employee_no, str_field(obj, "name", 128), str_field(valid, "endTime", 32) or VALID_FOREVER,
                        str_field(valid, "beginTime", 32) or VALID_FROM, str_field(obj, "userType", 32) or "normal")


def parse_setup(obj: Any) -> TerminalUser:
    """The terminal's side of SetUp / Record / Modify."""
    if not isinstance(obj, dict) or "UserInfo" not in obj:
        raise ProtocolError("body without UserInfo")
    return parse_user(obj["UserInfo"])


def parse_delete(obj: Any) -> list[str] | None:
    """The employee numbers to delete; None means all (mode ``all``)."""
    detail = obj.get("UserInfoDetail") if isinstance(obj, dict) else None
    if not isinstance(detail, dict):
        raise ProtocolError("body without UserInfoDetail")
    if detail.get("mode") == "all":
        return None
    items = detail.get("EmployeeNoList")
    if not isinstance(items, list):
        raise ProtocolError("UserInfoDetail without EmployeeNoList")
    return [str_field(i, "employeeNo", 64) for i in items if isinstance(i, dict) and i.get("employeeNo")]


@dataclass(frozen=True)
class UserPage:
    status: str
    total: int
    users: list[TerminalUser]

    @property
    def more(self) -> bool:
        return self.status == "MORE"


def parse_search_response(obj: Any) -> UserPage:
    body = obj.get("UserInfoSearch") if isinstance(obj, dict) else None
    if not isinstance(body, dict):
        raise ProtocolError("user search answer without UserInfoSearch")
    status = str_field(body, "responseStatusStrg", 16)
    if status not in ("OK", "MORE", "NO MATCH"):
        raise ProtocolError(f"responseStatusStrg {status[:16]!r} is not OK, MORE or NO MATCH")
    items = body.get("UserInfo") or []
    if not isinstance(items, list):
        raise ProtocolError("UserInfo is not a list")
    return UserPage(status, int_field(body, "totalMatches") or 0, [parse_user(u) for u in items])


def search_response(search_id: str, status: str, total: int, users: list[TerminalUser]) -> dict[str, Any]:
    body: dict[str, Any] = {"searchID": search_id, "responseStatusStrg": status, "numOfMatches": len(users),
                            "totalMatches": total}
    if users:
        body["UserInfo"] = [setup_body(u)["UserInfo"] for u in users]
    return {"UserInfoSearch": body}


def face_upload(employee_no: str, jpeg: bytes) -> tuple[bytes, str]:
    """(body, Content-Type) of a face upload. Raises ValueError for a non-JPEG or > 200 KB photo."""
    if jpeg[:2] != b"\xff\xd8":
        raise ValueError("face photo is not a JPEG")
    if len(jpeg) > MAX_FACE_BYTES:
        raise ValueError(f"face photo of {len(jpeg)} bytes is over the terminal's {MAX_FACE_BYTES}-byte limit")
    record = json.dumps({**FACE_LIBRARY, "FPID": employee_no}).encode()
    return multipart.build([multipart.Part("FaceDataRecord", "application/json", record),
                            multipart.Part("img", "image/jpeg", jpeg, "face.jpg")])


def parse_face_upload(body: bytes, content_type: str) -> tuple[dict[str, Any], bytes]:
    """The terminal's side: (the FaceDataRecord JSON, the JPEG)."""
    parts = multipart.parse(body, content_type)
    record = next((p for p in parts if p.content_type == "application/json" or p.name == "FaceDataRecord"), None)
    image = next((p for p in parts if p is not record and p.data[:2] == b"\xff\xd8"), None)
    if record is None or image is None:
        raise ProtocolError("face upload needs a FaceDataRecord JSON part and a JPEG part")
    doc = parse_json(record.data, "FaceDataRecord")
    if not isinstance(doc, dict) or not str_field(doc, "FPID", 64):
        raise ProtocolError("FaceDataRecord without FPID")
    return doc, image.data
