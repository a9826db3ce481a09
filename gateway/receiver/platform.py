"""The platform side of the national OpenAPI, without HTTP: form in, envelope out.

Order of checks (each answer's code as the reference lists them, reference/protocols.md §5):
1. required form fields, format "json"                          -> -1 ``[field]…``
2. appid unknown, signature wrong, timestamp outside the window -> -2 (a site clock that is off by
   more than the window is a configuration fault of the gateway, not bad data: -2, not -1, so an
   engine stops and alarms instead of dead-lettering good records)
3. method unknown / version not served                          -> -3 / -1
4. ``data`` not a JSON object, or failing the method's checks  -> -1
"""
from __future__ import annotations

import json
import logging
import secrets
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs

from sitegate.idcard import mask
from sitegate.receiver.roster import RosterWorker
from sitegate.receiver.store import REJECTED, ReceiverStore, Record
from sitegate.receiver.validation import EMPTY, BadParameter, required_int, required_text, validate_attendance
from sitegate.uplink.national.beijing import (
    beijing_time,
    beijing_timestamp,
    parse_beijing_time,
    parse_beijing_timestamp,
)
from sitegate.uplink.national.codes import DEFAULT_MESSAGES, ResultCode
from sitegate.uplink.national.crypto import SIGNED_FIELDS, decrypt_id, encrypt_id, sign_matches
from sitegate.uplink.national.errors import DecryptError

log = logging.getLogger(__name__)

NOT_IN_PROJECT = "[idCardNumber]人员不在项目中"
MAX_PAGE_SIZE = 100
# method -> versions served. CheckSign.Query is 1.1 in the reference; the others 1.0.
METHODS = {
    "WorkerAttendance.Add": ("1.0",),
    "AsyncHandleResult.Query": ("1.0",),
    "ProjectWorker.Query": ("1.0",),
    "CheckSign.Query": ("1.1",),
    "WorkerAttendance.Query": ("1.0",),
}
# WorkerAttendance.Query: at most this many days per query (sitegate's assumption, docs/platform.md)
MAX_QUERY_DAYS = 31


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Rules:
    """How the reference platform judges content; replaceable at run time (``Receiver.set_rules``)."""

    reject_id_cards: frozenset[str] = frozenset()  # records of these ID numbers: 人员不在项目中
    reject_not_on_roster: bool = False             # the same for every ID number not on the roster
    async_delay_s: float = 0.0                     # AsyncHandleResult says "0" (pending) this long
    timestamp_window_s: float = 600.0              # |timestamp - now| allowed, Beijing time
    denied_methods: frozenset[str] = frozenset()   # answered -3 (the appid lacks the permission)
    failure_text: bool = False                     # a failed batch's result is one string, no per-record list


class Refusal(Exception):
    def __init__(self, code: ResultCode, message: str = ""):
        super().__init__(message or DEFAULT_MESSAGES[code])
        self.code = code


def envelope(code: int, message: str = "", data: Any = None) -> dict[str, Any]:
    return {"code": int(code), "message": message or DEFAULT_MESSAGES.get(code, ""), "data": data}


