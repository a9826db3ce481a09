"""The phone clock-in request: parse, check and verify it, or reject it with a reason code.

Wire format (HTTP body or MQTT payload): one UTF-8 JSON object of at most 4096 bytes with exactly
these members::

    phone_id    string, 1-64 of [A-Za-z0-9._:-]         the phone, as registered (sitegate phones add)
    lng, lat    numbers                                  the fix, in the system named by crs
    crs         "wgs84" | "gcj02" | "bd09"               raw GPS / Android fused is wgs84; Amap gcj02
    accuracy_m  number >= 0, or null when unknown        Android getAccuracy(), iOS horizontalAccuracy
    fix_time    integer, epoch milliseconds (UTC)        Android Location.getTime(); when the FIX was made
    provider    string, 1-32 of [A-Za-z0-9._-]           gps | network | fused | ...
    is_mock     true | false                             Android Location.isMock(), iOS isSimulatedBySoftware
    nonce       string, 16-64 of [A-Za-z0-9_-]           fresh random per request (e.g. 16 random bytes, hex)
    sig         64 lowercase hex characters              HMAC-SHA256 over the canonical string, phone key

Canonical string (what ``sig`` signs): the object WITHOUT ``sig``, members sorted by key, written
with no whitespace as ``{"key":value,...}`` in UTF-8, where strings are their value in double
quotes (the allowed characters never need escaping), booleans and null are ``true``/``false``/
``null``, and every number is written exactly as it appears in the request body. So the phone
signs the very digits it sends, and no language's float formatting has to match ours. Example::

    {"accuracy_m":8.5,"crs":"wgs84","fix_time":1718000000000,"is_mock":false,"lat":31.1774276,
     "lng":121.5272106,"nonce":"9f1c2a7b4d3e5f60","phone_id":"P-0001","provider":"gps"}

(one line). The key is the phone's 32-byte key (see :mod:`sitegate.geofence.phonekeys`).

Checks, in order, each with its reason code (``ClockInRejected.reason``): ``too_large`` (> 4096
bytes), ``bad_json`` (not UTF-8, not JSON, duplicate member, not an object), ``schema`` (missing,
extra or wrong-typed member, named), ``unknown_phone``, ``bad_signature`` (constant-time
compare), ``bad_coordinates`` (NaN, |lat| > 90, |lng| > 180), ``fix_time_window`` (older than the
nonce cache's window -- 10 min by default -- or more than its future allowance ahead),
``rate_limited`` (per-phone token bucket, when one is given), ``replayed`` (nonce already seen)
and ``replay_horizon`` (nonce cache full: too old to prove new). Semantic checks come after the
signature so that counters of them describe genuine phones, not noise. A request that passes is
a :class:`ClockIn`; whether the worker is on site is decided later (:mod:`.engine`) and a fix
that is stale (> 60 s) or inaccurate is recorded as UNCERTAIN there, not rejected here.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sitegate.errors import SitegateError
from sitegate.geofence.coords import SYSTEMS, convert
from sitegate.geofence.guards import NonceCache, NonceResult, RateLimiter

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 4096
REASONS = ("too_large", "bad_json", "schema", "unknown_phone", "bad_signature", "bad_coordinates",
           "fix_time_window", "rate_limited", "replayed", "replay_horizon")
# Rejections by reason since start: the daemon exports these (e.g. as a Prometheus counter).
REJECTIONS: Counter[str] = Counter()

_PHONE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_PROVIDER = re.compile(r"[A-Za-z0-9._-]{1,32}")
_NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")
_SIG = re.compile(r"[0-9a-f]{64}")
_MAX_EPOCH_MS = 2**53   # beyond what a JSON number keeps exactly


class ClockInRejected(SitegateError):
    """The request was refused; ``reason`` is one of :data:`REASONS`."""

    def __init__(self, reason: str, message: str):
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class ClockIn:
    """A verified clock-in request."""

    phone_id: str
    lng: float                  # as sent, in ``crs``
    lat: float
    crs: str
    accuracy_m: float | None
    fix_time_ms: int
    provider: str
    is_mock: bool
    nonce: str
    wgs_lng: float              # the fix in WGS-84 (what all geometry uses)
    wgs_lat: float
    received_at: float          # epoch seconds, the ``now`` it was verified at

    @property
    def fix_time(self) -> float:
        """Epoch seconds."""
        return self.fix_time_ms / 1000.0


class _Number:
    """A JSON number as its original text, so the canonical string repeats the sender's digits."""

    __slots__ = ("text", "is_int")

    def __init__(self, text: str, is_int: bool):
        self.text, self.is_int = text, is_int

    def __float__(self) -> float:
        return float(self.text)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate member {k!r}")
        out[k] = v
    return out


