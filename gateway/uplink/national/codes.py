"""Result codes of the national OpenAPI envelope and what the delivery engine should do on each.

Codes from reference/protocols.md §5 (sources: ibisTime/xn-gchf, Fujian and Jinhua clients):
0 ok, -1 bad parameters, -2 signature failed, -3 no permission for the method, -4 IP not allowed,
-5 rate limited.
"""
from __future__ import annotations

from enum import Enum, IntEnum


class ResultCode(IntEnum):
    OK = 0
    BAD_PARAMETERS = -1
    SIGNATURE_FAILED = -2
    NO_PERMISSION = -3
    IP_NOT_ALLOWED = -4
    RATE_LIMITED = -5

    @classmethod
    def lookup(cls, code: int) -> "ResultCode | None":
        """The known code, or None for one the reference does not list."""
        try:
            return cls(code)
        except ValueError:
            return None


# Platform-style messages, used by the reference receiver and for logs.
DEFAULT_MESSAGES = {
    ResultCode.OK: "成功",
    ResultCode.BAD_PARAMETERS: "请求参数错误",
    ResultCode.SIGNATURE_FAILED: "签名校验错误",
    ResultCode.NO_PERMISSION: "无API访问权限",
    ResultCode.IP_NOT_ALLOWED: "IP不在白名单内",
    ResultCode.RATE_LIMITED: "请求过于频繁",
}


class Fault(Enum):
    """What kind of trouble a code means for the batch that got it."""

    NONE = "none"          # accepted
    CONTENT = "content"    # the batch's data is wrong: find the bad record, dead-letter it
    CONFIG = "config"      # our credentials/clock/IP are wrong: stop sending, raise an alarm
    TRANSIENT = "transient"  # try again later, with backoff


def classify(code: int) -> Fault:
    known = ResultCode.lookup(code)
    if known is ResultCode.OK:
        return Fault.NONE
    if known is ResultCode.BAD_PARAMETERS:
        return Fault.CONTENT
    if known in (ResultCode.SIGNATURE_FAILED, ResultCode.NO_PERMISSION, ResultCode.IP_NOT_ALLOWED):
        return Fault.CONFIG
    # -5 and every code the reference does not list: retry with backoff. A record is never
    # dead-lettered on a code we do not understand (a resend of an identical record is harmless:
    # the platform keys records by ID number, time and direction).
    return Fault.TRANSIENT


def is_retryable(code: int) -> bool:
    """Sending the same batch later may succeed without anyone changing anything."""
    return classify(code) is Fault.TRANSIENT


def is_config_fault(code: int) -> bool:
    """Credentials, signing, clock or IP allow-list are wrong: every batch will fail alike."""
    return classify(code) is Fault.CONFIG


def is_content_fault(code: int) -> bool:
    """The batch itself is wrong (the message names the field, e.g. ``[date]不能大于当天!``)."""
    return classify(code) is Fault.CONTENT
