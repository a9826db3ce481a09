"""Wire constants of Hikvision access-control events (major 5 = event).

Source: ../shared/reference/protocols.md §4 (Hikvision ``EventType.kt``, ISAPI guide excerpts).
Sub-event types outside the table (door opened, tamper, …) are not passages: the driver counts
and skips them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MAJOR_EVENT = 5

Method = Literal["face", "fingerprint", "card", "idcard", "other"]


@dataclass(frozen=True)
class SubEvent:
    granted: bool
    text: str
    method: Method | None       # how the person was checked, when the sub-event says so


SUB_EVENTS: dict[int, SubEvent] = {
    1: SubEvent(True, "card passed", "card"),
    6: SubEvent(False, "no permission", None),
    7: SubEvent(False, "invalid time period", None),
    8: SubEvent(False, "card expired", "card"),
    9: SubEvent(False, "no such card", "card"),
    38: SubEvent(True, "fingerprint passed", "fingerprint"),
    39: SubEvent(False, "fingerprint failed", "fingerprint"),
    60: SubEvent(True, "face and card passed", "face"),
    75: SubEvent(True, "face passed", "face"),
    76: SubEvent(False, "face failed", "face"),
    80: SubEvent(False, "face recognition failed", "face"),
    105: SubEvent(True, "person and ID card comparison passed", "idcard"),
    112: SubEvent(False, "person and ID card comparison failed", "idcard"),
    152: SubEvent(False, "employee number does not exist", None),
}

# currentVerifyMode values (cardOrFace, faceAndFp, …): the first factor named wins.
_MODE_WORDS: tuple[tuple[str, Method], ...] = (("face", "face"), ("fp", "fingerprint"), ("finger", "fingerprint"),
                                              ("card", "card"), ("id", "idcard"))

ATTENDANCE_DIRECTIONS: dict[str, Literal["in", "out"]] = {
    "checkin": "in",
    "checkout": "out",
    "breakout": "out",
    "breakin": "in",
}


def verify_mode_method(mode: str) -> Method:
    low = mode.lower()
    hits = [(low.find(word), method) for word, method in _MODE_WORDS if word in low]
    return min(hits)[1] if hits else "other"


def attendance_direction(status: str) -> Literal["in", "out"] | None:
    return ATTENDANCE_DIRECTIONS.get(status.strip().lower())