def _decode(raw: bytes) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ClockInRejected("bad_json", f"body is not UTF-8 (byte {exc.start})") from None
    try:
        obj = json.loads(text, object_pairs_hook=_no_duplicates,
                         parse_float=lambda s: _Number(s, False), parse_int=lambda s: _Number(s, True),
                         parse_constant=lambda s: _Number(s, False))
    except (ValueError, RecursionError) as exc:
        raise ClockInRejected("bad_json", f"body is not valid JSON: {str(exc)[:120]}") from None
    if not isinstance(obj, dict):
        raise ClockInRejected("bad_json", f"body must be a JSON object, got {_json_type(obj)}")
    return obj


def _json_type(v: Any) -> str:
    if isinstance(v, _Number):
        return "number"
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(type(v), "?")


def _schema(obj: dict[str, Any]) -> None:
    missing = [k for k in _FIELDS if k not in obj]
    if missing:
        raise ClockInRejected("schema", f"missing field(s): {', '.join(missing)}")
    extra = sorted(k for k in obj if k not in _FIELDS)
    if extra:
        raise ClockInRejected("schema", f"unexpected field(s): {', '.join(repr(k)[:40] for k in extra[:5])}")
    for name, check in _FIELDS.items():
        problem = check(obj[name])
        if problem:
            raise ClockInRejected("schema", f"field {name!r} {problem}, got {_json_type(obj[name])}"
                                  + (f" {obj[name]!r}"[:60] if isinstance(obj[name], (str, bool)) else ""))


def _string(pattern: re.Pattern[str], what: str) -> Callable[[Any], str | None]:
    return lambda v: None if isinstance(v, str) and pattern.fullmatch(v) else f"must be a string of {what}"


def _number(v: Any) -> str | None:
    return None if isinstance(v, _Number) else "must be a number"


def _accuracy(v: Any) -> str | None:
    if v is None:
        return None
    if not isinstance(v, _Number):
        return "must be a number of metres or null"
    a = float(v)
    return None if math.isfinite(a) and a >= 0 else "must be a finite number >= 0 (metres)"


def _epoch_ms(v: Any) -> str | None:
    if isinstance(v, _Number) and v.is_int and len(v.text) <= 16 and 0 < int(v.text) < _MAX_EPOCH_MS:
        return None
    return "must be a positive integer: epoch milliseconds"


_FIELDS: dict[str, Callable[[Any], str | None]] = {
    "phone_id": _string(_PHONE_ID, "1-64 of A-Z a-z 0-9 . _ : -"),
    "lng": _number,
    "lat": _number,
    "crs": lambda v: None if v in SYSTEMS else f"must be one of {', '.join(SYSTEMS)}",
    "accuracy_m": _accuracy,
    "fix_time": _epoch_ms,
    "provider": _string(_PROVIDER, "1-32 of A-Z a-z 0-9 . _ -"),
    "is_mock": lambda v: None if isinstance(v, bool) else "must be true or false",
    "nonce": _string(_NONCE, "16-64 of A-Z a-z 0-9 _ -"),
    "sig": _string(_SIG, "64 lowercase hex digits (HMAC-SHA256)"),
}


def _canonical_value(v: Any) -> str:
    if isinstance(v, _Number):
        return v.text
    return json.dumps(v, ensure_ascii=False, allow_nan=True)


def canonical_bytes(payload: dict[str, Any]) -> bytes:
    """The string ``sig`` signs, from a payload of Python values (``sig`` itself left out).
    Numbers are written as ``json.dumps`` writes them, i.e. as they will appear in the body."""
    parts = (f"{json.dumps(k)}:{_canonical_value(payload[k])}" for k in sorted(payload) if k != "sig")
    return ("{" + ",".join(parts) + "}").encode("utf-8")