@dataclass
class ReferencePlatform:
    appid: str
    appsecret: str
    store: ReceiverStore
    roster: list[RosterWorker] = field(default_factory=list)
    rules: Rules = field(default_factory=Rules)
    clock: Callable[[], datetime] = utc_now

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.codes: Counter[str] = Counter()
        self._roster_ids = frozenset(w.id_card_number for w in self.roster)

    def set_rules(self, **changes: Any) -> None:
        if "reject_id_cards" in changes:
            changes["reject_id_cards"] = frozenset(n.strip().upper() for n in changes["reject_id_cards"])
        if "denied_methods" in changes:
            changes["denied_methods"] = frozenset(changes["denied_methods"])
        self.rules = replace(self.rules, **changes)

    # -- entry points ----------------------------------------------------------------------
    def handle_body(self, body: bytes, content_type: str = "") -> dict[str, Any]:
        try:
            form = self._parse_form(body, content_type)
            answer = self.handle_form(form)
        except BadParameter as exc:
            answer = envelope(ResultCode.BAD_PARAMETERS, str(exc))
            self._count(answer)
        return answer

    def handle_form(self, form: dict[str, str]) -> dict[str, Any]:
        try:
            answer = envelope(ResultCode.OK, data=self._dispatch(form))
        except BadParameter as exc:
            answer = envelope(ResultCode.BAD_PARAMETERS, str(exc))
        except Refusal as exc:
            answer = envelope(exc.code, str(exc))
        self._count(answer)
        return answer

    def _count(self, answer: dict[str, Any]) -> None:
        with self._lock:
            self.codes[str(answer["code"])] += 1

    # -- form ------------------------------------------------------------------------------
    @staticmethod
    def _parse_form(body: bytes, content_type: str) -> dict[str, str]:
        if content_type and not content_type.lower().startswith("application/x-www-form-urlencoded"):
            raise BadParameter("Content-Type", "须为application/x-www-form-urlencoded!")
        try:
            text = body.decode("utf-8")
            fields = parse_qs(text, keep_blank_values=True, encoding="utf-8", errors="strict",
                              max_num_fields=64)
        except (UnicodeDecodeError, ValueError):
            raise BadParameter("form", "不是有效的UTF-8表单!") from None
        for key, values in fields.items():
            if len(values) != 1:
                raise BadParameter(key, "重复!")
        return {k: v[0] for k, v in fields.items()}

    def _dispatch(self, form: dict[str, str]) -> Any:
        for key in (*SIGNED_FIELDS, "sign"):
            if not form.get(key):
                raise BadParameter(key, EMPTY)
        if form["format"] != "json":
            raise BadParameter("format")
        if form["appid"] != self.appid:
            raise Refusal(ResultCode.SIGNATURE_FAILED, "[appid]不存在或已停用")
        if not sign_matches(form, self.appsecret):
            raise Refusal(ResultCode.SIGNATURE_FAILED)
        try:
            sent = parse_beijing_timestamp(form["timestamp"])
        except ValueError:
            raise Refusal(ResultCode.SIGNATURE_FAILED, "[timestamp]格式不正确!") from None
        skew = abs((self.clock() - sent).total_seconds())
        if skew > self.rules.timestamp_window_s:
            raise Refusal(ResultCode.SIGNATURE_FAILED,
                          f"[timestamp]与服务器时间相差{int(skew)}秒，超出允许范围!")
        method = form["method"]
        if method not in METHODS:
            raise Refusal(ResultCode.NO_PERMISSION, f"无权限调用接口{method[:60]}")
        if method in self.rules.denied_methods:
            raise Refusal(ResultCode.NO_PERMISSION, f"无权限调用接口{method}")
        if form["version"] not in METHODS[method]:
            raise BadParameter("version")
        try:
            data = json.loads(form["data"])
        except (ValueError, RecursionError):
            raise BadParameter("data", "不是有效的JSON!") from None
        if not isinstance(data, dict):
            raise BadParameter("data")
        handler = {
            "WorkerAttendance.Add": self._attendance_add,
            "AsyncHandleResult.Query": self._async_result,
            "ProjectWorker.Query": self._project_workers,
            "CheckSign.Query": lambda _data: {"result": True},
            "WorkerAttendance.Query": self._attendance_query,
        }[method]
        return handler(data)

    # -- methods ---------------------------------------------------------------------------
    def _attendance_add(self, data: dict) -> dict[str, str]:
        now = self.clock()
        batch = validate_attendance(data, self.appsecret, now)
        rules = self.rules
        rejections = {}
        for item in batch.items:
            if item.id_card_number in rules.reject_id_cards or (
                    rules.reject_not_on_roster and item.id_card_number not in self._roster_ids):
                rejections[item.index] = NOT_IN_PROJECT
                log.info("record of %s rejected: not in project", mask(item.id_card_number))
        serial = f"attendance-add-{beijing_timestamp(now)}-{secrets.token_hex(6)}"
        outcomes = self.store.add_batch(serial, batch.project_code, batch.team_sys_no, now.timestamp(),
                                        batch.items, rejections)
        counts = Counter(outcomes)
        log.info("batch %s: %d items, %s", serial, len(outcomes), dict(counts))
        return {"requestSerialCode": serial}

    def _async_result(self, data: dict) -> dict[str, Any]:
        serial = required_text(data, "requestSerialCode")
        batch = self.store.batch(serial)
        if batch is None:
            raise BadParameter("requestSerialCode", "不存在!")
        if self.clock().timestamp() - batch.created_at < self.rules.async_delay_s:
            return {"requestSerialCode": serial, "status": "0", "result": ""}
        failures = [{"index": i.index, "idCardNumber": i.cipher, "message": i.message}
                    for i in batch.items if i.outcome == REJECTED]
        if failures and self.rules.failure_text:
            # like platforms whose result is one message for the whole batch (xn-gchf keeps a string)
            reasons = sorted({f["message"] for f in failures})
            return {"requestSerialCode": serial, "status": "10", "result": "；".join(reasons)}
        if failures:
            return {"requestSerialCode": serial, "status": "10", "result": failures}
        return {"requestSerialCode": serial, "status": "20", "result": ""}

    def _project_workers(self, data: dict) -> dict[str, Any]:
        project_code = required_text(data, "projectCode")
        page_index = required_int(data, "pageIndex", 0)
        page_size = required_int(data, "pageSize", 1, MAX_PAGE_SIZE)
        workers: Iterable[RosterWorker] = self.roster
        if data.get("teamSysNo") is not None:
            team = required_int(data, "teamSysNo", 1)
            workers = [w for w in workers if w.team_sys_no == team]
        if data.get("idCardNumber"):
            try:
                wanted = decrypt_id(required_text(data, "idCardNumber"), self.appsecret)
            except DecryptError:
                raise BadParameter("idCardNumber", "解密失败!") from None
            workers = [w for w in workers if w.id_card_number == wanted]
        workers = list(workers)
        page = workers[page_index * page_size:(page_index + 1) * page_size]
        return {
            "pageIndex": page_index,
            "pageSize": page_size,
            "totalCount": len(workers),
            "rows": [w.platform_row(project_code, self.appsecret) for w in page],
        }

    def _attendance_query(self, data: dict) -> dict[str, Any]:
        """``WorkerAttendance.Query`` as sitegate assumes it (docs/platform.md; the fields public
        clients send are projectCode, pageIndex, pageSize, date ``yyyy-MM-dd``, teamSysNo,
        idCardType, idCardNumber (AES); ``startDate``/``endDate`` are our unconfirmed extension).
        Lists ACCEPTED records only: a rejected record is not attendance."""
        project_code = required_text(data, "projectCode")
        page_index = required_int(data, "pageIndex", 0)
        page_size = required_int(data, "pageSize", 1, MAX_PAGE_SIZE)
        start, end = _query_range(data)
        team = None
        if data.get("teamSysNo") not in (None, ""):
            team = required_int(data, "teamSysNo", 1)
        number = None
        if data.get("idCardNumber"):
            try:
                number = decrypt_id(required_text(data, "idCardNumber"), self.appsecret)
            except DecryptError:
                raise BadParameter("idCardNumber", "解密失败!") from None
        found = self.store.attendance(project_code, start, end, team_sys_no=team, id_card_number=number)
        page = found[page_index * page_size:(page_index + 1) * page_size]
        return {
            "pageIndex": page_index,
            "pageSize": page_size,
            "totalCount": len(found),
            "rows": [_attendance_row(r, self.appsecret) for r in page],
        }

    # -- reporting -------------------------------------------------------------------------
    def batch_statuses(self) -> dict[str, int]:
        """Batches by the status AsyncHandleResult.Query would report now ("0", "10", "20")."""
        now = self.clock().timestamp()
        out = Counter({"0": 0, "10": 0, "20": 0})
        for _serial, created_at, rejected in self.store.batches():
            if now - created_at < self.rules.async_delay_s:
                out["0"] += 1
            else:
                out["10" if rejected else "20"] += 1
        return dict(out)


