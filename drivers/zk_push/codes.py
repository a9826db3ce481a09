"""Wire constants of ZKTeco PUSH: attendance status, verify modes, access event classes.

Source: ../shared/reference/protocols.md §3 (ZKTeco PushDemo, example-zkteco-push-protocol-
communication, @palmcode/zkteco-iclock-parser). Codes not in those tables map to a generic name
rather than failing: firmware adds modes (e.g. palm 25) without notice.
"""
from __future__ import annotations

from typing import Literal

# The handshake's ``language=`` value meaning Simplified Chinese. Such terminals send and expect
# names in GB2312 (we use its superset GB18030, which also covers rare characters in names).
LANGUAGE_CHINESE = "83"

# ATTLOG status column (the key the worker pressed, or the terminal's schedule).
STATUS_NAMES: dict[int, str] = {
    0: "check-in",
    1: "check-out",
    2: "break-out",
    3: "break-in",
    4: "overtime-in",
    5: "overtime-out",
    255: "undefined",
}

# ATTLOG verify column / rtlog ``verifytype``.
VERIFY_NAMES: dict[int, str] = {
    0: "any",
    1: "fingerprint",
    2: "pin",
    3: "password",
    4: "card",
    15: "face",
    16: "face-combo-16",
    17: "face-combo-17",
    18: "face-combo-18",
    19: "face-combo-19",
    20: "face-combo-20",
    25: "palm",
}

VerifyMethod = Literal["face", "fingerprint", "card", "other"]
Outcome = Literal["granted", "denied", "alarm"]


def status_name(code: int) -> str:
    return STATUS_NAMES.get(code, f"status-{code}")


def verify_name(code: int) -> str:
    return VERIFY_NAMES.get(code, f"verify-{code}")


def verify_method(code: int) -> VerifyMethod:
    """How the person proved who they are: face (15-20), fingerprint (1), card (4), else other."""
    if 15 <= code <= 20:
        return "face"
    if code == 1:
        return "fingerprint"
    if code == 4:
        return "card"
    return "other"


def status_direction(code: int) -> Literal["in", "out"] | None:
    """0 check-in is an entry, 1 check-out an exit; the others say nothing sure about the gate."""
    return {0: "in", 1: "out"}.get(code)


def rtlog_outcome(event: int) -> Outcome:
    """Security PUSH event classes: 0-19 and 200-253 granted, 20-99 denied, 100-199 alarm."""
    if 0 <= event <= 19 or 200 <= event <= 253:
        return "granted"
    if 20 <= event <= 99:
        return "denied"
    return "alarm"


def inout_direction(code: int) -> Literal["in", "out"] | None:
    """rtlog ``inoutstatus``: 0 in, 1 out (2 = none on some firmware)."""
    return {0: "in", 1: "out"}.get(code)