def sign_request(payload: dict[str, Any], key: bytes) -> dict[str, Any]:
    """A copy of ``payload`` with ``sig`` set. Send it as ``json.dumps(result)``."""
    unsigned = {k: v for k, v in payload.items() if k != "sig"}
    return {**unsigned, "sig": hmac.new(key, canonical_bytes(unsigned), hashlib.sha256).hexdigest()}


def _reject(counters: Counter[str], reason: str, message: str) -> ClockInRejected:
    counters[reason] += 1
    log.debug("clock-in rejected: %s: %s", reason, message)
    return ClockInRejected(reason, message)


def parse_and_verify(raw: bytes, lookup_key: Callable[[str], bytes | None], nonces: NonceCache, now: float, *,
                     rate_limiter: RateLimiter | None = None, counters: Counter[str] | None = None) -> ClockIn:
    """Parse and verify one clock-in request body, or raise :class:`ClockInRejected`.

    ``lookup_key(phone_id)`` returns the phone's key or None if unknown/revoked; ``now`` is epoch
    seconds (the arrival time); every rejection is counted in ``counters`` (default
    :data:`REJECTIONS`).
    """
    counters = REJECTIONS if counters is None else counters
    try:
        return _verify(raw, lookup_key, nonces, now, rate_limiter)
    except ClockInRejected as exc:
        raise _reject(counters, exc.reason, exc.message) from None


def _verify(raw: bytes, lookup_key: Callable[[str], bytes | None], nonces: NonceCache, now: float,
            rate_limiter: RateLimiter | None) -> ClockIn:
    if not isinstance(raw, (bytes, bytearray, memoryview)):
        raise ClockInRejected("bad_json", f"body must be bytes, got {type(raw).__name__}")
    if len(raw) > MAX_BODY_BYTES:
        raise ClockInRejected("too_large", f"body is {len(raw)} bytes, limit {MAX_BODY_BYTES}")
    obj = _decode(bytes(raw))
    _schema(obj)
    phone_id: str = obj["phone_id"]
    key = lookup_key(phone_id)
    if not key:
        raise ClockInRejected("unknown_phone", f"phone {phone_id!r} is not registered (or was revoked)")
    expected = hmac.new(key, canonical_bytes(obj), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, obj["sig"]):
        raise ClockInRejected("bad_signature", f"signature does not match phone {phone_id!r}'s key")

    lng, lat = float(obj["lng"]), float(obj["lat"])
    if not (math.isfinite(lng) and math.isfinite(lat) and -180 <= lng <= 180 and -90 <= lat <= 90):
        raise ClockInRejected("bad_coordinates", f"lng={obj['lng'].text} lat={obj['lat'].text} "
                                                 "(need finite lng -180..180, lat -90..90)")
    fix_ms = int(obj["fix_time"].text)
    fix_s = fix_ms / 1000.0
    if not nonces.in_window(fix_s, now):
        raise ClockInRejected("fix_time_window",
                              f"fix_time is {now - fix_s:+.0f} s from now; accepted: up to {nonces.window_s:g} s "
                              f"old and {nonces.future_s:g} s ahead")
    if rate_limiter is not None and not rate_limiter.allow(phone_id, now):
        raise ClockInRejected("rate_limited", f"phone {phone_id!r} sends faster than allowed")
    seen = nonces.add(phone_id, obj["nonce"], fix_s, now)
    if seen is NonceResult.REPLAYED:
        raise ClockInRejected("replayed", f"nonce already used by phone {phone_id!r}")
    if seen is NonceResult.TOO_OLD:
        raise ClockInRejected("replay_horizon", "request too old to prove it is not a replay (nonce cache full)")

    accuracy = None if obj["accuracy_m"] is None else float(obj["accuracy_m"])
    wgs_lng, wgs_lat = convert(lng, lat, obj["crs"], "wgs84")
    return ClockIn(phone_id=phone_id, lng=lng, lat=lat, crs=obj["crs"], accuracy_m=accuracy, fix_time_ms=fix_ms,
                   provider=obj["provider"], is_mock=obj["is_mock"], nonce=obj["nonce"],
                   wgs_lng=wgs_lng, wgs_lat=wgs_lat, received_at=now)
