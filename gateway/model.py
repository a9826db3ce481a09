"""The records that flow down the one road: device -> Observation -> Decision -> AttendanceEvent.

``AttendanceEvent`` is the single record type the store keeps and the uplinks send. Its
``event_id`` (UUIDv7 made here, at the edge) is the idempotency key all the way to the platform.
``to_dict``/``from_dict`` give a JSON-safe form that round-trips exactly (property-tested).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any


class Direction(StrEnum):
    IN = "in"
    OUT = "out"


class Method(StrEnum):
    IDCARD = "idcard"            # resident ID card on a SAM reader
    CARD = "card"                # access / real-name card (Wiegand number)
    FACE = "face"
    FINGERPRINT = "fingerprint"
    GEOFENCE = "geofence"        # phone fix inside an electronic fence
    MANUAL = "manual"            # supplementary clock-in (补卡) entered by a clerk
    OTHER = "other"              # a terminal's PIN, password, palm… (the platform's 011 "other")


class Outcome(StrEnum):
    ADMITTED = "admitted"
    DENIED = "denied"


class DenyReason(StrEnum):
    UNKNOWN = "unknown"                      # not on the roster
    BLACKLISTED = "blacklisted"
    LEFT_PROJECT = "left_project"
    ID_CARD_EXPIRED = "id_card_expired"
    CONTRACT_EXPIRED = "contract_expired"
    ANTI_PASSBACK = "anti_passback"
    OUTSIDE_FENCE = "outside_fence"
    SPOOF_SUSPECTED = "spoof_suspected"
    DEVICE_DENIED = "device_denied"          # the device itself refused (its own list, its reason)


@dataclass(frozen=True)
class WorkerRef:
    """Who: as resolved against the roster (or as far as the device could tell)."""

    id_card_number: str = ""       # personal data: encrypted at rest, masked on display
    id_card_type: str = "01"       # platform code; "01" resident ID card
    name: str = ""                 # personal data
    team_sys_no: int | None = None
    team_name: str = ""


@dataclass(frozen=True)
class Source:
    """Where: which device, lane (the platform's `channel`) and driver produced it."""

    device_id: str
    lane: str = ""
    driver: str = ""


@dataclass(frozen=True)
class EventTime:
    """When, with everything needed to correct it later (see sitegate.clock)."""

    wall: datetime                  # aware; stored as ISO-8601 with offset
    mono_ns: int = 0
    boot_id: str = ""
    synced: bool = True
    device_time: datetime | None = None   # what the device's own clock said, if it said

    def __post_init__(self):
        if self.wall.tzinfo is None:
            raise ValueError("EventTime.wall must be timezone-aware")


@dataclass(frozen=True)
class Location:
    lng: float                      # WGS-84, always (converted at the edge)
    lat: float
    accuracy_m: float | None = None


@dataclass(frozen=True)
class GateDecision:
    outcome: Outcome
    reason: DenyReason | None = None
    detail: str = ""

    @property
    def admitted(self) -> bool:
        return self.outcome is Outcome.ADMITTED


ADMIT = GateDecision(Outcome.ADMITTED)


@dataclass(frozen=True)
class AttendanceEvent:
    event_id: str
    worker: WorkerRef
    direction: Direction
    method: Method
    source: Source
    time: EventTime
    decision: GateDecision = ADMIT
    location: Location | None = None
    photo_id: str | None = None     # reference to a JPEG kept beside the event in the store
    note: str = ""                  # e.g. the reason a clerk gave for a supplementary clock-in
    extra: dict[str, Any] = field(default_factory=dict)  # driver detail (record index, serial…)
    source_key: str | None = None   # the device's own record key; unique per device in the store

    @property
    def uploadable(self) -> bool:
        """Denied attempts are recorded for the clerk but are not attendance."""
        return self.decision.admitted

    def with_(self, **changes) -> "AttendanceEvent":
        return replace(self, **changes)

    # -- JSON-safe form ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["direction"] = self.direction.value
        d["method"] = self.method.value
        d["time"]["wall"] = self.time.wall.isoformat()
        d["time"]["device_time"] = self.time.device_time.isoformat() if self.time.device_time else None
        d["decision"] = {
            "outcome": self.decision.outcome.value,
            "reason": self.decision.reason.value if self.decision.reason else None,
            "detail": self.decision.detail,
        }
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "AttendanceEvent":
        t = d["time"]
        dec = d.get("decision") or {"outcome": "admitted"}
        loc = d.get("location")
        return cls(
            event_id=d["event_id"],
            worker=WorkerRef(**d["worker"]),
            direction=Direction(d["direction"]),
            method=Method(d["method"]),
            source=Source(**d["source"]),
            time=EventTime(
                wall=datetime.fromisoformat(t["wall"]),
                mono_ns=t.get("mono_ns", 0),
                boot_id=t.get("boot_id", ""),
                synced=t.get("synced", True),
                device_time=datetime.fromisoformat(t["device_time"]) if t.get("device_time") else None,
            ),
            decision=GateDecision(
                Outcome(dec["outcome"]),
                DenyReason(dec["reason"]) if dec.get("reason") else None,
                dec.get("detail", ""),
            ),
            location=Location(**loc) if loc else None,
            photo_id=d.get("photo_id"),
            note=d.get("note", ""),
            extra=dict(d.get("extra") or {}),
            source_key=d.get("source_key"),
        )
