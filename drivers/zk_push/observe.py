"""ZKTeco records -> Observations. The terminal already decided (it is a face terminal with its
own user list), so each observation carries the terminal's decision.

``source_key`` is the terminal's own record key, which the pipeline uses to recognise a resend:
ATTLOG has no record number, so it is SN:PIN:time (a re-upload after a Stamp reset repeats all
three); rtlog carries an ``index`` (SN:rt:index).
"""
from __future__ import annotations

from datetime import tzinfo
from typing import Callable

from sitegate.drivers.api import Credential, CredentialKind, Observation
from sitegate.model import ADMIT, DenyReason, Direction, GateDecision, Method, Outcome

from .records import AttRecord, RtRecord

# The terminal's verify mode -> sitegate's method. PIN, password and palm are Method.OTHER (the
# platform's attendType 011); the exact mode stays in ``extra["verify"]``.
METHODS: dict[str, Method] = {
    "face": Method.FACE,
    "fingerprint": Method.FINGERPRINT,
    "card": Method.CARD,
    "other": Method.OTHER,
}

Make = Callable[..., Observation]   # Driver.observation


def _direction(value: str | None) -> Direction | None:
    return Direction(value) if value else None


def from_attlog(make: Make, sn: str, rec: AttRecord, zone: tzinfo) -> Observation:
    return make(
        credential=Credential(CredentialKind.PIN, rec.pin),
        method=METHODS[rec.method],
        direction=_direction(rec.direction),
        device_time=rec.time.replace(tzinfo=zone),
        device_decision=ADMIT,
        source_key=f"{sn}:{rec.pin}:{rec.time_text}",
        extra={"table": "ATTLOG", "status": rec.status_name, "verify": rec.verify_name, "workcode": rec.workcode},
    )


def from_rtlog(make: Make, sn: str, rec: RtRecord, zone: tzinfo) -> Observation | None:
    """None for alarms and door events that name no user or card."""
    if rec.outcome == "alarm" or not rec.person:
        return None
    if rec.pin not in ("", "0"):
        credential = Credential(CredentialKind.PIN, rec.pin)
    else:
        credential = Credential(CredentialKind.CARD, rec.cardno)
    if rec.outcome == "granted":
        decision = ADMIT
    else:
        decision = GateDecision(Outcome.DENIED, DenyReason.DEVICE_DENIED, f"terminal event {rec.event}")
    return make(
        credential=credential,
        method=METHODS[rec.method],
        direction=_direction(rec.direction),
        device_time=rec.time.replace(tzinfo=zone),
        device_decision=decision,
        source_key=f"{sn}:rt:{rec.index}",
        extra={"table": "rtlog", "event": rec.event, "verify": rec.verifytype, "door": rec.eventaddr,
               "index": rec.index},
    )
