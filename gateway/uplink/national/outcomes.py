"""What a failed call means for the engine: retry, reconcile, stop for configuration, or find the
bad record. One function per question, no I/O.

=======================================  ==========  ==============================================
failure                                  action      why
=======================================  ==========  ==============================================
connection refused, connect timeout,     RETRY       the request never left: hand the records back
TLS failure                                          (pending) and back off
timeout waiting, connection reset,       LOST        the platform may have stored it: reconcile
HTTP 5xx, garbage body                               before anything in it goes again
code -5 and codes we do not know         RETRY       refused unprocessed: back off, try again
code -2 / -3 / -4, HTTP 3xx / 4xx        CONFIG      every call fails alike: stop, alarm, keep all
code -1                                  CONTENT     the data is wrong: isolate the record (split),
                                                     dead-letter it with the platform's message
=======================================  ==========  ==============================================
Sources: reference/protocols.md §5 (codes), the client's errors (errors.py ``maybe_delivered``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from sitegate.uplink.national.codes import ResultCode
from sitegate.uplink.national.errors import GarbageResponse, PlatformError, TransportError

RETRY, LOST, CONFIG, CONTENT = "retry", "lost", "config", "content"

_FIELD = re.compile(r"^\s*\[([^\]]{1,40})\]")
# -1 naming one of these is about the call or the site, not a record: no record is to blame
_CALL_FIELDS = {"appid", "method", "version", "format", "timestamp", "nonce", "sign", "data", "Content-Type",
                "form", "projectCode"}
_TEAM_FIELDS = {"teamSysNo"}


@dataclass(frozen=True)
class Failure:
    action: str         # RETRY | LOST | CONFIG | CONTENT
    kind: str           # the metric label, one of sitegate.metrics.PLATFORM_ERROR_KINDS
    message: str
    code: int | None = None


def classify_failure(exc: Exception) -> Failure:
    """The engine's reading of one client error."""
    if isinstance(exc, PlatformError):
        code = exc.code
        if exc.config_fault:
            kind = {ResultCode.SIGNATURE_FAILED: "signature", ResultCode.NO_PERMISSION: "permission",
                    ResultCode.IP_NOT_ALLOWED: "ip"}.get(code, "permission")
            return Failure(CONFIG, kind, str(exc), code)
        if exc.content_fault:
            return Failure(CONTENT, "content", exc.message, code)
        # -5, and codes the reference does not list (their number is in the message and the log)
        kind = "rate_limited" if code == ResultCode.RATE_LIMITED else "transport"
        return Failure(RETRY, kind, str(exc), code)
    if isinstance(exc, GarbageResponse):
        return Failure(LOST, "garbage", str(exc))
    if isinstance(exc, TransportError):
        if exc.status is not None and not exc.retryable:   # 3xx/4xx: a wrong URL or a proxy in the way
            return Failure(CONFIG, "transport", str(exc))
        if not exc.maybe_delivered:
            return Failure(RETRY, "transport", str(exc))
        if exc.status is not None and exc.status >= 500:
            kind = "http5xx"
        elif "timed out" in str(exc):
            kind = "timeout"
        else:
            kind = "transport"
        return Failure(LOST, kind, str(exc))
    raise TypeError(f"not a client error: {exc!r}")


def minus_one_scope(message: str) -> str:
    """Who a -1 blames, from its ``[field]…`` message: "call" (our form or the site's project
    code: a configuration fault), "team" (every record of the batch shares it) or "record"."""
    match = _FIELD.match(message or "")
    field = match.group(1) if match else ""
    if field in _CALL_FIELDS:
        return "call"
    if field in _TEAM_FIELDS:
        return "team"
    return "record"


def config_advice(failure: Failure, method: str) -> str:
    """The alarm text for a configuration fault: the code and what to check."""
    code, what = failure.code, failure.message
    if code == ResultCode.SIGNATURE_FAILED:
        return (f"{method}: the platform refused the signature ({what}); check uplink.appid, the appsecret "
                "file and the system clock (NTP): the platform allows only minutes of difference")
    if code == ResultCode.NO_PERMISSION:
        return f"{method}: no permission for this appid ({what}); ask the platform to grant {method}"
    if code == ResultCode.IP_NOT_ALLOWED:
        return (f"{method}: this site's IP address is not on the appid's allow-list ({what}); "
                "ask the platform to add the site's public IP")
    if code == ResultCode.BAD_PARAMETERS:
        return (f"{method}: the platform refused the request itself ({what}); check site.project_code "
                "and uplink.appid")
    return f"{method}: {what}; check uplink.url (the platform's open.api address) and any proxy on the way"