def _query_day(text: Any, field_name: str) -> datetime:
    if not isinstance(text, str) or len(text) != 10:
        raise BadParameter(field_name, "格式不正确，应为yyyy-MM-dd!")
    try:
        return parse_beijing_time(text + " 00:00:00")
    except ValueError:
        raise BadParameter(field_name, "格式不正确，应为yyyy-MM-dd!") from None


def _query_bound(data: dict, key: str, end_of_day: bool) -> datetime:
    text = required_text(data, key)
    if len(text) == 10:
        day = _query_day(text, key)
        return day + timedelta(hours=23, minutes=59, seconds=59) if end_of_day else day
    try:
        return parse_beijing_time(text)
    except ValueError:
        raise BadParameter(key, "格式不正确，应为yyyy-MM-dd HH:mm:ss!") from None


def _query_range(data: dict) -> tuple[str, str]:
    """(start, end) as ``yyyy-MM-dd HH:mm:ss``: one ``date`` (a whole day), or ``startDate`` and
    ``endDate`` (a day or a time each, inclusive, at most MAX_QUERY_DAYS apart)."""
    if data.get("date") not in (None, ""):
        day = _query_day(data["date"], "date")
        start, end = day, day + timedelta(hours=23, minutes=59, seconds=59)
    elif data.get("startDate") not in (None, "") or data.get("endDate") not in (None, ""):
        start, end = _query_bound(data, "startDate", False), _query_bound(data, "endDate", True)
        if end < start:
            raise BadParameter("endDate", "不能早于startDate!")
        if end - start > timedelta(days=MAX_QUERY_DAYS):
            raise BadParameter("endDate", f"查询范围不能超过{MAX_QUERY_DAYS}天!")
    else:
        raise BadParameter("date", EMPTY)
    return beijing_time(start), beijing_time(end)


def _attendance_row(record: Record, appsecret: str) -> dict[str, Any]:
    row: dict[str, Any] = {
        "projectCode": record.project_code,
        "teamSysNo": record.team_sys_no,
        "idCardType": record.id_card_type,
        "idCardNumber": encrypt_id(record.id_card_number, appsecret),
        "date": record.date,
        "direction": record.direction,
        "attendType": record.attend_type,
        "channel": record.channel,
    }
    if record.lng is not None and record.lat is not None:
        row["lng"], row["lat"] = record.lng, record.lat
    return row

