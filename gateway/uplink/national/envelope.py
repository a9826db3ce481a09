"""Parsing what the platform answers: the JSON envelope and the asynchronous result of a write.

Envelope: ``{"code": 0, "message": "…", "data": {…}}`` (reference/protocols.md §5). Anything else —
HTML from a proxy, a truncated body, a JSON array — is a GarbageResponse: the request may have been
processed, so the batch must be reconciled, not resent as new.

``AsyncHandleResult.Query`` answers ``data.status`` "0" pending, "10" failed, "20" succeeded, and for a
failed batch ``data.result``. The reference is vague on the shape of ``result`` (xn-gchf keeps it as
one string). ASSUMPTION, documented for the delivery engine: ``result`` is either
- a list of ``{"index": i, "idCardNumber": "<AES>", "message": "…"}`` items (either key may be
  missing; ``index`` is the 0-based position in the batch's ``dataList``), also when sent as a
  JSON-encoded string — records not listed were accepted; or
- a plain string: the reason applies to the whole batch.
The reference receiver (sitegate.receiver) emits the list form with both keys.
"""
from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from sitegate.uplink.national.codes import ResultCode
from sitegate.uplink.national.crypto import decrypt_id
from sitegate.uplink.national.errors import DecryptError, GarbageResponse


_INT_TEXT = re.compile(r"^-?[0-9]{1,11}$")


@dataclass(frozen=True)
class Envelope:
    code: int
    message: str
    data: Any

    @property
    def ok(self) -> bool:
        return self.code == ResultCode.OK

    @property
    def kind(self) -> ResultCode | None:
        return ResultCode.lookup(self.code)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _int_code(value: Any) -> int | None:
    # Some gateways send the code as a string ("0", "-1"); a bool or float is not a code.
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INT_TEXT.match(value.strip()):
        return int(value.strip())
    return None


def parse_response(body: bytes) -> Envelope:
    """Decode one response body; GarbageResponse (with the first bytes kept) when it is not an
    envelope."""
    if not isinstance(body, (bytes, bytearray)):
        raise GarbageResponse(f"response body must be bytes, got {type(body).__name__}")
    body = bytes(body)
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise GarbageResponse(f"response is not UTF-8 (byte {exc.start})", body) from None
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise GarbageResponse(f"response is not JSON: {str(exc)[:80]}", body) from None
    if not isinstance(doc, dict):
        raise GarbageResponse(f"response is a JSON {type(doc).__name__}, not an object", body)
    if "code" not in doc:
        raise GarbageResponse("response has no 'code'", body)
    code = _int_code(doc["code"])
    if code is None:
        raise GarbageResponse(f"response 'code' is not an integer: {_text(doc['code'])[:40]}", body)
    return Envelope(code=code, message=_text(doc.get("message")), data=doc.get("data"))


def require_object(env: Envelope, what: str) -> dict:
    """``env.data`` as a dict, or GarbageResponse naming the call whose answer lacked it."""
    if not isinstance(env.data, dict):
        raise GarbageResponse(f"{what}: 'data' is {type(env.data).__name__}, expected an object")
    return env.data


def request_serial_code(env: Envelope) -> str:
    """The receipt of an asynchronous write (``data.requestSerialCode``)."""
    data = require_object(env, "write")
    code = data.get("requestSerialCode")
    if not isinstance(code, str) or not code.strip():
        raise GarbageResponse("write answer has no requestSerialCode")
    return code


class AsyncStatus(str, Enum):
    PENDING = "0"
    FAILED = "10"
    SUCCEEDED = "20"


@dataclass(frozen=True)
class RecordFailure:
    """One rejected record of a batch: at least one of index / ID number, and the reason."""

    index: int | None
    id_card_number: str | None  # decrypted when the secret allowed it, else as sent
    message: str


@dataclass(frozen=True)
class AsyncResult:
    status: AsyncStatus
    reason: str = ""  # the plain-string result (whole batch), or "" when per-record
    failures: tuple[RecordFailure, ...] = field(default_factory=tuple)

    @property
    def done(self) -> bool:
        return self.status is not AsyncStatus.PENDING

    def failures_for(self, id_card_numbers: Sequence[str]) -> tuple[dict[int, str], list[RecordFailure]]:
        """Map the failures onto the batch whose plain ID numbers, in ``dataList`` order, are given.

        Returns ``({index: reason}, unmatched)``. A plain-string result, or a failed batch without
        any per-record item, fails every record. ``unmatched`` holds items that name no record of
        the batch (index out of range, unknown ID number): the engine must not guess which record
        they mean.
        """
        if self.status is not AsyncStatus.FAILED:
            return {}, []
        if not self.failures:
            reason = self.reason or "batch failed without a reason"
            return {i: reason for i in range(len(id_card_numbers))}, []
        by_index: dict[int, str] = {}
        unmatched: list[RecordFailure] = []
        for f in self.failures:
            if f.index is not None and 0 <= f.index < len(id_card_numbers):
                by_index[f.index] = f.message
            elif f.index is None and f.id_card_number and f.id_card_number in id_card_numbers:
                for i, number in enumerate(id_card_numbers):
                    if number == f.id_card_number:
                        by_index[i] = f.message
            elif f.index is None and not f.id_card_number:
                by_index.update({i: f.message for i in range(len(id_card_numbers))})
            else:
                unmatched.append(f)
        return by_index, unmatched


def _failure(item: Any, appsecret: str | None) -> RecordFailure:
    if not isinstance(item, dict):
        return RecordFailure(None, None, _text(item))
    raw_index = item.get("index")
    index = _int_code(raw_index) if raw_index is not None else None
    number = item.get("idCardNumber")
    if not isinstance(number, str) or not number:
        number = None
    elif appsecret:
        try:
            number = decrypt_id(number, appsecret)
        except DecryptError:
            pass  # some platforms may echo it in plain text; keep it as sent
    message = _text(item.get("message", item.get("reason", item.get("msg", ""))))
    return RecordFailure(index, number, message)


def parse_async_result(data: Any, appsecret: str | None = None) -> AsyncResult:
    """``AsyncHandleResult.Query``'s ``data``; ID numbers in failures are decrypted with
    ``appsecret`` when given. GarbageResponse on a missing or unknown status."""
    if not isinstance(data, dict):
        raise GarbageResponse(f"async result 'data' is {type(data).__name__}, expected an object")
    raw_status = data.get("status")
    code = _int_code(raw_status)  # "10" or 10; not True, not 10.0
    try:
        status = AsyncStatus(str(code))
    except ValueError:
        raise GarbageResponse(f"async result has unknown status {_text(raw_status)[:20]!r}") from None
    result = data.get("result")
    if isinstance(result, str) and result.lstrip().startswith(("[", "{")):
        try:
            result = json.loads(result)  # a list sent as a JSON string (fastjson toString)
        except (ValueError, RecursionError):
            pass
    if result is None or result == "":
        return AsyncResult(status)
    if isinstance(result, dict):
        result = [result]
    if isinstance(result, list):
        return AsyncResult(status, "", tuple(_failure(item, appsecret) for item in result))
    return AsyncResult(status, _text(result))
